#!/usr/bin/env bash
# Kyso on a demo token, no USB token needed: installs the packages, builds kyso, creates a
# SoftHSM2 demo token (PIN 123456 for the leader, 654321 for the clerk), lists its
# certificates, signs the digest of a sample document as the leader and checks the CMS with
# OpenSSL. Run it again to start from a fresh demo token.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-deps.sh
cargo build --release --locked --bin kyso
DEMO=${KYSO_DEMO_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/kyso-demo}
bash tests/fixtures/make-token.sh "$DEMO/token" >/dev/null
printf 'pkcs11_modules = ["/usr/lib/softhsm/libsofthsm2.so"]\ndiscover_modules = false\n' > "$DEMO/config.toml"
printf '# demo only: a PIN in a file is for tests\npin = "123456"\n' > "$DEMO/leader-pin.toml"
export SOFTHSM2_CONF="$DEMO/token/softhsm2.conf"
kyso() { target/release/kyso --config "$DEMO/config.toml" --data-dir "$DEMO/data" "$@"; }

echo "== kyso certs"
kyso certs
cat > "$DEMO/to-trinh.txt" <<'DOC'
ỦY BAN NHÂN DÂN THÀNH PHỐ THỬ NGHIỆM — Tờ trình về việc thử nghiệm ký số (văn bản mẫu).
DOC
DIGEST=$(openssl dgst -sha256 -binary "$DEMO/to-trinh.txt" | base64)
LEADER=$(openssl x509 -in "$DEMO/token/pki/personal.pem" -outform DER | sha256sum | cut -c1-64)
echo "== kyso sign (leader, scripted PIN prompt for the demo)"
KYSO_LOG=error kyso --prompter "scripted:$DEMO/leader-pin.toml" sign --cert "$LEADER" \
  --digest "$DIGEST" --title "Tờ trình thử nghiệm" --purpose approve --out "$DEMO/to-trinh.p7s" >/dev/null
echo "== openssl cms -verify"
openssl cms -verify -binary -inform DER -in "$DEMO/to-trinh.p7s" -content "$DEMO/to-trinh.txt" \
  -CAfile "$DEMO/token/pki/root.pem" -out /dev/null
echo "$DEMO/to-trinh.p7s"
