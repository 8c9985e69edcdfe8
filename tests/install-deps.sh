#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and test Kyso: the SoftHSM2 token, OpenSC
# (pkcs11-tool), OpenSSL (the CMS verifier), poppler-utils (pdfsig), curl, certutil
# (libnss3-tools), qpdf, Debian's Chromium for the browser tests, Xvfb + openbox + xdotool +
# ImageMagick to drive and photograph the native dialogs, a D-Bus session bus for the tray,
# msitools + wixl for the MSI, php-cli + php-curl for the PHP example (the JDK of this machine
# runs the Java one), and pyHanko (PyPI, in a venv).
# Skips what is there.
set -euo pipefail
packages=(softhsm2 opensc openssl poppler-utils qpdf fonts-liberation2 pkg-config ca-certificates curl libnss3-tools chromium
  xvfb openbox xdotool imagemagick libgl1-mesa-dri libgl1 libglx-mesa0 libegl1 libxkbcommon-x11-0 libxcursor1 libxi6
  libxrandr2 dbus-daemon dbus-bin dpkg-dev msitools wixl php-cli php-curl)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v java >/dev/null || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq default-jdk-headless >/dev/null
command -v cargo >/dev/null || { echo "cargo is missing: install Rust (rustup) first" >&2; exit 1; }
# pyHanko, the independent PAdES verifier of the PDF tests, in a venv under target/.
VENV="$(dirname "$0")/../target/kyso-venv"
if [ ! -x "$VENV/bin/pyhanko" ]; then
  echo "installing pyHanko into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'pyhanko==0.38.0' 'pyhanko-cli==0.6.0'
fi
