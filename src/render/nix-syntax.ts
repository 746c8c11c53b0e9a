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

export type NixValue =
  | string
  | number
  | boolean
  | NixExpression
  | NixLines
  | NixValue[]
  | { [key: string]: NixValue };

export function nixString(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\$\{/g, "\\${").replace(/\n/g, "\\n")}"`;
}

const IDENTIFIER = /^[a-zA-Z_][a-zA-Z0-9_'-]*$/;

/** An attribute name, quoted unless it is a plain identifier. */
export function nixAttribute(name: string): string {
  return IDENTIFIER.test(name) ? name : nixString(name);
}

/** An attribute path such as `networking.wireguard.interfaces`, each part quoted as needed. */
export function nixAttributePath(parts: string[]): string {
  return parts.map(nixAttribute).join(".");
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

export function printNix(value: NixValue, indent = ""): string {
  const inner = `${indent}  `;
  if (typeof value === "string") return nixString(value);
  if (typeof value === "number") return String(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  if (value instanceof NixExpression) return value.text;
  if (value instanceof NixLines) {
    const body = value.lines.map((line) =>
      line === "" ? "" : `${inner}${line.replace(/''/g, "'''").replace(/\$\{/g, "''${")}`,
    );
    return `''\n${body.join("\n")}\n${indent}''`;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return "[ ]";
    return `[\n${value.map((item) => `${inner}${printNix(item, inner)}`).join("\n")}\n${indent}]`;
  }
  const keys = Object.keys(value);
  if (keys.length === 0) return "{ }";
  const lines = keys.map(
    (key) => `${inner}${nixAttribute(key)} = ${printNix(value[key]!, inner)};`,
  );
  return `{\n${lines.join("\n")}\n${indent}}`;
}
