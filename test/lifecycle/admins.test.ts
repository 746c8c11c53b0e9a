/**
 * Removing an admin from wgqt.toml does not stop their key from working: the
 * files still carry their stanza until a rekey. `verify` must report every
 * file they can still decrypt, checked against what `age -d` can actually do.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Fleet } from "../helpers/lifecycle.js";

let fleet: Fleet;

beforeAll(async () => {
  fleet = await Fleet.create({
    machines: { lighthouse: "x25519", nyaa: "ssh-rsa", tavern: "ssh-ed25519" },
    // Two admins leave: one with an age key, one with an SSH key.
    admins: { admin: "x25519", retired: "x25519", former: "ssh-ed25519" },
    proxies: {
      germany: { gateway: "tavern", clients: ["nyaa"] },
      finland: { gateway: "lighthouse", clients: ["nyaa"] },
    },
  });
  fleet.admins = ["admin"];
  fleet.writeConfig("retired and former are no longer admins");
});

afterAll(() => fleet.cleanup());

interface Problem {
  kind: string;
  file: string;
  message: string;
  removed?: string[];
}

describe("after removing two admins", () => {
  it("verify reports every file each of them can still decrypt, and no other", async () => {
    const result = await fleet.wgqt("verify");
    expect(result.status).toBe(1);
    const json = JSON.parse((await fleet.wgqt("verify", "--json")).stdout) as {
      problems: Problem[];
    };
    for (const admin of ["retired", "former"]) {
      const canDecrypt = fleet.decryptable(admin);
      // Every file of the store: they were admins when it was made.
      expect(canDecrypt).toEqual(fleet.encryptedFiles());
      const reported = json.problems.filter(
        (problem) =>
          problem.kind === "stale-recipients" && problem.removed!.includes(fleet.recipient(admin)),
      );
      expect(reported.map((problem) => problem.file)).toEqual(canDecrypt);
      // The same on the text output, one line per file naming it.
      for (const file of canDecrypt) {
        const line = result.stdout
          .split("\n")
          .find((text) => text.startsWith(`wireguard_keys/${file}: `));
        expect(line, file).toMatch(
          /recipients differ from wgqt\.toml: .* \(no longer in wgqt\.toml\) removed but can still decrypt/,
        );
        const short = fleet.recipient(admin).startsWith("age1")
          ? fleet.recipient(admin).slice(0, 8)
          : `ssh-ed25519 …${fleet.recipient(admin).slice(-10)}`;
        expect(line, file).toContain(short);
      }
    }
  });

  it("after a rekey they can decrypt nothing, the remaining admin everything, and verify passes", async () => {
    const rekey = await fleet.wgqt("rekey", "--identity", fleet.ids.admin!.identityFile);
    expect(rekey.status, rekey.stderr).toBe(0);
    expect(fleet.decryptable("retired")).toEqual([]);
    expect(fleet.decryptable("former")).toEqual([]);
    expect(fleet.decryptable("admin")).toEqual(fleet.encryptedFiles());
    const verify = await fleet.wgqt("verify");
    expect(verify.status, verify.stdout).toBe(0);
  });
});
