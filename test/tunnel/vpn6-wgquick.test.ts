/**
 * VPNs with and without IPv6 and their bridges' IPv6, from the wg-quick
 * rendering (see vpn6-suite.ts and apply-wgquick.ts).
 */
import { vpn6TunnelSuite } from "./vpn6-suite.js";

vpn6TunnelSuite("wg-quick");
