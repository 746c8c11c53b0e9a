/**
 * The Nix printer's two sinks agree: a value written as UTF-8 in buffers
 * (Utf8Sink, for large modules) is the same text as printNix's string,
 * whatever falls on the boundaries of its runs and buffers.
 */
import { describe, expect, it } from "vitest";
import {
  NixCall,
  NixLines,
  type NixValue,
  printNix,
  Utf8Sink,
  writeNix,
} from "../../src/render/nix-syntax.js";

function printed(value: NixValue, indent = ""): string {
  const sink = new Utf8Sink();
  writeNix(sink, value, indent);
  const text = sink.finish();
  return typeof text === "string" ? text : Buffer.concat(text).toString("utf8");
}

describe("Utf8Sink", () => {
  it("holds the text printNix returns, characters of any width on any boundary", () => {
    // Names of 1 to 4 UTF-8 bytes, many times over: thousands of runs and several buffers.
    // The last holds `${x}`, which the printer escapes.
    const names = ["plain", "café", "ネット", "🦀 crab", `quote " and $${"{x}"}`];
    const peers = Array.from({ length: 5000 }, (_, index) => ({
      [names[index % names.length]!]: `${index}${names[(index * 7) % names.length]}`,
      allowedIPs: [`10.0.${index >> 8}.${index & 255}/32`],
      port: index,
      up: index % 2 === 0,
    }));
    const value: NixValue = {
      peers,
      empty: { list: [], set: {}, map: new Map() },
      script: new NixLines([`a ''quoted'' $${"{line}"}`, "", "ünïcode"]),
      call: new NixCall("lib.mkIf true", new Map([["ö", 1]])),
    };
    const text = printNix(value, "  ");
    expect(Buffer.byteLength(text)).toBeGreaterThan(4 * 64 * 1024);
    expect(printed(value, "  ")).toBe(text);
  });

  it("holds nothing, or a scalar, as printNix prints it", () => {
    expect(printed({})).toBe("{ }");
    expect(printed("é")).toBe(printNix("é"));
    expect(new Utf8Sink().finish()).toBe("");
  });
});
