#!/usr/bin/env bash
# The NAT engine under valgrind memcheck (issue: hardening, "the engine under
# valgrind"). Needs root: the engine tests of the ns tier create a network
# namespace with a real tap0, run the real engine (libslirp) on it in the
# test process and send real frames: ARP, TCP to a host loopback listener
# (denied and allowed), an inbound --publish connection, DNS through the
# forwarder to a resolver on host loopback.
#
# Why those tests and not a whole `nsession run`: Debian 12's valgrind
# (3.19) answers pidfd_open with ENOSYS, and nsession refuses to run without
# pidfds (processes are never addressed by pid number), so under valgrind it
# stops at its first fork. The engine tests use no pidfd and load no seccomp
# filter (whose allowlist would kill valgrind's own syscalls): they are the
# engine's whole code path with only the process around it left out.
#
# Each process valgrind followed must end with 0 errors and nothing
# definitely or indirectly lost; "possibly lost" and "still reachable" are
# glib's and libslirp's one-time caches and are not counted.
set -u
. "$NSESS_SRCDIR/tests/e2e/lib.sh"

NS=$NSESS_BUILDDIR/tests/ns/ns
if [ "$(id -u)" != 0 ]; then
	not_ok "e2e valgrind tests need root"
	e2e_done
	exit 1
fi
if ! command -v valgrind >/dev/null 2>&1; then
	not_ok "valgrind is installed" "install the Debian package valgrind"
	e2e_done
	exit 1
fi
if [ ! -x "$NS" ] || grep -q -e '--enable-asan' "$NSESS_BUILDDIR/config.status" 2>/dev/null; then
	not_ok "the ns test program is built without ASan" "missing or ASan build: $NS (make check-e2e builds it)"
	e2e_done
	exit 1
fi

logs=$(mktemp -d /tmp/nsess-vg.XXXXXX)
trap 'rm -rf "$logs"' EXIT

start=$(date +%s)
out=$(timeout 600 valgrind --trace-children=yes --leak-check=full \
	--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
	--log-file="$logs/vg.%p" "$NS" -j1 --filter 'engine/*' 2>&1)
rc=$?
secs=$(($(date +%s) - start))
synth=$(grep -a 'Synthesis:' <<<"$out" | tail -n 1)
check_eq "engine tests under valgrind: the run ends normally" "0" "$rc"
# as many as the source defines, so a new engine test cannot go unwatched
want=$(grep -c '^Test(engine,' "$NSESS_SRCDIR/tests/ns/test_engine.c")
check_contains "engine tests under valgrind: all $want pass" \
	"Tested: $want | Passing: $want | Failing: 0 | Crashing: 0" "$synth"

n=0
bad=()
for f in "$logs"/vg.*; do
	[ -f "$f" ] || continue
	grep -q 'ERROR SUMMARY' "$f" || continue # a process that exec'd something else
	n=$((n + 1))
	grep -q 'ERROR SUMMARY: 0 errors' "$f" || bad+=("$f: $(grep 'ERROR SUMMARY' "$f")")
	if grep -E -q '(definitely|indirectly) lost: [1-9]' "$f"; then
		bad+=("$f: $(grep -E '(definitely|indirectly) lost' "$f" | tr -s ' ' | tr '\n' ' ')")
	fi
done
# one Criterion runner and one worker per test at the least
check_eq "engine tests under valgrind: every test's process was watched" "yes" \
	"$([ "$n" -ge 16 ] && echo yes || echo "only $n valgrind summaries")"
if [ ${#bad[@]} -eq 0 ]; then
	ok "engine under valgrind: no memory errors, nothing definitely or indirectly lost"
else
	not_ok "engine under valgrind: no memory errors, nothing definitely or indirectly lost" "${bad[@]}"
	for f in "$logs"/vg.*; do
		grep -q 'ERROR SUMMARY: [1-9]' "$f" && grep -v '^==[0-9]*== *$' "$f" | sed -n '6,60p' | sed 's/^/    /'
	done
fi
echo "# valgrind: $n processes judged in ${secs} s"

e2e_done
[ "$fail" -eq 0 ]
