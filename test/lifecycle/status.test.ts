/**
 * `wgqt status --json` against the truth: for every file and every identity,
 * what status says about who can decrypt must be what `age -d` does, in a
 * fresh store, after recipients changed in wgqt.toml (files not yet
 * re-encrypted), and with a file re-encrypted behind wgqt's back.
 */

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Fleet } from "../helpers/lifecycle.js";

let fleet: Fleet;

beforeAll(async () => {
  fleet = await Fleet.create();
  fleet.identity("nyaa-new", "ssh-ed25519");
});

afterAll(() => fleet.cleanup());

interface Reader {
  recipient: string;
  kind: string;
  owners: string[];
  inManifest: boolean;
  header: "present" | "absent" | "unattributable";
  canDecrypt: boolean | null;
}
interface FileStatus {
  file: string;
  stanzas: number | null;
  readers: Reader[];
  unattributed: { type: string; tag?: string }[];
  problems: string[];
}

/** agessh's key tag, computed here independently: SHA-256 of the key blob, first 4 bytes, unpadded base64. */
function sshTag(recipient: string): string {
  const blob = Buffer.from(recipient.split(" ")[1]!, "base64");
  return createHash("sha256")
    .update(blob)
    .digest()
    .subarray(0, 4)
    .toString("base64")
    .replace(/=+$/, "");
}

/**
 * Compare status with age for every file × identity. Returns how many cells
 * status was definite about; throws on any disagreement.
 */
async function checkAgainstAge(): Promise<number> {
  const status = JSON.parse((await fleet.wgqt("status", "--json")).stdout) as {
    files: FileStatus[];
  };
  expect(status.files.map((file) => file.file)).toEqual(fleet.encryptedFiles());
  const disagreements: string[] = [];
  let definite = 0;
  for (const file of status.files) {
    for (const name of Object.keys(fleet.ids)) {
      const recipient = fleet.recipient(name);
      const actual = fleet.decrypt(name, file.file) !== undefined;
      const reader = file.readers.find((entry) => entry.recipient === recipient);
      if (reader?.canDecrypt === null) {
        expect(reader.header).toBe("unattributable");
        continue;
      }
      const ssh = !recipient.startsWith("age1");
      if (reader && ssh)
        expect(reader.header, `${file.file} × ${name}`).toBe(actual ? "present" : "absent");
      const claimed =
        reader?.canDecrypt === true ||
        (ssh &&
          file.unattributed.some(
            (stanza) => stanza.type === recipient.split(" ")[0] && stanza.tag === sshTag(recipient),
          ));
      definite++;
      if (claimed !== actual)
        disagreements.push(`${file.file} × ${name}: status says ${claimed}, age says ${actual}`);
    }
  }
  expect(disagreements).toEqual([]);
  return definite;
}

