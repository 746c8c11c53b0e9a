/**
 * A small printer for Nix values: attribute sets, lists, strings, numbers,
 * booleans, path literals and raw expressions, indented two spaces. Keys are
 * printed in the order given (callers sort names); strings are escaped per
 * the Nix manual ("String literals"), so no value can break out of its quotes.
 */

/** A Nix expression printed as is (`config.age.secrets."x".path`, `pkgs.iproute2`). */
export class NixExpression {
  constructor(readonly text: string) {}
}

/** A multi-line string printed as an indented string (`'' … ''`). */
export class NixLines {
  constructor(readonly lines: string[]) {}
}

/** A function applied to a value: `lib.mkIf cond { … }`, the value printed at its place's indentation. */
export class NixCall {
  constructor(
    readonly fn: string,
    readonly argument: NixValue,
  ) {}
}

export type NixValue =
  | string
  | number
  | boolean
  | NixExpression
  | NixLines
  | NixCall
  | NixValue[]
  | { [key: string]: NixValue }
  /** An attribute set in insertion order, for one with many names: an object that big is slow to build. */
  | Map<string, NixValue>;

/** What may need escaping in a string: `\`, `"`, a newline, and `$` (when `{` follows). */
const NIX_STRING_SPECIAL = /[\\"$\n]/;

export function nixString(text: string): string {
  // Names, addresses and keys need no escaping: most strings skip the replacements.
  if (!NIX_STRING_SPECIAL.test(text)) return `"${text}"`;
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\$\{/g, "\\${").replace(/\n/g, "\\n")}"`;
}

