#!/usr/bin/env bash
# Compiles kyso.wxs into a per-machine MSI with wixl (msitools) and prints the .msi path as its
# last line.
#   KYSO_EXE=path/to/kyso.exe   the Windows build (cargo build --release --target
#                               x86_64-pc-windows-msvc, on Windows). Without it, a clearly
#                               marked stand-in file takes its place so the installer's tables
#                               can be built and checked on Linux; such an MSI installs nothing
#                               that runs.
#   OUT_DIR=folder              where to put the .msi (default target/windows)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n 1)
OUT=${OUT_DIR:-$ROOT/target/windows}
BUILD=$OUT/build
rm -rf "$BUILD"
mkdir -p "$BUILD"
cp "$HERE/kyso.wxs" "$BUILD/"
if [ -n "${KYSO_EXE:-}" ]; then
  cp "$KYSO_EXE" "$BUILD/kyso.exe"
  MSI=$OUT/kyso-$VERSION-x64.msi
else
  echo "build-msi: no KYSO_EXE given: packaging a STAND-IN kyso.exe (tables only, not for installing)" >&2
  printf 'Kyso stand-in: build kyso.exe on Windows (cargo build --release) and pass KYSO_EXE.\r\n' > "$BUILD/kyso.exe"
  MSI=$OUT/kyso-$VERSION-x64-standin.msi
fi
# wixl resolves sources relative to the working folder.
(cd "$BUILD" && wixl -a x64 -D KysoExe=kyso.exe -D Version="$VERSION" -o "$MSI" kyso.wxs)
echo "$MSI"
