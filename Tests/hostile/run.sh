#!/usr/bin/env bash
# The hostile-input suite: a live dev cluster (debug build, API token on) gets thousands of broken
# PDFs and malformed HTTP requests; see hostile.py. `make test` runs this after Tests/web/run.sh.
# Log of the cluster: test-output/hostile-cluster.log. HOSTILE_SEED / HOSTILE_PDFS override.
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN="${LECTOR_BIN:-.build/debug/lector}"
if [ ! -x "$BIN" ]; then echo "hostile: $BIN is missing (build first)" >&2; exit 2; fi
PY=python3
if [ -x .venv-test/bin/python ]; then PY=.venv-test/bin/python; fi

ARTIFACTS="$PWD/test-output"
mkdir -p "$ARTIFACTS"
TMP="$(mktemp -d)"
LOG="$TMP/cluster.log"
PORT="$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
TOKEN="$($PY -c 'import secrets; print(secrets.token_hex(16))')"
OMP_THREAD_LIMIT=1 LECTOR_VOICES=none LECTOR_API_TOKEN="$TOKEN" "$BIN" dev --http "127.0.0.1:$PORT" --workers 2 --data "$TMP/data" >"$LOG" 2>&1 &
CLUSTER=$!
cleanup() {
    kill "$CLUSTER" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$CLUSTER" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$CLUSTER" 2>/dev/null || true
    wait "$CLUSTER" 2>/dev/null || true
    cp "$LOG" "$ARTIFACTS/hostile-cluster.log" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

up=""
for _ in $(seq 1 120); do
    # Both workers listed, and the gateway reaches the coordinator: its registration can come a
    # moment after the nodes, and until then uploads are refused with 503 (CI saw the first two).
    if curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/cluster/" 2>/dev/null \
        | grep '"worker-1"' | grep -q '"worker-2"' \
        && curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/books/" 2>/dev/null; then
        up=1
        break
    fi
    if ! kill -0 "$CLUSTER" 2>/dev/null; then break; fi
    sleep 0.5
done
if [ -z "$up" ]; then echo "hostile: the dev cluster did not come up; its log:" >&2; tail -50 "$LOG" >&2; exit 2; fi

echo "Hostile-input suite (cluster log: test-output/hostile-cluster.log)"
LECTOR_URL="http://127.0.0.1:$PORT" LECTOR_TOKEN="$TOKEN" LECTOR_DATA="$TMP/data" LECTOR_LOG="$LOG" \
    LECTOR_FIXTURES="$PWD/Tests/LectorTests/Fixtures" "$PY" Tests/hostile/hostile.py