/** A bare identifier (Nix manual, "Identifiers"): `ID [a-zA-Z_][a-zA-Z0-9_'-]*`. */
const IDENTIFIER = /^[a-zA-Z_][a-zA-Z0-9_'-]*$/;

/**
 * The Nix keywords: they match IDENTIFIER but are not identifiers, so a bare
 * `in = …;` or `rec = …;` does not parse (Nix manual, "Keywords").
 */
const KEYWORDS = new Set([
  "assert",
  "else",
  "if",
  "in",
  "inherit",
  "let",
  "or",
  "rec",
  "then",
  "with",
]);

/** An attribute name, quoted unless it is a plain identifier that is not a keyword. */
export function nixAttribute(name: string): string {
  return IDENTIFIER.test(name) && !KEYWORDS.has(name) ? name : nixString(name);
}

/**
 * A path literal for `relative` (posix, relative to the file that contains it),
 * or `(./. + "/…")` when the characters do not make a path literal.
 */
export function nixPath(relative: string): NixExpression {
  const literal =
    relative.startsWith("/") || relative.startsWith("../") ? relative : `./${relative}`;
  if (/^(\/|\.\.?\/)([a-zA-Z0-9._+-]+\/)*[a-zA-Z0-9._+-]+$/.test(literal)) {
    return new NixExpression(literal);
  }
  return new NixExpression(`(./. + ${nixString(`/${literal}`)})`);
}

/** A string, number, boolean or expression as it prints; undefined for lists, sets and indented strings. */
function scalar(value: NixValue): string | undefined {
  if (typeof value === "string") return nixString(value);
  if (typeof value === "number") return String(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  if (value instanceof NixExpression) return value.text;
  return undefined;
}

/** Where printed text goes, piece by piece. */
export interface TextSink {
  append(text: string): void;
}

/** A sink that keeps the text as one string: for small values. */
class StringSink implements TextSink {
  text = "";
  append(text: string): void {
    this.text += text;
  }
}

/**
 * How many UTF-16 code units are gathered as a string before they are
 * encoded: a string of a few thousand pieces flattens while they are still
 * in the cache, where one of a whole module's hundreds of thousands costs
 * several times as much per byte.
 */
const UTF8_RUN = 16 * 1024;
/**
 * How long a module's text may grow as one string before the sink turns to
 * buffers: a mesh member's module (about 120 KB at 200 members) is written
 * faster as a string than in runs copied out of buffers.
 */
const UTF8_FROM = 128 * 1024;
/**
 * The size of the buffers a sink fills one after the other: small enough to
 * come from the allocator's free memory, not fresh pages each time.
 */
const UTF8_CHUNK = 64 * 1024;

/**
 * A sink for a module that may be large (hundreds of kilobytes): its text is
 * encoded as UTF-8 a run at a time into buffers filled one after the other,
 * never one string, nor one buffer copied as it grows. A small module stays
 * a string.
 */
export class Utf8Sink implements TextSink {
  private readonly filled: Buffer[] = [];
  private chunk = Buffer.allocUnsafe(0);
  private used = 0;
  private run = "";

  append(text: string): void {
    this.run += text;
    if (this.run.length >= (this.used === 0 && this.filled.length === 0 ? UTF8_FROM : UTF8_RUN))
      this.encodeRun();
  }

  /** The text appended: a string when it stayed below `UTF8_FROM`, else its UTF-8 in order. */
  finish(): string | Buffer[] {
    if (this.filled.length === 0 && this.used === 0) return this.run;
    this.encodeRun();
    return [...this.filled, this.chunk.subarray(0, this.used)];
  }

  private encodeRun(): void {
    const size = Buffer.byteLength(this.run);
    if (size > this.chunk.length - this.used) {
      if (this.used > 0) this.filled.push(this.chunk.subarray(0, this.used));
      this.chunk = Buffer.allocUnsafe(Math.max(UTF8_CHUNK, size));
      this.used = 0;
    }
    this.used += this.chunk.write(this.run, this.used);
    this.run = "";
  }
}

/** `value` as Nix text, its inner lines indented from `indent`. */
export function printNix(value: NixValue, indent = ""): string {
  const text = scalar(value);
  if (text !== undefined) return text;
  const sink = new StringSink();
  writeNix(sink, value, indent);
  return sink.text;
}

/** Append `value` as Nix text to `sink`, its inner lines indented from `indent`. */
export function writeNix(sink: TextSink, value: NixValue, indent = ""): void {
  const text = scalar(value);
  if (text !== undefined) {
    sink.append(text);
    return;
  }
  if (value instanceof NixCall) {
    sink.append(value.fn);
    sink.append(" ");
    writeNix(sink, value.argument, indent);
    return;
  }
  const inner = `${indent}  `;
  if (value instanceof NixLines) {
    sink.append("''\n");
    for (const [index, line] of value.lines.entries()) {
      if (index > 0) sink.append("\n");
      if (line === "") continue;
      sink.append(inner);
      sink.append(
        line.includes("''") || line.includes("${")
          ? line.replace(/''/g, "'''").replace(/\$\{/g, "''${")
          : line,
      );
    }
    sink.append("\n");
    sink.append(indent);
    sink.append("''");
    return;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) {
      sink.append("[ ]");
      return;
    }
    sink.append("[\n");
    for (const item of value) {
      sink.append(inner);
      writeNix(sink, item, inner);
      sink.append("\n");
    }
    sink.append(indent);
    sink.append("]");
    return;
  }
  if (value instanceof Map) {
    if (value.size === 0) {
      sink.append("{ }");
      return;
    }
    sink.append("{\n");
    for (const [key, item] of value) writeAttribute(sink, inner, key, item);
  } else {
    const set = value as { [key: string]: NixValue };
    const keys = Object.keys(set);
    if (keys.length === 0) {
      sink.append("{ }");
      return;
    }
    sink.append("{\n");
    for (const key of keys) writeAttribute(sink, inner, key, set[key]!);
  }
  sink.append(indent);
  sink.append("}");
}

/** `<indent>name = value;` and a newline. */
function writeAttribute(sink: TextSink, indent: string, key: string, value: NixValue): void {
  sink.append(indent);
  sink.append(nixAttribute(key));
  sink.append(" = ");
  writeNix(sink, value, indent);
  sink.append(";\n");
}
