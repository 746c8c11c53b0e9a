#!/usr/bin/env bash
# Regenerates the bundled example fleet: demo identities under
# examples/identities/ (DEMO ONLY: their private keys are public, never use
# them for anything real), wgqt.toml, and the store in wireguard_keys/ made by
# wgqt itself. Run from the repository root after `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."
ids=examples/identities
rm -rf "$ids" wireguard_keys wgqt.toml
mkdir -p "$ids"
age-keygen -o "$ids/admin.key" 2>/dev/null
age-keygen -o "$ids/lighthouse.key" 2>/dev/null
age-keygen -o "$ids/archive.key" 2>/dev/null
ssh-keygen -q -t ed25519 -N "" -C "root@tavern (wgqt demo)" -f "$ids/tavern.key"
ssh-keygen -q -t ed25519 -N "" -C "root@nyaa (wgqt demo)" -f "$ids/nyaa.key"
ssh-keygen -q -t rsa -b 3072 -N "" -C "root@spark (wgqt demo)" -f "$ids/spark.key"
for name in admin lighthouse archive; do age-keygen -y "$ids/$name.key" > "$ids/$name.key.pub"; done
chmod 600 "$ids"/*.key

wgqt() { node bin/wgqt "$@"; }
wgqt init --no-commit --admin-file "$ids/admin.key.pub"
wgqt machine add lighthouse --no-commit -R "$ids/lighthouse.key.pub" --endpoint lighthouse.example.org
wgqt machine add tavern --no-commit -R "$ids/tavern.key.pub" --endpoint tavern.example.org
wgqt machine add nyaa --no-commit -R "$ids/nyaa.key.pub"
wgqt machine add spark --no-commit -R "$ids/spark.key.pub"
wgqt machine add archive --no-commit -R "$ids/archive.key.pub"
cat >> wgqt.toml <<'TOML'

# The seed's two proxies: lighthouse (Finland) and tavern (Germany) each carry
# the traffic of nyaa, spark and archive.
[proxies.finland]
gateway = "lighthouse"
clients = ["nyaa", "spark", "archive"]

[proxies.germany]
gateway = "tavern"
clients = ["nyaa", "spark", "archive"]
TOML
sed -i '1i # DEMO fleet bundled with wgqt: its keys are encrypted to the demo-only\n# identities in examples/identities/, whose private keys are public.\n' wgqt.toml
wgqt keygen --no-commit
wgqt plan --write --no-commit >/dev/null
