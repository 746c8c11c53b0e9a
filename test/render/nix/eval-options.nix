# The options module against the stub lib: what networking.wgqt.interfaces declares.
{ file }:
let
  lib = import ./stub-lib.nix;
  option = (import file { inherit lib; }).options.networking.wgqt.interfaces;
in
{
  inherit (option) default;
  type = option.type.name;
  elemType = option.type.elemType.name;
  fields = builtins.mapAttrs (_: field: field.type.name) option.type.elemType.options;
}
