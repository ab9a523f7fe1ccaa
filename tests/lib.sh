# lib.sh - TAP helpers for the shell tests (sourced).
# PJ_BUILDDIR, PJ_SRCDIR and PJ_SHARED come from the test environment.
: "${PJ_BUILDDIR:=.}" "${PJ_SRCDIR:=.}" "${PJ_SHARED:=$PJ_SRCDIR/../shared}"
PJ="$PJ_BUILDDIR/pajamas-tui"
FIXTURE="$PJ_BUILDDIR/pj-fixture"
# Polling limit for the TUI tests, in tenths of a second: generous, because a
# sanitizer build on a loaded 2-core machine can take seconds to redraw; a
# passing check never waits for it.
: "${PJ_WAIT:=400}"
tap_n=0
tap_failed=0
ok() { # ok COND-EXIT-STATUS DESCRIPTION
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $tap_n - $2"; else echo "not ok $tap_n - $2"; tap_failed=$((tap_failed + 1)); fi
}
check() { # check DESCRIPTION COMMAND...  (passes when COMMAND exits 0)
	d=$1; shift
	if "$@" >/dev/null 2>&1; then ok 0 "$d"; else ok 1 "$d"; echo "#   command failed: $*"; fi
}
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n # SKIP $1"; }
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
diag() { echo "# $*"; }
have_shared() { [ -d "$PJ_SHARED/models" ]; }
done_testing() { echo "1..$tap_n"; [ "$tap_failed" -eq 0 ]; exit $?; }
# make_tmp: sets T to a fresh folder removed when the test exits.
# (Call it directly, not in $(...): a trap set in a subshell fires at once.)
make_tmp() { T=$(mktemp -d "${TMPDIR:-/tmp}/pj-test.XXXXXX") || exit 1; trap 'rm -rf "$T"' EXIT; }
