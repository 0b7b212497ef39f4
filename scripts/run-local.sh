#!/usr/bin/env bash
# `make run`: the demo artifact store (real Node.js from the npm registry, the
# host JDK) and zlh-api on the embedded defaults (SQLite, local driver), with
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
echo "zlh: preparing the demo artifact store in $VAR/artifacts (first run downloads Node.js from the npm registry)"
"$BIN/zlhctl" demo-store --out "$VAR/artifacts" --keys "$VAR/keys"

# What the store offers, for the example below.
RUNTIMES=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(", ".join(r["id"]+" "+v["version"] for r in c.get("runtimes",[]) for v in r["versions"]))' "$VAR/artifacts/catalog.json" 2>/dev/null || true)
NODE=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print([v["version"] for r in c["runtimes"] if r["id"]=="node" for v in r["versions"]][0])' "$VAR/artifacts/catalog.json" 2>/dev/null || echo "20.20.2")

LISTEN=${ZLH_LISTEN:-127.0.0.1:8080}
cat <<MSG

zlh: starting zlh-api (SQLite store + local driver) on http://$LISTEN

  data       $VAR  (zlh.db, keys/, containers/<vmid>/ = one zlh-agent each on 127.77.x.y)
  artifacts  $VAR/artifacts  (also served by zlh-api; catalog signed by $VAR/keys/catalog.key)
             runtimes: $RUNTIMES
  admin      printed below on the first start (ZLH_ADMIN_PASSWORD=... picks it);
             later starts keep the existing users.

Try:
  TOKEN=\$(curl -s -X POST http://$LISTEN/api/auth/login \\
           -d '{"identifier":"admin","password":"<the admin password>"}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["token"])')
  curl -H "Authorization: Bearer \$TOKEN" http://$LISTEN/api/catalog/dev
  curl -H "Authorization: Bearer \$TOKEN" -X POST http://$LISTEN/api/servers \\
       -d '{"type":"dev","runtime":"node","version":"$NODE"}'
  curl -H "Authorization: Bearer \$TOKEN" http://$LISTEN/api/servers

Ctrl-C stops zlh-api; the containers' agents keep running (like containers
do) and are found again at the next start. DELETE /api/servers/<id> ends one.
MSG
exec "$BIN/zlh-api" --listen "$LISTEN" --data "$VAR" --artifacts "$VAR/artifacts" --portal "$PWD/portal/dist" --log-format text
