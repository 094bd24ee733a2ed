#!/usr/bin/env bash
# End-to-end reliability of nsession (issue: hardening and the reliability
# suite; shared/SECURITY-CHECKS.md, invariants 1 and 9). Needs root. Checks:
#   1. the fd table of a session's command: `nsession run` rootless and
#      --user, and `su -l` through pam_nsession (libpam-wrapper);
#   2. the engine killed mid-session (run --user, su -l, pamtester):
#      no zombies, no orphans, close_session still succeeds, no state left;
#   3. the PAM host (su) killed: holder and engine follow within 5 s; the
#      stale /run/nsession record is reported by `nsession doctor`;
#   4. the CLI parent killed: the command must not live on unsupervised;
#   5. 200 sequential and 200 concurrent cycles of `nsession run` and of
#      pamtester open_session close_session leak no processes, fds, mounts,
#      /run/nsession entries, namespaces or host links (timings: # lines);
#   6. the host mount table is byte-identical after 50 sessions.
# What it sets up (all undone by the EXIT trap): the test users (lib.sh),
# /dev/net/tun 0666, a private PAM service dir and policy under a mktemp dir,
# and for the concurrent PAM cycles only /etc/pam.d/nsess-rel-<pid>.
# Every wait is bounded; timings are printed, never asserted.
set -u
. "$NSESS_SRCDIR/tests/e2e/lib.sh"

if [ "$(id -u)" != 0 ]; then
	not_ok "e2e reliability tests need root"
	e2e_done
	exit 1
fi

MODULE=$NSESS_BUILDDIR/.libs/pam_nsession.so
PWRAP_LIB=$(dpkg -L libpam-wrapper 2>/dev/null | grep '/libpam_wrapper\.so$' | head -n 1)
for need in pamtester su ip setpriv timeout; do
	command -v "$need" >/dev/null 2>&1 || { not_ok "tool $need is installed"; e2e_done; exit 1; }
done
if [ ! -x "$NSESSION" ] || [ ! -f "$MODULE" ]; then
	not_ok "nsession and the module are built" "missing: $NSESSION or $MODULE (run make in \$NSESS_BUILDDIR)"
	e2e_done
	exit 1
fi
if [ -z "$PWRAP_LIB" ] || [ ! -f "$PWRAP_LIB" ]; then
	not_ok "libpam_wrapper.so is installed" "install the Debian package libpam-wrapper"
	e2e_done
	exit 1
fi

U=$E2E_USER
wd=$(mktemp -d /tmp/nsess-rel.XXXXXX) # root 0700: PAM service dir, policy, logs
SVC=nsess-rel-$$                      # the pamtester service
SYS_SVC=/etc/pam.d/$SVC               # the same, for pamtester without the wrapper (5d)
sys_svc_ours=0
bgpids=()   # background jobs of this script
ourpids=()  # processes left behind by a check, killed by the trap
ourstate=() # /run/nsession records left behind by a check, removed by the trap

