/**
 * The network core's public surface: the planner (address allocation), one
 * host's view of it, the routing model shared by every default-route tunnel,
 * and plan diffs for renumbering warnings. Pure: no I/O anywhere below.
 */

export {
  type Bridge,
  type BridgeIpv6,
  bridgeFor,
  bridgeName,
  bridgeSubnetId,
} from "./bridge.js";
export { diffPlans, type MemberChange, type PlanDiff, readPlanJson } from "./diff.js";
export {
  type HostInterface,
  type HostPeer,
  type HostView,
  hostSecretFiles,
  hostView,
  PERSISTENT_KEEPALIVE,
  plannedHosts,
} from "./host.js";
export {
  type HostName,
  hostsLines,
  memberName,
  type NetworkNames,
  namesOf,
  networkNames,
} from "./names.js";
export {
  endpointWithPort,
  type Plan,
  type PlanJson,
  type PlanMember,
  type PlanNetwork,
  type PlanOptions,
  type PlanVpn,
  plan,
  planJson,
  type Role,
} from "./plan.js";
export {
  FWMARK_BASE,
  FWMARK_MASK,
  hostRouting,
  type InterfaceRouting,
  type IpFamily,
  type IpRoute,
  type IpRule,
  ipRouteArguments,
  ipRuleArguments,
  type RoutedInterface,
  routingKey,
  TABLE_BASE,
  type TunnelKind,
} from "./routing.js";
