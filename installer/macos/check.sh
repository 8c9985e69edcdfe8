#!/usr/bin/env bash
# What can be checked of the macOS installer on Linux: the property lists parse and say what the
# agent needs, the scripts are valid sh. Building the pkg needs macOS (build-pkg.sh).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
fail() { echo "check-macos: FAIL: $*" >&2; exit 1; }
python3 - "$HERE" <<'PY' || fail "property lists"
import plistlib, sys, pathlib
here = pathlib.Path(sys.argv[1])
agent = plistlib.loads((here / "vn.kyso.agent.plist").read_bytes())
assert agent["Label"] == "vn.kyso.agent"
assert agent["ProgramArguments"] == ["/Applications/Kyso.app/Contents/MacOS/kyso", "run", "--autostart"], agent
assert agent["RunAtLoad"] is True and agent["LimitLoadToSessionType"] == "Aqua"
info = plistlib.loads((here / "Info.plist").read_bytes())
assert info["LSUIElement"] is True and info["CFBundleExecutable"] == "kyso"
PY
grep -q 'kyso browsers install' "$HERE/scripts/postinstall" || fail "postinstall writes no browser policies"
grep -q 'kyso browsers uninstall' "$HERE/uninstall.sh" || fail "uninstall.sh leaves the browser policies"
for s in "$HERE"/scripts/* "$HERE"/uninstall.sh; do sh -n "$s" || fail "$s"; done
bash -n "$HERE/build-pkg.sh" || fail build-pkg.sh
echo "check-macos: ok: LaunchAgent runs 'kyso run --autostart' in each Aqua session; Info.plist is a menu-bar app; scripts parse; the pkg writes and removes the browsers' Local Network Access policies"
