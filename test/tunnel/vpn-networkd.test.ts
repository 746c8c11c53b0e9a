/**
 * The same VPN and proxy checks as vpn-wgquick.test.ts from the
 * systemd-networkd rendering, bridge netdev included (see apply-networkd.ts).
 */
import { vpnTunnelSuite } from "./vpn-suite.js";

vpnTunnelSuite("networkd");
