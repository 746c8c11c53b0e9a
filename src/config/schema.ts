/**
 * The shape of `wgqt.toml` (docs/design.md "Input"). zod checks types, ranges
 * and unknown keys; cross-references (a proxy naming an unknown machine) are
 * checked in `load.ts` after this.
 */
import { isIPv4 } from "node:net";
import * as z from "zod";

const ipv4 = z.string().refine((value) => isIPv4(value), { message: "not an IPv4 address" });

const machine = z.strictObject({
  recipients: z.array(z.string()).default([]),
  endpoint: z.string().optional(),
  public_key: z.string().optional(),
  uplink: z.string().optional(),
  routes: z.array(z.string()).optional(),
  masquerade_routes: z.boolean().optional(),
});

const proxy = z.strictObject({
  gateway: z.string(),
  clients: z.array(z.string()),
  default: z.boolean().optional(),
  killswitch: z.boolean().optional(),
  // Ranges are checked after this (load.ts, vpn.ts) by config/link.ts, as the provider import does.
  mtu: z.number().optional(),
  keepalive: z.number().optional(),
  ipv6: z.boolean().optional(),
});

const mesh = z.strictObject({
  members: z.array(z.string()),
  relay: z.string().optional(),
  mtu: z.number().optional(),
  keepalive: z.number().optional(),
  ipv6: z.boolean().optional(),
});

const vpn = z.strictObject({
  machines: z.array(z.string()),
  id: z.number().int().min(1).max(99),
  endpoint: z.string(),
  public_key: z.string(),
  address: z.string(),
  address6: z.string().optional(),
  dns: z.array(z.string()).default([]),
  allowed_ips: z.array(z.string()).optional(),
  preshared_key: z.boolean().optional(),
  killswitch: z.boolean().optional(),
  mtu: z.number().optional(),
  keepalive: z.number().optional(),
});

export const configSchema = z.strictObject({
  keys_dir: z.string().min(1).default("wireguard_keys"),
  ipv4_start: ipv4.default("10.128.0.0"),
  // Checked by the planner (net/ipv6.ts), as ipv4_start's alignment is.
  ipv6_prefix: z.string().optional(),
  udp_start: z.number().int().min(1).max(65535).default(16842),
  admins: z.array(z.string()).default([]),
  machines: z.record(z.string(), machine).default({}),
  proxies: z.record(z.string(), proxy).default({}),
  vpns: z.record(z.string(), vpn).default({}),
  meshes: z.record(z.string(), mesh).default({}),
});

export type RawConfig = z.infer<typeof configSchema>;
