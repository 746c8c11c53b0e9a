# A stub of the few lib functions wgqt's NixOS output uses (mkOption, types,
# mkIf, mkMerge, mkDefault), plus `resolve`, which applies mkIf/mkMerge the way
# the module system would for plain values. nixpkgs is not available in the
# test environment; the generated modules are written to need only this much.
rec {
  mkOption = attrs: attrs // { _type = "option"; };
  types = {
    str = { name = "str"; };
    port = { name = "port"; };
    int = { name = "int"; };
    listOf = elemType: { name = "listOf"; inherit elemType; };
    attrsOf = elemType: { name = "attrsOf"; inherit elemType; };
    submodule = module: { name = "submodule"; inherit (module) options; };
  };
  mkDefault = value: value;
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkMerge = contents: { _type = "merge"; inherit contents; };

  merge = a: b:
    a // builtins.mapAttrs
      (name: value:
        if a ? ${name} && builtins.isAttrs a.${name} && builtins.isAttrs value then merge a.${name} value
        else if a ? ${name} && builtins.isList a.${name} && builtins.isList value then a.${name} ++ value
        else if a ? ${name} then throw "stub: conflicting definitions of ${name}"
        else value)
      b;

  resolve = value:
    if builtins.isAttrs value && value ? _type then
      (if value._type == "if" then (if value.condition then resolve value.content else { })
       else if value._type == "merge" then builtins.foldl' merge { } (map resolve value.contents)
       else throw "stub: unsupported ${value._type}")
    else if builtins.isAttrs value then builtins.mapAttrs (_: resolve) value
    else if builtins.isList value then map resolve value
    else value;

  attrByPath = path: default: set:
    if path == [ ] then set
    else if builtins.isAttrs set && set ? ${builtins.head path}
    then attrByPath (builtins.tail path) default set.${builtins.head path}
    else default;
}
