/** Key store file names: each builder's name parses back to what built it, and nothing else does. */
import { describe, expect, it } from "vitest";
import { secretName } from "../../src/render/nixos.js";
import {
  isStoreFileName,
  parseKeyFileName,
  presharedKeyFile,
  privateKeyFile,
  publicKeyFile,
  vpnKeyFile,
  vpnPresharedKeyFile,
} from "../../src/store/layout.js";

describe("parseKeyFileName", () => {
  it.each([
    [publicKeyFile("tavern"), { kind: "public-key", machine: "tavern" }],
    [privateKeyFile("tavern"), { kind: "private-key", machine: "tavern" }],
    [
      presharedKeyFile("tavern", "archive"),
      { kind: "preshared-key", machines: ["archive", "tavern"] },
    ],
    [vpnKeyFile("us-west"), { kind: "vpn-private-key", vpn: "us-west" }],
    [vpnPresharedKeyFile("us-west"), { kind: "vpn-preshared-key", vpn: "us-west" }],
  ])("%s", (file, parsed) => {
    expect(parseKeyFileName(file)).toEqual(parsed);
    expect(isStoreFileName(file)).toBe(true);
  });

  it.each([
    "manifest.json",
    "tavern.key",
    "preshared_keys/tavern.age",
    "preshared_keys/a+b+c.age",
    "preshared_keys/a+b.pub",
    "vpns/us-west.pub",
    "other/tavern.age",
    "preshared_keys/deeper/a+b.age",
  ])("%s is no key file name", (file) => {
    expect(parseKeyFileName(file)).toBeUndefined();
  });

  it("leaves checking the names to isStoreFileName", () => {
    expect(parseKeyFileName("preshared_keys/tavern+archive.age")).toEqual({
      kind: "preshared-key",
      machines: ["tavern", "archive"],
    });
    expect(isStoreFileName("preshared_keys/tavern+archive.age")).toBe(false);
    expect(isStoreFileName("Tavern.age")).toBe(false);
  });

  it("names each agenix secret after the file's owner", () => {
    expect(secretName(privateKeyFile("tavern"))).toBe("wgqt-tavern");
    expect(secretName(presharedKeyFile("tavern", "archive"))).toBe("wgqt-psk-archive+tavern");
    expect(secretName(vpnKeyFile("us-west"))).toBe("wgqt-vpn+us-west");
    expect(secretName(vpnPresharedKeyFile("us-west"))).toBe("wgqt-vpn-psk+us-west");
  });
});
