/**
 * `options.nix`, imported by every host's module and by `default.nix`:
 * declares `networking.wgqt.interfaces` (this host's addresses and listen
 * port on each wgqt network, set by its module for use elsewhere in the
 * configuration) and `networking.wgqt.bridges` (the bridge into each tunnel
 * that is not the default route).
 */
import { commentLines, generatedNotice } from "./common.js";

export const OPTIONS_FILE = "options.nix";

/** The options module's text: the same for every host and fleet. */
export function optionsModule(): string {
  const lines = [
    commentLines([
      ...generatedNotice("declares networking.wgqt.interfaces and networking.wgqt.bridges"),
      "",
      "networking.wgqt.interfaces.<net>.{address,address6,port}: this host's addresses and port",
      "on each wgqt network it is in, for use elsewhere in the configuration (a service's address).",
      "networking.wgqt.bridges.<tunnel>.{device,address,prefixLength,address6,prefixLength6,dns}:",
      "the bridge into each tunnel that is not the default route; what is attached to it (a",
      "container's hostBridge) leaves through that tunnel only.",
    ]),
    "{ lib, ... }:",
    "{",
    "  options.networking.wgqt.interfaces = lib.mkOption {",
    '    description = "This host\'s addresses and listen port on each wgqt network it is in.";',
    "    default = { };",
    "    type = lib.types.attrsOf (lib.types.submodule {",
    "      options = {",
    "        address = lib.mkOption {",
    "          type = lib.types.str;",
    '          description = "This host\'s address on the network.";',
    "        };",
    "        address6 = lib.mkOption {",
    "          type = lib.types.nullOr lib.types.str;",
    "          default = null;",
    '          description = "This host\'s IPv6 address on the network; null when it has none (ipv6 = false).";',
    "        };",
    "        port = lib.mkOption {",
    "          type = lib.types.port;",
    '          description = "The UDP port the network listens on.";',
    "        };",
    "      };",
    "    });",
    "  };",
    "  options.networking.wgqt.bridges = lib.mkOption {",
    '    description = "Per tunnel that is not the default route: the bridge whose traffic leaves through that tunnel only.";',
    "    default = { };",
    "    type = lib.types.attrsOf (lib.types.submodule {",
    "      options = {",
    "        device = lib.mkOption {",
    "          type = lib.types.str;",
    '          description = "The bridge interface, e.g. a container\'s hostBridge.";',
    "        };",
    "        address = lib.mkOption {",
    "          type = lib.types.str;",
    '          description = "This host\'s address on the bridge: the gateway of what is attached.";',
    "        };",
    "        prefixLength = lib.mkOption {",
    "          type = lib.types.int;",
    '          description = "The prefix length of the bridge subnet.";',
    "        };",
    "        address6 = lib.mkOption {",
    "          type = lib.types.nullOr lib.types.str;",
    "          default = null;",
    '          description = "This host\'s IPv6 address on the bridge: the IPv6 gateway of what is attached; null when the bridge is IPv4 only.";',
    "        };",
    "        prefixLength6 = lib.mkOption {",
    "          type = lib.types.int;",
    "          default = 64;",
    '          description = "The prefix length of the bridge\'s IPv6 subnet.";',
    "        };",
    "        dns = lib.mkOption {",
    "          type = lib.types.listOf lib.types.str;",
    '          description = "DNS servers for what is attached (the VPN\'s; none for a proxy).";',
    "        };",
    "      };",
    "    });",
    "  };",
    "}",
  ];
  return `${lines.join("\n")}\n`;
}

/** The same for every host: printed once. */
export const OPTIONS_MODULE = optionsModule();
