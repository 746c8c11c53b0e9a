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

/**
 * Each value's text is appended piece by piece to one string: V8 keeps it as
 * a rope and copies it once, when the file is written, where joining each
 * nested level would copy a deep value's text again at every level.
 */
export function printNix(value: NixValue, indent = ""): string {
  const text = scalar(value);
  if (text !== undefined) return text;
  if (value instanceof NixCall) return `${value.fn} ${printNix(value.argument, indent)}`;
  const inner = `${indent}  `;
  if (value instanceof NixLines) {
    let out = "''\n";
    for (const [index, line] of value.lines.entries()) {
      if (index > 0) out += "\n";
      if (line === "") continue;
      out += inner;
      out +=
        line.includes("''") || line.includes("${")
          ? line.replace(/''/g, "'''").replace(/\$\{/g, "''${")
          : line;
    }
    return `${out}\n${indent}''`;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return "[ ]";
    let out = "[\n";
    for (const item of value) {
      out += inner;
      out += printNix(item, inner);
      out += "\n";
    }
    return `${out}${indent}]`;
  }
  let out = "{\n";
  if (value instanceof Map) {
    for (const [key, item] of value) out += attribute(inner, key, item);
  } else {
    const set = value as { [key: string]: NixValue };
    for (const key of Object.keys(set)) out += attribute(inner, key, set[key]!);
  }
  // Nothing after the brace: an empty set.
  return out === "{\n" ? "{ }" : `${out}${indent}}`;
}

/** `<indent>name = value;` and a newline. */
function attribute(indent: string, key: string, value: NixValue): string {
  return `${indent}${nixAttribute(key)} = ${printNix(value, indent)};\n`;
}
