/**
 * A parsed config is frozen all the way down: caches keyed on it (peer
 * pairs, expected secrets, owners) stay right because nothing can change it.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";

const TEXT = `
keys_dir = "keys"
ipv4_start = "10.128.0.0"
udp_start = 16842
admins = []

[machines.tavern]
recipients = ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]
endpoint = "tavern.example.org"

[machines.nyaa]
recipients = ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]

[proxies.germany]
gateway = "tavern"
clients = ["nyaa"]
`;

describe("parseConfig", () => {
  const config = parseConfig(TEXT, "/fleet/wgqt.toml");

  it("returns a config that cannot be changed, at any depth", () => {
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { udpStart: number }).udpStart = 1;
    }).toThrow(TypeError);
    expect(() => {
      delete (config.machines as Record<string, unknown>).nyaa;
    }).toThrow(TypeError);
    expect(() => {
      (config.machines.tavern as { endpoint?: string }).endpoint = "elsewhere.example.org";
    }).toThrow(TypeError);
    expect(() => config.proxies.germany!.clients.push("tavern")).toThrow(TypeError);
    expect(() => (config.admins as string[]).push("age1…")).toThrow(TypeError);
    expect(config.machines.tavern!.endpoint).toBe("tavern.example.org");
    expect(config.proxies.germany!.clients).toEqual(["nyaa"]);
  });
});
