/**
 * The shape of `wgqt.toml` (docs/design.md "Input"). valibot checks types,
 * ranges and unknown keys; cross-references (a proxy naming an unknown
 * machine) are checked in `load.ts` after this.
 */
import * as v from "valibot";
import { finiteNumber, record, table, wholeNumber } from "../schema.js";

/** Dotted-quad IPv4, each part 0…255 without leading zeros: what node's `isIPv4` accepts. */
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

const ipv4 = v.pipe(
  v.string(),
  v.check((value) => IPV4.test(value), "not an IPv4 address"),
);

/** A list that is empty when left out (a new list each time: parsed configs are frozen). */
const list = () => v.optional(v.array(v.string()), () => []);

const machine = table({
  recipients: list(),
  endpoint: v.optional(v.string()),
  public_key: v.optional(v.string()),
  uplink: v.optional(v.string()),
  routes: v.optional(v.array(v.string())),
  masquerade_routes: v.optional(v.boolean()),
});

const proxy = table({
  gateway: v.string(),
  clients: v.array(v.string()),
  default: v.optional(v.boolean()),
  killswitch: v.optional(v.boolean()),
  // Ranges are checked after this (load.ts, vpn.ts) by config/link.ts, as the provider import does.
  mtu: v.optional(finiteNumber),
  keepalive: v.optional(finiteNumber),
  ipv6: v.optional(v.boolean()),
});

const mesh = table({
  members: v.array(v.string()),
  relay: v.optional(v.string()),
  mtu: v.optional(finiteNumber),
  keepalive: v.optional(finiteNumber),
  ipv6: v.optional(v.boolean()),
});

const vpn = table({
  machines: v.array(v.string()),
  id: v.pipe(wholeNumber, v.minValue(1), v.maxValue(99)),
  endpoint: v.string(),
  public_key: v.string(),
  address: v.string(),
  address6: v.optional(v.string()),
  dns: list(),
  allowed_ips: v.optional(v.array(v.string())),
  preshared_key: v.optional(v.boolean()),
  killswitch: v.optional(v.boolean()),
  mtu: v.optional(finiteNumber),
  keepalive: v.optional(finiteNumber),
});

export const configSchema = table({
  keys_dir: v.optional(v.pipe(v.string(), v.minLength(1)), "wireguard_keys"),
  ipv4_start: v.optional(ipv4, "10.128.0.0"),
  // Checked by the planner (net/ipv6.ts), as ipv4_start's alignment is.
  ipv6_prefix: v.optional(v.string()),
  udp_start: v.optional(v.pipe(wholeNumber, v.minValue(1), v.maxValue(65535)), 16842),
  admins: list(),
  machines: v.optional(record(machine), () => ({})),
  proxies: v.optional(record(proxy), () => ({})),
  vpns: v.optional(record(vpn), () => ({})),
  meshes: v.optional(record(mesh), () => ({})),
});

export type RawConfig = v.InferOutput<typeof configSchema>;
