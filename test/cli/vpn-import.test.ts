/**
 * `wgqt vpn import` as a user runs it, on a pipe in a fresh git repository,
 * with provider files made of real `wg genkey`/`wg genpsk` keys: a malformed
 * file writes nothing; an imported key decrypts with the machine's identity
 * via the reference `age` CLI; verify, status, render, rotate, rekey and prune
 * all know VPN keys.
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitLog, lastCommitFiles } from "../helpers/fleet.js";
import { Fleet, snapshot } from "../helpers/lifecycle.js";
import { ok, TEST_ENV } from "../helpers/run.js";

let fleet: Fleet;

interface ProviderKeys {
  privateKey: string;
  publicKey: string;
  presharedKey?: string;
}

const wg = (args: string[], input?: string) => ok("wg", args, { input: input ?? "" }).trim();

function providerKeys(withPsk: boolean): ProviderKeys {
  const privateKey = wg(["genkey"]);
  const keys: ProviderKeys = { privateKey, publicKey: wg(["pubkey"], `${privateKey}\n`) };
  if (withPsk) keys.presharedKey = wg(["genpsk"]);
  return keys;
}

const SERVER = wg(["pubkey"], `${wg(["genkey"])}\n`);

/** Lines a provider adds to its sections: AirVPN's MTU and keepalive, NordLynx's ListenPort. */
interface Extra {
  interface?: string[];
  peer?: string[];
}

