/**
 * One machine's view of the plan: its interfaces, peers, key files and
 * routing — everything a renderer needs and nothing it must compute again.
 * Pure. Peers follow DESIGN.md "Proxies": a gateway lists each client with its
 * /32; a client lists the gateway with `<endpoint>:<port>`, AllowedIPs
 * 0.0.0.0/0 and PersistentKeepalive 25 (wg(8): keeps NAT mappings open).
 */
import { byteOrder, type Config } from "../config/types.js";
import { quote, UsageError, WgqtError } from "../errors.js";
import { presharedKeyFile, privateKeyFile } from "../store/layout.js";
import { endpointWithPort, type Plan, type PlanNetwork, type Role } from "./plan.js";
import { hostRouting, type InterfaceRouting } from "./routing.js";

export const PERSISTENT_KEEPALIVE = 25;

export interface HostPeer {
  machine: string;
  publicKey: string;
  /** The pair's PSK, relative to the key store. */
  presharedKeyFile: string;
  allowedIPs: string[];
  endpoint?: string;
  persistentKeepalive?: number;
}

export interface HostInterface {
  /** The interface name: the network's name. */
  name: string;
  kind: "proxy";
  id: number;
  role: Role;
  /** This host's address, no prefix. */
  address: string;
  /** Address with the block's prefix length, e.g. "10.128.0.11/29". */
  addressWithPrefix: string;
  /** The whole block, e.g. "10.128.0.8/29". */
  cidr: string;
  listenPort: number;
  /** Gateways: NAT out of this uplink; undefined means the default route's interface. */
  uplink?: string;
  peers: HostPeer[];
  /** Policy routing, when the host has a default-route tunnel (see routing.ts). */
  routing?: InterfaceRouting;
}

export interface HostView {
  machine: string;
  /** The private key relative to the key store; undefined for a bring-your-own key. */
  privateKeyFile?: string;
  /** In network id order. */
  interfaces: HostInterface[];
}

/**
 * The store files (relative to the key store) a host needs decrypted: its
 * private key (unless brought by the user) and the PSK of each peer pair.
 * What `render --format wg-quick` must decrypt for `export`.
 */
export function hostSecretFiles(view: HostView): string[] {
  const files = new Set(
    view.interfaces.flatMap((entry) => entry.peers.map((peer) => peer.presharedKeyFile)),
  );
  if (view.privateKeyFile !== undefined) files.add(view.privateKeyFile);
  return [...files].sort(byteOrder);
}

/** Machines that are in at least one network, byte order. */
export function plannedHosts(plan: Plan): string[] {
  const hosts = new Set(plan.networks.flatMap((network) => network.members.map((m) => m.machine)));
  return [...hosts].sort(byteOrder);
}

/** The view of `host`; throws when a peer's public key is missing. */
export function hostView(plan: Plan, config: Config, host: string): HostView {
  const machine = config.machines[host];
  if (machine === undefined) throw new UsageError(`machine ${quote(host)} is not in wgqt.toml`);
  const networks = plan.networks.filter((network) =>
    network.members.some((member) => member.machine === host),
  );
  const interfaces = networks.map((network) => hostInterface(network, config, host));
  const routing = hostRouting(
    interfaces.map((entry, index) => ({
      name: entry.name,
      kind: entry.kind,
      id: entry.id,
      address: entry.address,
      carriesDefaultRoute: entry.role === "client",
      preferred: networks[index]!.default,
    })),
  );
  for (const entry of interfaces) {
    const found = routing.find((routed) => routed.name === entry.name);
    if (found !== undefined) entry.routing = found;
  }
  return {
    machine: host,
    ...(machine.publicKey === undefined ? { privateKeyFile: privateKeyFile(host) } : {}),
    interfaces,
  };
}

function hostInterface(network: PlanNetwork, config: Config, host: string): HostInterface {
  const self = network.members.find((member) => member.machine === host)!;
  const publicKey = (machine: string): string => {
    const key = network.members.find((member) => member.machine === machine)?.publicKey;
    if (key === undefined) {
      throw new WgqtError(
        `machine ${quote(machine)} has no public key (needed by ${quote(host)} on ${quote(network.name)}); run wgqt keygen --machine ${machine}`,
      );
    }
    return key;
  };
  const peers: HostPeer[] =
    self.role === "gateway"
      ? network.members
          .filter((member) => member.role === "client")
          .map((client) => ({
            machine: client.machine,
            publicKey: publicKey(client.machine),
            presharedKeyFile: presharedKeyFile(host, client.machine),
            allowedIPs: [`${client.address}/32`],
          }))
      : [
          {
            machine: network.gateway,
            publicKey: publicKey(network.gateway),
            presharedKeyFile: presharedKeyFile(host, network.gateway),
            allowedIPs: ["0.0.0.0/0"],
            endpoint: endpointWithPort(config.machines[network.gateway]!.endpoint!, network.port),
            persistentKeepalive: PERSISTENT_KEEPALIVE,
          },
        ];
  const uplink = config.machines[host]?.uplink;
  return {
    name: network.name,
    kind: network.kind,
    id: network.id,
    role: self.role,
    address: self.address,
    addressWithPrefix: `${self.address}/${network.prefixLength}`,
    cidr: network.cidr,
    listenPort: network.port,
    ...(self.role === "gateway" && uplink !== undefined ? { uplink } : {}),
    peers,
  };
}
