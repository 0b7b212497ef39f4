#!/usr/bin/env bash
# `make run` until zlh-api exists: one zlh-agent for container 6001 on the
# embedded defaults, with keys generated into ./var/keys on first run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/bin
VAR=${ZLH_VAR:-$PWD/var}
VMID=6001
# The local driver's address scheme (DESIGN §10.5): 127.77.<vmid/256>.<vmid%256>.
ADDR="127.77.$((VMID / 256)).$((VMID % 256))"
ROOT="$VAR/containers/$VMID"

if [ ! -f "$VAR/keys/api.key" ]; then
  "$BIN/zlhctl" keygen --out "$VAR/keys" >/dev/null
fi
mkdir -p "$ROOT"

cat <<MSG
zlh: zlh-api (the control plane) is not built yet; starting one agent.

  zlh-agent  container $VMID  http://$ADDR:18888   root $ROOT
  keys       $VAR/keys  (api.key signs agent tokens)

Try:
  curl http://$ADDR:18888/health
  TOKEN=\$($BIN/zlhctl token --key $VAR/keys/api.key --vmid $VMID)
  curl -H "Authorization: Bearer \$TOKEN" http://$ADDR:18888/status

Ctrl-C stops it.
MSG
exec "$BIN/zlh-agent" --root "$ROOT" --listen "$ADDR:18888" --vmid "$VMID" \
  --api-key "$VAR/keys/api.pub" --catalog-key "$VAR/keys/catalog.pub" --dev-user - --log-format text
