#!/usr/bin/env bash
# Regenerates src/link-order.txt: the functions the agent runs from start to idle and on its
# signing paths, in the order the release link lays them out first (build.rs hands the file to
# LLD's --symbol-ordering-file).
#
# Why: the kernel maps a binary's code 64 KiB at a time around each page it faults in. Laid out
# as the compiler leaves them, the few hundred KiB of code the agent runs at start are spread
# over a 17 MB .text, and ~100 such windows (6.6 MiB) stay resident while it idles. Packed
# together they take a few windows (issue 19). Run this after a change that moves much code
# (a new dependency, a new start-up step); a stale file only costs memory, never correctness:
# names it lists that no longer exist are skipped, new functions go after the listed ones.
#
# How: the release build, linked in the compiler's order (KYSO_LINK_ORDER=off; the profile keeps
# its symbol table for this), runs under valgrind's callgrind (every function that executes, by
# its linkage name) on the SoftHSM2 demo token: start, status, certificates, single signs (RSA
# and EC), a batch of each, idle. The kyso binary's functions among them are listed in the
# order the compiler placed them: packed, but with the neighbours the compiler chose kept in
# sequence (an order taken from callgrind's output instead cost the signing path 20–50 µs per
# request in a trial). The names must come from the release profile exactly as it is: they
# carry a hash of the profile's settings.
#
# Usage: tests/link-order.sh   (needs valgrind, softhsm2, curl; a release build, then ~1 minute)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
WORK=$(realpath -m target/link-order)
rm -rf "$WORK" && mkdir -p "$WORK"

KYSO_LINK_ORDER=off cargo build --release --locked --bin kyso
KYSO="$REPO/target/release/kyso"

bash tests/fixtures/make-token.sh "$WORK/token" >/dev/null
export SOFTHSM2_CONF="$WORK/token/softhsm2.conf" KYSO_POLICY_FILE="$WORK/no-policy.toml" KYSO_LOG=error
ORIGIN=https://order.kyso.test
printf 'pkcs11_modules = ["/usr/lib/softhsm/libsofthsm2.so"]\nallowed_origins = ["%s"]\n' "$ORIGIN" > "$WORK/config.toml"
printf 'pin = "123456"\n' > "$WORK/pin.toml"

valgrind --tool=callgrind --demangle=no --compress-strings=no --compress-pos=no \
  --callgrind-out-file="$WORK/callgrind.out" \
  "$KYSO" --config "$WORK/config.toml" --data-dir "$WORK/data" --prompter "scripted:$WORK/pin.toml" \
  serve --port 0 > "$WORK/agent.out" 2> "$WORK/valgrind.log" &
AGENT=$!
trap 'kill $AGENT 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  grep -q '^listening on' "$WORK/agent.out" 2>/dev/null && break
  sleep 0.2
done
URL=$(sed -n 's/^listening on //p' "$WORK/agent.out" | head -n 1)
[ -n "$URL" ] || { cat "$WORK/valgrind.log"; echo "the agent did not start" >&2; exit 1; }

call() { # METHOD PATH [BODY]
  curl -sS --fail-with-body --cacert "$WORK/data/tls/ca.pem" -H "Origin: $ORIGIN" \
    -H 'Content-Type: application/json' -X "$1" "$URL$2" ${3:+--data "$3"} > "$WORK/last.json"
}
id_of() { openssl x509 -in "$WORK/token/pki/$1.pem" -outform DER | sha256sum | cut -c1-64; }
DIGEST=$(printf 'kyso' | openssl dgst -sha256 -binary | base64)
call GET /v1/status
call GET /v1/certificates
for key in personal personal-ec; do
  for i in 1 2 3; do
    call POST /v1/sign "{\"certificateId\":\"$(id_of $key)\",\"digest\":\"$DIGEST\",\"digestAlgorithm\":\"SHA-256\",\"document\":{\"title\":\"order $i\",\"purpose\":\"approve\"}}"
  done
  ITEMS=$(for i in 1 2 3 4 5; do printf '{"digest":"%s","document":{"title":"batch %s","purpose":"approve"}},' "$DIGEST" "$i"; done)
  call POST /v1/sign/batch "{\"certificateId\":\"$(id_of $key)\",\"digestAlgorithm\":\"SHA-256\",\"items\":[${ITEMS%,}]}"
done
sleep 3 # idle: the token watcher's polls
kill -TERM $AGENT # (a background job ignores SIGINT; callgrind writes its file on SIGTERM)
wait $AGENT || true
trap - EXIT

# callgrind names each executed function once per object ("ob=" then "fn="); keep the kyso ones,
# in the order of their addresses in this (compiler-ordered) build.
awk -v bin="$KYSO" '
  /^ob=/ { object = substr($0, 4) }
  /^fn=/ { if (object == bin) print substr($0, 4) }
' "$WORK/callgrind.out" | LC_ALL=C sort -u > "$WORK/executed.txt"
nm "$KYSO" | awk 'NR == FNR { executed[$1]; next } ($3 in executed) && !seen[$3]++ { print $1, $3 }' \
  "$WORK/executed.txt" - | LC_ALL=C sort | cut -d' ' -f2 > src/link-order.txt
echo "src/link-order.txt: $(wc -l < src/link-order.txt) functions; \`cargo build --release\` links with it"
