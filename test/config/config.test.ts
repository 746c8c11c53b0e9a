/** `wgqt.toml` validation: every bad input is one line naming file, field and value. */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { ConfigError } from "../../src/errors.js";
import { loadConfig } from "../../src/store/config-file.js";
import { makeTempDir, removeDir } from "../helpers/fleet.js";

const PATH = "/fleet/wgqt.toml";
const ED =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEiTBJhVHWY4U8poR7KqJ9HEhjfoy0tS8YM0DsK/qj/W root@host";
const AGE = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
const machine = (name: string, extra = "") =>
  `[machines.${name}]\nrecipients = [${JSON.stringify(ED)}]\n${extra}\n`;
const SERVER_KEY = "jiG0F2vU/2kxg81KJGqS+Sdcp+0GXnezatrQIWo5kEQ=";
/** A valid `[vpns.us-west]` for nyaa, with `extra` lines appended or `fields` replaced. */
const vpn = (fields: Record<string, string> = {}, name = "us-west") => {
  const all: Record<string, string> = {
    machines: '["nyaa"]',
    id: "1",
    endpoint: '"198.51.100.7:51820"',
    public_key: JSON.stringify(SERVER_KEY),
    address: '"10.64.1.2/32"',
    dns: '["10.64.0.1"]',
    ...fields,
  };
  const lines = Object.entries(all)
    .filter(([, value]) => value !== "")
    .map(([key, value]) => `${key} = ${value}`);
  return `[vpns.${name}]\n${lines.join("\n")}\n`;
};
const withVpn = (text: string) => `${machine("nyaa")}${machine("tavern")}${text}`;

function errorOf(text: string): string {
  try {
    parseConfig(text, PATH);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message.split("\n")).toHaveLength(1);
    expect(message.startsWith(`${PATH}: `)).toBe(true);
    return message.slice(PATH.length + 2);
  }
  throw new Error("expected a ConfigError");
}

