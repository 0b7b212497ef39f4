#!/usr/bin/env bash
# `make run`: the demo artifact store (real Node.js from the npm registry, the
# host JDK) and zlh-api on the embedded defaults (SQLite; as root the lxc
# driver, docs/drivers.md; as another user the local driver), with
# keys generated into ./var/keys on first run (zlh-api uses the same
# api.key/api.pub and adds jwt.secret there).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
VAR=${ZLH_VAR:-$PWD/var}

mkdir -p "$VAR"
if [ ! -f "$VAR/keys/api.key" ]; then
  "$BIN/zlhctl" keygen --out "$VAR/keys" >/dev/null
fi
echo "zlh: preparing the demo artifact store in $VAR/artifacts (the first run on a machine downloads Node.js and builds code-server from the npm registry: a few minutes, cached in ~/.cache/zlh/)"
"$BIN/zlhctl" demo-store --out "$VAR/artifacts" --keys "$VAR/keys"

# Minecraft server jars come from their publishers (needs internet):
# `make run ZLH_MINECRAFT=1.21.4` imports that version into the store before
# starting (ZLH_MINECRAFT_VARIANT=paper|purpur|fabric for another server);
# without it the one command that does so is printed below. A failed import
# is reported and the platform starts anyway.
MC_VARIANT=${ZLH_MINECRAFT_VARIANT:-vanilla}
MC_ARGS=("$BIN/zlhctl" catalog import minecraft --store "$VAR/artifacts" --key "$VAR/keys/catalog.key"
         --variant "$MC_VARIANT" --version "${ZLH_MINECRAFT:-1.21.4}")
MC_CMD=$(printf '%q ' "${MC_ARGS[@]}")
MC_STATUS=""
if [ -n "${ZLH_MINECRAFT:-}" ]; then
  echo "zlh: importing Minecraft $MC_VARIANT $ZLH_MINECRAFT into $VAR/artifacts (downloaded from its publisher; needs internet)"
  if "${MC_ARGS[@]}"; then
    MC_STATUS="imported $MC_VARIANT $ZLH_MINECRAFT"
  else
    echo "zlh: WARNING: importing Minecraft $MC_VARIANT $ZLH_MINECRAFT FAILED (see the error above; it needs" >&2
    echo "     internet access to the publisher's API). Starting without it; run again later:" >&2
    echo "     $MC_CMD" >&2
    MC_STATUS="import of $MC_VARIANT $ZLH_MINECRAFT FAILED (see above)"
  fi
fi

# What the store offers, for the example below.
RUNTIMES=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(", ".join(r["id"]+" "+v["version"] for r in c.get("runtimes",[]) for v in r["versions"]))' "$VAR/artifacts/catalog.json" 2>/dev/null || true)
GAMES=$(python3 - "$VAR/artifacts/catalog.json" <<'PY' 2>/dev/null || echo "none"
import json, re, sys
c = json.load(open(sys.argv[1]))
javas = [v["version"] for r in c.get("runtimes", []) if r["id"] == "java" for v in r["versions"]]
def has(w):  # the agent's rule: V == W or V starts with W and a separator
    return any(v == w or re.match(re.escape(w) + r"[.+_-]", v) for v in javas)
out = [g["id"] + "/" + v["id"] + " " + e["version"] + " (java " + e["java"] +
       ("" if has(e["java"]) else ", NOT in the store: add a Java " + e["java"] + " runtime") + ")"
       for g in c.get("games", []) for v in g["variants"] for e in v["versions"]]
print(", ".join(out) or "none")
PY
)
NODE=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print([v["version"] for r in c["runtimes"] if r["id"]=="node" for v in r["versions"]][0])' "$VAR/artifacts/catalog.json" 2>/dev/null || echo "20.20.2")

