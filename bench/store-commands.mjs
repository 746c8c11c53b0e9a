// The measurements on a keygen'd store: keygen for one new machine, rotate,
// rekey, and the commands that only read the store (machine list, status, verify).
// Every measurement takes `bench` first: what run.mjs set up for this run
// (options, the scratch directory, the runner, where rows are recorded).
import { execFileSync } from "node:child_process";
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { changedFiles, describeChanges, snapshot } from "./checks.mjs";
import { fleetToml, hostKeyOf, machineName, proxyName } from "./fleet.mjs";
import { measureRow } from "./measure.mjs";

/**
 * The fleet's wgqt.toml with one more machine, `name`, a client of the first
 * proxy: what a user has after `wgqt machine add` and an edit.
 */
function withNewClient(shape, keys, name) {
  const proxy = `[proxies.${proxyName(0)}]\ngateway = "${shape.gateways[0]}"\nclients = [`;
  const toml = fleetToml(shape, keys);
  if (!toml.includes(proxy)) throw new Error(`bench: no ${proxy} in the fleet's wgqt.toml`);
  const machine = `[machines.${name}]\nrecipients = [${JSON.stringify(hostKeyOf(keys, name).recipient)}]\n\n`;
  return toml.replace(proxy, `${machine}${proxy}${JSON.stringify(name)}, `);
}

/**
 * On copies of a keygen'd store: keygen for one new machine (the canonical
 * call), rotate one client, and rekey after its host key changed.
 */
