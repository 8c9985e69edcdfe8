#!/usr/bin/env bash
# Builds the MSI with wixl and checks its tables with msiinfo: the public properties of a
# silent install, the policy values under HKLM\SOFTWARE\Policies\Kyso, the Run entry, the
# per-machine scope, the file and the deferred trust-roots action. (Installing it needs
# Windows; see the README.)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
fail() { echo "test-msi: FAIL: $*" >&2; exit 1; }
pass() { echo "test-msi: ok: $*"; }
MSI=$(bash "$HERE/build-msi.sh" | tail -n 1)
[ -s "$MSI" ] || fail "no MSI"
pass "wixl built $(basename "$MSI")"
export_table() { msiinfo export "$MSI" "$1" | tr -d '\r'; }
TABLES=$(msiinfo tables "$MSI" | tr -d '\r')
for t in Property Registry Component File CustomAction InstallExecuteSequence Shortcut Upgrade; do
  grep -qx "$t" <<<"$TABLES" || fail "no $t table"
done
PROPERTY=$(export_table Property)
grep -qP '^ALLUSERS\t1$' <<<"$PROPERTY" || fail "not per-machine: $PROPERTY"
grep -qP '^AUTOSTART\t1$' <<<"$PROPERTY" || fail "AUTOSTART default"
grep -qP '^REVOCATION_CHECK\twarn$' <<<"$PROPERTY" || fail "REVOCATION_CHECK default"
pass "per-machine (ALLUSERS=1), AUTOSTART defaults to 1, REVOCATION_CHECK to warn"
REGISTRY=$(export_table Registry)
expect_reg() { # key name value
  grep -qP "\t2\t\Q$1\E\t$2\t\Q$3\E\t" <<<"$REGISTRY" || fail "no HKLM\\$1 $2 = $3 in: $REGISTRY"
}
expect_reg 'SOFTWARE\Policies\Kyso' AllowedOrigins '[ALLOWED_ORIGINS]'
expect_reg 'SOFTWARE\Policies\Kyso' Pkcs11Modules '[PKCS11_MODULES]'
expect_reg 'SOFTWARE\Policies\Kyso' TrustAnchors '[TRUST_ROOTS]'
expect_reg 'SOFTWARE\Policies\Kyso' Autostart '[AUTOSTART]'
expect_reg 'SOFTWARE\Policies\Kyso' RevocationCheck '[REVOCATION_CHECK]'
expect_reg 'SOFTWARE\Policies\Kyso' AttestedOrigins '[ATTESTED_ORIGINS]'
expect_reg 'SOFTWARE\Policies\Kyso' TicketRequired '[TICKET_REQUIRED]'
pass "ALLOWED_ORIGINS, PKCS11_MODULES, TRUST_ROOTS, AUTOSTART, REVOCATION_CHECK, ATTESTED_ORIGINS, TICKET_REQUIRED -> HKLM\\SOFTWARE\\Policies\\Kyso"
expect_reg 'SOFTWARE\Microsoft\Windows\CurrentVersion\Run' Kyso '"[INSTALLDIR]kyso.exe" run --autostart'
pass "Run entry: \"[INSTALLDIR]kyso.exe\" run --autostart"
export_table File | grep -qP '\tkyso.exe\t' || fail "kyso.exe not in the File table"
export_table Directory | grep -q 'ProgramFiles64Folder' || fail "not under Program Files (x64)"
pass "kyso.exe under Program Files\\Kyso"
ACTION=$(export_table CustomAction)
# 3154 = 18 (run an installed file) + 64 (ignore its exit code) + 1024 (deferred) + 2048 (no impersonation)
grep -qP '^InstallTrustRoots\t3154\tkyso.exe\ttrust anchors "\[TRUST_ROOTS\]"' <<<"$ACTION" || fail "trust-roots action: $ACTION"
export_table InstallExecuteSequence | grep -qP '^InstallTrustRoots\tTRUST_ROOTS AND NOT REMOVE\t' || fail "trust-roots action not sequenced"
pass "TRUST_ROOTS -> kyso.exe trust anchors, deferred as SYSTEM, install only"
grep -qP '^InstallBrowserPolicies\t3154\tkyso.exe\tbrowsers install' <<<"$ACTION" || fail "browser-policies action: $ACTION"
grep -qP '^RemoveBrowserPolicies\t3154\tkyso.exe\tbrowsers uninstall' <<<"$ACTION" || fail "browser-policies removal: $ACTION"
SEQUENCE=$(export_table InstallExecuteSequence)
grep -qP '^InstallBrowserPolicies\tNOT REMOVE\t' <<<"$SEQUENCE" || fail "browser policies not sequenced at install"
grep -qP '^RemoveBrowserPolicies\tREMOVE="ALL"\t' <<<"$SEQUENCE" || fail "browser policies not removed at uninstall"
pass "browser Local Network Access policies: kyso.exe browsers install / uninstall, as SYSTEM"
export_table Upgrade | grep -q '6B7F3C2E-4A51-4E0B-9C1D-8E2F5A6B7C3D' || fail "upgrade code"
pass "major upgrades replace older versions (Upgrade table)"
# The Group Policy template writes the values the agent reads (src/config.rs).
ADMX=$HERE/admx/kyso.admx
for name in AllowedOrigins Pkcs11Modules TrustAnchors UserApprovals Autostart RevocationCheck AttestedOrigins TicketRequired; do
  grep -q "valueName=\"$name\"" "$ADMX" || fail "ADMX lacks $name"
  grep -qE "(text|paths)\(\"$name\"\)" "$HERE/../../src/config.rs" || fail "the agent does not read $name"
  for lang in en-US vi-VN; do grep -q "id=\"$name\"" "$HERE/admx/$lang/kyso.adml" || fail "$lang ADML lacks $name"; done
done
[ "$(grep -c 'key="SOFTWARE\\Policies\\Kyso"' "$ADMX")" -eq 8 ] || fail "ADMX policies outside SOFTWARE\\Policies\\Kyso"
python3 -c 'import sys, xml.dom.minidom as m; [m.parse(f) for f in sys.argv[1:]]' "$ADMX" "$HERE"/admx/*/kyso.adml || fail "ADMX/ADML not well-formed"
pass "ADMX/ADML (en-US, vi-VN): the same eight values, all read by the agent"
