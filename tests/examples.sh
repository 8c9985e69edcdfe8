#!/usr/bin/env bash
# Runs the DMS examples (examples/: Python with the client generated from src/openapi.json,
# Java with the JDK's HttpClient, PHP with curl, Node with fetch) against a real bridge: each
# prepares a draft, has it signed by `kyso sign` on a SoftHSM2 token, embeds the signature,
# verifies the result and branches on a stable error code.
#   tests/examples.sh KYSO_BIN WORK_DIR [BRIDGE_URL TOKEN_FILE]
#   KYSO_EXAMPLES_TOKEN_DIR=dir   sign with this SoftHSM2 token (make-token.sh's output)
# Without BRIDGE_URL it starts `KYSO_BIN bridge` itself (a token from a file, the test root as
# trust anchor). Prints "examples: ok: LANG" per example.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KYSO_BIN=$(realpath "$1")
WORK=$(realpath -m "$2")
rm -rf "$WORK" && mkdir -p "$WORK"
# The signer's token: made here, or one the caller made (KYSO_EXAMPLES_TOKEN_DIR) and whose
# root the bridge already trusts.
if [ -n "${KYSO_EXAMPLES_TOKEN_DIR:-}" ]; then
  cp -a "$KYSO_EXAMPLES_TOKEN_DIR" "$WORK/token"
  sed -i "s|$KYSO_EXAMPLES_TOKEN_DIR|$WORK/token|" "$WORK/token/softhsm2.conf"
else
  bash "$ROOT/tests/fixtures/make-token.sh" "$WORK/token" >/dev/null
fi
python3 "$ROOT/tests/fixtures/make-pdfs.py" "$WORK/docs" >/dev/null
DRAFT=$WORK/docs/draft.pdf
export SOFTHSM2_CONF=$WORK/token/softhsm2.conf
export KYSO_BIN KYSO_POLICY_FILE=$WORK/no-policy.toml
export KYSO_CONFIG=$WORK/signer/config.toml KYSO_PIN_FILE=$WORK/signer/pin.toml
mkdir -p "$WORK/signer"
printf 'pkcs11_modules = ["/usr/lib/softhsm/libsofthsm2.so"]\ndiscover_modules = false\nrevocation_check = "off"\n' > "$KYSO_CONFIG"
printf 'pin = "123456"\n' > "$KYSO_PIN_FILE"
KYSO_CERT=$(openssl x509 -in "$WORK/token/pki/personal.pem" -outform DER | sha256sum | cut -c1-64)
export KYSO_CERT KYSO_SIGN=$ROOT/examples/sign-with-kyso.sh

BRIDGE=
if [ -n "${3:-}" ]; then
  export KYSO_BRIDGE_URL=$3 KYSO_BRIDGE_TOKEN=$(cat "$4")
else
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  export KYSO_BRIDGE_URL=http://127.0.0.1:$PORT
  openssl rand -hex 32 > "$WORK/bridge.token"
  KYSO_BRIDGE_TOKEN=$(cat "$WORK/bridge.token")
  export KYSO_BRIDGE_TOKEN
  printf 'trust_anchors = ["%s"]\noffline = true\n' "$WORK/token/pki/root.pem" > "$WORK/bridge.toml"
  "$KYSO_BIN" --config "$WORK/bridge.toml" --data-dir "$WORK/bridge-data" bridge \
    --listen "127.0.0.1:$PORT" --token-file "$WORK/bridge.token" > "$WORK/bridge.log" 2>&1 &
  BRIDGE=$!
  trap 'kill $BRIDGE 2>/dev/null || true' EXIT
  for _ in $(seq 100); do curl -fs "$KYSO_BRIDGE_URL/healthz" >/dev/null && break; sleep 0.1; done
fi
curl -fs "$KYSO_BRIDGE_URL/healthz" >/dev/null || { echo "examples: FAIL: no bridge at $KYSO_BRIDGE_URL"; exit 1; }

fail=0
run() {
  local lang=$1; shift
  if (cd "$ROOT/examples/$lang" && "$@") > "$WORK/$lang.log" 2>&1; then
    echo "examples: ok: $lang — $(tail -n 1 "$WORK/$lang.log")"
  else
    echo "examples: FAIL: $lang"; sed 's/^/  /' "$WORK/$lang.log"; fail=1
  fi
}

# Python: the client is generated from the contract, as a DMS team would.
python3 -m venv "$WORK/venv" >/dev/null
"$WORK/venv/bin/pip" install -q "openapi-python-client==0.29.1" >/dev/null
"$WORK/venv/bin/openapi-python-client" generate --path "$ROOT/src/openapi.json" \
  --output-path "$WORK/python/kyso_client" --meta none >/dev/null 2>&1
# openapi-python-client 0.29.1 forgets to import `Unset` in operations that take two body types
# (JSON or multipart, as the bridge's do); add it.
grep -rl "import Response, UNSET$" "$WORK/python/kyso_client/api" \
  | xargs -r sed -i 's/import Response, UNSET$/import Response, UNSET, Unset/'
"$WORK/venv/bin/pip" install -q httpx attrs python-dateutil >/dev/null
run python env PYTHONPATH="$WORK/python" "$WORK/venv/bin/python" example.py "$DRAFT" "$WORK/python.pdf"
run java java Example.java "$DRAFT" "$WORK/java.pdf"
run php php example.php "$DRAFT" "$WORK/php.pdf"
run node node example.mjs "$DRAFT" "$WORK/node.pdf"
# What the examples signed is valid for poppler too.
for lang in python java php node; do
  [ -f "$WORK/$lang.pdf" ] && { pdfsig "$WORK/$lang.pdf" 2>/dev/null | grep -q "Signature is Valid." || {
    echo "examples: FAIL: $lang.pdf is not valid for pdfsig"; fail=1; }; }
done
echo "examples: .NET not run: no .NET SDK can be installed on these machines (see examples/README.md)"
exit $fail
