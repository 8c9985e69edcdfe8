#!/usr/bin/env bash
# The .deb on this machine, for real: build it, install it with dpkg -i (a test root certificate
# waiting in /etc/kyso/trust-anchors, as IT would place the agency's root), check the installed
# binary, autostart entry, policy and system trust store, then purge and check that /etc, /usr
# and /opt are exactly as before. Needs root (or sudo). Usage: test-deb.sh (KYSO_BIN as for
# build-deb.sh).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
pass() { echo "test-deb: ok: $*"; }
snapshot() { $SUDO find /etc /usr /opt -xdev \( -path /etc/ssl/certs -prune \) -o -print 2>/dev/null | sort; }

DEB=$(bash "$HERE/build-deb.sh" | tail -n 1)
[ -f "$DEB" ] || fail "no .deb built"
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n 1)
if dpkg -s kyso >/dev/null 2>&1; then $SUDO dpkg --purge kyso >/dev/null; fi
WORK=$(mktemp -d)
TEST_ROOT=$WORK/agency-root.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/root.key" \
  -subj "/C=VN/O=Kyso test/CN=Kyso test agency root" -days 30 -out "$TEST_ROOT" 2>/dev/null
snapshot > "$WORK/before"
BUNDLE_BEFORE=$(sha256sum /etc/ssl/certs/ca-certificates.crt | cut -d' ' -f1)

$SUDO mkdir -p /etc/kyso/trust-anchors
$SUDO cp "$TEST_ROOT" /etc/kyso/trust-anchors/kyso-test-root.pem
$SUDO dpkg -i "$DEB" >/dev/null || fail "dpkg -i"
pass "installed $(basename "$DEB")"

[ "$(/usr/bin/kyso --version)" = "kyso $VERSION" ] || fail "kyso --version says $(/usr/bin/kyso --version)"
pass "kyso --version: kyso $VERSION"
HOME_DIR=$WORK/home; mkdir -p "$HOME_DIR"
DOCTOR=$(env -u KYSO_POLICY_FILE HOME="$HOME_DIR" /usr/bin/kyso doctor 2>&1) || fail "kyso doctor: $DOCTOR"
grep -qx "Chính sách / policy: /etc/kyso/policy.toml" <<<"$DOCTOR" || fail "doctor does not read the policy: $DOCTOR"
grep -qF "trust anchors: 1 chứng thư / 1 certificates (/etc/kyso/trust-anchors)" <<<"$DOCTOR" || fail "doctor does not see the trust anchor: $DOCTOR"
pass "kyso doctor reads /etc/kyso/policy.toml and its trust-anchor folder"
grep -qx "Exec=/usr/bin/kyso run --autostart" /etc/xdg/autostart/kyso.desktop || fail "autostart entry"
dpkg -L kyso | grep -qx /etc/xdg/autostart/kyso.desktop || fail "autostart entry not owned by the package"
pass "XDG autostart entry runs 'kyso run --autostart' at login"
printf 'autostart = false\n' > "$WORK/off.toml"
OFF=$(KYSO_POLICY_FILE="$WORK/off.toml" HOME="$HOME_DIR" timeout 10 /usr/bin/kyso run --autostart --port 0) || fail "kyso run --autostart with autostart off"
[ -z "$OFF" ] || fail "the agent started although the policy turns autostart off: $OFF"
pass "policy autostart = false: the login entry exits without starting the agent"
grep -q "^trust_anchors = \[\"/etc/kyso/trust-anchors\"\]" /etc/kyso/policy.toml || fail "policy file"
dpkg-query -W -f='${Conffiles}\n' kyso | grep -q /etc/kyso/policy.toml || fail "policy is not a conffile"
pass "policy file /etc/kyso/policy.toml (a conffile)"
[ -f /usr/share/man/man1/kyso.1.gz ] || fail "man page"
MAN=$(zcat /usr/share/man/man1/kyso.1.gz)
grep -q "^.SH NAME" <<<"$MAN" || fail "man page content"
grep -q "EXIT STATUS" <<<"$MAN" || fail "man page: exit status"
zcat /usr/share/man/man1/kyso-sign.1.gz | grep -qF '\-\-cert' || fail "man page of kyso sign"
pass "man pages (kyso.1 and one per command)"
grep -q "_kyso()" /usr/share/bash-completion/completions/kyso || fail "bash completion"
[ -s /usr/share/zsh/vendor-completions/_kyso ] && [ -s /usr/share/fish/vendor_completions.d/kyso.fish ] \
  || fail "zsh/fish completions"
pass "shell completions (bash, zsh, fish)"
# The browsers' Local Network Access policies from the policy's allowed origins; purge (below)
# must take them out again.
printf 'allowed_origins = ["https://qlvb.example.gov.vn"]\n' > "$WORK/origins.toml"
$SUDO env KYSO_POLICY_FILE="$WORK/origins.toml" /usr/bin/kyso browsers install >/dev/null || fail "kyso browsers install"
if [ -x /usr/bin/chromium ]; then
  grep -q '"LoopbackNetworkAllowedForUrls"' /etc/chromium/policies/managed/kyso.json || fail "no Chromium policy"
  grep -q 'https://qlvb.example.gov.vn' /etc/chromium/policies/managed/kyso.json || fail "the origin is not in the Chromium policy"
  BROWSERS=$(KYSO_POLICY_FILE="$WORK/origins.toml" HOME="$HOME_DIR" /usr/bin/kyso browsers status)
  grep -q "^Chromium: pre-allows the DMS origins" <<<"$BROWSERS" \
    || fail "kyso browsers status does not see the Chromium policy: $BROWSERS"
  pass "kyso browsers install: Chromium's managed policy pre-allows the DMS origin"
fi
KEY_LINE=$(sed -n 2p "$TEST_ROOT")
grep -qF "$KEY_LINE" /etc/ssl/certs/ca-certificates.crt || fail "the trust anchor is not in the system store"
pass "the agency root is in the system store (/etc/ssl/certs/ca-certificates.crt)"

$SUDO dpkg --purge kyso >/dev/null || fail "dpkg --purge"
snapshot > "$WORK/after"
if ! diff "$WORK/before" "$WORK/after" > "$WORK/diff"; then
  cat "$WORK/diff" >&2
  fail "purge left files behind (or removed some)"
fi
[ "$(sha256sum /etc/ssl/certs/ca-certificates.crt | cut -d' ' -f1)" = "$BUNDLE_BEFORE" ] || fail "the system CA bundle differs after purge"
pass "purge: /etc, /usr, /opt and the CA bundle exactly as before"
rm -rf "$WORK"
