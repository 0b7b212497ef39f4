#!/usr/bin/env bash
# `make run` until zlh-api exists: the demo artifact store (real Node.js from
# the npm registry, the host JDK) and one zlh-agent for container 6001 on the
# embedded defaults, with keys generated into ./var/keys on first run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
VAR=${ZLH_VAR:-$PWD/var}
VMID=6001
# The local driver's address scheme (DESIGN §10.5): 127.77.<vmid/256>.<vmid%256>.
ADDR="127.77.$((VMID / 256)).$((VMID % 256))"
ROOT="$VAR/containers/$VMID"

mkdir -p "$VAR" "$ROOT"
if [ ! -f "$VAR/keys/api.key" ]; then
  "$BIN/zlhctl" keygen --out "$VAR/keys" >/dev/null
fi
echo "zlh: preparing the demo artifact store in $VAR/artifacts (first run downloads Node.js from the npm registry)"
"$BIN/zlhctl" demo-store --out "$VAR/artifacts" --keys "$VAR/keys"

# What the store offers, for the example below.
RUNTIMES=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print(", ".join(r["id"]+" "+v["version"] for r in c.get("runtimes",[]) for v in r["versions"]))' "$VAR/artifacts/catalog.json" 2>/dev/null || true)
NODE=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); print([v["version"] for r in c["runtimes"] if r["id"]=="node" for v in r["versions"]][0])' "$VAR/artifacts/catalog.json" 2>/dev/null || echo "20.20.2")

cat <<MSG

zlh: zlh-api (the control plane) is not built yet; starting one agent.

  zlh-agent  container $VMID  http://$ADDR:18888   root $ROOT
  artifacts  file://$VAR/artifacts  (catalog signed by $VAR/keys/catalog.key)
             runtimes: $RUNTIMES
  keys       $VAR/keys  (api.key signs agent tokens)

Try:
  curl http://$ADDR:18888/health
  TOKEN=\$($BIN/zlhctl token --key $VAR/keys/api.key --vmid $VMID)
  curl -H "Authorization: Bearer \$TOKEN" http://$ADDR:18888/status
  curl -H "Authorization: Bearer \$TOKEN" -X POST http://$ADDR:18888/config \\
       -d '{"vmid":$VMID,"container_type":"dev","runtime":"node","version":"$NODE"}'
  HOME=$ROOT/home/dev bash -l -c 'node --version'

Ctrl-C stops it.
MSG
exec "$BIN/zlh-agent" --root "$ROOT" --listen "$ADDR:18888" --vmid "$VMID" \
  --api-key "$VAR/keys/api.pub" --catalog-key "$VAR/keys/catalog.pub" \
  --artifacts "file://$VAR/artifacts" --dev-user - --log-format text
