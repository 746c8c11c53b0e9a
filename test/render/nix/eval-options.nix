# The options module against the stub lib: what networking.wgqt.<option> declares.
{ file, option ? "interfaces" }:
let
  lib = import ./stub-lib.nix;
  declared = (import file { inherit lib; }).options.networking.wgqt.${option};
in
{
  inherit (declared) default;
  type = declared.type.name;
  elemType = declared.type.elemType.name;
  fields = builtins.mapAttrs (_: field: field.type.name) declared.type.elemType.options;
}
