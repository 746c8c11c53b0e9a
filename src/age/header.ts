/**
 * The age v1 file header, read and written side by side, without decrypting.
 * wgqt reads headers to tell who a file is encrypted to (how many stanzas,
 * which SSH key tags) without holding any identity.
 *
 * Grammar (age-encryption.org/v1, "ABNF definition of file header"):
 *
 *     header     = v1-line 1*stanza end
 *     v1-line    = %s"age-encryption.org/v1" LF
 *     end        = "--- " 43base64char LF
 *     stanza     = arg-line *full-line final-line
 *     arg-line   = "-> " argument *(SP argument) LF
 *     argument   = 1*VCHAR
 *     full-line  = 64base64char LF
 *     final-line = *63base64char LF
 *
 * The reader is total: on any input it returns a header or throws a KeyError.
 * Error messages give line numbers, never line contents, so a secret passed
 * here by mistake is not echoed.
 */

import { KeyError, quote } from "../errors.js";
import { base64NoPadSize, decodeBase64NoPad, encodeBase64NoPad, isBase64NoPad } from "./base64.js";

/** One recipient stanza: its type (first argument), other arguments, and body. */
export interface HeaderStanza {
  type: string;
  args: string[];
  body: Uint8Array;
}

/** A parsed header; `length` is its size in bytes, up to and including the MAC line's LF. */
export interface AgeHeader {
  stanzas: HeaderStanza[];
  /** The 32-byte HMAC-SHA-256 over the header (verifiable only with the file key). */
  mac: Uint8Array;
  length: number;
}

const VERSION_LINE = "age-encryption.org/v1";
const ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----";
/** "wrapped at 64 columns"; 64 base64 characters carry 48 bytes. */
const COLUMNS_PER_LINE = 64;
const MAC_SIZE = 32;
const LF = 0x0a;

function headerError(message: string): KeyError {
  return new KeyError("age/bad-header", `age header: ${message}`);
}

/**
 * Splits the header into LF-terminated lines of printable ASCII. Indexed
 * loops and one Buffer view: status, verify and rekey read the headers of
 * every file of a store, thousands of them.
 */
class LineReader {
  #bytes: Buffer;
  offset = 0;
  number = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** The next line without its LF; throws if there is none or it is not SP/VCHAR text. */
  next(): string {
    this.number++;
    const bytes = this.#bytes;
    const start = this.offset;
    const end = bytes.indexOf(LF, start);
    if (end < 0) throw headerError(`ends at line ${this.number} before the "---" mac line`);
    for (let i = start; i < end; i++) {
      const byte = bytes[i]!;
      if (byte < 0x20 || byte > 0x7e) {
        throw headerError(`line ${this.number} has a byte that is not printable ASCII`);
      }
    }
    this.offset = end + 1;
    return bytes.toString("latin1", start, end);
  }

