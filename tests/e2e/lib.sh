# tests/e2e/lib.sh - shared by the end-to-end scripts (sourced, bash).
# Each check prints "ok - NAME" or "not ok - NAME" with the evidence, and the
# counts go to $E2E_RESULTS so run-all.sh can total them.

: "${NSESS_BUILDDIR:?set by make check-e2e}"
: "${NSESS_SRCDIR:?set by make check-e2e}"
NSESSION=$NSESS_BUILDDIR/nsession
# the engine program of root-made sessions: pam_nsession takes it as engine= (not installed here)
NSESS_ENGINE=$NSESS_BUILDDIR/nsession-engine
E2E_RESULTS=${E2E_RESULTS:-$(mktemp)}
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok - $*"; }
not_ok() {
	fail=$((fail + 1))
	echo "not ok - $1"
	shift
	[ $# -gt 0 ] && printf '    %s\n' "$@"
	return 0
}

# check NAME EXPECTED-SUBSTRING ACTUAL
check_contains() {
	if [[ "$3" == *"$2"* ]]; then ok "$1"; else not_ok "$1" "expected to contain: $2" "got: $3"; fi
}
check_not_contains() {
	if [[ "$3" != *"$2"* ]]; then ok "$1"; else not_ok "$1" "expected NOT to contain: $2" "got: $3"; fi
}
check_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1" "expected: $2" "got: $3"; fi
}

e2e_done() {
	echo "$pass $fail" >>"$E2E_RESULTS"
	echo "# $(basename "$0"): $pass passed, $fail failed"
}

# A test user with subordinate ids (created once, kept between runs; its
# subuid/subgid lines are ours and are replaced each run).
E2E_USER=nsetest
E2E_NOSUB=nsenosub
E2E_SUBSTART=300000

# A system account for the NAT engine (policy engine_user, --engine-user);
# created once and kept, like the test users.
E2E_ENGINE_ACCT=nsengine
e2e_engine_account() {
	id "$E2E_ENGINE_ACCT" >/dev/null 2>&1 ||
		useradd --system --no-create-home --shell /usr/sbin/nologin "$E2E_ENGINE_ACCT"
}

e2e_users() {
	id "$E2E_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$E2E_USER"
	id "$E2E_NOSUB" >/dev/null 2>&1 || useradd -m -s /bin/bash "$E2E_NOSUB"
	local f
	for f in /etc/subuid /etc/subgid; do
		touch "$f"
		sed -i "/^$E2E_USER:/d;/^$E2E_NOSUB:/d" "$f"
		echo "$E2E_USER:$E2E_SUBSTART:65536" >>"$f"
	done
}

# Run as the test user (rootless nsession), without PAM session side effects.
# A clean environment, but for the sanitizer options of an ASan test run.
as_user() {
	local u=$1 keep=() v
	shift
	for v in ASAN_OPTIONS UBSAN_OPTIONS; do
		[ -n "${!v:-}" ] && keep+=("$v=${!v}")
	done
	setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups --reset-env -- \
		${keep[@]+env "${keep[@]}"} "$@"
}

# pam_host_env VAR MODULE [PRELOAD...]: set array VAR to the environment words
# (for env) that a PAM host which is not instrumented (pamtester, su) needs to
# load MODULE: for an ASan build the ASan runtime comes first in LD_PRELOAD,
# and the host's own leaks at exit (pamtester leaks by design) are not
# checked. Returns 1 (VAR empty) when the ASan runtime cannot be found.
pam_host_env() {
	local -n out=$1
	local m=$2 rt
	shift 2
	out=()
	if ldd "$m" 2>/dev/null | grep -q libasan; then
		rt=$(gcc -print-file-name=libasan.so 2>/dev/null)
		[ -f "$rt" ] || return 1
		out=("LD_PRELOAD=$rt${*:+ $*}" "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")
	elif [ $# -gt 0 ]; then
		out=("LD_PRELOAD=$*")
	fi
	return 0
}

# The distribution default; this machine ships 0600. Restored by e2e_restore_tun.
TUN_MODE_SAVED=
e2e_tun_open() {
	TUN_MODE_SAVED=$(stat -c %a /dev/net/tun)
	chmod 0666 /dev/net/tun
}
e2e_restore_tun() {
	[ -n "$TUN_MODE_SAVED" ] && chmod "$TUN_MODE_SAVED" /dev/net/tun
	return 0
}

# Processes the test user still has (there must be none after a run).
user_procs() { pgrep -u "$1" -a 2>/dev/null || true; }
# wait_until TENTHS CMD...: poll CMD every 0.1 s, at most TENTHS times
wait_until() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}