LISTEN=${ZLH_LISTEN:-127.0.0.1:8080}
# The browser IDE and port preview on their own origin, one per server:
# browsers (and curl) resolve *.localhost to 127.0.0.1, and a host name other
# than the portal's keeps the two origins' cookies apart (docs/ide.md).
IDE_LISTEN=${ZLH_IDE_LISTEN:-127.0.0.1:8081}
IDE_DEFAULT_ORIGIN='http://{vmid}.localhost:'"${IDE_LISTEN##*:}"
IDE_ORIGIN=${ZLH_IDE_ORIGIN:-$IDE_DEFAULT_ORIGIN}
if [ "$(id -u)" -eq 0 ]; then
  # Every lxc-* setting can also go in $VAR/api.toml (docs/drivers.md).
  DRIVER_ARGS=(--driver lxc)
  BR_DEV=${ZLH_LXC_BRIDGE_DEV:-zlhdev0} NET_DEV=${ZLH_LXC_SUBNET_DEV:-10.77.0.0/16}
  BR_GAME=${ZLH_LXC_BRIDGE_GAME:-zlhgame0} NET_GAME=${ZLH_LXC_SUBNET_GAME:-10.78.0.0/16}
  DRIVER_ARGS+=(--lxc-bridge-dev "$BR_DEV" --lxc-subnet-dev "$NET_DEV" --lxc-bridge-game "$BR_GAME" --lxc-subnet-game "$NET_GAME")
  chmod 711 "$VAR"
  WHERE="lxc driver: unprivileged LXC containers
  containers $VAR/lxc/zlh-<vmid>/ (config, disk.img = the container's ext4 disk,
             rootfs/ = where it is mounted); host /usr read-only inside
  network    bridge $BR_DEV $NET_DEV (dev), bridge $BR_GAME $NET_GAME (game),
             ports isolated, nftables table inet zlh (NAT out, game ports in);
             net.ipv4.ip_forward is turned on (host-wide) for the NAT
  ids        root:1000000:65536000 in /etc/subuid and /etc/subgid, 65,536 per container"
else
  DRIVER_ARGS=(--driver local)
  WHERE="local driver (development only, no isolation: not root)
  containers $VAR/containers/<vmid>/ = one zlh-agent each on 127.77.x.y"
fi
cat <<MSG

zlh: starting zlh-api (SQLite store + ${DRIVER_ARGS[1]} driver) on http://$LISTEN

  $WHERE
  portal     http://$LISTEN/
  IDE        $IDE_ORIGIN/dev/<vmid>/ide/ (listening on $IDE_LISTEN; one origin per
             server, opened from the portal's Open IDE; port preview at
             $IDE_ORIGIN/dev/<vmid>/port/<n>/)
  data       $VAR  (zlh.db, keys/)
  artifacts  $VAR/artifacts  (also served by zlh-api; catalog signed by $VAR/keys/catalog.key)
             runtimes: $RUNTIMES
             games: $GAMES${MC_STATUS:+ ($MC_STATUS)}
  minecraft  add a version (needs internet; or \`make run ZLH_MINECRAFT=1.21.4\`):
             $MC_CMD
             (a game runs on the java runtime its entry names: the store needs that
             Java major; docs/games.md)
  admin      on the first start its password is written to $VAR/initial-admin-password
             (ZLH_ADMIN_PASSWORD=... picks it);
             later starts keep the existing users.

Try:
  TOKEN=\$(curl -s -X POST http://$LISTEN/api/auth/login -H 'Content-Type: application/json' \\
           -d '{"identifier":"admin","password":"<the admin password>"}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])')
  curl -H "Authorization: Bearer \$TOKEN" http://$LISTEN/api/catalog/dev
  curl -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' -X POST http://$LISTEN/api/servers \\
       -d '{"type":"dev","runtime":"node","version":"$NODE"}'
  curl -H "Authorization: Bearer \$TOKEN" http://$LISTEN/api/servers

Ctrl-C stops zlh-api; the containers keep running and are found again at
the next start. DELETE /api/servers/<id> ends one.
MSG
exec "$BIN/zlh-api" --listen "$LISTEN" --data "$VAR" --artifacts "$VAR/artifacts" --portal "$PWD/portal/dist" \
  --ide-listen "$IDE_LISTEN" --ide-origin "$IDE_ORIGIN" --log-format text "${DRIVER_ARGS[@]}"
