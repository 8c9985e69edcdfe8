#!/usr/bin/env bash
# The signing step of the examples, on this machine: `kyso sign` on a SoftHSM2 token, the PIN
# from a file. In a real DMS this step is the user's browser: the page passes the digest to the
# web SDK (`kyso.sign({certificateId, digest, document})`), the agent asks the PIN in its own
# dialog and the page sends the CMS back to the server.
#   sign-with-kyso.sh DIGEST_BASE64   prints the CMS, base64, on stdout
# Needs KYSO_BIN, KYSO_CONFIG, KYSO_PIN_FILE, KYSO_CERT (the certificate id) and SOFTHSM2_CONF.
set -euo pipefail
out=$(mktemp)
trap 'rm -f "$out"' EXIT
KYSO_LOG=error "$KYSO_BIN" --config "$KYSO_CONFIG" --data-dir "$(dirname "$KYSO_CONFIG")/data" \
  --prompter "scripted:$KYSO_PIN_FILE" \
  sign --cert "$KYSO_CERT" --digest "$1" --title "Example" --out "$out" >/dev/null
base64 -w0 "$out"
