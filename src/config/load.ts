/**
 * Parsing and validating the text of `wgqt.toml` (store/config-file.ts
 * finds and reads the file). Every error names the file, the field path and
 * the bad value (docs/design.md "Input").
 */
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import * as v from "valibot";
import { normalizeRecipient } from "../age/recipient-text.js";
import { ConfigError, quote, WgqtError } from "../errors.js";
import { decodeKey } from "../keys/encoding.js";
import { nodeNet } from "../lazy-node.js";
import { problemOf } from "../schema.js";
import { checkLinkSettings } from "./link.js";
import { checkMeshes } from "./mesh.js";
import { interfaceNameProblem, machineNameProblem, uplinkNameProblem } from "./names.js";
import { checkRoutedMachines, checkRoutes } from "./routes.js";
import { configSchema, type RawConfig } from "./schema.js";
import { didYouMean, knownKeysAt } from "./suggest.js";
import type { Config, MachineConfig, ProxyConfig } from "./types.js";
import { checkVpns } from "./vpn.js";

/** The fleet's config file name, looked for in the working directory and its parents. */
export const CONFIG_FILE = "wgqt.toml";

/** `machines.tavern.recipients[0]` from the keys of a path. */
function fieldPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const part of path) {
    if (typeof part === "number") text += `[${part}]`;
    else text += text ? `.${String(part)}` : String(part);
  }
  return text || "(top level)";
}

function describeIssue(issue: v.BaseIssue<unknown>): string {
  const problem = problemOf(configSchema, issue);
  const where = fieldPath(problem.path);
  switch (problem.code) {
    case "unknown_key": {
      const prefix = problem.path.length ? `${where}.` : "";
      const value = (problem.input as Record<string, unknown>)[problem.key];
      return `${prefix}${problem.key}: unknown key${didYouMean(problem.key, knownKeysAt(configSchema, problem.path))} (got ${quote(value)})`;
    }
    case "invalid_type":
      return `${where}: expected ${problem.expected}, got ${problem.input === undefined ? "nothing (it is required)" : quote(problem.input)}`;
    default:
      return `${where}: ${problem.message.replace(/^Too (small|big): expected number to be /, "must be ")} (got ${quote(problem.input)})`;
  }
}

/**
 * smol-toml's message for a TOML error, in words that point at the mistake:
 * a string left open reaches the line break, which TOML forbids inside a
 * one-line string, and smol-toml reports that as a control character.
 */
function tomlProblem(error: TomlError, line: string): string {
  const message = error.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
  const atLineEnd = error.column - 1 >= line.replace(/\r$/, "").length;
  if (/control characters are not allowed/.test(message) && atLineEnd)
    return "unterminated string: the closing quote is missing";
  if (/unfinished string/.test(message)) return "unterminated string: the closing quote is missing";
  return message;
}

/**
 * Parse and validate the text of a `wgqt.toml`. Pure: no I/O.
 *
 * @param text - The file's contents.
 * @param path - The file's absolute path: `dir`, `keysDir` derive from it; errors name it.
 * @returns The validated config.
 * @throws {ConfigError} naming the field and the value, for a syntax error or an invalid setting.
 */
