#!/bin/bash
# The artifact store of the browser tests (a ctest fixture), built from what
# the other fixtures already made — no downloads:
#  - node (every version of the demo store, real Node.js builds);
#  - the code-server stand-in (tests/fixtures/code_server_standin.py) and the
#    tailscale stand-in (tests/fixtures/tailscale_standin.sh) as addons;
#  - java (the game store's packed host JDK) and Minecraft vanilla and paper
#    1.21.4 made of the stand-in server jar (paper has a plugins dir: mods).
# Usage: e2e_store.sh ZLHCTL DEMO_DIR GAME_STORE_DIR FIXTURES_BUILD_DIR SOURCE_DIR OUT_DIR
set -euo pipefail
ctl=$1 demo=$2 game=$3 jars=$4 src=$5 out=$6

[ -s "$out/keys/catalog.key" ] || "$ctl" keygen --out "$out/keys" >/dev/null
store="$out/store"
rm -rf "$store" "$out/tmp"
mkdir -p "$out/tmp"
"$ctl" catalog init --store "$store" >/dev/null
add() {
  local msg
  msg=$("$ctl" catalog add --store "$store" --channel stable "$@" 2>&1) || { echo "$msg" >&2; exit 1; }
}

# Node.js from the demo store, its default kept.
default=$(python3 -c 'import json,sys
c = json.load(open(sys.argv[1]))
print(next((v["version"] for r in c["runtimes"] if r["id"] == "node" for v in r["versions"] if v.get("default")), ""))' \
  "$demo/artifacts/catalog.json")
for f in "$demo"/artifacts/runtimes/node/*/node-v*-linux-x64.tar.gz; do
  v=$(basename "$(dirname "$f")")
  extra=()
  [ "$v" = "$default" ] && extra=(--default)
  add --kind runtime --id node --display Node.js --version "$v" --file "$f" --strip 1 --bin bin \
      --env 'NODE_HOME={prefix}' --verify "bin/node --version" --expect "v$v" "${extra[@]}"
done

# Addons: the code-server and tailscale stand-ins.
mkdir -p "$out/tmp/cs/bin" "$out/tmp/cs/lib" "$out/tmp/ts/bin"
printf '#!/bin/sh\nexec python3 "$(dirname "$0")/../lib/standin.py" "$@"\n' >"$out/tmp/cs/bin/code-server"
chmod 755 "$out/tmp/cs/bin/code-server"
cp "$src/tests/fixtures/code_server_standin.py" "$out/tmp/cs/lib/standin.py"
tar -C "$out/tmp" -czf "$out/tmp/code-server.tar.gz" cs
add --kind addon --id code-server --version 4.96.4 --file "$out/tmp/code-server.tar.gz" --strip 1 \
    --port 6000 --health /healthz \
    --launch "bin/code-server --bind-addr {bind} --auth none --user-data-dir {data} {workspace}"
install -m 755 "$src/tests/fixtures/tailscale_standin.sh" "$out/tmp/ts/bin/tailscale"
install -m 755 "$src/tests/fixtures/tailscale_standin.sh" "$out/tmp/ts/bin/tailscaled"
tar -C "$out/tmp" -czf "$out/tmp/tailscale.tar.gz" ts
add --kind addon --id tailscale --version 1.78.1 --file "$out/tmp/tailscale.tar.gz" --strip 1 \
    --launch "bin/tailscaled"

# Java and the Minecraft stand-ins.
jdk=$(ls "$game"/jdk-*.tar | head -1)
[ -n "$jdk" ] || { echo "e2e_store: no packed JDK in $game" >&2; exit 1; }
jv=$(basename "$jdk" .tar)
jv=${jv#jdk-}
add --kind runtime --id java --version "$jv" --file "$jdk" --strip 1 --bin bin \
    --env 'JAVA_HOME={prefix}' --verify "bin/java -version" --expect openjdk
major=${jv%%.*}
backup='{"pause":["save-off","save-all flush"],"saved":"Saved the game","resume":["save-on"],"timeout_s":120}'
add --kind game --id minecraft --ready 'Done \(' --stop-command stop --backup "$backup" --variant vanilla --version 1.21.4 \
    --file "$jars/standin-server.jar" --java "$major" --game-kind jar
add --kind game --id minecraft --ready 'Done \(' --stop-command stop --backup "$backup" --variant paper --version 1.21.4 \
    --file "$jars/standin-server.jar" --java "$major" --game-kind jar --mods-dir plugins
"$ctl" catalog sign --store "$store" --key "$out/keys/catalog.key" >/dev/null
rm -rf "$out/tmp"
echo "e2e_store: $store ready" >&2
