#!/usr/bin/env bash
# The shell baseline for `npm run bench`: what a user writes instead of wgqt,
# the seed's approach (`wg genkey | tee … | wg pubkey`), with `age -R` for the
# encryption: one `wg` and one `age` process per file, nothing kept in
# plaintext on disk. It makes the same files `wgqt keygen` makes (a .pub and an
# .age per machine, an .age per preshared key) and nothing else: no manifest,
# no secrets.nix, no fsync, no git.
#
#   bench/baseline.sh JOBS OUT_DIR
#
# JOBS has one line per file, written by bench/fleet.mjs:
#   K <machine> <recipients file>…        keypair: OUT/<machine>.pub, OUT/<machine>.age
#   P <a> <b> <recipients file>…          preshared key: OUT/preshared_keys/<a>+<b>.age
# Each recipients file is what `age -R` reads (the host's key, the admins).
set -euo pipefail

jobs=$1
out=$2
mkdir -p "$out/preshared_keys"

while read -r kind first rest; do
  case $kind in
    K)
      read -r -a files <<<"$rest"
      args=()
      for file in "${files[@]}"; do args+=(-R "$file"); done
      # `tee >(wg pubkey > …)`: the public key is derived while age encrypts the private one.
      wg genkey | tee >(wg pubkey >"$out/$first.pub") | age "${args[@]}" -o "$out/$first.age"
      ;;
    P)
      read -r second rest2 <<<"$rest"
      read -r -a files <<<"$rest2"
      args=()
      for file in "${files[@]}"; do args+=(-R "$file"); done
      wg genpsk | age "${args[@]}" -o "$out/preshared_keys/$first+$second.age"
      ;;
    *)
      echo "baseline.sh: bad job line: $kind $first $rest" >&2
      exit 2
      ;;
  esac
done <"$jobs"
# bash 5.1+: wait also waits for the process substitutions (`wg pubkey`).
wait
