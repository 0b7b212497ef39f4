#!/bin/bash
# The artifact store of the game integration tests (a ctest fixture), built
# from what the machine already has — no downloads:
#  - the host JDK (the one `java` on PATH belongs to) as a plain tar, packed
#    once per build tree, added to the catalog twice: as java <its version>
#    and as java 21.0.99-test, so a test can tell which runtime a game
#    entry's "java" field picked (the stand-in prints java.home);
#  - Minecraft variants made of the stand-in jars (tests/fixtures/minecraft):
#      vanilla 1.21.4          jar        java 17
#      paper 1.21.4            jar        java 21   mods_dir plugins
#      forge 1.20.1-47.3.0     installer  java 17   mods_dir mods
#      neoforge 21.1.77-broken installer  java 21   (the server jar: its "installer" run fails)
#      purpur 1.21.4           jar        java 11   (no such Java in the catalog)
# The store and its catalog are rebuilt on every run (seconds); the keys
# and the JDK tar are kept.
# Usage: game_store.sh ZLHCTL FIXTURES_DIR OUT_DIR
set -euo pipefail
ctl=$1
fixtures=$2
out=$3

jdk=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
version=$(sed -n 's/^JAVA_VERSION="\(.*\)"$/\1/p' "$jdk/release")
[ -n "$version" ] || { echo "game_store: no JAVA_VERSION in $jdk/release" >&2; exit 1; }
mkdir -p "$out"

# Symlinks are dereferenced (Debian's JDK links into /etc, which the agent's
# extraction refuses); jmods (only for jlink), docs and the dangling
# src.zip are left out.
tarball="$out/jdk-$version.tar"
if [ ! -s "$tarball" ]; then
  top=$(basename "$jdk")
  echo "game_store: packing $jdk into $tarball" >&2
  tar -C "$(dirname "$jdk")" --dereference --exclude="$top/jmods" --exclude="$top/docs" \
      --exclude="$top/lib/src.zip" -cf "$tarball.tmp" "$top"
  mv "$tarball.tmp" "$tarball"
fi

[ -s "$out/keys/catalog.key" ] || "$ctl" keygen --out "$out/keys" >/dev/null
store="$out/store"
rm -rf "$store"
"$ctl" catalog init --store "$store" >/dev/null

# Quiet unless it fails ("not signed yet" notes until the sign at the end).
add() {
  local msg
  msg=$("$ctl" catalog add --store "$store" --channel stable "$@" 2>&1) || { echo "$msg" >&2; exit 1; }
}
for v in "$version" 21.0.99-test; do
  add --kind runtime --id java --version "$v" --file "$tarball" --strip 1 --bin bin \
      --env 'JAVA_HOME={prefix}' --verify "bin/java -version" --expect openjdk
done
# Every variant carries the backup block `zlhctl catalog import` writes.
backup='{"pause":["save-off","save-all flush"],"saved":"Saved the game","resume":["save-on"],"timeout_s":120}'
game() { add --kind game --id minecraft --ready 'Done \(' --stop-command stop --backup "$backup" "$@"; }
game --variant vanilla --version 1.21.4 --file "$fixtures/standin-server.jar" --java 17 --game-kind jar
game --variant paper --version 1.21.4 --file "$fixtures/standin-server.jar" --java 21 --game-kind jar \
     --mods-dir plugins
game --variant forge --version 1.20.1-47.3.0 --file "$fixtures/standin-installer.jar" --java 17 \
     --game-kind installer --mods-dir mods
game --variant neoforge --version 21.1.77-broken --file "$fixtures/standin-server.jar" --java 21 \
     --game-kind installer --mods-dir mods
game --variant purpur --version 1.21.4 --file "$fixtures/standin-server.jar" --java 11 --game-kind jar \
     --mods-dir plugins
"$ctl" catalog sign --store "$store" --key "$out/keys/catalog.key" >/dev/null
echo "game_store: $store ready (java $version and 21.0.99-test)" >&2
