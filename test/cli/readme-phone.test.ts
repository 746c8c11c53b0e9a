/**
 * The README's phone walkthrough, run exactly as written: its `sh` block's
 * lines go to bash one by one (with `wgqt` on PATH and a throwaway HOME), the
 * editor step is done where the block says, and the QR code `qrencode` draws
 * is read back with `zbarimg`, as a phone's camera would.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeIdentity, makeRepo, removeDir } from "../helpers/fleet.js";
import { type ReadmeUser, readmeLines, readmeUser } from "../helpers/readme.js";
import { ok, run } from "../helpers/run.js";

/** The `sh` block after the README's "**A phone.**" paragraph. */
const phoneBlock = () => readmeLines("**A phone.**");

const QR_WIDTH_LIMIT = 80;

describe("the README's phone export", () => {
  let user: ReadmeUser;
  let repo: string;
  const bash = (line: string) => user.bash(line, repo);

  beforeAll(() => {
    user = readmeUser();

    // The fleet the walkthrough starts from: "Getting started" done, one proxy.
    repo = makeRepo();
    const tavern = makeIdentity(user.home, "tavern", "ssh-ed25519");
    for (const line of [
      "wgqt init --admin-file ~/.config/age/me.pub",
      `wgqt machine add tavern -R ${tavern.recipientFile} --endpoint tavern.example.org`,
      `printf '\\n[proxies.germany]\\ngateway = "tavern"\\nclients = []\\n' >> wgqt.toml`,
      "wgqt keygen",
    ]) {
      const result = bash(line);
      expect(result.status, `${line}: ${result.stderr}`).toBe(0);
    }
  });

  afterAll(() => {
    removeDir(repo);
    removeDir(user.home);
  });

  it("runs as written and draws a QR code the phone reads back as the tunnel's file", () => {
    const lines = phoneBlock();
    let shown = "";
    for (const line of lines) {
      if (line.startsWith("#")) {
        expect(line).toMatch(/add "phone" to a proxy's clients/);
        const toml = join(repo, "wgqt.toml");
        writeFileSync(
          toml,
          readFileSync(toml, "utf8").replace("clients = []", 'clients = ["phone"]'),
        );
        continue;
      }
      const result = bash(line);
      expect(result.status, `${line}: ${result.stderr}`).toBe(0);
      shown = result.stdout;
    }
    const exportLine = lines.at(-1)!;
    expect(exportLine).toMatch(/--mobile \| qrencode -t ansiutf8$/);

    // The text the QR code holds: the same command without the pipe.
    const file = bash(exportLine.replace(/ \| qrencode.*$/, ""));
    expect(file.status, file.stderr).toBe(0);
    const privateKey = ok("age", [
      "-d",
      "-i",
      join(user.home, ".config", "age", "me.key"),
      join(repo, "wireguard_keys", "phone.age"),
    ]).trim();
    expect(file.stdout).toContain(`PrivateKey = ${privateKey}\n`);
    expect(file.stdout).toMatch(/^PresharedKey = [A-Za-z0-9+/]{43}=$/m);
    // The app routes by itself and roams: no hooks, tables, marks or fixed port.
    expect(file.stdout).not.toMatch(/PostUp|PostDown|Table|FwMark|ListenPort|==>/);
    // wg-quick itself accepts it (strip parses the whole file).
    const conf = join(user.home, "germany.conf");
    writeFileSync(conf, file.stdout, { mode: 0o600 });
    const stripped = run("wg-quick", ["strip", conf], { env: user.env });
    expect(stripped.status, stripped.stderr).toBe(0);
    expect(stripped.stdout).toContain(`PrivateKey = ${privateKey}`);

    // What the terminal shows fits it, and a camera decodes it to exactly that file.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ansiutf8 colours with ESC sequences.
    const visible = shown.replace(/\x1b\[[0-9;]*m/g, "");
    const width = Math.max(...visible.split("\n").map((row) => [...row].length));
    expect(width).toBeGreaterThan(20);
    expect(width).toBeLessThanOrEqual(QR_WIDTH_LIMIT);
    const png = join(user.home, "phone.png");
    ok("qrencode", ["-o", png], { input: file.stdout });
    const decoded = ok("zbarimg", ["--quiet", "--raw", "-Sbinary", png]);
    expect(decoded).toBe(file.stdout);
  });

  it("asks for one tunnel when the phone is in two, and refuses an unknown one", () => {
    const toml = join(repo, "wgqt.toml");
    writeFileSync(
      toml,
      `${readFileSync(toml, "utf8")}\n[proxies.finland]\ngateway = "tavern"\nclients = ["phone"]\n`,
    );
    expect(bash("wgqt keygen --machine phone").status).toBe(0);
    // finland sorts before germany, which moves to the next port: accept that first.
    expect(bash("wgqt plan --write --yes").status).toBe(0);
    const identity = "--identity ~/.config/age/me.key";
    const both = bash(`wgqt render --machine phone --format wg-quick ${identity} --mobile`);
    expect(both.status).toBe(2);
    expect(both.stdout).toBe("");
    expect(both.stderr).toBe(
      'wgqt: --mobile: "phone" has 2 tunnels (finland, germany); a phone imports one per QR code: add --interface NAME\n',
    );
    const one = bash(
      `wgqt render --machine phone --format wg-quick ${identity} --mobile --interface finland`,
    );
    expect(one.status, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/^# wgqt: phone on proxy finland/);
    expect(one.stdout).not.toContain("==>");
    const unknown = bash(`wgqt render --machine phone --format wg-quick --interface sweden`);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toBe(
      'wgqt: --interface: "phone" has no interface "sweden" (it has finland, germany)\n',
    );
  });
});
