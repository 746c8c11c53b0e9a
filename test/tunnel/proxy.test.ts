/**
 * A real proxy from the wg-quick rendering: wireguard-go and wg in network
 * namespaces, the rendered .conf files applied as wg-quick up would (see
 * apply-wgquick.ts), packets checked end to end (see suite.ts).
 */
import { proxyTunnelSuite } from "./suite.js";

proxyTunnelSuite("wg-quick");