describe("parseConfig", () => {
  it("applies the documented defaults and normalises recipients", () => {
    const config = parseConfig(
      `admins = [${JSON.stringify(AGE)}]\n${machine("tavern", 'endpoint = "tavern.example.org"')}`,
      PATH,
    );
    expect(config.keysDir).toBe("/fleet/wireguard_keys");
    expect(config.ipv4Start).toBe("10.128.0.0");
    expect(config.udpStart).toBe(16842);
    expect(config.admins).toEqual([AGE]);
    expect(config.machines.tavern!.recipients).toEqual([ED.split(" ").slice(0, 2).join(" ")]);
    expect(config.machines.tavern!.endpoint).toBe("tavern.example.org");
  });

  it.each([
    ["a TOML syntax error", "keys_dir = \n", /^line 1, column \d+: invalid TOML/],
    ["an unknown top-level key", 'colour = "blue"\n', /^colour: unknown key \(got "blue"\)/],
    [
      "an unknown machine key",
      `${machine("tavern", 'adress = "x"')}`,
      /^machines\.tavern\.adress: unknown key/,
    ],
    ["a wrong type", 'udp_start = "16842"\n', /^udp_start: expected number, got "16842"/],
    ["a port out of range", "udp_start = 70000\n", /^udp_start: .*65535.*70000/],
    ["a non-integer port", "udp_start = 1.5\n", /^udp_start: .*1\.5/],
    [
      "ipv4_start not an address",
      'ipv4_start = "10.128.0"\n',
      /^ipv4_start: not an IPv4 address \(got "10\.128\.0"\)/,
    ],
    [
      "recipients not a list",
      '[machines.tavern]\nrecipients = "ssh-ed25519 AAAA"\n',
      /^machines\.tavern\.recipients: expected array/,
    ],
    [
      "a path in a machine name",
      machine('"../etc"'),
      /^machines\.\.\.\/etc: machine name "\.\.\/etc" is not a host name/,
    ],
    ["an empty machine name", machine('""'), /^machines\.: machine name is empty/],
    [
      "a space in a machine name",
      machine('"my host"'),
      /machine name "my host" is not a host name/,
    ],
    [
      "an uppercase machine name",
      machine("Tavern"),
      /machine name "Tavern" has uppercase letters.*"tavern"/,
    ],
    ["a machine name longer than 63", machine("a".repeat(64)), /longer than 63 characters/],
    [
      "a duplicate machine",
      `${machine("tavern")}${machine("tavern")}`,
      /^line 4, column \d+: invalid TOML: .*redefine.* \(at "\[machines\.tavern\]"\)/,
    ],
    [
      "an unparsable recipient",
      '[machines.tavern]\nrecipients = ["ssh-ed25519 AAAAnotakey"]\n',
      /^machines\.tavern\.recipients\[0\]: /,
    ],
    [
      "an sk-ssh recipient",
      '[machines.tavern]\nrecipients = ["sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIA== x"]\n',
      /^machines\.tavern\.recipients\[0\]: .*sk-ssh-ed25519/,
    ],
    ["a bad admin", 'admins = ["age1nope"]\n', /^admins\[0\]: /],
    [
      "no recipients and no public key",
      "[machines.tavern]\n",
      /^machines\.tavern\.recipients: a machine needs at least one recipient/,
    ],
    [
      "a bad public_key",
      `${machine("tavern", 'public_key = "abc"')}`,
      /^machines\.tavern\.public_key: not a WireGuard key .*"abc"/,
    ],
    [
      "an endpoint with a port",
      `${machine("tavern", 'endpoint = "tavern.example.org:51820"')}`,
      /^machines\.tavern\.endpoint: give the host without a port/,
    ],
    [
      "an endpoint that is no host",
      `${machine("tavern", 'endpoint = "a b"')}`,
      /^machines\.tavern\.endpoint: not a host name or IP address, got "a b"/,
    ],
    [
      "an unknown gateway",
      `${machine("tavern")}[proxies.de]\ngateway = "ghost"\nclients = ["tavern"]\n`,
      /^proxies\.de\.gateway: unknown machine "ghost"/,
    ],
    [
      "an unknown client",
      `${machine("tavern")}[proxies.de]\ngateway = "tavern"\nclients = ["ghost"]\n`,
      /^proxies\.de\.clients\[0\]: unknown machine "ghost"/,
    ],
    [
      "a gateway that is its own client",
      `${machine("tavern")}${machine("nyaa")}[proxies.de]\ngateway = "tavern"\nclients = ["nyaa", "tavern"]\n`,
      /^proxies\.de\.clients\[1\]: the gateway "tavern" cannot also be its own client/,
    ],
    [
      "a client listed twice",
      `${machine("tavern")}${machine("nyaa")}[proxies.de]\ngateway = "tavern"\nclients = ["nyaa", "nyaa"]\n`,
      /^proxies\.de\.clients\[1\]: "nyaa" is listed twice/,
    ],
    [
      "an interface name over 15 characters",
      `${machine("tavern")}${machine("nyaa")}[proxies.germany-frankfurt]\ngateway = "tavern"\nclients = ["nyaa"]\n`,
      /^proxies\.germany-frankfurt: interface name "germany-frankfurt" is longer than 15/,
    ],
    [
      "a slash in a proxy name",
      `${machine("tavern")}${machine("nyaa")}[proxies."de/1"]\ngateway = "tavern"\nclients = ["nyaa"]\n`,
      /^proxies\.de\/1: interface name "de\/1" may only hold/,
    ],
    [
      "a dot in a proxy name (wg-quick would take it; the planner does not either)",
      `${machine("tavern")}${machine("nyaa")}[proxies."wg.0"]\ngateway = "tavern"\nclients = ["nyaa"]\n`,
      /^proxies\.wg\.0: interface name "wg\.0" may only hold/,
    ],
    [
      "an uplink with a shell character (a VLAN's '.' is fine, ';' is not)",
      `${machine("tavern", 'endpoint = "tavern.example.org"\nuplink = "eth0.100;x"')}${machine("nyaa")}`,
      /^machines\.tavern\.uplink: interface name "eth0\.100;x" may only hold letters, digits, '-', '_' and '\.'/,
    ],
    [
      "a VPN for an unknown machine",
      withVpn(vpn({ machines: '["ghost"]' })),
      /^vpns\.us-west\.machines\[0\]: unknown machine "ghost"/,
    ],
    [
      "a VPN for no machine",
      withVpn(vpn({ machines: "[]" })),
      /^vpns\.us-west\.machines: name at least one/,
    ],
    [
      "a VPN machine listed twice",
      withVpn(vpn({ machines: '["nyaa", "nyaa"]' })),
      /^vpns\.us-west\.machines\[1\]: "nyaa" is listed twice/,
    ],
    [
      "a VPN machine without recipients",
      `${machine("tavern")}[machines.nyaa]\npublic_key = ${JSON.stringify(SERVER_KEY)}\n${vpn()}`,
      /^vpns\.us-west\.machines\[0\]: machine "nyaa" has no recipients to encrypt the VPN key to/,
    ],
    ["a VPN id of 0", withVpn(vpn({ id: "0" })), /^vpns\.us-west\.id: must be >=1 \(got 0\)/],
    [
      "a VPN id of 100",
      withVpn(vpn({ id: "100" })),
      /^vpns\.us-west\.id: must be <=99 \(got 100\)/,
    ],
    [
      "two VPNs with one id",
      withVpn(`${vpn()}${vpn({}, "proton")}`),
      /^vpns\.us-west\.id: 1 is already the id of vpns\.proton/,
    ],
    [
      "a VPN endpoint without a port",
      withVpn(vpn({ endpoint: '"198.51.100.7"' })),
      /^vpns\.us-west\.endpoint: expected host:port .*got "198\.51\.100\.7"/,
    ],
    [
      "a VPN endpoint with a port out of range",
      withVpn(vpn({ endpoint: '"vpn.example.net:70000"' })),
      /^vpns\.us-west\.endpoint: port must be 1…65535, got "vpn\.example\.net:70000"/,
    ],
    [
      "a bad VPN public key",
      withVpn(vpn({ public_key: '"abc"' })),
      /^vpns\.us-west\.public_key: not a WireGuard key .*"abc"/,
    ],
    [
      "a VPN address without a prefix length",
      withVpn(vpn({ address: '"10.64.1.2"' })),
      /^vpns\.us-west\.address: not an IPv4 address with a prefix length .*got "10\.64\.1\.2"/,
    ],
    [
      "an IPv6 VPN address",
      withVpn(vpn({ address: '"fc00:bbbb::2/128"' })),
      /^vpns\.us-west\.address: an IPv6 address \(IPv6 goes in address6, beside an IPv4 address\), got "fc00:bbbb::2\/128"/,
    ],
    [
      "an IPv4 address6",
      withVpn(vpn({ address6: '"10.64.1.2/32"' })),
      /^vpns\.us-west\.address6: not an IPv6 address with a prefix length .*got "10\.64\.1\.2\/32"/,
    ],
    [
      "a VPN DNS server that is a name",
      withVpn(vpn({ dns: '["dns.example.net"]' })),
      /^vpns\.us-west\.dns\[0\]: not an IP address, got "dns\.example\.net"/,
    ],
    [
      "bad allowed_ips",
      withVpn(vpn({ allowed_ips: '["0.0.0.0/0", "10.0.0.0/33"]' })),
      /^vpns\.us-west\.allowed_ips\[1\]: not an IPv4 address with a prefix length .*"10\.0\.0\.0\/33"/,
    ],
    [
      "a VPN name over 15 characters",
      withVpn(vpn({}, "mullvad-se-gothenburg")),
      /^vpns\.mullvad-se-gothenburg: interface name "mullvad-se-gothenburg" is longer than 15 characters/,
    ],
    [
      "a VPN named like a proxy",
      withVpn(`[proxies.de]\ngateway = "tavern"\nclients = ["nyaa"]\n${vpn({}, "de")}`),
      /^vpns\.de: proxies\.de has the same name/,
    ],
    [
      "an unknown key in a VPN",
      withVpn(vpn({ private_key: '"oops"' })),
      /^vpns\.us-west\.private_key: unknown key \(got "oops"\)/,
    ],
    [
      "a VPN without an endpoint",
      withVpn(vpn({ endpoint: "" })),
      /^vpns\.us-west\.endpoint: expected string, got nothing \(it is required\)/,
    ],
    [
      "a proxy MTU below 576",
      `${machine("tavern")}${machine("nyaa")}[proxies.de]\ngateway = "tavern"\nclients = ["nyaa"]\nmtu = 500\n`,
      /^proxies\.de\.mtu: expected a whole number of bytes 576…9000, got 500$/,
    ],
    [
      "a proxy MTU that is not whole",
      `${machine("tavern")}${machine("nyaa")}[proxies.de]\ngateway = "tavern"\nclients = ["nyaa"]\nmtu = 1420.5\n`,
      /^proxies\.de\.mtu: expected a whole number of bytes 576…9000, got 1420\.5$/,
    ],
    [
      "a proxy MTU written as a string",
      `${machine("tavern")}${machine("nyaa")}[proxies.de]\ngateway = "tavern"\nclients = ["nyaa"]\nmtu = "1420"\n`,
      /^proxies\.de\.mtu: expected number, got "1420"$/,
    ],
    [
      "a negative proxy keepalive",
      `${machine("tavern")}${machine("nyaa")}[proxies.de]\ngateway = "tavern"\nclients = ["nyaa"]\nkeepalive = -5\n`,
      /^proxies\.de\.keepalive: expected a whole number of seconds 0…65535 \(0 = off\), got -5$/,
    ],
    [
      "a VPN MTU above 9000",
      withVpn(vpn({ mtu: "9216" })),
      /^vpns\.us-west\.mtu: expected a whole number of bytes 576…9000, got 9216$/,
    ],
    [
      "a VPN keepalive above 65535",
      withVpn(vpn({ keepalive: "65536" })),
      /^vpns\.us-west\.keepalive: expected a whole number of seconds 0…65535 \(0 = off\), got 65536$/,
    ],
    ["keys_dir absolute", 'keys_dir = "/etc/keys"\n', /^keys_dir: must be relative/],
    ["keys_dir outside", 'keys_dir = "../elsewhere"\n', /^keys_dir: must be a directory below/],
    ["keys_dir empty", 'keys_dir = ""\n', /^keys_dir: Too small: .*>=1 characters \(got ""\)$/],
    [
      "a machine written as an array of tables",
      "[[machines.tavern]]\nrecipients = []\n",
      /^machines\.tavern: expected object, got \[\{"recipients":\[\]\}\]$/,
    ],
    ["machines as a list", "machines = []\n", /^machines: expected record, got \[\]$/],
    [
      "machines as a date",
      "machines = 1979-05-27\n",
      /^machines: expected record, got "1979-05-27"$/,
    ],
    ["an infinite port", "udp_start = inf\n", /^udp_start: expected number, got null$/],
    ["a port that is not a number", "udp_start = nan\n", /^udp_start: expected number, got null$/],
    [
      "a port too large for a double to hold exactly",
      "udp_start = 1e20\n",
      /^udp_start: Too big: expected int to be <=9007199254740991 \(got 100000000000000000000\)$/,
    ],
    [
      "an unknown key beside a wrong type, the unknown key first",
      'udp_start = "16842"\ncolour = "blue"\n',
      /^colour: unknown key \(got "blue"\)$/,
    ],
    [
      "the first missing key of a proxy",
      "[proxies.de]\n",
      /^proxies\.de\.gateway: expected string, got nothing \(it is required\)$/,
    ],
  ])("rejects %s", (_what, text, expected) => {
    expect(errorOf(text)).toMatch(expected);
  });

  it.each([
    "tavern.example.org",
    "tavern.example.org.",
    "tavern",
    "192.0.2.7",
    "2001:db8::7",
    "::1",
  ])("takes the endpoint %s", (endpoint) => {
    const config = parseConfig(machine("tavern", `endpoint = "${endpoint}"`), PATH);
    expect(config.machines.tavern!.endpoint).toBe(endpoint);
  });

  it("takes machines named like the properties every object has", () => {
    const config = parseConfig(`${machine("constructor")}${machine("prototype")}`, PATH);
    expect(Object.keys(config.machines)).toEqual(["constructor", "prototype"]);
  });
});

