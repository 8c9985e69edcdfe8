#!/usr/bin/env bash
# Builds Kyso.pkg on macOS (pkgbuild and lipo exist only there): a universal binary in
# /Applications/Kyso.app, the LaunchAgent and the default policy as resources, and the scripts
# that install them. Prints the .pkg path as its last line.
#   SIGN_IDENTITY="Developer ID Installer: …"   sign with productsign (then notarize with
#                                               xcrun notarytool submit --wait, and staple)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n 1)
OUT=${OUT_DIR:-$ROOT/target/macos}
for target in aarch64-apple-darwin x86_64-apple-darwin; do
  cargo build --release --locked --bin kyso --target "$target" --manifest-path "$ROOT/Cargo.toml" >&2
done
STAGE=$OUT/root
rm -rf "$STAGE"
APP=$STAGE/Applications/Kyso.app/Contents
mkdir -p "$APP/MacOS" "$APP/Resources"
lipo -create -output "$APP/MacOS/kyso" \
  "$ROOT/target/aarch64-apple-darwin/release/kyso" "$ROOT/target/x86_64-apple-darwin/release/kyso"
sed "s/__VERSION__/$VERSION/" "$HERE/Info.plist" > "$APP/Info.plist"
cp "$HERE/vn.kyso.agent.plist" "$APP/Resources/"
sed 's|/etc/kyso/trust-anchors|/Library/Application Support/Kyso/trust-anchors|' "$ROOT/installer/linux/policy.toml" > "$APP/Resources/policy.toml"
chmod 755 "$HERE/scripts/"*
PKG=$OUT/Kyso-$VERSION.pkg
pkgbuild --root "$STAGE" --scripts "$HERE/scripts" --identifier vn.kyso.agent --version "$VERSION" \
  --install-location / "$OUT/Kyso-unsigned.pkg" >&2
if [ -n "${SIGN_IDENTITY:-}" ]; then
  productsign --sign "$SIGN_IDENTITY" "$OUT/Kyso-unsigned.pkg" "$PKG" >&2
else
  mv "$OUT/Kyso-unsigned.pkg" "$PKG"
fi
echo "$PKG"
