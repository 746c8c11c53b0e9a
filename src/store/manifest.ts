/**
 * `manifest.json`: who each encrypted file is encrypted to, when it was made,
 * and a hash of its bytes, so commands know without decrypting (DESIGN.md:
 * "whatever manifest wgqt needs to know, without decrypting, who each file is
 * encrypted to"). Written with sorted keys so diffs stay minimal.
 */
import { z } from "zod";
import { StoreError } from "../errors.js";

const entrySchema = z.strictObject({
  kind: z.enum(["private-key", "preshared-key", "vpn-private-key", "vpn-preshared-key"]),
  machines: z.array(z.string()),
  recipients: z.array(z.string()),
  /** ISO time the secret inside was made (kept across rekeys). */
  created: z.string(),
  /** Hex SHA-256 of the .age file's bytes as written. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** For private keys: the public key written next to it (a VPN key: the public key the provider knows). */
  public_key: z.string().optional(),
});

const manifestSchema = z.strictObject({
  version: z.literal(1),
  files: z.record(z.string(), entrySchema),
});

export type ManifestEntry = z.infer<typeof entrySchema>;
export type Manifest = z.infer<typeof manifestSchema>;

export function emptyManifest(): Manifest {
  return { version: 1, files: {} };
}

export function parseManifest(text: string, path: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new StoreError(`${path}: not valid JSON (${(error as Error).message})`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new StoreError(`${path}: ${issue.path.join(".") || "(top level)"}: ${issue.message}`);
  }
  return parsed.data;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort())
      out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

export function serializeManifest(manifest: Manifest): string {
  return `${JSON.stringify(sortKeys(manifest), null, 2)}\n`;
}
