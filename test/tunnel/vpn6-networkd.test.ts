/**
 * The same IPv6 checks as vpn6-wgquick.test.ts from the systemd-networkd
 * rendering, the bridges' netdevs included (see apply-networkd.ts).
 */
import { vpn6TunnelSuite } from "./vpn6-suite.js";

vpn6TunnelSuite("networkd");