describe("wgqt status --json, identity by identity against age", () => {
  it("agrees with age on a fresh store, and names owners and header evidence", async () => {
    expect(await checkAgainstAge()).toBe(
      fleet.encryptedFiles().length * Object.keys(fleet.ids).length,
    );
    const status = JSON.parse((await fleet.wgqt("status", "--json")).stdout);
    const tavernFile = status.files.find(
      (file: FileStatus) => file.file === "tavern.age",
    ) as FileStatus;
    expect(tavernFile.stanzas).toBe(3);
    expect(tavernFile.readers).toEqual([
      {
        recipient: fleet.recipient("tavern"),
        kind: "ssh-ed25519",
        owners: ["tavern"],
        inManifest: true,
        header: "present",
        canDecrypt: true,
      },
      {
        recipient: fleet.recipient("admin"),
        kind: "x25519",
        owners: ["admin"],
        inManifest: true,
        header: "unattributable",
        canDecrypt: true,
      },
      {
        recipient: fleet.recipient("ops"),
        kind: "ssh-ed25519",
        owners: ["admin"],
        inManifest: true,
        header: "present",
        canDecrypt: true,
      },
    ]);
    const tavern = status.machines.find((machine: { name: string }) => machine.name === "tavern");
    expect(
      tavern.presharedKeys.map((psk: { peer: string; present: boolean }) => [
        psk.peer,
        psk.present,
      ]),
    ).toEqual([
      ["archive", true],
      ["nyaa", true],
      ["spark", true],
    ]);
    expect(tavern.privateKey.file).toBe("tavern.age");
    expect(status.problems).toEqual([]);
  });

  it("still tells the truth after wgqt.toml changed but before a rekey", async () => {
    fleet.hostKeys.nyaa = "nyaa-new";
    fleet.admins = ["admin"];
    fleet.writeConfig("nyaa reinstalled; ops leaves");
    await checkAgainstAge();
    const status = JSON.parse((await fleet.wgqt("status", "--json")).stdout);
    const nyaa = status.files.find((file: FileStatus) => file.file === "nyaa.age") as FileStatus;
    // The old key is no longer in wgqt.toml but can decrypt; the new one cannot yet.
    expect(
      nyaa.readers.find((reader) => reader.recipient === fleet.recipient("nyaa")),
    ).toMatchObject({ owners: [], header: "present", canDecrypt: true });
    expect(
      nyaa.readers.find((reader) => reader.recipient === fleet.recipient("nyaa-new")),
    ).toBeUndefined();
    expect(nyaa.problems).toEqual(["stale-recipients"]);
  });

  it("reads the header, not the manifest, for a file re-encrypted outside wgqt", async () => {
    // spark.age re-encrypted with the age CLI to the admin and a stranger's SSH key.
    const path = join(fleet.keys, "spark.age");
    const plaintext = fleet.decrypt("admin", "spark.age")!;
    execFileSync(
      "age",
      ["-e", "-r", fleet.recipient("admin"), "-R", fleet.ids.stranger!.recipientFile, "-o", path],
      { input: plaintext },
    );
    await checkAgainstAge();
    const status = JSON.parse((await fleet.wgqt("status", "--json")).stdout);
    const spark = status.files.find((file: FileStatus) => file.file === "spark.age") as FileStatus;
    expect(spark.unattributed).toEqual([
      { type: "ssh-ed25519", tag: sshTag(fleet.recipient("stranger")) },
    ]);
    expect(
      spark.readers.find((reader) => reader.recipient === fleet.recipient("ops")),
    ).toMatchObject({ header: "absent", canDecrypt: false });
    expect(spark.problems).toEqual(["checksum-mismatch", "header-mismatch", "stale-recipients"]);
    const verify = await fleet.wgqt("verify");
    expect(verify.stdout).toContain(
      `wireguard_keys/spark.age: header disagrees with manifest.json: ssh-ed25519 …${fleet.recipient("ops").slice(-10)} listed but not in the header; an unknown ssh-ed25519 stanza (key tag ${sshTag(fleet.recipient("stranger"))})`,
    );
  });

  it("after a rekey that accepts the changed file, agrees with age and verify passes", async () => {
    // A file changed outside wgqt is not re-encrypted (and vouched for) unless accepted.
    const refused = await fleet.wgqt("rekey", "--identity", fleet.ids.admin!.identityFile);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(
      /^wgqt: wireguard_keys\/spark\.age: changed since wgqt wrote it .*wgqt rekey --accept wireguard_keys\/spark\.age\)$/m,
    );
    const rekey = await fleet.wgqt(
      "rekey",
      "--identity",
      fleet.ids.admin!.identityFile,
      "--accept",
      "wireguard_keys/spark.age",
    );
    expect(rekey.status, rekey.stderr).toBe(0);
    await checkAgainstAge();
    expect(fleet.decryptable("stranger")).toEqual([]);
    expect((await fleet.wgqt("verify")).status).toBe(0);
  });
});
