# wgqt's NixOS output evaluated as a NixOS machine evaluates it: `lib.evalModules` over the
# real nixpkgs lib and the real declarations of the options it sets (the nixos-ref directory:
# agenix's age.nix, networking.wireguard with its script and networkd backends, NAT,
# firewall, sysctl, interfaces and bridges, networkd, systemd services), the output
# directory imported the way the README says:
#
#   imports = [ agenix.nixosModules.default ./wgqt ];  networking.hostName = "<host>";
#
# For every host and every backend (WireGuard by scripts or by networkd, the firewall by
# iptables or nftables): the configuration wgqt sets, what the real modules derive from it
# (their systemd units, networkd's netdevs, agenix's activation script), the assertions
# that failed and the warnings. `nix-instantiate --eval --strict --json` forces all of it,
# so every type check and every assertion of those modules runs.
{ ref, out, hosts, alone ? [ ] }:
let
  # The 2023 modules call lib.mdDoc and lib.replaceChars, which the current lib dropped
  # (replaceChars was builtins.replaceStrings under another name).
  lib = (import (ref + "/nixpkgs-lib/lib")).extend (final: prev: {
    mdDoc = text: text;
    replaceChars = builtins.replaceStrings;
  });
  inherit (lib) mkOption types;

  # Packages as types.package accepts them: derivation-shaped, with a store path.
  package = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/${lib.fixedWidthString 32 "0" ""}-${name}";
  };
  # A script's derivation keeps its text, so forcing the unit forces the script.
  script = name: text:
    let made = package name // { inherit text; overrideAttrs = change: made // change made; };
    in made;
  pkgs = lib.genAttrs [
    "age" "coreutils" "findutils" "gnugrep" "gnused" "iproute2" "iptables" "kmod" "mount"
    "nftables" "systemd" "wireguard-tools"
  ] package // {
    writeShellScriptBin = script;
    writeText = script;
  };

  # lib.modules passes a module function only the arguments it names: a wrapper names the same.
  wrap = file: change:
    let module = import file;
    in lib.setFunctionArgs (args: change args module) (lib.functionArgs module);

  # networking.wireguard's script backend as of 2023 makes wireguard-<name>.service whatever
  # the backend; current NixOS makes them only without networkd
  # (`systemd.services = mkIf (!cfg.useNetworkd) …`), and so does this.
  wireguardScripts = wrap (ref + "/nixos/wireguard.nix") (args: module:
    let made = module args; in
    made // {
      config = made.config // {
        content = made.config.content // {
          systemd.services = lib.mkIf (!args.config.networking.wireguard.useNetworkd)
            made.config.content.systemd.services;
        };
      };
    });

  # The networkd backend is current; the interface and peer declarations above are from 2023.
  # It reads a few options those lack (an interface's metric, preShutdown and
  # dynamicEndpointRefreshSeconds, a peer's dynamicEndpointRefreshRestartSeconds) and a peer's
  # dynamicEndpointRefreshSeconds, 0 by default there and null now: it sees them at current
  # NixOS's defaults. wgqt sets none of them.
  wireguardNetworkd = wrap (ref + "/nixos/wireguard-networkd.nix") (args: module:
    let
      wireguard = args.config.networking.wireguard;
      current = interface: { metric = null; preShutdown = ""; dynamicEndpointRefreshSeconds = 0; }
        // interface // {
          peers = map (peer: { dynamicEndpointRefreshRestartSeconds = null; } // peer // {
            dynamicEndpointRefreshSeconds =
              if peer.dynamicEndpointRefreshSeconds == 0 then null else peer.dynamicEndpointRefreshSeconds;
          }) interface.peers;
        };
    in
    module (args // {
      config = args.config // {
        networking = args.config.networking // {
          wireguard = wireguard // { interfaces = lib.mapAttrs (_: current) wireguard.interfaces; };
        };
      };
    }));

  # Options the loaded modules read or write that no file here declares (NixOS declares them
  # in modules not loaded here). wgqt's output writes none of them.
  undeclared = { utils, ... }: {
    options = {
      assertions = mkOption { type = types.listOf types.unspecified; default = [ ]; };
      warnings = mkOption { type = types.listOf types.str; default = [ ]; };
      meta = mkOption { type = types.lazyAttrsOf types.raw; default = { }; };
      environment.systemPackages = mkOption { type = types.listOf types.package; default = [ ]; };
      boot.isContainer = mkOption { type = types.bool; default = false; };
      boot.kernelPackages = mkOption {
        type = types.raw;
        default = { kernel = package "linux" // { version = "6.12.0"; }; wireguard = package "wireguard"; };
      };
      boot.kernelModules = mkOption { type = types.listOf types.str; default = [ ]; };
      boot.extraModulePackages = mkOption { type = types.listOf types.package; default = [ ]; };
      boot.extraModprobeConfig = mkOption { type = types.lines; default = ""; };
      networking.nftables.enable = mkOption { type = types.bool; default = false; };
      services.firewalld.enable = mkOption { type = types.bool; default = false; };
      networking.tempAddresses = mkOption {
        type = types.enum [ "default" "enabled" "disabled" ];
        default = "default";
      };
      system.activationScripts = mkOption { type = types.attrsOf types.unspecified; default = { }; };
      users.users = mkOption { type = types.attrsOf types.unspecified; default = { }; };
      systemd.package = mkOption { type = types.package; default = pkgs.systemd; };
      systemd.timers = mkOption { type = utils.systemdUtils.types.timers; default = { }; };
    };
  };

  # systemd.network.{enable,netdevs,networks}, which nixos-ref's networkd.nix excerpt leaves
  # out, declared as nixpkgs' networkd.nix does for the sections networking.wireguard's
  # networkd backend writes (and wgqt's FirewallMark= beside them): each section a set of
  # unit values under systemd-lib's own checks, the fields and ranges nixpkgs checks
  # (systemd.netdev(5): [WireGuard] FirewallMark= is an integer, 1..4294967295).
  networkdUnits = { utils, ... }:
    let
      inherit (utils.systemdUtils.lib)
        checkUnitConfig assertOnlyFields assertHasField assertInt assertRange assertByteFormat;
      inherit (utils.systemdUtils.unitOptions) unitOption;
      section = check: types.addCheck (types.attrsOf unitOption) check;
      # Current systemd-lib takes MTUBytes as an integer too (the backend passes `mtu` as one).
      byteFormat = name: group: attr:
        if builtins.isInt (attr.${name} or null) then [ ] else assertByteFormat name group attr;
      netdev = {
        options = {
          netdevConfig = mkOption {
            default = { };
            type = section (checkUnitConfig "Netdev" [
              (assertOnlyFields [ "Description" "Name" "Kind" "MTUBytes" "MACAddress" ])
              (assertHasField "Name")
              (assertHasField "Kind")
              (byteFormat "MTUBytes")
            ]);
          };
          wireguardConfig = mkOption {
            default = { };
            type = section (checkUnitConfig "WireGuard" [
              (assertOnlyFields [ "PrivateKeyFile" "ListenPort" "FirewallMark" "RouteTable" "RouteMetric" ])
              (assertInt "FirewallMark")
              (assertRange "FirewallMark" 1 4294967295)
              (assertInt "RouteMetric")
            ]);
          };
          wireguardPeers = mkOption {
            default = [ ];
            type = types.listOf (section (checkUnitConfig "WireGuardPeer" [
              (assertOnlyFields [
                "PublicKey" "PresharedKeyFile" "AllowedIPs" "Endpoint" "PersistentKeepalive"
                "RouteTable" "RouteMetric"
              ])
              (assertInt "PersistentKeepalive")
              (assertRange "PersistentKeepalive" 0 65535)
            ]));
          };
        };
      };
      network = {
        options = {
          matchConfig = mkOption { default = { }; type = types.attrsOf unitOption; };
          address = mkOption { default = [ ]; type = types.listOf types.str; };
        };
      };
    in
    {
      options.systemd.network = {
        enable = mkOption { type = types.bool; default = false; };
        netdevs = mkOption { type = types.attrsOf (types.submodule netdev); default = { }; };
        networks = mkOption { type = types.attrsOf (types.submodule network); default = { }; };
      };
    };

  # networking.hosts as nixos/modules/config/networking.nix declares it (nixpkgs, 2025):
  # attrsOf (listOf str), keyed by address. That module's config part needs a real pkgs
  # (writeText, concatText, iana-etc); the declaration is what judges wgqt's names.
  # Stands in until ../shared/nixos-ref carries the module itself, which then replaces it.
  hostNames =
    if builtins.pathExists (ref + "/nixos/networking.nix") then ref + "/nixos/networking.nix"
    else {
      options.networking.hosts = mkOption { type = types.attrsOf (types.listOf types.str); };
    };

  nixos = [
    (ref + "/nixos/network-interfaces.nix")
    (ref + "/nixos/firewall.nix")
    (ref + "/nixos/nat.nix")
    (ref + "/nixos/sysctl.nix")
    (ref + "/nixos/networkd.nix")
    (ref + "/nixos/systemd.nix")
    wireguardScripts
    wireguardNetworkd
    undeclared
    hostNames
    networkdUnits
    # As nixos/modules/misc/extra-arguments.nix passes utils, and nixpkgs.nix pkgs.
    ({ config, ... }: {
      _module.args = {
        inherit pkgs;
        utils = import (ref + "/nixos/lib/utils.nix") { inherit lib config pkgs; };
      };
    })
  ];

  # The machine: agenix and wgqt's output imported as the README says.
  machine = { wgqt, host, useNetworkd, nftables }: {
    imports = [ (ref + "/agenix/age.nix") wgqt ];
    networking.hostName = host;
    networking.wireguard.useNetworkd = useNetworkd;
    networking.nftables.enable = nftables;
    # Where agenix finds the host's key (by default services.openssh's host keys).
    age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
  };

  # The value of every option under `options` (a tree of them) that has one, down into each
  # submodule's own evaluation (lib's valueMeta), and every free-form value: NixOS reads an
  # option without a default only when it is defined, and a renamed or removed option
  # (invisible) only to say so.
  values = options: config:
    lib.mapAttrs (name: value:
      let node = options.${name} or null; in
      if node == null then value
      else if lib.isOption node then fromMeta node.valueMeta value
      else values node value)
      (lib.filterAttrs (name: _:
        let node = options.${name} or null; in
        name != "_module"
        && (node == null || !lib.isOption node || (node.isDefined && (node.visible or true) != false)))
        config);
  # Walking `value` itself, not only its parts' evaluations, forces the checks of its type.
  fromMeta = meta: value:
    if meta ? configuration then values meta.configuration.options value
    else if meta ? attrs then lib.mapAttrs (name: fromMeta (meta.attrs.${name} or { })) value
    else if meta ? list then lib.zipListsWith fromMeta meta.list value
    else value;

  evaluate = wgqt: backend: host:
    let
      system = lib.evalModules { modules = nixos ++ [ (machine (backend // { inherit wgqt host; })) ]; };
      inherit (system) config;
      at = path: (values { node = lib.getAttrFromPath path system.options; }
        { node = lib.getAttrFromPath path config; }).node or null;
    in
    {
      failedAssertions = map (check: check.message) (lib.filter (check: !check.assertion) config.assertions);
      inherit (config) warnings;
      networking = lib.genAttrs [ "wireguard" "wgqt" "nat" "firewall" "bridges" "interfaces" "nameservers" "hosts" ]
        (name: at [ "networking" name ]);
      sysctl = at [ "boot" "kernel" "sysctl" ];
      # `file` as the path it is (a path value would print as its copy in the store).
      secrets = lib.mapAttrs (_: secret: secret // {
        file = toString secret.file;
        fileExists = builtins.pathExists secret.file;
      }) (at [ "age" "secrets" ]);
      agenixInstall = config.system.activationScripts.agenixInstall.text or null;
      # options.nix's declarations: networking.wgqt.<option>.<name>.<field>'s type.
      wgqtOptions = lib.mapAttrs (_: option: {
        type = option.type.name;
        inherit (option) default;
        fields = lib.mapAttrs (_: field: field.type.name)
          (removeAttrs (option.type.getSubOptions [ ]) [ "_module" ]);
      }) system.options.networking.wgqt;
      systemd = {
        services = at [ "systemd" "services" ];
        timers = at [ "systemd" "timers" ];
        network = lib.genAttrs [ "enable" "config" "netdevs" "networks" ] (name: at [ "systemd" "network" name ]);
      };
    };

  backends = {
    scripts-iptables = { useNetworkd = false; nftables = false; };
    scripts-nftables = { useNetworkd = false; nftables = true; };
    networkd-iptables = { useNetworkd = true; nftables = false; };
    networkd-nftables = { useNetworkd = true; nftables = true; };
  };
in
{
  # Every host on every backend, the output directory imported (its default.nix).
  backends = lib.mapAttrs (_: backend: lib.genAttrs hosts (evaluate out backend)) backends;
  # A host's module imported on its own, as `wgqt render --machine <host>` writes it.
  alone = lib.genAttrs alone (host: evaluate (out + "/hosts/${host}.nix") backends.scripts-iptables host);
}