# rm_record NAME: remove one stale record (a name we read from our own session)
rm_record() {
	[[ "$1" =~ ^[0-9a-f]{16}$ ]] || return 0
	rm -f "/run/nsession/$1/session"
	rmdir "/run/nsession/$1" 2>/dev/null
	return 0
}
cleanup() {
	local p
	for p in "${bgpids[@]}" "${ourpids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	for p in "${ourstate[@]}"; do rm_record "$p"; done
	[ "$sys_svc_ours" = 1 ] && rm -f "$SYS_SVC"
	e2e_restore_tun
	rm -rf "$wd"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

e2e_users
e2e_tun_open
HOST_NET=$(readlink /proc/self/ns/net)

# ---- helpers ------------------------------------------------------------------
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
alive() { [ -d "/proc/$1" ] && [ "$(pstate "$1")" != Z ]; }
pstate() { awk '{ sub(/.*\) /, ""); print substr($0, 1, 1) }' "/proc/$1/stat" 2>/dev/null; }
state_list() { ls -A /run/nsession 2>/dev/null | sort; }
# entries of /run/nsession that are not in the baseline $1
new_state() { comm -13 <(printf '%s\n' "$1" | sed '/^$/d') <(state_list); }
rec_val() { sed -n "s/^$2=//p" "/run/nsession/$1/session" 2>/dev/null | head -n 1; }
# my_record ANCESTOR: the new record (since $base) whose opener descends from
# ANCESTOR (another test's session may come and go meanwhile)
my_record() {
	local r p i
	for r in $(new_state "$base"); do
		p=$(rec_val "$r" opener_pid)
		i=0
		while [ $i -lt 6 ] && [ -n "$p" ] && [ "$p" -gt 1 ]; do
			[ "$p" = "$1" ] && { echo "$r"; return 0; }
			p=$(awk '{ sub(/.*\) /, ""); print $2 }' "/proc/$p/stat" 2>/dev/null)
			i=$((i + 1))
		done
	done
	return 1
}
# engine_record PID: the record of PID's session once it names an engine
# (waits 5 s at most; empty if none)
engine_record() {
	local pid=$1 r # seen by the eval, which runs inside wait_until
	wait_until 50 eval 'r=$(my_record "$pid") && [ -n "$(rec_val "$r" engine_pid)" ]'
	my_record "$pid"
}
gone_record() { [ ! -e "/run/nsession/$1" ] && echo gone || echo "/run/nsession/$1 is still there"; }
# zombies of a session (the user's, a holder's in the subordinate range, or
# nsession's own) whose parent is still there to reap them; once the parent
# is gone they are init's (this machine's pid 1 reaps lazily, a while later)
zombies() {
	ps -eo pid=,ppid=,uid=,stat=,comm= | awk -v u="$(id -u "$U")" -v s="$E2E_SUBSTART" '
	$4 ~ /^Z/ && $2 != 1 && ($3 == u || ($3 >= s && $3 < s + 65536) || $5 ~ /^(nsession|pamtester|su)$/) {
		print $1 " ppid=" $2 " uid=" $3 " " $5 }' | sort
}
new_zombies() { comm -13 <(printf '%s\n' "$1" | sed '/^$/d') <(zombies); }
pslist() {
	local p
	for p in "$@"; do
		printf '%s uid=%s state=%s %s\n' "$p" "$(stat -c %u "/proc/$p" 2>/dev/null)" "$(pstate "$p")" \
			"$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | head -c 120)"
	done
}
info() { echo "# $*"; }
# leftover PID...: those of the pids that still exist (zombies too), described
leftover() {
	local p
	for p in "$@"; do
		[ -n "$p" ] && [ -d "/proc/$p" ] && pslist "$p"
	done
	return 0
}

# nofds CMD...: run CMD with every fd above 2 closed (a make jobserver or a
# harness must not decide what a session's fd table looks like)
nofds() {
	(
		me=$BASHPID
		for fd in "/proc/$me/fd/"*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec "$@"
	)
}

POL=$wd/policy.conf
cat >"$POL" <<'EOF'
# nsession e2e reliability: everyone sandboxed
sandbox = yes
EOF
chmod 644 "$POL"
svc=$wd/pam.d
mkdir "$svc"
# su and pamtester load the module; for an ASan build see pam_host_env (lib.sh)
if ! pam_host_env PAM_HOST "$MODULE" "$PWRAP_LIB" || ! pam_host_env PAM_HOST_NOWRAP "$MODULE"; then
	not_ok "an ASan module: libasan.so for the preload" \
		"gcc -print-file-name=libasan.so: $(gcc -print-file-name=libasan.so 2>&1)"
fi
PW=(env PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$svc" "${PAM_HOST[@]}")
for s in su su-l "$SVC"; do
	cat >"$svc/$s" <<EOF
auth	sufficient	pam_rootok.so
auth	required	pam_deny.so
account	required	pam_permit.so
session	required	$MODULE engine=$NSESS_ENGINE join=open config=$POL
EOF
done
cat >"$svc/other" <<'EOF'
auth	required	pam_deny.so
account	required	pam_deny.so
session	required	pam_deny.so
EOF
# the same service with a pause after the module: open_session runs the hook,
# which waits (at most 10 s) until the host has done its part
cat >"$wd/hook.sh" <<EOF
#!/bin/sh
[ "\$PAM_TYPE" = open_session ] || exit 0
: >"$wd/hook.ready"
i=0
while [ ! -e "$wd/hook.go" ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
exit 0
EOF
chmod 755 "$wd/hook.sh"
cp "$svc/$SVC" "$svc/$SVC-hook"
echo "session	optional	pam_exec.so quiet $wd/hook.sh" >>"$svc/$SVC-hook"

ZOMBIES0=$(zombies)

# ---- 1. fd allowlist inside sessions ------------------------------------------
# fd_verdict: ls -l /proc/self/fd of the command on stdin. Allowed: 0, 1, 2 and
# one fd on /proc/<pid>/fd (the listing's own). Prints OK or the offenders.
fd_verdict() {
	sed -n 's/.* \([0-9][0-9]*\) -> \(.*\)$/\1 \2/p' | awk '
	{ n++ }
	$1 == 0 || $1 == 1 || $1 == 2 { std++; if ($2 ~ /tun|socket:|anon_inode|\/run\/nsession|(net|user|mnt):\[/) bad = bad " [" $0 "]"; next }
	!own && $2 ~ /^\/proc\/[0-9]+\/fd$/ { own = 1; next }
	{ bad = bad " [" $0 "]" }
	END { if (n == 0) print "no listing"; else if (std != 3) print "0, 1, 2 not all open" bad;
	      else if (bad != "") print "unexpected fds:" bad; else print "OK" }'
}
check_fds() { # LABEL LISTING
	local v
	v=$(fd_verdict <<<"$2")
	if [ "$v" = OK ]; then ok "$1: only fds 0, 1, 2 (and the listing's own) are open"; else
		not_ok "$1: only fds 0, 1, 2 (and the listing's own) are open" "$v" "listing: $(tr '\n' '|' <<<"$2")"; fi
}
ls_fds=(ls -l /proc/self/fd)

out=$(nofds timeout 30 setpriv --reuid="$U" --regid="$(id -g "$U")" --init-groups --reset-env -- \
	"$NSESSION" run -- "${ls_fds[@]}" </dev/null 2>"$wd/err")
check_fds "fds, rootless nsession run" "$out$(sed 's/^/stderr: /' "$wd/err")"
out=$(nofds timeout 30 "$NSESSION" run --user "$U" -- "${ls_fds[@]}" </dev/null 2>"$wd/err")
check_fds "fds, root nsession run --user" "$out$(sed 's/^/stderr: /' "$wd/err")"
# root's own open files must not reach the user's command either
echo secret >"$wd/secret"
chmod 600 "$wd/secret"
out=$(nofds bash -c 'exec 7<"$1" 8<>/dev/net/tun 9<>/dev/null; shift; exec "$@"' - "$wd/secret" \
	timeout 30 "$NSESSION" run --user "$U" -- "${ls_fds[@]}" </dev/null 2>"$wd/err")
check_fds "fds, root nsession run --user with fds 7-9 open in the caller" "$out$(sed 's/^/stderr: /' "$wd/err")"
out=$(nofds timeout 30 "${PW[@]}" su -l "$U" -c "${ls_fds[*]}" </dev/null 2>"$wd/err")
check_fds "fds, su -l through pam_nsession" "$out$(sed 's/^/stderr: /' "$wd/err")"
# (run.sh checks resolv.conf/hosts for nsession run; here for a PAM login)
out=$(timeout 30 "${PW[@]}" su -l "$U" -c 'grep -E " /etc/(resolv.conf|hosts) " /proc/self/mountinfo | cut -d" " -f5,6' </dev/null 2>&1)
check_contains "su -l: resolv.conf is mounted read-only" "/etc/resolv.conf ro," "$out"
check_contains "su -l: hosts is mounted read-only" "/etc/hosts ro," "$out"

# ---- 2. the engine killed mid-session ------------------------------------------
# 2a. nsession run --user: the engine is nsession's child running as $U in the
# host netns; the command is the one in the session netns.
"$NSESSION" run --user "$U" -- sleep 4 </dev/null >"$wd/k2.out" 2>&1 &
np=$!
bgpids+=("$np")
eng='' cmd='' holder=''
kids() {
	local c
	eng='' cmd='' holder=''
	for c in $(pgrep -P "$np"); do
		if [ "$(stat -c %u "/proc/$c" 2>/dev/null)" = "$(id -u "$U")" ]; then
			if [ "$(readlink "/proc/$c/ns/net" 2>/dev/null)" = "$HOST_NET" ]; then eng=$c; else cmd=$c; fi
		else
			holder=$c
		fi
	done
	[ -n "$eng" ] && [ -n "$cmd" ] && [ -n "$holder" ] && [ "$(cat "/proc/$cmd/comm" 2>/dev/null)" = sleep ]
}
if wait_until 50 kids; then
	ok "engine kill (run --user): found the holder, the engine and the command"
	info "engine kill (run --user): holder $holder, engine $eng, command $cmd"
	kill -KILL "$eng"
	sleep 1
	if alive "$cmd"; then info "engine kill (run --user): the command keeps running (its network is dead)"; else
		info "engine kill (run --user): the command ended with the engine"; fi
	if [ "$(pstate "$eng")" = Z ]; then
		info "FINDING: engine kill (run --user): the dead engine stays a zombie child of nsession" \
			"until the command ends; nsession does not watch it (no log line, no reap)"
	fi
	wait_until 100 eval '! alive "$np"'
	if alive "$np"; then
		not_ok "engine kill (run --user): nsession exits when the command ends" "$(pslist "$np" $(pgrep -P "$np"))"
	else
		wait "$np"
		check_eq "engine kill (run --user): nsession exits with the command's status" "0" "$?"
	fi
	check_contains "engine kill (run --user): nsession says the engine ended and the network with it" \
		"the network engine (pid $eng) ended (killed by signal 9 (Killed)): the session has no network" \
		"$(cat "$wd/k2.out")"
	sleep 0.3
	check_eq "engine kill (run --user): no holder, engine or command left" "" "$(leftover "$holder" "$eng" "$cmd")"
	check_eq "engine kill (run --user): no process of $U left" "" "$(user_procs "$U")"
	check_eq "engine kill (run --user): no new zombies" "" "$(new_zombies "$ZOMBIES0")"
else
	not_ok "engine kill (run --user): found holder, engine and command" "$(pslist $(pgrep -P "$np"))" "$(cat "$wd/k2.out")"
fi

# 2b. su -l: the engine from the session record; close_session must reap it
base=$(state_list)
timeout 30 "${PW[@]}" su -l "$U" -c 'sleep 3' </dev/null >"$wd/k2b.out" 2>&1 &
sp=$!
bgpids+=("$sp")
rec=$(engine_record "$sp")
if [ -n "$rec" ]; then
	eng=$(rec_val "$rec" engine_pid)
	holder=$(rec_val "$rec" holder_pid)
	check_eq "engine kill (su -l): the recorded engine runs as $U" "$(id -u "$U")" "$(stat -c %u "/proc/$eng" 2>&1)"
	kill -KILL "$eng"
	sleep 0.5
	[ "$(pstate "$eng")" = Z ] && info "engine kill (su -l): the dead engine is a zombie child of su until close_session"
	wait_until 100 eval '! alive "$sp"'
	if alive "$sp"; then
		not_ok "engine kill (su -l): su ends when the command ends" "$(pslist "$sp" $(pgrep -P "$sp"))"
	else
		wait "$sp"
		check_eq "engine kill (su -l): su exits 0" "0" "$?"
	fi
	sleep 0.3
	check_eq "engine kill (su -l): close_session removed the record" "gone" "$(gone_record "$rec")"
	check_eq "engine kill (su -l): holder and engine are gone (not even zombies)" "" "$(leftover "$holder" "$eng")"
	check_eq "engine kill (su -l): no process of $U left" "" "$(user_procs "$U")"
	check_eq "engine kill (su -l): no new zombies" "" "$(new_zombies "$ZOMBIES0")"
else
	not_ok "engine kill (su -l): a record appears under /run/nsession" "$(cat "$wd/k2b.out")"
fi

# 2c. pamtester: open_session, the engine killed, then close_session's verdict
base=$(state_list)
rm -f "$wd/hook.ready" "$wd/hook.go"
timeout 30 "${PW[@]}" pamtester -v "$SVC-hook" "$U" open_session close_session </dev/null >"$wd/k2c.out" 2>&1 &
pp=$!
bgpids+=("$pp")
wait_until 100 test -e "$wd/hook.ready"
rec=$(my_record "$pp")
if [ -n "$rec" ] && [ -e "$wd/hook.ready" ]; then
	eng=$(rec_val "$rec" engine_pid)
	holder=$(rec_val "$rec" holder_pid)
	kill -KILL "$eng"
	sleep 0.3
	: >"$wd/hook.go"
	wait_until 100 eval '! alive "$pp"'
	wait "$pp"
	check_eq "engine kill (pamtester): open_session close_session exit 0" "0" "$?"
	check_contains "engine kill (pamtester): close_session succeeded" "successfully been closed" "$(cat "$wd/k2c.out")"
	sleep 0.3
	check_eq "engine kill (pamtester): close_session removed the record" "gone" "$(gone_record "$rec")"
	check_eq "engine kill (pamtester): holder and engine are gone" "" "$(leftover "$holder" "$eng")"
	check_eq "engine kill (pamtester): no process of $U left" "" "$(user_procs "$U")"
	check_eq "engine kill (pamtester): no new zombies" "" "$(new_zombies "$ZOMBIES0")"
else
	not_ok "engine kill (pamtester): open_session reached the hook with a record" "$(cat "$wd/k2c.out")"
	: >"$wd/hook.go"
fi

# 2d. su -l with policy engine_user: the engine runs as that account, the
# session as the user, traffic flows, and nothing of either is left after
e2e_engine_account
ENG=$E2E_ENGINE_ACCT
svc_eng=$wd/pam.d-eng
mkdir "$svc_eng"
printf 'sandbox = yes\nallow_host_loopback = yes\nengine_user = %s\n' "$ENG" >"$wd/policy-eng.conf"
chmod 644 "$wd/policy-eng.conf"
for s in su-l other; do sed "s#config=$POL#config=$wd/policy-eng.conf#" "$svc/$s" >"$svc_eng/$s"; done
eport=$((20000 + RANDOM % 20000))
socat TCP-LISTEN:$eport,bind=127.0.0.1,reuseaddr,fork SYSTEM:'echo hello-engine-acct' >/dev/null 2>&1 &
bgpids+=($!)
sleep 0.3
base=$(state_list)
timeout 30 env PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$svc_eng" "${PAM_HOST[@]}" su -l "$U" -c \
	"id -u; timeout 3 bash -c 'exec 3<>/dev/tcp/10.0.2.2/$eport && head -n 1 <&3' 2>&1; sleep 2" \
	</dev/null >"$wd/k2d.out" 2>&1 &
sp=$!
bgpids+=("$sp")
rec=$(engine_record "$sp")
if [ -n "$rec" ]; then
	eng=$(rec_val "$rec" engine_pid)
	check_eq "engine account (su -l): the engine runs as $ENG" "$(id -u "$ENG") $(id -g "$ENG")" \
		"$(awk '/^Uid:/ {u=$2} /^Gid:/ {g=$2} END {print u" "g}' "/proc/$eng/status" 2>&1)"
	check_eq "engine account (su -l): engine CapEff/CapBnd 0, NoNewPrivs 1, no groups" \
		"0000000000000000 0000000000000000 1 " \
		"$(awk '/^CapEff:/ {e=$2} /^CapBnd:/ {b=$2} /^NoNewPrivs:/ {n=$2} /^Groups:/ {g=$2} END {print e" "b" "n" "g}' "/proc/$eng/status" 2>&1)"
	wait "$sp"
	check_eq "engine account (su -l): su exits 0" "0" "$?"
	out=$(cat "$wd/k2d.out")
	check_eq "engine account (su -l): the session itself is still $U" "$(id -u "$U")" "$(sed -n 1p <<<"$out")"
	check_contains "engine account (su -l): traffic flows through the engine" "hello-engine-acct" "$out"
	check_eq "engine account (su -l): close_session removed the record" "gone" "$(gone_record "$rec")"
	check_eq "engine account (su -l): no process of $ENG or $U left" "" "$(user_procs "$ENG")$(user_procs "$U")"
else
	not_ok "engine account (su -l): a record with an engine appears" "$(cat "$wd/k2d.out")"
fi
# an account that does not exist: the login is refused, nothing is left
sed -i "s/^engine_user = .*/engine_user = nsess-no-such-acct/" "$wd/policy-eng.conf"
base=$(state_list)
out=$(timeout 30 env PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$svc_eng" \
	"${PAM_HOST[@]}" su -l "$U" -c 'echo SHELL-RAN' </dev/null 2>&1)
check_not_contains "engine account missing (su -l): no session is opened" "SHELL-RAN" "$out"
check_contains "engine account missing (su -l): the log names the account and the fix" \
	"engine account: unknown user 'nsess-no-such-acct'" "$out"
check_contains "engine account missing (su -l): ... and how to create it" "useradd --system" "$out"
check_eq "engine account missing (su -l): no record, no process left" "" "$(new_state "$base")$(user_procs "$U")"

# ---- 3. the PAM host (su, the opener) killed ----------------------------------
base=$(state_list)
# (a subshell, so that bash's "Killed" notice for timeout stays quiet)
(
	timeout 40 "${PW[@]}" su -l "$U" -c 'sleep 30' </dev/null >"$wd/k3.out" 2>&1
	exit $?
) 2>/dev/null &
tp=$!
bgpids+=("$tp")
k3_ready() {
	local r
	r=$(my_record "$tp") && [ -n "$(rec_val "$r" opener_pid)" ] &&
		pgrep -P "$(rec_val "$r" opener_pid)" -x sleep >/dev/null
}
wait_until 50 k3_ready
rec=$(my_record "$tp")
if [ -n "$rec" ]; then
	ourstate+=("$rec")
	opener=$(rec_val "$rec" opener_pid)
	eng=$(rec_val "$rec" engine_pid)
	holder=$(rec_val "$rec" holder_pid)
	cmd=$(pgrep -P "$opener" -x sleep | head -n 1)
	[ -n "$cmd" ] && ourpids+=("$cmd")
	check_eq "su killed: the record's opener is su" "su" "$(cat "/proc/$opener/comm" 2>&1)"
	t0=$(now)
	kill -KILL "$opener"
	wait_until 50 eval '! alive "$holder" && ! alive "$eng"'
	t=$(elapsed "$t0")
	if ! alive "$holder"; then ok "su killed: the holder exits within 5 s"; else
		not_ok "su killed: the holder exits within 5 s" "$(pslist "$holder")"; fi
	if ! alive "$eng"; then ok "su killed: the engine exits within 5 s"; else
		not_ok "su killed: the engine exits within 5 s" "$(pslist "$eng")"; fi
	info "su killed: holder and engine exited after ${t}s"
	if [ "$(pstate "$holder")" = Z ]; then
		doc=$(timeout 30 "$NSESSION" doctor --json 2>/dev/null | tr -d '\n')
		if [[ "$doc" == *"$rec"* ]]; then info "su killed: doctor already calls the record stale while the holder is an unreaped zombie"; else
			info "FINDING: su killed: while holder $holder is an unreaped zombie, nsession doctor counts" \
				"the session as running (a /proc/<pid> lstat; a reused pid would do the same)"; fi
	fi
	# their parent is gone: init reaps them (this machine's pid 1 takes a while)
	wait_until 100 eval '[ ! -d "/proc/$holder" ] && [ ! -d "/proc/$eng" ]'
	left=$(leftover "$holder" "$eng" | tr '\n' ' ')
	info "su killed: holder and engine reaped by init after $(elapsed "$t0")s${left:+ (still there: $left)}"
	if [ -n "$cmd" ] && alive "$cmd"; then
		info "su killed: the command (pid $cmd) keeps running, as under a plain su killed with" \
			"SIGKILL; its namespaces have no engine any more (network dead)"
	fi
	if [ -e "/run/nsession/$rec/session" ]; then
		info "su killed: the stale record /run/nsession/$rec remains (nobody ran close_session)"
	else
		info "su killed: the record /run/nsession/$rec is gone"
	fi
	doc=$(timeout 30 "$NSESSION" doctor --json 2>&1)
	if [[ "$doc" == *'"schema"'* ]]; then
		stale=$(python3 -c 'import json, sys
d = json.loads(sys.stdin.read())
for f in d.get("findings", []):
    if f.get("id") == "session_stale": print(f.get("status"), f.get("seen"))' <<<"$doc" 2>&1)
		check_contains "su killed: nsession doctor --json reports the stale record" "$rec" "$stale"
		check_contains "su killed: ... as a warning" "warn" "$(grep "$rec" <<<"$stale")"
	else
		info "su killed: nsession doctor --json is not available: $(head -c 200 <<<"$doc")"
	fi
	# the next login: is the stale record reclaimed? (recorded, not asserted)
	timeout 30 "${PW[@]}" pamtester "$SVC" "$U" open_session close_session >/dev/null 2>&1
	if [ -e "/run/nsession/$rec" ]; then
		info "su killed: the stale record is still there after the next login (not reclaimed)"
	else
		info "su killed: the next login reclaimed the stale record"
	fi
	[ -n "$cmd" ] && kill -KILL "$cmd" 2>/dev/null
	rm_record "$rec"
	wait_until 30 eval '[ -z "$(user_procs "$U")" ]'
	check_eq "su killed: nothing of $U left after the command is killed" "" "$(user_procs "$U")"
	check_eq "su killed: record cleaned up" "gone" "$(gone_record "$rec")"
else
	not_ok "su killed: a record appears under /run/nsession" "$(cat "$wd/k3.out")"
fi
wait "$tp" 2>/dev/null

# ---- 4. the CLI parent killed ---------------------------------------------------
# What should happen: SIGKILL to nsession takes the engine with it, so the
# session's network is dead; the command must not go on unsupervised in a
# half-working session (like bwrap --die-with-parent, or the setup child's
# PDEATHSIG): it must be gone within 5 s. (When this was written it was
# not: the rootless child clears PR_SET_PDEATHSIG before exec and the --user
# command never sets it, so the command lives on, reparented to init.)
# kill_parent LABEL CMD...: CMD starts nsession (exec'd, so $! is nsession)
kill_parent() {
	local l=$1 np cmd t0 left
	shift
	"$@" </dev/null >"$wd/k4.out" 2>&1 &
	np=$!
	bgpids+=("$np")
	cmd=
	wait_until 50 eval 'cmd=$(pgrep -P "$np" -u "$U" -x sleep | head -n 1); [ -n "$cmd" ]'
	if [ -z "$cmd" ]; then
		not_ok "$l: the command started" "$(pslist "$np" $(pgrep -P "$np"))" "$(cat "$wd/k4.out")"
		return
	fi
	ourpids+=("$cmd")
	t0=$(now)
	kill -KILL "$np"
	wait "$np" 2>/dev/null
	wait_until 50 eval '! alive "$cmd"'
	if ! alive "$cmd"; then
		ok "$l: the command ends when nsession is killed"
		info "$l: the command was gone $(elapsed "$t0")s after the SIGKILL"
	else
		not_ok "$l: the command ends when nsession is killed" \
			"FINDING: pid $cmd ($(tr '\0' ' ' <"/proc/$cmd/cmdline")) still runs 5 s after SIGKILL to nsession," \
			"reparented to pid $(awk '{ sub(/.*\) /, ""); print $2 }' "/proc/$cmd/stat"), in a session whose engine is gone (no network)"
	fi
	kill -KILL "$cmd" 2>/dev/null
	wait_until 30 eval '[ -z "$(user_procs "$U")" ]'
	left=$(user_procs "$U")
	check_eq "$l: nothing else of $U left" "" "$left"
}
kill_parent "CLI killed (rootless run)" setpriv --reuid="$U" --regid="$(id -g "$U")" --init-groups --reset-env -- \
	"$NSESSION" run -- sleep 30
kill_parent "CLI killed (root run --user)" "$NSESSION" run --user "$U" -- sleep 30
sleep 0.3
check_eq "CLI killed: no holder left (no process in the subordinate id range)" "" \
	"$(ps -eo pid=,uid=,comm= | awk -v s="$E2E_SUBSTART" '$2 >= s && $2 < s + 65536')"
check_eq "after checks 2-4: no new zombies" "" "$(new_zombies "$ZOMBIES0")"

# ---- 5. 200 sequential and 200 concurrent open/close cycles ---------------------
# snap [FILE]: what a leak would grow (key=value lines); the namespaces seen go to FILE
snap() {
	local nsall
	nsall=$(ls -l /proc/[0-9]*/ns/ /proc/[0-9]*/fd/ 2>/dev/null | grep -oE '(net|user|mnt):\[[0-9]+\]' | sort -u)
	[ -n "${1:-}" ] && echo "$nsall" >"$1"
	echo "procs_of_$U=$(pgrep -u "$U" | wc -l)"
	echo "procs_in_subid_range=$(ps -eo uid= | awk -v s="$E2E_SUBSTART" '$1 >= s && $1 < s + 65536' | wc -l)"
	echo "root_nsession_pamtester_su=$(ps -eo uid=,comm= | awk '$1 == 0 && $2 ~ /^(nsession|pamtester|su)$/' | wc -l)"
	echo "shell_fds=$(ls "/proc/$$/fd" | wc -l)"
	echo "mountinfo_lines=$(wc -l <"/proc/$$/mountinfo")"
	echo "run_nsession_entries=$(ls -A /run/nsession 2>/dev/null | wc -l)"
	echo "host_links=$(ip -o link | wc -l)"
	echo "net_ns=$(grep -c '^net:' <<<"$nsall")"
	echo "user_ns=$(grep -c '^user:' <<<"$nsall")"
	echo "mnt_ns=$(grep -c '^mnt:' <<<"$nsall")"
}
# grown BEFORE AFTER: the keys whose value grew, as "key before->after"
grown() {
	awk -F= 'NR == FNR { b[$1] = $2; next } ($1 in b) && $2 + 0 > b[$1] + 0 { printf "%s %s->%s\n", $1, b[$1], $2 }' \
		<(echo "$1") <(echo "$2")
}
# growth_evidence KEY: who holds what is new (a process of another test
# running at the same time shows up here too)
growth_evidence() {
	local n p
	case $1 in
	net_ns | user_ns | mnt_ns)
		for n in $(comm -13 "$wd/ns.before" "$wd/ns.after" | grep "^${1%_ns}:"); do
			echo "new $n held by:"
			for p in $(find /proc/[0-9]*/ns /proc/[0-9]*/fd -lname "$n" 2>/dev/null | cut -d/ -f3 | sort -u | head -n 5); do
				pslist "$p"
			done
		done
		;;
	procs_of_* | procs_in_subid_range | root_nsession_pamtester_su)
		ps -eo pid=,uid=,stat=,etimes=,args= | awk -v u="$(id -u "$U")" -v s="$E2E_SUBSTART" \
			'$2 == u || ($2 >= s && $2 < s + 65536) || $5 ~ /(nsession|pamtester|su)$/' | head -n 10
		;;
	run_nsession_entries) grep -H . /run/nsession/*/session 2>/dev/null | head -n 14 ;;
	host_links) ip -o link | cut -c1-100 ;;
	shell_fds) ls -l "/proc/$$/fd" | tail -n +2 ;;
	mountinfo_lines) tail -n 5 "/proc/$$/mountinfo" ;;
	esac
}
check_no_growth() { # LABEL BEFORE
	local l=$1 before=$2 after g k
	sleep 1
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		after=$(snap "$wd/ns.after")
		g=$(grown "$before" "$after")
		[ -z "$g" ] && break
		sleep 0.2
	done
	for k in $(cut -d= -f1 <<<"$before"); do
		if grep -q "^$k " <<<"$g"; then
			not_ok "$l: no growth in $k" "$(grep "^$k " <<<"$g")" "$(growth_evidence "$k")"
		else
			ok "$l: no growth in $k"
		fi
	done
	info "$l: before: $(tr '\n' ' ' <<<"$before")"
	info "$l: after:  $(tr '\n' ' ' <<<"$after")"
}

cyc_rootless() {
	timeout 30 setpriv --reuid="$U" --regid="$(id -g "$U")" --init-groups --reset-env -- \
		"$NSESSION" run -- true </dev/null >/dev/null 2>>"$wd/cyc.err"
}
cyc_pam() {
	timeout 30 "${PW[@]}" pamtester "$SVC" "$U" open_session close_session </dev/null >/dev/null 2>>"$wd/cyc.err"
}
# Concurrent logins go through a service file in /etc/pam.d, not through
# libpam-wrapper: its per-process config dir is /tmp/pam.<one of 62
# characters> picked by pid with an lstat-then-mkdir race, so 20 wrapped
# processes at once can trample each other's dir (seen: "Failed to create
# pam_wrapper config dir: /tmp/pam.A - File exists", then a failed login).
cyc_pam_sys() {
	timeout 30 env "${PAM_HOST_NOWRAP[@]}" pamtester "$SVC" "$U" open_session close_session </dev/null >/dev/null 2>>"$wd/cyc.err"
}
# cycles LABEL FUNC TOTAL PARALLEL
cycles() {
	local l=$1 fn=$2 total=$3 par=$4 before t0 fails=0 i j pids p
	: >"$wd/cyc.err"
	before=$(snap "$wd/ns.before")
	t0=$(now)
	for ((i = 0; i < total; i += par)); do
		pids=()
		for ((j = 0; j < par && i + j < total; j++)); do
			if [ "$par" = 1 ]; then
				"$fn" || fails=$((fails + 1))
			else
				"$fn" &
				pids+=($!)
			fi
		done
		for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
	done
	info "$l: $total cycles in $(elapsed "$t0") s"
	check_eq "$l: all $total cycles succeeded" "0 failed" "$fails failed$([ "$fails" = 0 ] || echo ": $(sort "$wd/cyc.err" | uniq -c | sort -rn | head -n 5 | tr '\n' '|')")"
	check_no_growth "$l" "$before"
}
cycles "5a rootless run, sequential" cyc_rootless 200 1
cycles "5b rootless run, concurrent (20 at a time)" cyc_rootless 200 20
cycles "5c pamtester, sequential" cyc_pam 200 1
if [ -e "$SYS_SVC" ]; then
	not_ok "5d: $SYS_SVC does not exist before the test" "refusing to overwrite it"
else
	sys_svc_ours=1
	{
		echo "# Written by nsession tests/e2e/reliability.sh; removed at its end."
		cat "$svc/$SVC"
	} >"$SYS_SVC"
	cycles "5d pamtester (/etc/pam.d), concurrent (20 at a time)" cyc_pam_sys 200 20
	rm -f "$SYS_SVC"
	sys_svc_ours=0
fi
check_eq "after the cycles: no process of $U left" "" "$(user_procs "$U")"
check_eq "after the cycles: no new zombies" "" "$(new_zombies "$ZOMBIES0")"

# ---- 6. the host mount table after 50 sessions -----------------------------------
mi0=$(cat "/proc/$$/mountinfo")
t0=$(now)
n6=0
for i in $(seq 1 20); do cyc_rootless && n6=$((n6 + 1)); done
for i in $(seq 1 15); do timeout 30 "$NSESSION" run --user "$U" -- true </dev/null >/dev/null 2>&1 && n6=$((n6 + 1)); done
for i in $(seq 1 15); do timeout 30 "${PW[@]}" su -l "$U" -c true </dev/null >/dev/null 2>&1 && n6=$((n6 + 1)); done
info "6: 50 sessions (20 rootless, 15 run --user, 15 su -l) in $(elapsed "$t0") s"
check_eq "6: all 50 sessions succeeded" "50" "$n6"
mi1=$(cat "/proc/$$/mountinfo")
if [ "$mi0" == "$mi1" ]; then ok "6: the host mount table is unchanged after 50 sessions"; else
	not_ok "6: the host mount table is unchanged after 50 sessions" "$(diff <(echo "$mi0") <(echo "$mi1") | head -n 20)"; fi

e2e_done
[ "$fail" -eq 0 ]
