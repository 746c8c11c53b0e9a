#!/usr/bin/env bash
# The shell contenders for reading and re-encrypting a store in `npm run bench`,
# one `age` process per file as agenix runs them:
#
#   bench/store-baseline.sh decrypt JOBS STORE IDENTITY
#     `age -d` of every file: the check wgqt verify replaces (each file opens).
#   bench/store-baseline.sh rekey JOBS STORE IDENTITY NEW_RECIPIENTS
#     `agenix -r`: each file decrypted and encrypted again, in place, to its
#     recipients and the recipients in NEW_RECIPIENTS (an admin added).
#
# JOBS is bench/baseline.sh's job list (bench/fleet.mjs baselineJobs): a K line
# names STORE/<machine>.age, a P line STORE/preshared_keys/<a>+<b>.age, each
# with the `age -R` recipient files of that file.
set -euo pipefail

mode=$1
jobs=$2
store=$3
identity=$4
extra=${5:-}

while read -r kind first rest; do
  case $kind in
    K) file="$store/$first.age" ;;
    P)
      read -r second rest <<<"$rest"
      file="$store/preshared_keys/$first+$second.age"
      ;;
    *)
      echo "store-baseline.sh: bad job line: $kind $first $rest" >&2
      exit 2
      ;;
  esac
  case $mode in
    decrypt) age -d -i "$identity" "$file" >/dev/null ;;
    rekey)
      read -r -a files <<<"$rest"
      args=()
      for recipients in "${files[@]}" "$extra"; do args+=(-R "$recipients"); done
      age -d -i "$identity" "$file" | age "${args[@]}" -o "$file.tmp"
      mv "$file.tmp" "$file"
      ;;
    *)
      echo "store-baseline.sh: unknown mode $mode" >&2
      exit 2
      ;;
  esac
done <"$jobs"