/** A provider's wg-quick file, as Mullvad writes them (IPv4 and IPv6). */
function providerFile(
  name: string,
  keys: ProviderKeys,
  address = "10.64.1.2/32",
  extra: Extra = {},
): string {
  const path = join(fleet.idDir, `${name}.conf`);
  writeFileSync(
    path,
    [
      "[Interface]",
      "# Device: Happy Frog",
      `PrivateKey = ${keys.privateKey}`,
      `Address = ${address},fc00:bbbb:bbbb:bb01::1:2/128`,
      "DNS = 10.64.0.1",
      ...(extra.interface ?? []),
      "",
      "[Peer]",
      `PublicKey = ${SERVER}`,
      ...(keys.presharedKey ? [`PresharedKey = ${keys.presharedKey}`] : []),
      "AllowedIPs = 0.0.0.0/0,::0/0",
      "Endpoint = 198.51.100.7:51820",
      ...(extra.peer ?? []),
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  return path;
}

/** SHA-256 over every file of the repository but .git, and HEAD: "nothing written" means this is unchanged. */
function fingerprint(): string {
  const hash = createHash("sha256");
  const files = snapshot(fleet.repo);
  for (const path of Object.keys(files).sort()) {
    if (path.startsWith(".git/")) continue;
    hash.update(`${path}\0`).update(files[path]!);
  }
  return `${hash.digest("hex")} ${fleet.head()}`;
}

function commitConfig(text: string, message: string): void {
  writeFileSync(join(fleet.repo, "wgqt.toml"), text);
  ok("git", ["-C", fleet.repo, "commit", "-q", "-m", message, "--", "wgqt.toml"], {
    env: TEST_ENV,
  });
}

const config = () => readFileSync(join(fleet.repo, "wgqt.toml"), "utf8");

let nyaaKeys: ProviderKeys;

beforeAll(async () => {
  fleet = await Fleet.create({
    machines: { nyaa: "ssh-ed25519", spark: "x25519", tavern: "ssh-rsa" },
    admins: { admin: "x25519" },
    proxies: { germany: { gateway: "tavern", clients: ["nyaa", "spark"] } },
  });
  commitConfig(`# my fleet\n${config()}# the end\n`, "comments");
  nyaaKeys = providerKeys(true);
});

afterAll(() => fleet.cleanup());

describe("wgqt vpn import", () => {
  it.each([
    [
      "a setting wgqt does not know",
      (text: string) => text.replace("DNS = ", "Jc = 4\nDNS = "),
      /line 5: \[Interface\] Jc is not imported/,
    ],
    [
      "a PostUp hook",
      (text: string) =>
        text.replace("DNS = ", "PostUp = iptables -I OUTPUT ! -o %i -j REJECT\nDNS = "),
      /line 5: \[Interface\] PostUp is a hook, a command wg-quick\(8\) runs as root/,
    ],
    [
      "a PreDown hook",
      (text: string) =>
        text.replace("DNS = ", "PreDown = iptables -D OUTPUT ! -o %i -j REJECT\nDNS = "),
      /line 5: \[Interface\] PreDown is a hook/,
    ],
    [
      "a Table",
      (text: string) => text.replace("DNS = ", "Table = 51820\nDNS = "),
      /line 5: \[Interface\] Table would fight wgqt's routing/,
    ],
    [
      "an FwMark",
      (text: string) => text.replace("DNS = ", "FwMark = 51820\nDNS = "),
      /line 5: \[Interface\] FwMark would fight wgqt's routing/,
    ],
    [
      "SaveConfig",
      (text: string) => text.replace("DNS = ", "SaveConfig = true\nDNS = "),
      /line 5: \[Interface\] SaveConfig would have wg-quick\(8\) write/,
    ],
    [
      "an MTU below IPv4's 576",
      (text: string) => text.replace("DNS = ", "MTU = 68\nDNS = "),
      /line 5: MTU: expected a whole number of bytes 576…9000, got "68"/,
    ],
    [
      "a keepalive above 65535",
      (text: string) => `${text}PersistentKeepalive = 70000\n`,
      /line 12: PersistentKeepalive: expected a whole number of seconds 0…65535 \(0 = off\), got "70000"/,
    ],
    [
      "a broken private key",
      (text: string) =>
        text.replace(/PrivateKey = (\S+)/, (_, key: string) => `PrivateKey = ${key.slice(1)}`),
      /line 3: \[Interface\] PrivateKey is not a WireGuard key .*not shown/,
    ],
    [
      "a second server",
      (text: string) => `${text}\n[Peer]\nPublicKey = ${SERVER}\n`,
      /line 13: a second \[Peer\] \(the first is on line 7\)/,
    ],
    ["no endpoint", (text: string) => text.replace(/Endpoint.*\n/, ""), /\[Peer\] has no Endpoint/],
  ])(
    "rejects a provider file with %s, says where, and writes nothing",
    async (_what, edit, expected) => {
      const path = providerFile("broken", nyaaKeys);
      writeFileSync(path, edit(readFileSync(path, "utf8")));
      const before = fingerprint();
      const result = await fleet.wgqt(
        "vpn",
        "import",
        "us-west",
        "--from",
        path,
        "--machine",
        "nyaa",
      );
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^wgqt: ${path.replace(/[.]/g, "\\.")}: `));
      expect(result.stderr).toMatch(expected);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      for (const secret of [nyaaKeys.privateKey, nyaaKeys.presharedKey!]) {
        expect(result.stderr + result.stdout).not.toContain(secret);
        expect(result.stderr + result.stdout).not.toContain(secret.slice(1, 30));
      }
      expect(fingerprint()).toBe(before);
    },
  );

  it("refuses an unknown machine and a missing --from, writing nothing", async () => {
    const before = fingerprint();
    const path = providerFile("us-west", nyaaKeys);
    const ghost = await fleet.wgqt(
      "vpn",
      "import",
      "us-west",
      "--from",
      path,
      "--machine",
      "ghost",
    );
    expect(ghost.status).toBe(2);
    expect(ghost.stderr).toContain('--machine: unknown machine "ghost"');
    expect((await fleet.wgqt("vpn", "import", "us-west", "--machine", "nyaa")).status).toBe(2);
    expect(fingerprint()).toBe(before);
  });

  it("imports the provider's key and PSK for nyaa: the table appended, the files encrypted, one commit", async () => {
    const path = providerFile("us-west", nyaaKeys, "10.64.1.2/32", {
      interface: ["ListenPort = 51820", "MTU = 1320"],
      peer: ["PersistentKeepalive = 15"],
    });
    const result = await fleet.wgqt(
      "vpn",
      "import",
      "us-west",
      "--from",
      path,
      "--machine",
      "nyaa",
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).not.toContain("IPv4 only");
    expect(result.stderr).toContain(
      `warning: ${path}: line 6: ListenPort left out: a VPN client needs no fixed port`,
    );
    expect(result.stderr).toContain(
      "  + [vpns.us-west] id 1, machines nyaa, endpoint 198.51.100.7:51820, address 10.64.1.2/32, address6 fc00:bbbb:bbbb:bb01::1:2/128, dns 10.64.0.1, mtu 1320, keepalive 15\n",
    );
    expect(result.stderr).toContain("holds the private key in plaintext: delete it");
    expect(result.stderr + result.stdout).not.toContain(nyaaKeys.privateKey);
    expect(config()).toMatch(/^# my fleet\n/);
    expect(config()).toContain(
      [
        "# the end",
        "",
        "[vpns.us-west]",
        'machines = ["nyaa"]',
        "id = 1",
        'endpoint = "198.51.100.7:51820"',
        `public_key = "${SERVER}"`,
        'address = "10.64.1.2/32"',
        'address6 = "fc00:bbbb:bbbb:bb01::1:2/128"',
        'dns = ["10.64.0.1"]',
        'allowed_ips = ["0.0.0.0/0", "::/0"]',
        "preshared_key = true",
        "mtu = 1320",
        "keepalive = 15",
        "",
      ].join("\n"),
    );
    expect(gitLog(fleet.repo)[0]).toBe("wgqt: vpn import us-west for nyaa");
    expect(lastCommitFiles(fleet.repo)).toEqual([
      "wgqt.toml",
      "wireguard_keys/manifest.json",
      "wireguard_keys/secrets.nix",
      "wireguard_keys/vpns/us-west.age",
      "wireguard_keys/vpns/us-west.psk.age",
    ]);
    const secretsNix = readFileSync(join(fleet.keys, "secrets.nix"), "utf8");
    expect(secretsNix).toContain(
      `"vpns/us-west.age".publicKeys = [\n    "${fleet.recipient("nyaa")}"\n    "${fleet.recipient("admin")}"\n  ];`,
    );
  });

  it("the imported key decrypts with nyaa's identity via the age CLI and equals the original; only nyaa and the admin can", () => {
    expect(fleet.decrypt("nyaa", "vpns/us-west.age")?.toString()).toBe(`${nyaaKeys.privateKey}\n`);
    expect(fleet.decrypt("nyaa", "vpns/us-west.psk.age")?.toString()).toBe(
      `${nyaaKeys.presharedKey}\n`,
    );
    expect(fleet.decrypt("admin", "vpns/us-west.age")?.toString()).toBe(`${nyaaKeys.privateKey}\n`);
    for (const other of ["spark", "tavern", "stranger"])
      expect(fleet.decrypt(other, "vpns/us-west.age")).toBeUndefined();
    expect(fleet.manifest().files["vpns/us-west.age"]?.public_key).toBe(nyaaKeys.publicKey);
  });

  it("verify passes (decrypting with nyaa's key too) and status lists the VPN", async () => {
    const verify = await fleet.wgqt("verify", "--identity", fleet.ids.nyaa!.identityFile);
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    const text = (await fleet.wgqt("status")).stdout;
    expect(text).toMatch(
      /vpns \(1\): provider keys, renewed only by re-import\n.*\n {2}us-west +1 +nyaa +\d{4}-/,
    );
    const status = JSON.parse((await fleet.wgqt("status", "--json")).stdout);
    expect(status.vpns).toEqual([
      {
        name: "us-west",
        id: 1,
        machines: ["nyaa"],
        privateKey: { file: "vpns/us-west.age", created: expect.any(String) },
        presharedKey: { file: "vpns/us-west.psk.age", created: expect.any(String) },
        publicKey: nyaaKeys.publicKey,
      },
    ]);
    const file = status.files.find((entry: { file: string }) => entry.file === "vpns/us-west.age");
    expect(file).toMatchObject({ kind: "vpn-private-key", machines: ["nyaa"], problems: [] });
  });

  it("renders nyaa's tunnel: the VPN carries the default route, germany gets its bridge", async () => {
    const result = await fleet.wgqt("render", "--machine", "nyaa", "--format", "wg-quick");
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain("==> nyaa/us-west.conf <==");
    expect(result.stdout).toContain("DNS = 10.64.0.1\n");
    expect(result.stdout).toContain(
      "PostUp = wg set %i private-key /etc/wireguard/wgqt/vpns/us-west.key",
    );
    expect(result.stdout).toContain("ip link add br-germany type bridge");
  });

  it.each([
    ["wg-quick", "nyaa/us-west.conf", ["MTU = 1320\n", "PersistentKeepalive = 15\n"]],
    ["networkd", "nyaa/50-wgqt-us-west.netdev", ["MTUBytes=1320\n", "PersistentKeepalive=15\n"]],
    ["nixos", "hosts/nyaa.nix", ["mtu = 1320;", "persistentKeepalive = 15;"]],
    ["json", "nyaa.json", ['"mtu": 1320,', '"persistentKeepalive": 15']],
  ])("renders the imported MTU and keepalive in %s", async (format, file, expected) => {
    const result = await fleet.wgqt("render", "--machine", "nyaa", "--format", format);
    expect(result.status, result.stderr).toBe(0);
    // Several files each follow a `==> path <==` line; a single file (json) is the output.
    const start = result.stdout.indexOf(`==> ${file} <==\n`);
    const next = result.stdout.indexOf("==> ", start + 4);
    const content =
      format === "json" ? result.stdout : result.stdout.slice(start, next < 0 ? undefined : next);
    if (format !== "json") expect(start).toBeGreaterThanOrEqual(0);
    for (const text of expected) expect(content).toContain(text);
    // germany sets no MTU: only the VPN's interface has one.
    expect(result.stdout.split(expected[0]!)).toHaveLength(2);
  });

  it("rotate says a VPN key is the provider's and how to renew it", async () => {
    for (const args of [
      ["--vpn", "us-west"],
      ["--machine", "us-west"],
    ]) {
      const before = fingerprint();
      const result = await fleet.wgqt("rotate", ...args, "--yes");
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(
        "us-west is a VPN: its key is the provider's (their server knows its public key), so wgqt cannot rotate it",
      );
      expect(result.stderr).toContain("wgqt vpn import us-west --from FILE --machine nyaa --yes");
      expect(fingerprint()).toBe(before);
    }
    const all = await fleet.wgqt("rotate", "--all", "--yes");
    expect(all.status, all.stderr).toBe(0);
    expect(all.stderr).toContain("not rotated: VPN keys (us-west) are the providers'");
    expect(fleet.decrypt("nyaa", "vpns/us-west.age")?.toString()).toBe(`${nyaaKeys.privateKey}\n`);
  });

  it("re-importing the same key with other settings updates them in place", async () => {
    writeFileSync(join(fleet.repo, "wgqt.toml"), `${config()}killswitch = false\n`);
    const path = providerFile("us-west-again", nyaaKeys, "10.64.1.2/32", {
      interface: ["MTU = 1280"],
      peer: ["PersistentKeepalive = 25"],
    });
    const result = await fleet.wgqt(
      "vpn",
      "import",
      "us-west",
      "--from",
      path,
      "--machine",
      "nyaa",
      "--yes",
    );
    expect(result.status, result.stderr).toBe(0);
    expect(gitLog(fleet.repo)[0]).toBe(
      "wgqt: vpn import us-west for nyaa (same key, settings updated)",
    );
    // The provider's settings are the new file's; the kill switch stays the user's.
    expect(
      config().endsWith("preshared_key = true\nmtu = 1280\nkeepalive = 25\nkillswitch = false\n"),
    ).toBe(true);
    expect(config().match(/^(mtu|keepalive) = /gm)).toHaveLength(2);
  });

  it("re-importing asks first (on a pipe: --yes), then replaces the key in place and drops the old PSK", async () => {
    const renewed = providerKeys(false);
    const path = providerFile("us-west-new", renewed, "10.64.7.9/32");
    const before = fingerprint();
    const asked = await fleet.wgqt("vpn", "import", "us-west", "--from", path, "--machine", "nyaa");
    expect(asked.status).toBe(2);
    expect(asked.stderr).toContain("pass --yes to confirm");
    expect(fingerprint()).toBe(before);

    const result = await fleet.wgqt(
      "vpn",
      "import",
      "us-west",
      "--from",
      path,
      "--machine",
      "nyaa",
      "--yes",
    );
    expect(result.status, result.stderr).toBe(0);
    expect(gitLog(fleet.repo)[0]).toBe("wgqt: vpn import us-west for nyaa (new provider key)");
    expect(fleet.decrypt("nyaa", "vpns/us-west.age")?.toString()).toBe(`${renewed.privateKey}\n`);
    expect(lastCommitFiles(fleet.repo)).toContain("wireguard_keys/vpns/us-west.psk.age");
    expect(Object.keys(snapshot(fleet.keys))).not.toContain("vpns/us-west.psk.age");
    // The user's killswitch = false (set above) survives a new provider key too.
    expect(
      config().endsWith(
        'address = "10.64.7.9/32"\naddress6 = "fc00:bbbb:bbbb:bb01::1:2/128"\ndns = ["10.64.0.1"]\nallowed_ips = ["0.0.0.0/0", "::/0"]\nkillswitch = false\n',
      ),
    ).toBe(true);
    expect(config()).not.toContain("preshared_key");
    // The new file sets no MTU and no keepalive: the table keeps neither.
    expect(config()).not.toMatch(/^(mtu|keepalive) = /m);
    nyaaKeys = renewed;
    expect((await fleet.wgqt("verify")).status).toBe(0);
  });

  it("another machine with its own provider key is sent to its own VPN name; the very same file shares the key", async () => {
    const other = providerFile("spark", providerKeys(false));
    const refused = await fleet.wgqt(
      "vpn",
      "import",
      "us-west",
      "--from",
      other,
      "--machine",
      "spark",
      "--yes",
    );
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain(
      "vpns.us-west holds the provider key of nyaa, not the key in this file; a provider key belongs to one device, so import spark's own file under its own name (wgqt vpn import us-west-spark --from FILE --machine spark)",
    );

    const same = providerFile("us-west-again", nyaaKeys, "10.64.7.9/32");
    const shared = await fleet.wgqt(
      "vpn",
      "import",
      "us-west",
      "--from",
      same,
      "--machine",
      "spark",
      "--yes",
    );
    expect(shared.status, shared.stderr).toBe(0);
    expect(gitLog(fleet.repo)[0]).toBe(
      "wgqt: vpn import us-west for spark (sharing its key with nyaa)",
    );
    expect(config()).toContain('machines = ["nyaa", "spark"]');
    expect(fleet.decrypt("spark", "vpns/us-west.age")?.toString()).toBe(`${nyaaKeys.privateKey}\n`);
    expect(fleet.decrypt("nyaa", "vpns/us-west.age")?.toString()).toBe(`${nyaaKeys.privateKey}\n`);
  });

  it("a second VPN takes the lowest free id; a taken --id is refused", async () => {
    const path = providerFile("proton", providerKeys(false), "10.2.0.2/32");
    const taken = await fleet.wgqt(
      "vpn",
      "import",
      "proton",
      "--from",
      path,
      "--machine",
      "spark",
      "--id",
      "1",
    );
    expect(taken.status).toBe(2);
    expect(taken.stderr).toContain("--id: 1 is already the id of vpns.us-west");
    const result = await fleet.wgqt(
      "vpn",
      "import",
      "proton",
      "--from",
      path,
      "--machine",
      "spark",
    );
    expect(result.status, result.stderr).toBe(0);
    expect(config()).toMatch(/\[vpns\.proton\]\nmachines = \["spark"\]\nid = 2\n/);
  });

  it("machine remove refuses a machine a VPN uses", async () => {
    const text = config();
    commitConfig(text.replace('clients = ["nyaa","spark"]', 'clients = ["spark"]'), "nyaa leaves");
    expect(config()).not.toBe(text);
    const before = fingerprint();
    const result = await fleet.wgqt("machine", "remove", "nyaa", "--yes");
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      'vpns.us-west: "nyaa" uses this VPN; remove it from vpns.us-west.machines',
    );
    expect(fingerprint()).toBe(before);
    commitConfig(text, "nyaa is back");
  });

  it("rekey re-encrypts VPN keys when a machine's recipients change", async () => {
    fleet.identity("spark2", "x25519");
    commitConfig(
      config().replace(fleet.ids.spark!.recipient, fleet.ids.spark2!.recipient),
      "spark has a new host key",
    );
    const verify = await fleet.wgqt("verify");
    expect(verify.status).toBe(1);
    expect(verify.stdout).toContain(
      "wireguard_keys/vpns/proton.age: recipients differ from wgqt.toml",
    );
    const rekey = await fleet.wgqt("rekey", "--identity", fleet.ids.admin!.identityFile, "--yes");
    expect(rekey.status, rekey.stderr).toBe(0);
    expect(gitLog(fleet.repo)[0]).toMatch(/^wgqt: rekey \(.*2 VPN keys\)$/);
    expect(fleet.decrypt("spark2", "vpns/us-west.age")?.toString()).toBe(
      `${nyaaKeys.privateKey}\n`,
    );
    expect(fleet.decrypt("spark", "vpns/us-west.age")).toBeUndefined();
    expect(fleet.decrypt("nyaa", "vpns/us-west.age")?.toString()).toBe(`${nyaaKeys.privateKey}\n`);
    expect((await fleet.wgqt("verify")).status).toBe(0);
  });

  it("prune removes the keys of a VPN taken out of wgqt.toml", async () => {
    const text = config();
    expect(text.trimEnd().endsWith('allowed_ips = ["0.0.0.0/0", "::/0"]')).toBe(true);
    commitConfig(`${text.slice(0, text.indexOf("\n[vpns.proton]"))}\n`, "no more proton");
    const verify = await fleet.wgqt("verify");
    expect(verify.status).toBe(1);
    expect(verify.stdout).toContain(
      "wireguard_keys/vpns/proton.age: orphaned: VPN proton is not in wgqt.toml (wgqt prune removes it)",
    );
    const prune = await fleet.wgqt("prune", "--yes");
    expect(prune.status, prune.stderr).toBe(0);
    expect(lastCommitFiles(fleet.repo)).toContain("wireguard_keys/vpns/proton.age");
    expect((await fleet.wgqt("verify")).status).toBe(0);
  });
});
