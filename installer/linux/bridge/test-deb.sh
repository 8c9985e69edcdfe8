#!/usr/bin/env bash
# The kyso-bridge package as an operator meets it: build it (headless binary), check it pulls in
# no display library, install it with dpkg, start the service — with systemd when the machine
# runs it, else the unit's own ExecStart line under the unit's settings (said so) — probe
# /healthz, refuse a request without the token, sign through it with every example of
# examples/ (tests/examples.sh), and purge it.
#   KYSO_HEADLESS_BIN=path   the headless binary (else built)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
fail() { echo "test-bridge-deb: FAIL: $*" >&2; exit 1; }
pass() { echo "test-bridge-deb: ok: $*"; }
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo

DEB=$(bash "$HERE/build-deb.sh" | tail -n 1)
DEPENDS=$(dpkg-deb -f "$DEB" Depends)
if grep -Eq "libgl|libegl|libx11|libxkb|libxcursor|libwayland|libgtk" <<<"$DEPENDS"; then
  fail "GUI dependencies: $DEPENDS"
fi
BIN_IN_DEB=$(mktemp -d)
dpkg-deb -x "$DEB" "$BIN_IN_DEB"
if ldd "$BIN_IN_DEB/usr/libexec/kyso-bridge/kyso" | grep -Eq "libGL|libEGL|libX11|libxkbcommon|libwayland"; then
  fail "the binary links display libraries"
fi
strings "$BIN_IN_DEB/usr/libexec/kyso-bridge/kyso" | grep -q "eframe\|tray_icon" && fail "the binary carries the GUI"
rm -rf "$BIN_IN_DEB"
pass "headless: Depends: $DEPENDS"

$SUDO dpkg -i "$DEB" >/dev/null
pass "installed $(basename "$DEB")"
[ -s /etc/kyso/bridge.token ] || fail "no token made at installation"
[ "$(stat -c %a /etc/kyso/bridge.token)" = 600 ] || fail "the token file is readable by others"
pass "token made, mode 600"
UNIT=/usr/lib/systemd/system/kyso-bridge.service
for setting in DynamicUser=yes ProtectSystem=strict NoNewPrivileges=yes "LoadCredential=token:" SystemCallFilter=@system-service; do
  grep -q "^$setting" "$UNIT" || fail "the unit lacks $setting"
done
pass "hardened unit"

# The examples sign with a SoftHSM2 test token and verify against its root: the service is
# told to trust that root in its settings, as IT adds the national root.
TOKENS=$ROOT/target/kyso-bridge-token
bash "$ROOT/tests/fixtures/make-token.sh" "$TOKENS" >/dev/null
$SUDO install -Dm644 "$TOKENS/pki/root.pem" /etc/kyso/trust-anchors/kyso-test-root.pem
printf 'trust_anchors = ["/etc/kyso/trust-anchors"]\n' | $SUDO tee -a /etc/kyso/bridge.toml >/dev/null

URL=http://127.0.0.1:47480
PID=
if [ -d /run/systemd/system ]; then
  $SUDO systemctl restart kyso-bridge.service
  pass "started with systemd"
else
  # No systemd here (a container): run the unit's ExecStart as systemd would, with its
  # specifiers: %S the state root, %d the credentials folder (a copy of the token).
  echo "test-bridge-deb: no systemd on this machine: running the unit's ExecStart line instead"
  CREDS=$(mktemp -d) STATE=$(mktemp -d)
  install -m600 /etc/kyso/bridge.token "$CREDS/token"
  LINE=$(sed -n 's/^ExecStart=//p' "$UNIT")
  LINE=${LINE//%S/$STATE}; LINE=${LINE//%d/$CREDS}
  LINE=${LINE//\$\{KYSO_BRIDGE_LISTEN\}/$(sed -n 's/^Environment=KYSO_BRIDGE_LISTEN=//p' "$UNIT")}
  $LINE > "$STATE/bridge.log" 2>&1 &
  PID=$!
fi
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  $SUDO dpkg --purge kyso-bridge >/dev/null 2>&1 || true
  $SUDO rm -f /etc/kyso/trust-anchors/kyso-test-root.pem
  $SUDO rmdir /etc/kyso/trust-anchors /etc/kyso 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do curl -fs "$URL/healthz" >/dev/null && break; sleep 0.1; done
[ "$(curl -fs "$URL/healthz")" = '{"status":"ok"}' ] || fail "/healthz"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" = 200 ] || fail "/readyz"
pass "/healthz and /readyz answer"
CODE=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{"pdf":""}' "$URL/v1/verify")
[ "$CODE" = 401 ] || fail "a request without the token got $CODE"
pass "no token: 401"

WORK=$ROOT/target/kyso-bridge-examples
TOKEN_FILE=$(mktemp)
$SUDO cat /etc/kyso/bridge.token > "$TOKEN_FILE"
if ! KYSO_EXAMPLES_TOKEN_DIR=$TOKENS bash "$ROOT/tests/examples.sh" "$ROOT/target/headless/release/kyso" \
  "$WORK" "$URL" "$TOKEN_FILE" | sed 's/^/  /'; then
  fail "the examples failed against the packaged bridge"
fi
pass "the examples (Python, Java, PHP, Node) signed through the packaged bridge"
# Read whole, then searched: `curl | grep -q` fails under pipefail when grep stops reading
# before curl has written everything (SIGPIPE), which a longer /metrics made happen.
METRICS=$(curl -fs -H "Authorization: Bearer $(cat "$TOKEN_FILE")" "$URL/metrics") || fail "/metrics"
grep -q 'kyso_bridge_requests_total{route="/v1/embed",status="200"}' <<<"$METRICS" \
  || fail "/metrics does not count the embeds: $METRICS"
pass "/metrics counts them"
rm -f "$TOKEN_FILE"

cleanup; trap - EXIT
[ ! -e /etc/kyso ] && [ ! -e "$UNIT" ] || fail "purge left files"
pass "purged"