export function parseConfig(text: string, path: string): Config {
  const fail = (message: string): never => {
    throw new ConfigError("config/invalid", `${path}: ${message}`);
  };
  let document: unknown;
  try {
    document = parseToml(text);
  } catch (error) {
    if (error instanceof TomlError) {
      const line = text.split("\n")[error.line - 1] ?? "";
      const firstLine = tomlProblem(error, line);
      const source = line.trim();
      fail(
        `line ${error.line}, column ${error.column}: invalid TOML: ${firstLine} (at ${quote(source)})`,
      );
    }
    throw error;
  }
  const parsed = v.safeParse(configSchema, document);
  // A misspelled key is also a missing one: name the misspelling, the cause.
  if (!parsed.success) {
    const { issues } = parsed;
    const unknownKey = issues.find(
      (issue) => issue.type === "strict_object" && issue.expected === "never",
    );
    fail(describeIssue(unknownKey ?? issues[0]));
  }
  const raw = parsed.output as RawConfig;

  const dir = dirname(path);
  if (isAbsolute(raw.keys_dir))
    fail(`keys_dir: must be relative to ${CONFIG_FILE}, got ${quote(raw.keys_dir)}`);
  const keysDir = resolve(dir, raw.keys_dir);
  const inside = relative(dir, keysDir);
  if (inside === "" || inside === ".." || inside.startsWith(`..${sep}`)) {
    fail(
      `keys_dir: must be a directory below the one holding ${CONFIG_FILE}, got ${quote(raw.keys_dir)}`,
    );
  }

  const recipients = (list: string[], where: string): string[] => {
    const seen = new Set<string>();
    const out: string[] = [];
    list.forEach((text, index) => {
      try {
        const normalized = normalizeRecipient(text);
        if (!seen.has(normalized)) {
          seen.add(normalized);
          out.push(normalized);
        }
      } catch (error) {
        if (error instanceof WgqtError) fail(`${where}[${index}]: ${error.message}`);
        throw error;
      }
    });
    return out;
  };

  const machines: Record<string, MachineConfig> = {};
  for (const [name, entry] of Object.entries(raw.machines)) {
    const where = `machines.${name}`;
    const problem = machineNameProblem(name);
    if (problem) fail(`${where}: ${problem}`);
    const machine: MachineConfig = {
      name,
      recipients: recipients(entry.recipients, `${where}.recipients`),
    };
    if (entry.public_key !== undefined) {
      try {
        decodeKey(entry.public_key, `${where}.public_key`);
      } catch (error) {
        if (error instanceof WgqtError) fail(error.message);
        throw error;
      }
      machine.publicKey = entry.public_key;
    }
    if (machine.recipients.length === 0 && machine.publicKey === undefined) {
      fail(
        `${where}.recipients: a machine needs at least one recipient to encrypt its private key to, unless public_key is set`,
      );
    }
    if (entry.endpoint !== undefined) {
      const endpointProblem = endpointProblemOf(entry.endpoint);
      if (endpointProblem)
        fail(`${where}.endpoint: ${endpointProblem}, got ${quote(entry.endpoint)}`);
      machine.endpoint = entry.endpoint;
    }
    if (entry.uplink !== undefined) {
      const uplinkProblem = uplinkNameProblem(entry.uplink);
      if (uplinkProblem) fail(`${where}.uplink: ${uplinkProblem}`);
      machine.uplink = entry.uplink;
    }
    if (entry.routes !== undefined && entry.routes.length > 0)
      machine.routes = checkRoutes(entry.routes, where, fail);
    if (entry.masquerade_routes === true) {
      if (machine.routes === undefined)
        fail(`${where}.masquerade_routes: masquerades what goes into routes, and there are none`);
      machine.masqueradeRoutes = true;
    }
    machines[name] = machine;
  }

  const proxies: Record<string, ProxyConfig> = {};
  for (const [name, entry] of Object.entries(raw.proxies)) {
    const where = `proxies.${name}`;
    const problem = interfaceNameProblem(name);
    if (problem) fail(`${where}: ${problem} (the proxy's name is its WireGuard interface name)`);
    if (!machines[entry.gateway]) fail(`${where}.gateway: unknown machine ${quote(entry.gateway)}`);
    const seen = new Set<string>();
    entry.clients.forEach((client, index) => {
      if (!machines[client]) fail(`${where}.clients[${index}]: unknown machine ${quote(client)}`);
      if (client === entry.gateway)
        fail(
          `${where}.clients[${index}]: the gateway ${quote(client)} cannot also be its own client`,
        );
      if (seen.has(client)) fail(`${where}.clients[${index}]: ${quote(client)} is listed twice`);
      seen.add(client);
    });
    const proxy: ProxyConfig = { name, gateway: entry.gateway, clients: [...entry.clients] };
    if (entry.default !== undefined) proxy.default = entry.default;
    if (entry.killswitch !== undefined) proxy.killswitch = entry.killswitch;
    if (entry.ipv6 !== undefined) proxy.ipv6 = entry.ipv6;
    Object.assign(proxy, checkLinkSettings(entry, where, fail));
    proxies[name] = proxy;
  }

  const vpns = checkVpns(raw.vpns, machines, proxies, fail, (key, where) => {
    try {
      decodeKey(key, where);
    } catch (error) {
      if (error instanceof WgqtError) fail(error.message);
      throw error;
    }
  });

  const taken = new Map<string, string>([
    ...Object.keys(proxies).map((name): [string, string] => [name, `proxies.${name}`]),
    ...Object.keys(vpns).map((name): [string, string] => [name, `vpns.${name}`]),
  ]);
  const meshes = checkMeshes(raw.meshes, machines, taken, fail);
  checkRoutedMachines({ machines, meshes }, fail);

  return deepFreeze({
    path,
    dir,
    keysDir,
    keysDirSetting: raw.keys_dir,
    ipv4Start: raw.ipv4_start,
    ...(raw.ipv6_prefix === undefined ? {} : { ipv6Prefix: raw.ipv6_prefix }),
    udpStart: raw.udp_start,
    admins: recipients(raw.admins, "admins"),
    machines,
    proxies,
    vpns,
    meshes,
  });
}

/** A host name or an IP address, without a port (ports are allocated per network). */
function endpointProblemOf(endpoint: string): string | undefined {
  // Host names (and IPv4 addresses, which read as one) first: node's IPv6
  // check is a long regular expression, compiled on first use.
  if (
    /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/.test(
      endpoint,
    ) ||
    nodeNet().isIP(endpoint)
  ) {
    return undefined;
  }
  if (/^[^:]+:\d+$/.test(endpoint))
    return "give the host without a port (wgqt allocates ports per network)";
  return "not a host name or IP address";
}

/**
 * Freeze `value` and everything it holds. A parsed config is never changed
 * (an edit is new text, parsed again), and caches keyed on it (peers.ts,
 * expected.ts, inspect.ts) rely on that: a write to it throws instead.
 */
function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const field of Object.values(value)) deepFreeze(field);
    Object.freeze(value);
  }
  return value;
}
