/**
 * The shortcuts that keep rotate, rekey, status and verify in proportion to
 * what they change must not change an answer: the recipient → owners index
 * against a scan of every machine, manifest.json written without a deep sorted
 * copy, or by splicing changed entries into the bytes read, against the
 * definition of the format, manifest.json read without its schema
 * against the schema, rekey's candidates from the manifest against reading every
 * file, and the key store read without its manifest until asked for it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Config, MachineConfig } from "../../src/config/types.js";
import { generateKeyPair } from "../../src/keys/wireguard.js";
import { ownersOf } from "../../src/store/inspect/names.js";
import { openKeyStore } from "../../src/store/keystore.js";
import {
  copyManifest,
  type Manifest,
  type ManifestEntry,
  manifestBytes,
  parseManifest,
  readManifest,
  serializeGeneric,
  serializeManifest,
} from "../../src/store/manifest.js";

/** What ownersOf answered before it had an index: a scan of every machine, per call. */
function ownersByScan(config: Config, recipient: string): string[] {
  const owners = Object.keys(config.machines)
    .sort()
    .filter((name) => config.machines[name]!.recipients.includes(recipient));
  if (config.admins.includes(recipient)) owners.push("admin");
  return owners;
}

const RECIPIENTS = [
  "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq",
  "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj",
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBXakiPrSA5DLi33Y47oo00vObMSZ07HqCeLOvCgXsOo",
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDgR/z9Md2m6jU97Cdk24MMC4DtwKuINNZLrHHtP1QCV",
  "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7",
];

const recipients = fc.array(fc.constantFrom(...RECIPIENTS), { maxLength: 4 });

/** Only what ownersOf reads of a config; the index is per config object. */
const configs = fc
  .record({
    machines: fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/), recipients, {
      maxKeys: 8,
    }),
    admins: recipients,
  })
  .map(
    ({ machines, admins }) =>
      ({
        admins,
        machines: Object.fromEntries(
          Object.entries(machines).map(([name, list]) => [
            name,
            { name, recipients: list } satisfies MachineConfig,
          ]),
        ),
        proxies: {},
      }) as unknown as Config,
  );

describe("ownersOf", () => {
  it("gives what a scan of every machine gives, for every recipient, asked any number of times", () => {
    fc.assert(
      fc.property(configs, (config) => {
        for (const recipient of [...RECIPIENTS, "age1unknown"]) {
          expect(ownersOf(config, recipient)).toEqual(ownersByScan(config, recipient));
          // Asked again (from the index): the same, and a list of the caller's own.
          const again = ownersOf(config, recipient);
          expect(again).toEqual(ownersByScan(config, recipient));
          again.push("changed by the caller");
          expect(ownersOf(config, recipient)).toEqual(ownersByScan(config, recipient));
        }
      }),
    );
  });

  it("lists a machine once, and admin last, when a recipient is both", () => {
    const config = {
      admins: [RECIPIENTS[0], RECIPIENTS[0]],
      machines: {
        tavern: { name: "tavern", recipients: [RECIPIENTS[0], RECIPIENTS[0]] },
        archive: { name: "archive", recipients: [RECIPIENTS[0]] },
      },
      proxies: {},
    } as unknown as Config;
    expect(ownersOf(config, RECIPIENTS[0]!)).toEqual(["archive", "tavern", "admin"]);
  });
});

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
/** Entries as commands make them: keys in the order of the code that builds them. */
const entries: fc.Arbitrary<ManifestEntry> = fc
  .record(
    {
      kind: fc.constantFrom(
        "private-key",
        "preshared-key",
        "vpn-private-key",
        "vpn-preshared-key",
      ) as fc.Arbitrary<ManifestEntry["kind"]>,
      machines: fc.array(fc.string(), { maxLength: 3 }),
      recipients: fc.array(fc.string(), { maxLength: 3 }),
      created: fc.string(),
      sha256: hex64,
      public_key: fc.option(fc.string(), { nil: undefined }),
    },
    { requiredKeys: ["kind", "machines", "recipients", "created", "sha256"] },
  )
  .chain((entry) =>
    // Any key order: read from disk (sorted), or made by a command (not).
    fc.shuffledSubarray(Object.keys(entry), { minLength: Object.keys(entry).length }).map(
      (order) =>
        // The same fields in another order: still an entry.
        Object.fromEntries(
          order.map((key) => [key, entry[key as keyof ManifestEntry]]),
        ) as unknown as ManifestEntry,
    ),
  );