export async function rotateAndRekey(bench, shape, keys, store) {
  const { log, work, record, discard, keepReplaced } = bench;
  const client = shape.clients[0];
  const gateway = shape.gateways[1];
  const newcomer = machineName(shape.n);
  const pairs = shape.gateways.length;
  if (!store) {
    for (const [id, label] of [
      ["keygen-one", `keygen --machine ${newcomer}`],
      ["rotate", `rotate --machine ${client}`],
      ["list", "machine list"],
      ["rotate-gateway", `rotate --machine ${gateway}`],
      ["rekey", "rekey (1 host key changed)"],
      ["rotate-all", "rotate --all"],
      ["rekey-all", "rekey (admin added)"],
      ["status", "status --json"],
      ["verify", "verify"],
    ]) {
      record({ id, label, n: shape.n, status: "n/a", note: "no keygen'd store (keygen failed)" });
    }
    return;
  }

  // Each run on a fresh copy of the store: the second would find nothing to make.
  log(`n = ${shape.n}: keygen --machine ${newcomer} (a new client of ${proxyName(0)})`);
  const grown = withNewClient(shape, keys, newcomer);
  let copy;
  record(
    await measureOnStore(
      bench,
      {
        id: "keygen-one",
        label: `keygen --machine ${newcomer}`,
        n: shape.n,
        files: 2,
        expect: "keypair + 1 PSK",
      },
      (i) => {
        if (copy) discard(copy);
        copy = join(work, `keygen-one-${i}`);
        cpSync(store, copy, { recursive: true });
        writeFileSync(join(copy, "wgqt.toml"), grown);
        return copy;
      },
      ["keygen", "--machine", newcomer, "--yes", "--no-commit"],
    ),
  );
  if (copy) discard(copy);
  const rotateDir = join(work, "rotate");
  const rekeyDir = join(work, "rekey");
  cpSync(store, rotateDir, { recursive: true });
  cpSync(store, rekeyDir, { recursive: true });
  discard(store);

  log(`n = ${shape.n}: rotate --machine ${client}`);
  record(
    await measureOnStore(
      bench,
      {
        id: "rotate",
        label: `rotate --machine ${client}`,
        n: shape.n,
        files: 1 + pairs,
        expect: `keypair + ${pairs} PSKs`,
      },
      () => rotateDir,
      ["rotate", "--machine", client, "--yes", "--no-commit"],
    ),
  );

  // What rotate costs beyond the fixed part every command on this fleet pays:
  // `machine list` reads wgqt.toml and the .pub files and changes nothing, and
  // a gateway's rotation renews 9 times the client's secrets.
  log(`n = ${shape.n}: machine list; rotate --machine ${gateway}`);
  record(
    await measureOnStore(
      bench,
      { id: "list", label: "machine list", n: shape.n, files: 0, expect: "reads the fleet" },
      () => rotateDir,
      ["machine", "list"],
    ),
  );
  record(
    await measureOnStore(
      bench,
      {
        id: "rotate-gateway",
        label: `rotate --machine ${gateway}`,
        n: shape.n,
        files: 1 + shape.clients.length,
        expect: `keypair + ${shape.clients.length} PSKs`,
      },
      () => rotateDir,
      ["rotate", "--machine", gateway, "--yes", "--no-commit"],
    ),
  );

  // Each run gives the client a different host key than the run before
  // (untimed edit of wgqt.toml), so every run has the same work: its private
  // key and its PSKs, re-encrypted; the admin's age identity decrypts them.
  log(`n = ${shape.n}: rekey after ${client}'s host key changed`);
  record(
    await measureOnStore(
      bench,
      {
        id: "rekey",
        label: "rekey (1 host key changed)",
        n: shape.n,
        files: 1 + pairs,
        expect: `${1 + pairs} files re-encrypted`,
      },
      (i) => {
        const newKey = keys.spare[i % keys.spare.length];
        writeFileSync(
          join(rekeyDir, "wgqt.toml"),
          fleetToml(shape, keys, { overrides: { [client]: newKey } }),
        );
        return rekeyDir;
      },
      ["rekey", "--identity", keys.adminIdentity, "--yes", "--no-commit"],
    ),
  );

  // The whole-fleet operations, each as much work as keygen: every key
  // renewed (rotate --all), and every file re-encrypted for one more admin
  // (a different new admin each run, so every run re-encrypts all of them).
  log(`n = ${shape.n}: rotate --all`);
  record(
    await measureOnStore(
      bench,
      {
        id: "rotate-all",
        label: "rotate --all",
        n: shape.n,
        files: shape.files,
        expect: `${shape.keypairs} keypairs + ${shape.presharedKeys} PSKs`,
      },
      () => {
        keepReplaced(join(rotateDir, "wireguard_keys"));
        return rotateDir;
      },
      ["rotate", "--all", "--yes", "--no-commit"],
    ),
  );
  log(`n = ${shape.n}: rekey after an admin was added`);
  const toml = fleetToml(shape, keys);
  const admins = `admins = [${JSON.stringify(keys.admin)}]`;
  if (!toml.includes(admins)) throw new Error(`bench: no ${admins} in the fleet's wgqt.toml`);
  record(
    await measureOnStore(
      bench,
      {
        id: "rekey-all",
        label: "rekey (admin added)",
        n: shape.n,
        files: shape.files,
        expect: `${shape.files} files re-encrypted`,
      },
      (i) => {
        const identity = join(work, `admin-${i}.key`);
        execFileSync("age-keygen", ["-o", identity], { stdio: "ignore" });
        const added = execFileSync("age-keygen", ["-y", identity], { encoding: "utf8" }).trim();
        const both = `admins = [${JSON.stringify(keys.admin)}, ${JSON.stringify(added)}]`;
        writeFileSync(join(rotateDir, "wgqt.toml"), toml.replace(admins, both));
        keepReplaced(join(rotateDir, "wireguard_keys"));
        return rotateDir;
      },
      ["rekey", "--identity", keys.adminIdentity, "--yes", "--no-commit"],
    ),
  );

  // The commands that read every file of the store (its header, not its
  // secret) and change nothing: the fleet overview and the consistency check.
  log(`n = ${shape.n}: status --json; verify`);
  for (const [id, args] of [
    ["status", ["status", "--json"]],
    ["verify", ["verify"]],
  ]) {
    record(
      await measureOnStore(
        bench,
        {
          id,
          label: args.join(" "),
          n: shape.n,
          files: shape.files,
          expect: "reads every file's header",
        },
        () => rotateDir,
        args,
      ),
    );
  }
}

/**
 * Measure `wgqt args` on a fleet: `prepare(i)` readies run i's fleet
 * directory (untimed) and returns it. The first run's changes to the store
 * are described in the row's note. `beforeEach(dir)`, when given, runs (and
 * is awaited) before each timed run, outside its time.
 */
export function measureOnStore(bench, row, prepare, args, { beforeEach } = {}) {
  const { runs, budgetMs, log, node, settle, stepTimeoutMs } = bench;
  let dir;
  let before;
  return measureRow(row, {
    runs,
    budgetMs,
    log,
    run: async (i) => {
      dir = prepare(i);
      if (i === 0) before = snapshot(join(dir, "wireguard_keys"));
      if (beforeEach) await beforeEach(dir);
      settle();
      return node(args, dir, stepTimeoutMs);
    },
    check: (i) =>
      i === 0
        ? describeChanges(changedFiles(before, snapshot(join(dir, "wireguard_keys"))))
        : undefined,
  });
}
