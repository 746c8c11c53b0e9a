/**
 * Parsing the recipient strings users put in wgqt.toml (`recipients`, `admins`):
 * native X25519 (`age1…`) and SSH keys (`ssh-ed25519 …`, `ssh-rsa …`). Those are
 * exactly what the age 1.1 CLI on a host can decrypt. Post-quantum (`age1pq1…`)
 * and tag (`age1tag1…`) recipients need age 1.3, plugin recipients need the
 * plugin; all are refused here rather than producing files a host cannot read.
 */

import type { Recipient } from "age-encryption";
import { KeyError, quote } from "../errors.js";
import { type X25519Scalar, x25519 } from "../keys/x25519.js";
import type { SyncRecipient } from "./encrypt.js";
import type { HeaderStanza } from "./header.js";
import { readRecipient } from "./recipient-text.js";
import {
  type Ed25519X25519Form,
  requireUsablePoint,
  SshEd25519Recipient,
  sshRecipient,
} from "./ssh.js";
import type { SshKeyType } from "./ssh-public-key.js";
import { X25519Recipient } from "./x25519-stanza.js";

/** The kind of an age recipient: native X25519 (`age1…`) or an SSH public key. */
export type RecipientKind = "x25519" | SshKeyType;

/** A validated recipient, ready for encryption and for matching header stanzas. */
export interface ParsedRecipient {
  kind: RecipientKind;
  /** Canonical text: the `age1…` string, or `"<ssh type> <base64>"` without comment. */
  normalized: string;
  /** For SSH recipients, the key tag agessh writes in their stanzas. */
  tag?: string;
  /**
   * Wraps file keys for this recipient: for encrypt.ts, and usable with
   * age-encryption's Encrypter.addRecipient.
   */
  recipient: Recipient & SyncRecipient;
}

/** The stanza type each recipient kind writes (age-encryption.org/v1; agessh). */
const STANZA_TYPE: Record<RecipientKind, string> = {
  x25519: "X25519",
  "ssh-ed25519": "ssh-ed25519",
  "ssh-rsa": "ssh-rsa",
};

/** Any clamped scalar works to probe a point; see x25519KeyIsUsable. */
const PROBE_SCALAR = new Uint8Array(32).fill(0x5a);

/**
 * Parsed recipients by their exact input text. parseRecipient is pure, and
 * keygen calls it for every recipient of every file: thousands of files share
 * a few hundred recipients, and parsing one (point decoding, the low-order
 * probe, the ssh-ed25519 tweak) costs more than a stanza. Bounded so a
 * long-lived process cannot grow it without limit; the oldest entry goes first.
 */
const parsed = new Map<string, ParsedRecipient>();
const PARSED_LIMIT = 4096;

/**
 * Parse one recipient. Throws KeyError quoting the value (never a secret key).
 * Repeated calls with the same text, or with its normalized form, return the
 * same frozen object.
 *
 * @param text - `age1…`, `ssh-ed25519 …` or `ssh-rsa …`.
 * @throws {KeyError} when `text` is not a recipient wgqt can encrypt to.
 */
export function parseRecipient(text: string): ParsedRecipient {
  const known = parsed.get(text);
  if (known !== undefined) return known;
  const recipient = remember(text, Object.freeze(parseRecipientText(text)));
  // The config keeps recipients normalized (no comment): the next call for
  // this key usually brings that form.
  if (!parsed.has(recipient.normalized)) remember(recipient.normalized, recipient);
  return recipient;
}

function remember(text: string, recipient: ParsedRecipient): ParsedRecipient {
  if (parsed.size >= PARSED_LIMIT) {
    const oldest = parsed.keys().next();
    if (!oldest.done) parsed.delete(oldest.value);
  }
  parsed.set(text, recipient);
  return recipient;
}

/**
 * An ssh-ed25519 recipient parsed and converted in one thread, as plain data
 * another thread can take over (`takeOverRecipients`): decoding the key's
 * point and converting it to X25519 cost about 0.5 ms per key and thread,
 * which a worker encrypting to hundreds of host keys would otherwise repeat.
 */
export interface RecipientHandoff {
  /** The recipient text as given to parseRecipient. */
  text: string;
  wire: Uint8Array;
  tag: string;
  normalized: string;
  form: Ed25519X25519Form;
}

/**
 * Parse each of `texts` in this thread (throwing KeyError for a bad one, as
 * parseRecipient does) and hand over the ssh-ed25519 ones with their X25519
 * form computed. Other kinds are cheap to parse again and are left out.
 */
export function handOffRecipients(texts: Iterable<string>): RecipientHandoff[] {
  const handoffs: RecipientHandoff[] = [];
  for (const text of new Set(texts)) {
    const { recipient } = parseRecipient(text);
    if (!(recipient instanceof SshEd25519Recipient)) continue;
    const { wire, tag, normalized } = recipient.key;
    handoffs.push({ text, wire, tag, normalized, form: recipient.x25519Form() });
  }
  return handoffs;
}

/**
 * Take over recipients another thread parsed (`handOffRecipients`):
 * parseRecipient then returns them for the same texts without parsing again.
 */
export function takeOverRecipients(handoffs: readonly RecipientHandoff[]): void {
  for (const { text, wire, tag, normalized, form } of handoffs) {
    if (parsed.has(text)) continue;
    const key = { type: "ssh-ed25519" as const, wire, tag, normalized };
    const recipient = SshEd25519Recipient.withX25519Form(key, form);
    remember(text, Object.freeze({ kind: key.type, normalized, tag, recipient }));
  }
}

function parseRecipientText(text: string): ParsedRecipient {
  const read = readRecipient(text);
  if (read.kind === "x25519") {
    if (!x25519KeyIsUsable(read.bytes)) {
      throw new KeyError(
        "key/invalid",
        `invalid age recipient ${quote(text)}: not an X25519 public key`,
      );
    }
    return {
      kind: "x25519",
      normalized: read.normalized,
      recipient: new X25519Recipient(read.bytes),
    };
  }
  const { key } = read;
  requireUsablePoint(key, `ssh public key ${quote(text.trim())}`);
  return { kind: key.type, normalized: key.normalized, tag: key.tag, recipient: sshRecipient(key) };
}

/**
 * Low-order points (RFC 7748 §6.1) would make the shared secret predictable:
 * X25519 with any clamped scalar gives all zeros for them and only for them.
 */
function x25519KeyIsUsable(publicKey: Uint8Array): boolean {
  const curve = x25519();
  probe ??= curve.scalar(PROBE_SCALAR);
  return curve.multiply(probe, curve.point(publicKey)) !== null;
}

/** PROBE_SCALAR, prepared once (preparing a scalar costs about a multiplication). */
let probe: X25519Scalar | undefined;

/**
 * Whether a header stanza could belong to this recipient. SSH stanzas carry the
 * key tag, so this is a real match (up to a 32-bit collision). X25519 stanzas
 * carry only an ephemeral share: any X25519 stanza might be this recipient's,
 * and only the matching identity can tell.
 *
 * @returns `true` when the stanza may be this recipient's.
 */
export function recipientMatchesStanza(
  recipient: Pick<ParsedRecipient, "kind" | "tag">,
  stanza: Pick<HeaderStanza, "type" | "args">,
): boolean {
  if (stanza.type !== STANZA_TYPE[recipient.kind]) return false;
  return recipient.kind === "x25519" || stanza.args[0] === recipient.tag;
}
