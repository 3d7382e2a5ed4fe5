#!/usr/bin/env bash
# The browser test (selenium + Debian's chromium) and the OpenAPI conformance test (schemathesis),
# against a real dev cluster started from the debug build. `make test` runs this after `swift test`.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=.venv-test
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import selenium, schemathesis" 2>/dev/null; then
    echo "Setting up $VENV (selenium, schemathesis from PyPI)..."
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check selenium==4.51.0 schemathesis==4.32.5
fi

ARTIFACTS="$PWD/test-output"
mkdir -p "$ARTIFACTS"
DATA="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
.build/debug/lector dev --http "127.0.0.1:$PORT" --workers 2 --data "$DATA/data" >"$ARTIFACTS/web-cluster.log" 2>&1 &
CLUSTER=$!
cleanup() {
    kill "$CLUSTER" 2>/dev/null || true
    wait "$CLUSTER" 2>/dev/null || true
    rm -rf "$DATA"
}
trap cleanup EXIT

for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$PORT/api/cluster/" 2>/dev/null | grep -q '"worker-2"'; then break; fi
    sleep 0.5
done

export LECTOR_URL="http://127.0.0.1:$PORT" LECTOR_FIXTURES="$PWD/Tests/LectorTests/Fixtures" LECTOR_ARTIFACTS="$ARTIFACTS"
echo "Browser test (screenshot: test-output/web-page.png)"
"$VENV/bin/python" Tests/web/test_web_page.py
echo "OpenAPI conformance (schemathesis)"
"$VENV/bin/python" Tests/web/test_openapi.py
