/**
 * The same fleet and checks as proxy.test.ts from the systemd-networkd
 * rendering. networkd itself cannot run in the sandbox (it needs systemd as
 * PID 1 and manages the machine's links), so apply-networkd.ts translates the
 * .netdev/.network files into the wg and ip commands networkd would issue.
 */
import { proxyTunnelSuite } from "./suite.js";

proxyTunnelSuite("networkd");
