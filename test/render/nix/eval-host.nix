# Applies one generated module to a stub { config, lib, pkgs } and returns what
# it sets, as JSON-friendly values: paths become strings (and are checked to
# exist), `config.age.secrets.<name>.path` is agenix's /run/agenix/<name>.
# `config` has a fixed skeleton, as declared options give the real module
# system, so `config.networking.hostName` never depends on the module's output.
{ file, hostName }:
let
  lib = import ./stub-lib.nix;
  pkgs = { iproute2 = "/stub/iproute2"; iptables = "/stub/iptables"; };
  module = import file { inherit config lib pkgs; };
  raw = lib.resolve (module.config or { });
  pick = path: lib.attrByPath path { } raw;
  config = {
    networking = {
      inherit hostName;
      wireguard = pick [ "networking" "wireguard" ];
      wgqt = pick [ "networking" "wgqt" ];
      nat = pick [ "networking" "nat" ];
      firewall = pick [ "networking" "firewall" ];
      bridges = pick [ "networking" "bridges" ];
      interfaces = pick [ "networking" "interfaces" ];
      nameservers = lib.attrByPath [ "networking" "nameservers" ] [ ] raw;
    };
    age.secrets = builtins.mapAttrs
      (name: secret: secret // { path = "/run/agenix/${name}"; })
      (pick [ "age" "secrets" ]);
    systemd = pick [ "systemd" ];
    boot = pick [ "boot" ];
  };
  known = {
    networking = [ "wireguard" "wgqt" "nat" "firewall" "bridges" "interfaces" "nameservers" ];
    age = [ "secrets" ];
    systemd = [ "services" "network" ];
    boot = [ "kernel" ];
  };
  secretFiles = builtins.mapAttrs (_: secret: toString secret.file) config.age.secrets;
in
{
  # Everything the module sets must be in the skeleton, or the checks would miss it.
  unknown = builtins.concatMap
    (top: if known ? ${top}
      then builtins.filter (name: !(builtins.elem name known.${top})) (builtins.attrNames raw.${top})
      else [ top ])
    (builtins.attrNames raw);
  imports = map toString (module.imports or [ ]);
  importsExist = map builtins.pathExists (module.imports or [ ]);
  config = config // {
    age.secrets = builtins.mapAttrs (name: secret: secret // { file = secretFiles.${name}; }) config.age.secrets;
  };
  secretFilesExist = builtins.mapAttrs (_: secret: builtins.pathExists secret.file) config.age.secrets;
}
