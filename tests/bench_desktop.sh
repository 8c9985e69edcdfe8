#!/usr/bin/env bash
# Desktop figures, on Xvfb + openbox with the release binary and a SoftHSM2 token:
#  - time from a /v1/sign request to the PIN dialog on screen, against the time the same
#    dialog takes to appear when started directly (`kyso dialog`), and against xmessage (a
#    bare Xlib window) — all measured in this run;
#  - the agent's idle memory with the tray (`kyso run`) against the headless `kyso serve`.
# Usage: bench_desktop.sh KYSO_BINARY BENCH_DIR (a folder made by tests/fixtures/make-token.sh)
set -euo pipefail
KYSO=$1
DIR=$2
ROUNDS=${ROUNDS:-8}
export SOFTHSM2_CONF="$DIR/softhsm2.conf" KYSO_POLICY_FILE="$DIR/no-policy.toml" KYSO_LOG=error LC_ALL=C.UTF-8

for n in $(seq 150 199); do [ -e "/tmp/.X$n-lock" ] || break; done
export DISPLAY=":$n"
Xvfb "$DISPLAY" -screen 0 1280x900x24 -nolisten tcp -noreset >/dev/null 2>&1 &
XVFB=$!
for _ in $(seq 100); do [ -S "/tmp/.X11-unix/X$n" ] && break; sleep 0.05; done
openbox >/dev/null 2>&1 &
WM=$!
PIDS=()
cleanup() { kill "${PIDS[@]}" "$WM" 2>/dev/null || true; kill "$XVFB" 2>/dev/null || true; }
trap cleanup EXIT
sleep 0.5

now_ms() { date +%s%3N; }
# Waits until a visible window whose title starts with $1 exists; prints its id.
wait_window() {
  local id=""
  for _ in $(seq 2000); do
    id=$(xdotool search --onlyvisible --name "$1" 2>/dev/null | head -n 1 || true)
    [ -n "$id" ] && { echo "$id"; return 0; }
    sleep 0.005
  done
  echo "no window $1" >&2
  return 1
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

start_agent() { # $1 = serve|run; sets AGENT (pid) and PORT
  # Memory in the worst case: the binary's file read through just before, as a copy or a
  # checksum leaves it (large page-cache folios; src/platform/memory.rs).
  cat "$KYSO" > /dev/null
  "$KYSO" --config "$DIR/config.toml" --data-dir "$DIR/data-$1" --prompter gui "$1" --port 0 \
    > "$DIR/$1.out" 2> "$DIR/$1.err" &
  PIDS+=($!)
  AGENT=$!
  for _ in $(seq 200); do grep -q "listening on https://127.0.0.1" "$DIR/$1.out" 2>/dev/null && break; sleep 0.05; done
  PORT=$(sed -n 's|listening on https://127.0.0.1:\([0-9]*\)|\1|p' "$DIR/$1.out" | head -n 1)
}

# Idle memory: each agent alone, settled for 3 s (the tray's refresher has run).
start_agent serve; SERVE_PID=$AGENT; sleep 3; SERVE_RSS=$(rss_kib "$SERVE_PID"); kill "$SERVE_PID"
start_agent run; RUN_PID=$AGENT; sleep 3; RUN_RSS=$(rss_kib "$RUN_PID")

# The PIN dialog as the agent would open it (a ui::RequestView), for the direct start.
REQUEST='{"kind":"pin","view":{"lang":"vi","documents":[{"action":"Ký phê duyệt","title":"Đo thời gian","attested":false,"source":"do trang web cung cấp"}],"certificate":{"holder":"Nguyễn Văn An","kind":"cá nhân","issuer":"Kyso Test CA G2","validUntil":"06/12/2028"},"requester":"https://bench.kyso.test","token":"Lanh dao"},"retriesLeft":null,"finalTry":false,"pinpad":false,"timeoutSecs":60}'
ID=$(openssl x509 -in "$DIR/pki/personal.pem" -outform DER | sha256sum | cut -c1-64)
BODY="{\"certificateId\":\"$ID\",\"digest\":\"$(printf 'bench' | openssl dgst -sha256 -binary | base64)\",\"digestAlgorithm\":\"SHA-256\",\"document\":{\"title\":\"Đo thời gian\",\"purpose\":\"approve\"}}"
: > "$DIR/via-agent.ms"; : > "$DIR/direct.ms"; : > "$DIR/xmessage.ms"
for _ in $(seq "$ROUNDS"); do
  t0=$(now_ms)
  curl -sS --cacert "$DIR/data-run/tls/ca.pem" -H "Origin: https://bench.kyso.test" \
    -H "Content-Type: application/json" --data-binary "$BODY" "https://127.0.0.1:$PORT/v1/sign" > "$DIR/sign.out" &
  CURL=$!
  W=$(wait_window "^Kyso")
  echo $(( $(now_ms) - t0 )) >> "$DIR/via-agent.ms"
  sleep 0.7; xdotool key Escape; wait "$CURL" || true
  grep -q USER_CANCELLED "$DIR/sign.out" || { echo "unexpected answer: $(cat "$DIR/sign.out")" >&2; exit 1; }
  while xdotool search --onlyvisible --name "^Kyso" >/dev/null 2>&1; do sleep 0.02; done

  t0=$(now_ms)
  echo "$REQUEST" | "$KYSO" dialog > /dev/null 2>&1 &
  CHILD=$!
  W=$(wait_window "^Kyso")
  echo $(( $(now_ms) - t0 )) >> "$DIR/direct.ms"
  sleep 0.7; xdotool key Escape; wait "$CHILD" || true

  t0=$(now_ms)
  xmessage -name Bare -title "Bare window" "bench" &
  CHILD=$!
  W=$(wait_window "^Bare")
  echo $(( $(now_ms) - t0 )) >> "$DIR/xmessage.ms"
  kill "$CHILD"; wait "$CHILD" 2>/dev/null || true
done
VIA=$(median < "$DIR/via-agent.ms"); DIRECT=$(median < "$DIR/direct.ms"); BARE=$(median < "$DIR/xmessage.ms")
echo "desktop: /v1/sign → PIN dialog on screen, median of $ROUNDS: ${VIA} ms"
echo "desktop:   the same dialog started directly: ${DIRECT} ms (agent's share $((VIA - DIRECT)) ms, ratio $(awk -v a="$VIA" -v b="$DIRECT" 'BEGIN { printf "%.2f", a / b }')×)"
echo "desktop:   a bare Xlib window (xmessage): ${BARE} ms (dialog / bare $(awk -v a="$DIRECT" -v b="$BARE" 'BEGIN { printf "%.1f", a / b }')×)"
echo "desktop: idle RSS with the tray (kyso run) $((RUN_RSS / 1024)) MiB vs headless (kyso serve) $((SERVE_RSS / 1024)) MiB ($(awk -v a="$RUN_RSS" -v b="$SERVE_RSS" 'BEGIN { printf "%.2f", a / b }')×)"
