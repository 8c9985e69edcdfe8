#!/bin/sh
# Removes Kyso from a Mac (run with sudo). Users' own data (~/Library/Application Support/
# vn.Kyso.kyso) stays theirs; `kyso trust uninstall` as each user removes their local CA first.
user=$(stat -f %Su /dev/console 2>/dev/null || true)
if [ -n "$user" ] && [ "$user" != root ]; then
  launchctl bootout "gui/$(id -u "$user")" /Library/LaunchAgents/vn.kyso.agent.plist 2>/dev/null || true
fi
# Our keys in the browsers' managed preferences (what an MDM or IT set there stays).
/Applications/Kyso.app/Contents/MacOS/kyso browsers uninstall >/dev/null 2>&1 || true
rm -f /Library/LaunchAgents/vn.kyso.agent.plist
rm -rf /Applications/Kyso.app
rm -rf "/Library/Application Support/Kyso"
pkgutil --forget vn.kyso.agent >/dev/null 2>&1 || true
