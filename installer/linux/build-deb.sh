#!/usr/bin/env bash
# Builds the Kyso .deb for this machine's architecture from a release build, with dpkg-deb:
# the binary, the desktop entry and icon, the XDG autostart entry (`kyso run` at login), the
# machine policy /etc/kyso/policy.toml (a conffile), the man pages and shell completions
# (generated from the command line), and the maintainer scripts.
# Dependencies come from dpkg-shlibdeps plus the libraries the tray and dialogs load at run
# time. Prints the .deb's path as its last line.
#   KYSO_BIN=path/to/kyso   use this binary instead of `cargo build --release`
#   OUT_DIR=folder          where to put the .deb (default target/debian)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${KYSO_BIN:-}
if [ -z "$BIN" ]; then
  cargo build --release --locked --bin kyso --manifest-path "$ROOT/Cargo.toml" >&2
  BIN=$ROOT/target/release/kyso
fi
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n 1)
ARCH=$(dpkg --print-architecture)
OUT=${OUT_DIR:-$ROOT/target/debian}
STAGE=$OUT/kyso_${VERSION}_${ARCH}
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN"

install -Dm755 -s "$BIN" "$STAGE/usr/bin/kyso"
install -Dm644 "$HERE/kyso.desktop" "$STAGE/usr/share/applications/kyso.desktop"
install -Dm644 "$HERE/kyso-autostart.desktop" "$STAGE/etc/xdg/autostart/kyso.desktop"
install -Dm644 "$HERE/kyso.svg" "$STAGE/usr/share/icons/hicolor/scalable/apps/kyso.svg"
install -Dm644 "$HERE/policy.toml" "$STAGE/etc/kyso/policy.toml"
# The man pages and shell completions, generated from the command line's definition (the
# bridge's page ships with the kyso-bridge package).
MAN=$(mktemp -d)
"$BIN" man --dir "$MAN"
rm -f "$MAN/kyso-bridge.1" "$MAN/kyso-demo.1" "$MAN/kyso-bench.1"
install -d "$STAGE/usr/share/man/man1"
for page in "$MAN"/*.1; do gzip -9nc "$page" > "$STAGE/usr/share/man/man1/$(basename "$page").gz"; done
rm -rf "$MAN"
"$BIN" completions bash | install -Dm644 /dev/stdin "$STAGE/usr/share/bash-completion/completions/kyso"
"$BIN" completions zsh | install -Dm644 /dev/stdin "$STAGE/usr/share/zsh/vendor-completions/_kyso"
"$BIN" completions fish | install -Dm644 /dev/stdin "$STAGE/usr/share/fish/vendor_completions.d/kyso.fish"
install -Dm644 "$ROOT/LICENSE" "$STAGE/usr/share/doc/kyso/LICENSE"
install -Dm644 "$ROOT/CHANGELOG.md" "$STAGE/usr/share/doc/kyso/changelog.md"
install -Dm644 "$ROOT/README.md" "$STAGE/usr/share/doc/kyso/README.md"
printf 'Kyso\nCopyright: the Kyso authors\nLicense: Apache-2.0 (/usr/share/common-licenses/Apache-2.0)\n' \
  > "$STAGE/usr/share/doc/kyso/copyright"
install -m755 "$HERE/postinst" "$HERE/prerm" "$HERE/postrm" "$STAGE/DEBIAN/"
printf '/etc/kyso/policy.toml\n/etc/xdg/autostart/kyso.desktop\n' > "$STAGE/DEBIAN/conffiles"

# Shared libraries the binary links (dpkg-shlibdeps wants a debian/control to read).
SHLIBS=$(mktemp -d)
mkdir -p "$SHLIBS/debian"
printf 'Source: kyso\n\nPackage: kyso\nArchitecture: any\n' > "$SHLIBS/debian/control"
LINKED=$(cd "$SHLIBS" && dpkg-shlibdeps -O -e"$STAGE/usr/bin/kyso" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
rm -rf "$SHLIBS"
# Loaded at run time (dlopen), so dpkg-shlibdeps cannot see them: OpenGL, XKB and X input for
# the dialogs. (The tray speaks D-Bus itself: no GTK.)
RUNTIME="libgl1, libegl1, libxkbcommon-x11-0, libxcursor1, libxi6, libxrandr2"
SIZE=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
cat > "$STAGE/DEBIAN/control" <<CONTROL
Package: kyso
Version: $VERSION
Architecture: $ARCH
Maintainer: ${KYSO_MAINTAINER:-Kyso maintainers <maintainers@kyso.vn>}
Installed-Size: $SIZE
Depends: ${LINKED:+$LINKED, }$RUNTIME
Recommends: libnss3-tools, ca-certificates, openssl, pcscd, opensc-pkcs11, libnotify-bin
Section: utils
Priority: optional
Homepage: https://github.com/kyso-vn/kyso
Description: digital signing agent for Vietnamese agencies (USB token, PKCS#11)
 Kyso is the agent a browser-based document management system (DMS) calls on
 https://127.0.0.1:47400 to sign documents with the user's USB token. It asks
 the PIN in its own dialog, signs through PKCS#11 and returns a CAdES signature
 that the DMS embeds in the PDF. A tray icon shows the token's state.
 .
 The agent starts at login (XDG autostart). The machine policy in
 /etc/kyso/policy.toml sets the allowed DMS origins, token drivers and trust
 anchors; each user's local certificate authority is created at that user's
 first run.
CONTROL
(cd "$STAGE" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$STAGE/DEBIAN/md5sums"
DEB=$OUT/kyso_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" >&2
echo "$DEB"
