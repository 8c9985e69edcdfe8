#!/usr/bin/env bash
# Kyso's whole workflow on this machine, no USB token needed: installs the packages, builds
# kyso and the web SDK, creates a SoftHSM2 demo token (leader "Nguyễn Văn An" and the agency
# "UBND Thành phố Thử Nghiệm"), the bundled Vietnamese draft and stamp images, then runs
# `kyso demo`: the agent on https://127.0.0.1:47400, the bridge and the demo DMS page on
# http://127.0.0.1:47480. `tests/demo.sh --headless` signs the draft as leader then clerk,
# verifies it, and prints the signed PDF's path as its last line.
# With a display, Kyso's own PIN dialog asks (demo PINs 123456 for the leader, 654321 for the
# clerk); `--headless` answers it from a file.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-deps.sh >&2
cargo build --release --locked --bin kyso >&2
(cd web-sdk && npm ci --no-audit --no-fund --silent && npm run build --silent) >&2
DEMO=${KYSO_DEMO_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/kyso-demo}
bash tests/fixtures/make-demo.sh "$DEMO" >/dev/null
export KYSO_LOG=${KYSO_LOG:-error}
exec target/release/kyso demo --dir "$DEMO" --web-dir web-sdk "$@"