describe("parseConfig: [vpns.*]", () => {
  it("reads a VPN with its defaults: all traffic, no DNS unless given, no preshared key", () => {
    const config = parseConfig(withVpn(vpn({ dns: "" })), PATH);
    expect(config.vpns).toEqual({
      "us-west": {
        name: "us-west",
        machines: ["nyaa"],
        id: 1,
        endpoint: "198.51.100.7:51820",
        publicKey: SERVER_KEY,
        address: "10.64.1.2/32",
        dns: [],
        allowedIPs: ["0.0.0.0/0"],
        presharedKey: false,
      },
    });
  });

  it("reads a shared, split-tunnel VPN with a preshared key and an IPv6 endpoint", () => {
    const config = parseConfig(
      withVpn(
        vpn({
          machines: '["tavern", "nyaa"]',
          endpoint: '"[2001:db8::7]:51820"',
          allowed_ips: '["10.99.0.0/16"]',
          preshared_key: "true",
        }),
      ),
      PATH,
    );
    expect(config.vpns!["us-west"]).toMatchObject({
      machines: ["tavern", "nyaa"],
      endpoint: "[2001:db8::7]:51820",
      allowedIPs: ["10.99.0.0/16"],
      presharedKey: true,
    });
  });

  it("reads a dual-stack VPN: address6, IPv6 DNS and ::/0", () => {
    const config = parseConfig(
      withVpn(
        vpn({
          address6: '"fc00:bbbb::1:2/128"',
          dns: '["10.64.0.1", "fc00:bbbb::1"]',
          allowed_ips: '["0.0.0.0/0", "::/0"]',
        }),
      ),
      PATH,
    );
    expect(config.vpns!["us-west"]).toMatchObject({
      address: "10.64.1.2/32",
      address6: "fc00:bbbb::1:2/128",
      dns: ["10.64.0.1", "fc00:bbbb::1"],
      allowedIPs: ["0.0.0.0/0", "::/0"],
    });
  });

  it("reads a VPN's and a proxy's mtu and keepalive; leaves them out when not set", () => {
    const config = parseConfig(
      withVpn(
        `[proxies.de]\ngateway = "tavern"\nclients = ["nyaa"]\nmtu = 1380\nkeepalive = 0\n${vpn({ mtu: "1320", keepalive: "15" })}${vpn({ id: "2" }, "proton")}`,
      ),
      PATH,
    );
    expect(config.proxies.de).toEqual({
      name: "de",
      gateway: "tavern",
      clients: ["nyaa"],
      mtu: 1380,
      keepalive: 0,
    });
    expect(config.vpns!["us-west"]).toMatchObject({ mtu: 1320, keepalive: 15 });
    expect(config.vpns!.proton).not.toHaveProperty("mtu");
    expect(config.vpns!.proton).not.toHaveProperty("keepalive");
  });

  it("gives a config without VPNs an empty table", () => {
    expect(parseConfig(machine("tavern"), PATH).vpns).toEqual({});
  });
});