/** File names, including ones that sort or stringify awkwardly. */
const fileNames = fc.oneof(
  fc.stringMatching(/^[a-z0-9+]{1,8}\.age$/).map((name) => `preshared_keys/${name}`),
  fc.string(),
  fc.constantFrom("0", "7", "10", "4294967295", "__proto__", "toJSON", "constructor", ""),
);
/** Set a property as JSON.parse would, even one named `__proto__`. */
function put(files: Record<string, ManifestEntry>, name: string, entry: ManifestEntry): void {
  Object.defineProperty(files, name, {
    value: entry,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

const manifests: fc.Arbitrary<Manifest> = fc
  .array(fc.tuple(fileNames, entries), { maxLength: 12 })
  .map((pairs) => {
    const files: Record<string, ManifestEntry> = {};
    for (const [name, entry] of pairs)
      Object.defineProperty(files, name, {
        value: entry,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return { version: 1, files } as Manifest;
  });

describe("manifest.json", () => {
  it("is written byte for byte as the sorted deep copy writes it", () => {
    fc.assert(
      fc.property(manifests, fc.boolean(), (manifest, versionFirst) => {
        const ordered = versionFirst
          ? manifest
          : ({ files: manifest.files, version: 1 } as unknown as Manifest);
        expect(serializeManifest(ordered)).toBe(serializeGeneric(ordered));
      }),
    );
  });

  it("is written as the sorted deep copy writes it when names sort or stringify awkwardly", () => {
    const entry = (created: string) => ({
      created,
      kind: "private-key" as const,
      machines: [],
      recipients: ["age1x"],
      sha256: "0".repeat(64),
    });
    for (const names of [["__proto__"], ["a.age", "__proto__"], ["10", "9"], ["9", "10", "a"]]) {
      const files: Record<string, ManifestEntry> = {};
      for (const name of names)
        Object.defineProperty(files, name, {
          value: entry(name),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      const manifest = { files, version: 1 } as unknown as Manifest;
      expect(serializeManifest(manifest), names.join(" ")).toBe(serializeGeneric(manifest));
    }
  });

  it("reads back to what was written, and writes again to the same bytes", () => {
    fc.assert(
      fc.property(manifests, (manifest) => {
        const text = serializeManifest(manifest);
        const read = parseManifest(text, "manifest.json");
        expect(serializeManifest(read)).toBe(text);
        // A copy whose entries are replaced leaves the original as it was.
        const copy = copyManifest(read);
        for (const file of Object.keys(copy.files))
          copy.files[file] = { ...copy.files[file]!, created: "changed" };
        expect(serializeManifest(read)).toBe(text);
      }),
    );
  });

  it("is written, after changes to a manifest read from disk, as the sorted deep copy writes it", () => {
    const edits = fc.array(fc.tuple(fc.nat(), fc.constantFrom("replace", "delete")), {
      maxLength: 6,
    });
    const additions = fc.array(fc.tuple(fileNames, entries), { maxLength: 4 });
    fc.assert(
      fc.property(manifests, edits, additions, (manifest, changes, added) => {
        const read = readManifest(Buffer.from(serializeGeneric(manifest)), "manifest.json");
        const copy = copyManifest(read);
        const names = Object.keys(read.files);
        for (const [index, change] of changes) {
          if (names.length === 0) break;
          const name = names[index % names.length]!;
          if (change === "delete") delete copy.files[name];
          else put(copy.files, name, { ...read.files[name]!, created: `changed ${index}` });
        }
        for (const [name, entry] of added) put(copy.files, name, entry);
        expect(manifestBytes(copy).toString("utf8")).toBe(serializeGeneric(copy));
        // The manifest read is left as it was.
        expect(manifestBytes(read).toString("utf8")).toBe(serializeGeneric(read));
      }),
    );
  });

  const entry = (created: string): ManifestEntry => ({
    created,
    kind: "preshared-key",
    machines: ["a", "b"],
    recipients: ["age1x"],
    sha256: "0".repeat(64),
  });
  const threeFiles = (): Manifest => ({
    version: 1,
    files: { "a.age": entry("1"), "b.age": entry("2"), "c.age": entry("3") },
  });

  it("copies the entries a change leaves alone byte for byte from the file read", () => {
    // "\u0031" reads as "1": only a splice keeps it as it was written.
    const text = serializeGeneric(threeFiles()).replace('"created": "1"', '"created": "\\u0031"');
    const read = readManifest(Buffer.from(text), "manifest.json");
    expect(read.files["a.age"]!.created).toBe("1");
    const copy = copyManifest(read);
    copy.files["b.age"] = entry("new");
    delete copy.files["c.age"];
    copy.files["ab.age"] = entry("added");
    const written = manifestBytes(copy).toString("utf8");
    expect(written).toContain('"created": "\\u0031"');
    expect(JSON.parse(written)).toEqual(copy);
    expect(written.replace("\\u0031", "1")).toBe(serializeGeneric(copy));
  });

  it("is written whole, still as the sorted deep copy writes it, when most of a large one changes", () => {
    const files: Record<string, ManifestEntry> = {};
    for (let i = 0; i < 200; i++) files[`m${String(i).padStart(3, "0")}.age`] = entry(String(i));
    // "\u0031" reads as "1": only a splice would keep it as it was written.
    const text = serializeGeneric({ version: 1, files }).replace(
      '"created": "1"',
      '"created": "\\u0031"',
    );
    for (const replaced of [49, 51, 200]) {
      const read = readManifest(Buffer.from(text), "manifest.json");
      const copy = copyManifest(read);
      for (let i = 0; i < replaced; i++) {
        const name = `m${String(199 - i).padStart(3, "0")}.age`;
        copy.files[name] = entry(`new ${i}`);
      }
      const written = manifestBytes(copy).toString("utf8");
      expect(written.replace("\\u0031", "1"), `${replaced}`).toBe(serializeGeneric(copy));
      // Up to a quarter of the entries changed: spliced (the escape is kept).
      expect(written.includes("\\u0031"), `${replaced}`).toBe(replaced <= 50);
    }
  });

  it("is written in full when the file read is not laid out as wgqt writes it", () => {
    for (const text of [
      JSON.stringify(threeFiles()),
      JSON.stringify(threeFiles(), null, 4),
      // Entries out of order, or the entry to replace written differently: never spliced.
      serializeGeneric(threeFiles()).replace('"a.age"', '"d.age"'),
      serializeGeneric(threeFiles()).replace('"created": "2"', '"created":"2"'),
    ]) {
      const read = readManifest(Buffer.from(text), "manifest.json");
      const copy = copyManifest(read);
      copy.files["b.age"] = entry("new");
      expect(manifestBytes(copy).toString("utf8"), text).toBe(serializeGeneric(copy));
    }
  });

  it("is written right even when the manifest read was changed in place before the copy", () => {
    const read = readManifest(Buffer.from(serializeGeneric(threeFiles())), "manifest.json");
    read.files["a.age"] = entry("changed in place");
    delete read.files["c.age"];
    const copy = copyManifest(read);
    copy.files["b.age"] = entry("new");
    expect(manifestBytes(copy).toString("utf8")).toBe(serializeGeneric(copy));
  });

  it("is refused in the schema's words when it is not a manifest", () => {
    const good = {
      version: 1,
      files: {
        "a.age": {
          created: "2025-01-01T00:00:00Z",
          kind: "private-key",
          machines: ["a"],
          recipients: ["age1x"],
          sha256: "0".repeat(64),
        },
      },
    };
    const bad: [unknown, string][] = [
      [{ ...good, version: 2 }, "version"],
      [{ ...good, extra: true }, "(top level)"],
      [
        { version: 1, files: { "a.age": { ...good.files["a.age"], sha256: "0".repeat(63) } } },
        "files.a.age.sha256",
      ],
      [
        { version: 1, files: { "a.age": { ...good.files["a.age"], sha256: "G".repeat(64) } } },
        "files.a.age.sha256",
      ],
      [
        { version: 1, files: { "a.age": { ...good.files["a.age"], kind: "other" } } },
        "files.a.age.kind",
      ],
      [
        { version: 1, files: { "a.age": { ...good.files["a.age"], recipients: [1] } } },
        "files.a.age.recipients.0",
      ],
      [
        { version: 1, files: { "a.age": { ...good.files["a.age"], public_key: 1 } } },
        "files.a.age.public_key",
      ],
      [{ version: 1, files: { "a.age": { ...good.files["a.age"], other: "" } } }, "files.a.age"],
    ];
    expect(parseManifest(JSON.stringify(good), "m.json")).toEqual(good);
    for (const [json, where] of bad) {
      expect(() => parseManifest(JSON.stringify(json), "m.json")).toThrow(`m.json: ${where}: `);
    }
    expect(() => parseManifest(JSON.stringify({ ...good, extra: 1, more: 2 }), "m.json")).toThrow(
      'm.json: (top level): Unrecognized keys: "extra", "more"',
    );
    expect(() => parseManifest(JSON.stringify({ ...good, version: 2 }), "m.json")).toThrow(
      "m.json: version: Invalid input: expected 1",
    );
  });
});

describe("openKeyStore", () => {
  it("reads manifest.json only when something asks for what it holds", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wgqt-store-"));
    try {
      const { publicKey } = generateKeyPair();
      writeFileSync(join(dir, "tavern.pub"), `${publicKey}\n`);
      writeFileSync(join(dir, "tavern.age"), "not looked at here\n");
      writeFileSync(join(dir, "manifest.json"), "{");
      const broken = await openKeyStore(dir);
      // Planning and rendering need only the public keys: a broken manifest does not stop them.
      expect(broken.hasManifest).toBe(true);
      expect(broken.publicKeys()).toEqual({ tavern: publicKey });
      expect(() => broken.manifest).toThrow(/manifest\.json: not valid JSON/);
      expect(() => broken.machines).toThrow(/manifest\.json: not valid JSON/);
      expect(() => broken.vpnKeys).toThrow(/manifest\.json: not valid JSON/);

      const manifest: Manifest = {
        version: 1,
        files: {
          "tavern.age": {
            kind: "private-key",
            machines: ["tavern"],
            recipients: [RECIPIENTS[0]!],
            created: "2026-01-02T03:04:05Z",
            sha256: "0".repeat(64),
            public_key: publicKey,
          },
        },
      };
      writeFileSync(join(dir, "manifest.json"), serializeManifest(manifest));
      const store = await openKeyStore(dir);
      // Asked for a machine first, the manifest is read then, and what it says is filled in.
      expect(store.machines.tavern).toEqual({
        name: "tavern",
        publicKey,
        privateKeyFile: join(dir, "tavern.age"),
        recipients: [RECIPIENTS[0]],
        created: "2026-01-02T03:04:05Z",
      });
      expect(store.manifest).toEqual(manifest);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
