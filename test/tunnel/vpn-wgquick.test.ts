/**
 * A VPN (a provider's server in a namespace, its file imported with `wgqt vpn
 * import`) and a proxy on one client, from the wg-quick rendering (see
 * vpn-suite.ts and apply-wgquick.ts).
 */
import { vpnTunnelSuite } from "./vpn-suite.js";

vpnTunnelSuite("wg-quick");
