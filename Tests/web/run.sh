#!/usr/bin/env bash
# The browser tests (selenium + Debian's chromium) and the OpenAPI conformance test (schemathesis),
# against real dev clusters started from the debug build: one without an API token (the page as
# everyone gets it), one with LECTOR_API_TOKEN (the page asks for the token and sends it; the
# API and schemathesis with it), both espeak-ng only, and one worker with the natural voice from
# .deps/voices (`make deps`), where a page's player is played while the page is still being voiced.
# The audiobook scenario (the book player: page after page, read-along, chapters, the saved place,
# axe-core) runs on the espeak-only clusters, without and with the token.
# `make test` runs this after `swift test`.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=.venv-test
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import selenium, schemathesis, axe_selenium_python" 2>/dev/null; then
    echo "Setting up $VENV (selenium, schemathesis, axe-selenium-python from PyPI)..."
    python3 -m venv "$VENV"
    # axe-selenium-python bundles axe-core's axe.min.js, which the audiobook scenario runs in the page.
    "$VENV/bin/pip" install -q --disable-pip-version-check selenium==4.51.0 schemathesis==4.32.5 \
        axe-selenium-python==2.1.6
fi

ARTIFACTS="$PWD/test-output"
mkdir -p "$ARTIFACTS"
DATA="$(mktemp -d)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"
TOKEN_PORT="$(free_port)"
while [ "$TOKEN_PORT" = "$PORT" ]; do TOKEN_PORT="$(free_port)"; done
LIVE_PORT="$(free_port)"
while [ "$LIVE_PORT" = "$PORT" ] || [ "$LIVE_PORT" = "$TOKEN_PORT" ]; do LIVE_PORT="$(free_port)"; done
TOKEN="lector-test-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"

# espeak-ng only (the natural voice costs ~35 s of CPU a page), but for the live cluster below.
export LECTOR_VOICES=none
# The clusters start at once (they pick their own transport ports); each test uses one of them.
.build/debug/lector dev --http "127.0.0.1:$PORT" --workers 2 --data "$DATA/data" >"$ARTIFACTS/web-cluster.log" 2>&1 &
CLUSTER=$!
LECTOR_API_TOKEN="$TOKEN" .build/debug/lector dev --http "127.0.0.1:$TOKEN_PORT" --workers 2 --data "$DATA/data-token" \
    >"$ARTIFACTS/web-cluster-token.log" 2>&1 &
TOKEN_CLUSTER=$!
# One worker with the natural voice, for the page played while it is made. A missing voice is not
# skipped: the live scenario fails and says to run `make deps`.
LECTOR_VOICES="$PWD/.deps/voices" .build/debug/lector dev --http "127.0.0.1:$LIVE_PORT" --workers 1 \
    --data "$DATA/data-live" >"$ARTIFACTS/web-cluster-live.log" 2>&1 &
LIVE_CLUSTER=$!
cleanup() {
    kill "$CLUSTER" "$TOKEN_CLUSTER" "$LIVE_CLUSTER" 2>/dev/null || true
    wait "$CLUSTER" 2>/dev/null || true
    wait "$TOKEN_CLUSTER" 2>/dev/null || true
    wait "$LIVE_CLUSTER" 2>/dev/null || true
    rm -rf "$DATA"
}
trap cleanup EXIT

wait_for_workers() { # URL WORKER [curl options…]: until the cluster lists WORKER and the gateway
    # reaches the coordinator (its registration can come a moment after the nodes; until then the
    # API answers 503) — about a minute at most
    local url="$1" worker="$2"; shift 2
    for _ in $(seq 1 120); do
        if curl -fsS "$@" "$url/api/cluster/" 2>/dev/null | grep -q "\"$worker\"" \
            && curl -fsS -o /dev/null "$@" "$url/api/books/" 2>/dev/null; then return 0; fi
        sleep 0.5
    done
    echo "the cluster at $url did not come up: see test-output/web-cluster*.log" >&2
    return 1
}
wait_for_workers "http://127.0.0.1:$PORT" worker-2
wait_for_workers "http://127.0.0.1:$TOKEN_PORT" worker-2 -H "Authorization: Bearer $TOKEN"
wait_for_workers "http://127.0.0.1:$LIVE_PORT" worker-1

export LECTOR_FIXTURES="$PWD/Tests/LectorTests/Fixtures" LECTOR_ARTIFACTS="$ARTIFACTS"
echo "Browser test (screenshot: test-output/web-page.png)"
LECTOR_URL="http://127.0.0.1:$PORT" "$VENV/bin/python" Tests/web/test_web_page.py
echo "Browser test with an API token (screenshot: test-output/web-page-token.png)"
LECTOR_URL="http://127.0.0.1:$TOKEN_PORT" LECTOR_TOKEN="$TOKEN" "$VENV/bin/python" Tests/web/test_web_page.py
echo "Browser test: the book player, audiobook listening (screenshots: test-output/web-audiobook.png, web-audiobook-phone.png)"
LECTOR_URL="http://127.0.0.1:$PORT" LECTOR_SCENARIO=audiobook "$VENV/bin/python" Tests/web/test_web_page.py
echo "Browser test: the book player with an API token (screenshots: test-output/web-audiobook-token*.png)"
LECTOR_URL="http://127.0.0.1:$TOKEN_PORT" LECTOR_TOKEN="$TOKEN" LECTOR_SCENARIO=audiobook "$VENV/bin/python" \
    Tests/web/test_web_page.py
echo "Browser test: a page played while it is being voiced, natural voice (screenshot: test-output/web-page-live.png)"
LECTOR_URL="http://127.0.0.1:$LIVE_PORT" LECTOR_SCENARIO=live "$VENV/bin/python" Tests/web/test_web_page.py
echo "OpenAPI conformance (schemathesis)"
LECTOR_URL="http://127.0.0.1:$PORT" "$VENV/bin/python" Tests/web/test_openapi.py
echo "OpenAPI conformance with an API token (schemathesis)"
LECTOR_URL="http://127.0.0.1:$TOKEN_PORT" LECTOR_TOKEN="$TOKEN" "$VENV/bin/python" Tests/web/test_openapi.py