  startsWith(text: string): boolean {
    if (this.#bytes.length - this.offset < text.length) return false;
    for (let i = 0; i < text.length; i++) {
      if (this.#bytes[this.offset + i] !== text.charCodeAt(i)) return false;
    }
    return true;
  }
}

/**
 * Parse the header at the start of an age file (binary format, not armored).
 *
 * @returns The stanzas, the MAC and the header's length in bytes.
 * @throws {KeyError} when the bytes do not start with a well-formed age v1 header.
 */
export function readHeader(bytes: Uint8Array): AgeHeader {
  const { stanzas, mac, length } = parseHeader(bytes, readBody);
  return { stanzas, mac: decodeBase64NoPad(mac)!, length };
}

/** A recipient stanza without its body: who it is for, as far as its arguments say. */
export type StanzaArgs = Omit<HeaderStanza, "body">;

/**
 * The stanzas' arguments of the header at the start of an age file, checked
 * exactly as {@link readHeader} checks them, bodies and MAC included, but
 * without decoding them: what reading who a file is for (`wgqt status`,
 * thousands of files) needs, without a byte array per line.
 *
 * @throws {KeyError} whenever `readHeader` would, with the same message.
 */
export function readHeaderStanzas(bytes: Uint8Array): StanzaArgs[] {
  return parseHeader(bytes, checkBody).stanzas;
}

/**
 * The header's grammar, with what is done with each stanza's body lines
 * left to `body`; the MAC is returned as its (checked) base64 text.
 */
function parseHeader<Body>(
  bytes: Uint8Array,
  body: (lines: LineReader) => Body,
): { stanzas: (StanzaArgs & { body: Body })[]; mac: string; length: number } {
  const lines = new LineReader(bytes);
  if (!lines.startsWith(`${VERSION_LINE}\n`)) {
    if (lines.startsWith(ARMOR_BEGIN)) {
      throw headerError("file is ascii-armored; expected the binary age format");
    }
    if (lines.startsWith(`${VERSION_LINE}\r\n`)) {
      throw headerError("has CRLF line endings; age files use LF (was it converted as text?)");
    }
    if (lines.startsWith("age-encryption.org/")) {
      throw headerError(`unsupported version; expected "${VERSION_LINE}"`);
    }
    throw headerError(`not an age file (no "${VERSION_LINE}" line)`);
  }
  lines.next();

  const stanzas: (StanzaArgs & { body: Body })[] = [];
  for (;;) {
    const line = lines.next();
    if (line.startsWith("---")) {
      // end = "--- " 43base64char LF
      const mac = line.startsWith("--- ") ? line.slice(4) : "";
      if (!isBase64NoPad(mac) || base64NoPadSize(mac.length) !== MAC_SIZE) {
        throw headerError(`line ${lines.number} is not a valid "--- " mac line`);
      }
      if (stanzas.length === 0) throw headerError("has no recipient stanzas");
      return { stanzas, mac, length: lines.offset };
    }
    if (!line.startsWith("-> ")) {
      throw headerError(`line ${lines.number} is neither a "-> " stanza nor the "---" mac line`);
    }
    // arg-line = "-> " argument *(SP argument) LF; argument = 1*VCHAR. The line is
    // already SP/VCHAR only, so an empty field means a doubled, leading or trailing space.
    const [type, ...args] = line.slice(3).split(" ");
    if (type === undefined || type === "" || args.some((arg) => arg === "")) {
      throw headerError(`line ${lines.number} has an empty stanza argument`);
    }
    stanzas.push({ type, args, body: body(lines) });
  }
}

/** full-line* final-line: 64-column lines until a shorter (possibly empty) one. */
function readBody(lines: LineReader): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (;;) {
    const line = lines.next();
    const chunk = line.length <= COLUMNS_PER_LINE ? decodeBase64NoPad(line) : null;
    if (chunk === null) throw notBodyLine(lines);
    chunks.push(chunk);
    if (line.length < COLUMNS_PER_LINE) break;
  }
  return chunks.length === 1 ? chunks[0]! : new Uint8Array(Buffer.concat(chunks));
}

/** `readBody`'s checks, without decoding. */
function checkBody(lines: LineReader): undefined {
  for (;;) {
    const line = lines.next();
    if (!(line.length <= COLUMNS_PER_LINE && isBase64NoPad(line))) throw notBodyLine(lines);
    if (line.length < COLUMNS_PER_LINE) return undefined;
  }
}

function notBodyLine(lines: LineReader): KeyError {
  return headerError(`line ${lines.number} is not a stanza body line of canonical base64`);
}

/**
 * Encode a header the way age writes it: the body wrapped at 64 columns and
 * always closed by a short line, empty when the body is a multiple of 48 bytes.
 *
 * @returns The header's bytes, up to and including the MAC line.
 * @throws {KeyError} when there is no stanza, an argument is not a valid stanza argument, or `mac` is not 32 bytes.
 */
export function writeHeader(stanzas: readonly HeaderStanza[], mac: Uint8Array): Uint8Array {
  if (stanzas.length === 0)
    throw new KeyError("age/bad-header", "age header: needs at least one stanza");
  const text = encodeHeaderWithoutMac(
    stanzas.map((stanza) => ({ args: [stanza.type, ...stanza.args], body: stanza.body })),
  );
  return new Uint8Array(Buffer.concat([Buffer.from(text, "latin1"), finishHeader(mac)]));
}

/**
 * The header up to and including "---": what the header MAC covers. Stanzas
 * as age-encryption's Stanza has them, the type first in `args`.
 */
export function encodeHeaderWithoutMac(
  stanzas: readonly { args: readonly string[]; body: Uint8Array }[],
): string {
  let text = `${VERSION_LINE}\n`;
  for (const stanza of stanzas) {
    for (const arg of stanza.args) {
      if (!/^[\x21-\x7e]+$/.test(arg)) {
        throw new KeyError("age/bad-header", `age header: invalid stanza argument ${quote(arg)}`);
      }
    }
    text += `-> ${stanza.args.join(" ")}\n`;
    const body = encodeBase64NoPad(stanza.body);
    for (let i = 0; i + COLUMNS_PER_LINE <= body.length; i += COLUMNS_PER_LINE) {
      text += `${body.slice(i, i + COLUMNS_PER_LINE)}\n`;
    }
    text += `${body.slice(body.length - (body.length % COLUMNS_PER_LINE))}\n`;
  }
  return `${text}---`;
}

/** What follows "---": a space, the MAC and the header's closing LF. */
export function finishHeader(mac: Uint8Array): Uint8Array {
  if (mac.length !== MAC_SIZE) {
    throw new KeyError(
      "age/bad-header",
      `age header: mac must be ${MAC_SIZE} bytes, got ${mac.length}`,
    );
  }
  return Buffer.from(` ${encodeBase64NoPad(mac)}\n`, "latin1");
}
