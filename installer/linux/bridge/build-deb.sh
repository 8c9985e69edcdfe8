#!/usr/bin/env bash
# Builds the headless `kyso-bridge` .deb for DMS servers: the bridge alone, built without the
# dialogs and the tray (`--no-default-features --features agent`), so no OpenGL or X library
# is pulled in; a hardened systemd unit (DynamicUser, ProtectSystem=strict, a syscall filter,
# the token as a credential); /etc/kyso/bridge.toml (a conffile); the client token made at
# installation. Prints the .deb's path as its last line.
#   KYSO_HEADLESS_BIN=path   use this headless binary instead of building it
#   OUT_DIR=folder           where to put the .deb (default target/debian)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
BIN=${KYSO_HEADLESS_BIN:-}
if [ -z "$BIN" ]; then
  cargo build --release --locked --no-default-features --features agent --bin kyso \
    --manifest-path "$ROOT/Cargo.toml" --target-dir "$ROOT/target/headless" >&2
  BIN=$ROOT/target/headless/release/kyso
fi
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n 1)
ARCH=$(dpkg --print-architecture)
OUT=${OUT_DIR:-$ROOT/target/debian}
STAGE=$OUT/kyso-bridge_${VERSION}_${ARCH}
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN"

install -Dm755 -s "$BIN" "$STAGE/usr/libexec/kyso-bridge/kyso"
install -Dm644 "$HERE/kyso-bridge.service" "$STAGE/usr/lib/systemd/system/kyso-bridge.service"
install -Dm644 "$HERE/bridge.toml" "$STAGE/etc/kyso/bridge.toml"
MAN=$(mktemp -d)
"$BIN" man --dir "$MAN"
install -d "$STAGE/usr/share/man/man1"
gzip -9nc "$MAN/kyso-bridge.1" > "$STAGE/usr/share/man/man1/kyso-bridge.1.gz"
rm -rf "$MAN"
install -Dm644 "$ROOT/LICENSE" "$STAGE/usr/share/doc/kyso-bridge/LICENSE"
install -Dm644 "$ROOT/examples/README.md" "$STAGE/usr/share/doc/kyso-bridge/examples.md"
printf 'Kyso bridge\nCopyright: the Kyso authors\nLicense: Apache-2.0 (/usr/share/common-licenses/Apache-2.0)\n' \
  > "$STAGE/usr/share/doc/kyso-bridge/copyright"
install -m755 "$HERE/postinst" "$HERE/prerm" "$HERE/postrm" "$STAGE/DEBIAN/"
printf '/etc/kyso/bridge.toml\n' > "$STAGE/DEBIAN/conffiles"

SHLIBS=$(mktemp -d)
mkdir -p "$SHLIBS/debian"
printf 'Source: kyso\n\nPackage: kyso-bridge\nArchitecture: any\n' > "$SHLIBS/debian/control"
LINKED=$(cd "$SHLIBS" && dpkg-shlibdeps -O -e"$STAGE/usr/libexec/kyso-bridge/kyso" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
rm -rf "$SHLIBS"
SIZE=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
cat > "$STAGE/DEBIAN/control" <<CONTROL
Package: kyso-bridge
Version: $VERSION
Architecture: $ARCH
Maintainer: ${KYSO_MAINTAINER:-Kyso maintainers <maintainers@kyso.vn>}
Installed-Size: $SIZE
Depends: ${LINKED:-libc6}
Recommends: ca-certificates
Section: net
Priority: optional
Homepage: https://github.com/kyso-vn/kyso
Description: PDF signing service for document management systems (Kyso bridge)
 The Kyso bridge prepares PDFs for signing (signature field, the Decree 30
 stamp of each role), embeds the signatures the Kyso agent makes on the users'
 USB tokens (PAdES B-B to B-LTA) and verifies signed PDFs (certificate path,
 OCSP/CRL, later changes), over HTTP with a bearer token, for DMS servers in
 any language. Headless: no display libraries.
 .
 The service listens on 127.0.0.1:47480 (see /etc/default/kyso-bridge); the
 client token is in /etc/kyso/bridge.token, the settings in
 /etc/kyso/bridge.toml.
CONTROL
(cd "$STAGE" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$STAGE/DEBIAN/md5sums"
DEB=$OUT/kyso-bridge_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" >&2
echo "$DEB"
