#!/usr/bin/env bash
# Runs every test of Kyso: format and lint checks, unit and integration tests against real
# SoftHSM2 tokens (with the fault-injecting module), then the benchmark, which prints figures.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-deps.sh
# A one-off run gains nothing from incremental state (0.6 GB); the free space is printed because
# a full disk shows up only as a linker killed by SIGBUS.
export CARGO_INCREMENTAL=0
df -h . | tail -n 1 | awk '{print "   disk: " $4 " free of " $2}'

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== the boundaries: the PDF library alone (no token, server, TLS agent or GUI), the headless agent"
cargo check --locked --no-default-features --features pdf --lib
cargo test --locked --no-default-features --features pdf --lib 2>&1 | tail -n 3
cargo check --locked --no-default-features --features agent --lib --bin kyso
echo "== build the fault-injecting PKCS#11 module"
cargo build --locked -p kyso-fault-token
echo "== cargo test (the mutation fuzzer runs for a minute within it)"
KYSO_FUZZ_SECS=60 cargo test --workspace --locked 2>&1 | tee target/kyso-test.log

echo "== the contract: OpenAPI lint (Redocly), then the web SDK's build and tests (its generated"
echo "   types and messages checked against src/openapi.json and src/i18n/*.ftl), then the package"
echo "   as npm would publish it (publint, arethetypeswrong)"
(cd web-sdk && npm ci --no-audit --no-fund --silent \
  && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true npm run --silent lint:openapi \
  && npm test \
  && npm run --silent lint:package) 2>&1 | tee target/kyso-sdk-test.log

echo "== release build"
cargo build --release --locked --bin kyso

echo "== Linux package: build the .deb, install it with dpkg, check it, purge it"
KYSO_BIN="$(realpath target/release/kyso)" bash installer/linux/test-deb.sh 2>&1 | tee target/kyso-deb.log

echo "== the bridge for DMS servers: a headless build, the kyso-bridge .deb (no display library),"
echo "   its service started, the examples (Python, Java, PHP, Node) signing through it, purged"
bash installer/linux/bridge/test-deb.sh 2>&1 | tee target/kyso-bridge-deb.log

echo "== Windows MSI (wixl, tables checked with msiinfo) and the macOS installer files"
bash installer/windows/test-msi.sh 2>&1 | tee target/kyso-msi.log
bash installer/macos/check.sh 2>&1 | tee target/kyso-macos.log

echo "== browser end to end: the demo DMS page in Chromium trusting the agent's CA"
(cd web-sdk && KYSO_BIN="$(realpath ../target/release/kyso)" KYSO_REPO="$(realpath ..)" npm run e2e) 2>&1 \
  | tee target/kyso-e2e.log

echo "== the README's demo command, headless: leader, clerk, verify"
SIGNED=$(KYSO_DEMO_DIR="$(realpath -m target/kyso-demo)" bash tests/demo.sh --headless --agent-port 0 --bridge-port 0 | tail -n 1)
pdfsig "$SIGNED" | grep -c "Signature is Valid." | grep -qx 2
echo "demo signed $SIGNED: 2 valid signatures (pdfsig)"

echo "== benchmark (release build, SoftHSM2): raw C_Sign vs kyso's CMS path"
BENCH_DIR=target/kyso-bench
bash tests/fixtures/make-token.sh "$BENCH_DIR" >/dev/null
BENCH_DIR=$(realpath "$BENCH_DIR")
printf 'pkcs11_modules = ["/usr/lib/softhsm/libsofthsm2.so"]\ndiscover_modules = false\nallowed_origins = ["https://bench.kyso.test"]\n' > "$BENCH_DIR/config.toml"
printf 'pin = "123456"\n' > "$BENCH_DIR/pin.toml"
id_of() { openssl x509 -in "$BENCH_DIR/pki/$1.pem" -outform DER | sha256sum | cut -c1-64; }
SOFTHSM2_CONF="$BENCH_DIR/softhsm2.conf" KYSO_POLICY_FILE="$BENCH_DIR/no-policy.toml" KYSO_LOG=error \
  target/release/kyso --config "$BENCH_DIR/config.toml" --data-dir "$BENCH_DIR/data" \
  --prompter "scripted:$BENCH_DIR/pin.toml" \
  bench --cert "$(id_of personal)" --cert "$(id_of personal-ec)" --iterations 1000
SOFTHSM2_CONF="$BENCH_DIR/softhsm2.conf" KYSO_POLICY_FILE="$BENCH_DIR/no-policy.toml" KYSO_LOG=error \
  target/release/kyso --config "$BENCH_DIR/config.toml" --data-dir "$BENCH_DIR/data" \
  --prompter "scripted:$BENCH_DIR/pin.toml" \
  bench --cert "$(id_of personal)" --iterations 500 --agent | tail -n 9
SOFTHSM2_CONF="$BENCH_DIR/softhsm2.conf" KYSO_POLICY_FILE="$BENCH_DIR/no-policy.toml" KYSO_LOG=error \
  target/release/kyso --config "$BENCH_DIR/config.toml" --data-dir "$BENCH_DIR/data" \
  --prompter "scripted:$BENCH_DIR/pin.toml" \
  bench --cert "$(id_of personal-ec)" --iterations 500 --agent | tail -n 9

# The release link packs the code the agent runs at start and on its signing paths
# (src/link-order.txt, build.rs): how much of the list this build still has.
echo "release link order: $(nm target/release/kyso | awk 'NR == FNR { listed[$1]; next } $3 in listed' src/link-order.txt - | wc -l) of $(wc -l < src/link-order.txt) listed functions found in the binary (tests/link-order.sh regenerates the list)"

echo "== desktop benchmark: /v1/sign to the PIN dialog on screen, idle memory with the tray"
bash tests/bench_desktop.sh "$(realpath target/release/kyso)" "$BENCH_DIR"

echo "== PDF benchmark: prepare + embed vs one read and vs pyHanko (1, 10, 100 MB)"
python3 tests/bench_pdf.py "$(realpath target/release/kyso)" "$(realpath target/kyso-venv/bin/pyhanko)" \
  "$(realpath -m target/kyso-bench-pdf)" "$BENCH_DIR"

echo "== bridge memory: a 100 MiB PDF through prepare and embed, multipart vs the CLI (and vs JSON)"
rm -rf target/kyso-bench-bridge && mkdir -p target/kyso-bench-bridge
python3 tests/bench_bridge_memory.py "$(realpath target/release/kyso)" "$BENCH_DIR" \
  "$(realpath target/kyso-bench-bridge)" 100

echo "== status check before signing: warm cache vs no check, a cold check overlapping the dialog"
rm -rf target/kyso-bench-status && mkdir -p target/kyso-bench-status
python3 tests/bench_status.py "$(realpath target/release/kyso)" "$(realpath target/kyso-bench-status)"

# One closing line for the whole run: cargo's per-binary results, node's, and the installer checks.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     /^# pass / { p += $3 } /^# fail / { f += $3 }
     /^ *(test-deb|test-bridge-deb|test-msi|check-macos|examples): ok:/ { p += 1 }
     /^ *(test-deb|test-bridge-deb|test-msi|check-macos|examples): FAIL:/ { f += 1 }
     END { printf "tests: %d passed, %d failed\n", p, f }' target/kyso-test.log target/kyso-sdk-test.log target/kyso-e2e.log \
  target/kyso-deb.log target/kyso-bridge-deb.log target/kyso-msi.log target/kyso-macos.log