describe("loadConfig", () => {
  it("finds wgqt.toml in a parent directory", async () => {
    const dir = makeTempDir();
    try {
      writeFileSync(join(dir, "wgqt.toml"), machine("tavern"));
      mkdirSync(join(dir, "hosts", "tavern"), { recursive: true });
      const config = await loadConfig(join(dir, "hosts", "tavern"));
      expect(config.path).toBe(join(dir, "wgqt.toml"));
    } finally {
      removeDir(dir);
    }
  });

  it("rejects a keys directory that is a symlink out of the repository", async () => {
    const dir = makeTempDir();
    const outside = makeTempDir();
    try {
      writeFileSync(join(dir, "wgqt.toml"), machine("tavern"));
      symlinkSync(outside, join(dir, "wireguard_keys"));
      await expect(loadConfig(dir)).rejects.toThrow(/keys_dir: "wireguard_keys" leads out of/);
    } finally {
      removeDir(dir);
      removeDir(outside);
    }
  });

  it("says how to start when there is no wgqt.toml", async () => {
    const dir = makeTempDir();
    try {
      await expect(loadConfig(dir)).rejects.toThrow(
        /no wgqt\.toml in .* \(run 'wgqt init', or pass --config FILE\)/,
      );
    } finally {
      removeDir(dir);
    }
  });
});

describe("uplink", () => {
  it("takes a VLAN interface (eth0.100), which names an existing interface", () => {
    const config = parseConfig(
      `${machine("tavern", 'endpoint = "tavern.example.org"\nuplink = "eth0.100"')}${machine("nyaa")}[proxies.de]\ngateway = "tavern"\nclients = ["nyaa"]\n`,
      PATH,
    );
    expect(config.machines.tavern!.uplink).toBe("eth0.100");
  });
});
