/** Properties: whatever text wgqt.toml holds, parsing it throws nothing but a wgqt error. */
import fc from "fast-check";
import { stringify } from "smol-toml";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { parseProviderFile } from "../../src/config/provider.js";
import { WgqtError } from "../../src/errors.js";

const PATH = "/fleet/wgqt.toml";

function onlyWgqtErrors(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    if (!(error instanceof WgqtError)) throw error;
    expect(error.message.includes("\n")).toBe(false);
  }
}

/** Values shaped like wgqt.toml's, so the fuzzer reaches past the TOML parser. */
const value = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.integer({ min: -100_000, max: 100_000 }),
  fc.boolean(),
  fc.constantFrom(
    "10.128.0.0",
    "tavern",
    "age1",
    "ssh-ed25519 AAAA",
    "",
    "../x",
    "germany-frankfurt",
  ),
  fc.array(fc.constantFrom("tavern", "nyaa", "", "ghost", "age1x", "ssh-rsa AAAA"), {
    maxLength: 4,
  }),
);
const table = fc.dictionary(
  fc.constantFrom(
    "recipients",
    "endpoint",
    "public_key",
    "uplink",
    "gateway",
    "clients",
    "default",
    "id",
    "machines",
    "address",
    "dns",
    "mtu",
    "keepalive",
    "extra",
  ),
  value,
  { maxKeys: 5 },
);
const document = fc.record(
  {
    keys_dir: value,
    ipv4_start: value,
    udp_start: value,
    admins: value,
    machines: fc.dictionary(
      fc.constantFrom("tavern", "nyaa", "Tavern", "a/b", "x".repeat(70), ""),
      table,
      { maxKeys: 3 },
    ),
    proxies: fc.dictionary(
      fc.constantFrom("germany", "finland", "germany-frankfurt", "a b"),
      table,
      { maxKeys: 2 },
    ),
    vpns: fc.dictionary(fc.constantFrom("us-west", "x"), table, { maxKeys: 2 }),
    stray: value,
  },
  { requiredKeys: [] },
);

describe("config parsing (properties)", () => {
  it("throws only one-line wgqt errors on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) =>
        onlyWgqtErrors(() => parseConfig(text, PATH)),
      ),
      { numRuns: 2000 },
    );
  });

  it("throws only one-line wgqt errors on well-formed TOML of the wrong shape", () => {
    fc.assert(
      fc.property(document, (doc) => {
        let text: string;
        try {
          text = stringify(doc);
        } catch {
          return; // not representable in TOML (e.g. an empty key)
        }
        onlyWgqtErrors(() => parseConfig(text, PATH));
      }),
      { numRuns: 2000 },
    );
  });

  it("provider files: only one-line wgqt errors on arbitrary text", () => {
    const line = fc.oneof(
      fc.constantFrom(
        "[Interface]",
        "[Peer]",
        "PrivateKey = ",
        "Address = 10.64.1.2/32",
        "DNS = 10.64.0.1",
        "PublicKey = x",
        "Endpoint = 198.51.100.7:51820",
        "AllowedIPs = 0.0.0.0/0",
        "PresharedKey = y",
        "MTU = 1420",
        "MTU = 12",
        "PersistentKeepalive = 25",
        "PersistentKeepalive = off",
        "ListenPort = 51820",
        "PostUp = true",
        "# c",
        "",
      ),
      fc.string({ maxLength: 40 }),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), (lines) =>
        onlyWgqtErrors(() => parseProviderFile(lines.join("\n"), "provider.conf")),
      ),
      { numRuns: 2000 },
    );
  });
});
