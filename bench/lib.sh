# bench/lib.sh - sourced by the bench/*.sh scripts (bash). Not run directly.
# shellcheck shell=bash
#
# Environment set by bench/run (each script also works alone when these are
# exported): BENCH_QUICK (0|1), BENCH_USER, BENCH_WORK (a scratch dir that
# bench/run removes), NSESSION (the binary), BENCH_OUT (where a script writes
# its markdown section).
#
# Rules every script follows: every wait and every child is bounded by
# `timeout` or a counted poll; only processes this script started (and their
# descendants) are ever signalled, by pid.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_QUICK=${BENCH_QUICK:-0}
BENCH_USER=${BENCH_USER:-nsbench}
# a second user with no subordinate ids: the single-id map rows
BENCH_USER_NOSUB=${BENCH_USER_NOSUB:-nsbench-nosub}
NSESSION=${NSESSION:-$BENCH_DIR/../_build/nsession}
PY=/usr/bin/python3
REPORT="$PY $BENCH_DIR/report.py"
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

log() { printf '[%s %s] %s\n' "$(date +%T)" "$(basename "$0" .sh)" "$*" >&2; }

# A private scratch dir for this script, readable by the bench user.
bench_mkwork() {
	local base=${BENCH_WORK:-/tmp}
	W=$(mktemp -d "$base/$(basename "$0" .sh).XXXXXX")
	chmod 755 "$W"
	mkdir "$W/u"
	chown "$BENCH_USER:" "$W/u" # files the bench user writes (hyperfine JSON)
}

# Run as the bench user: no PAM, no login session, a minimal environment.
as_bench() {
	setpriv --reuid="$BENCH_USER" --regid="$(id -g "$BENCH_USER")" --init-groups --reset-env \
		-- env PATH="$PATH" "$@"
}
# The same as the user without subordinate ids.
as_nosub() {
	setpriv --reuid="$BENCH_USER_NOSUB" --regid="$(id -g "$BENCH_USER_NOSUB")" --init-groups \
		--reset-env -- env PATH="$PATH" "$@"
}
BENCH_SETPRIV="setpriv --reuid=$BENCH_USER --regid=$(id -g "$BENCH_USER" 2>/dev/null) --init-groups --reset-env --"

# ---- the bench user ---------------------------------------------------------
# ensure_bench_user: the user exists and has its /etc/subuid and /etc/subgid
# line. Called before every round: other tools on a shared machine restore
# these files from copies taken before we added our line.
BENCH_SUBSTART=${BENCH_SUBSTART:-500000}
ensure_bench_user() {
	id "$BENCH_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$BENCH_USER" || return 1
	local f
	for f in /etc/subuid /etc/subgid; do
		[ -f "$f" ] || touch "$f"
		grep -q "^$BENCH_USER:" "$f" || echo "$BENCH_USER:$BENCH_SUBSTART:65536" >>"$f"
	done
}

# ensure_nosub_user: the user without subordinate ids exists, with no line in
# /etc/subuid or /etc/subgid (useradd is told not to allocate one; a line
# for this account, which exists for the benchmark only, is removed).
ensure_nosub_user() {
	id "$BENCH_USER_NOSUB" >/dev/null 2>&1 ||
		useradd -m -s /bin/bash -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$BENCH_USER_NOSUB" ||
		return 1
	local f
	for f in /etc/subuid /etc/subgid; do
		[ -f "$f" ] && grep -q "^$BENCH_USER_NOSUB:" "$f" && sed -i "/^$BENCH_USER_NOSUB:/d" "$f"
	done
	return 0
}

# Processes of the bench user that are not in $BENCH_BASELINE (pids that
# existed when the script started). The bench user exists for this benchmark
# only, so a new process of it that outlived its parent is one of ours.
BENCH_BASELINE=" $(pgrep -u "$BENCH_USER" 2>/dev/null | tr '\n' ' ') "
stray_procs() {
	local p keep=" " o
	for o in "${OWN_PIDS[@]}"; do keep+="$o $(descendants "$o" | tr '\n' ' ') "; done
	for p in $(pgrep -u "$BENCH_USER" 2>/dev/null); do
		[[ "$BENCH_BASELINE" == *" $p "* ]] && continue
		[[ "$keep" == *" $p "* ]] && continue
		[ "$(awk '{print $3}' /proc/"$p"/stat 2>/dev/null)" = Z ] && continue
		echo "$p"
	done
}
# (processes in OWN_PIDS and below are still in use, not strays)
# sweep_strays: kill (by pid) what the last step left behind; prints
# "COMM COMM ..." of what it found (empty when nothing).
sweep_strays() {
	local s=() p
	for p in $(stray_procs); do s+=("$p"); done
	[ ${#s[@]} -gt 0 ] || return 0
	for p in "${s[@]}"; do cat /proc/"$p"/comm 2>/dev/null; done | sort | uniq -c | awk '{printf "%s x%s ", $2, $1}'
	kill_tree "${s[@]}"
}

# ---- our own processes --------------------------------------------------------
OWN_PIDS=()
# descendants of PID (children first listed after their parent), PID excluded
descendants() {
	local p=$1 c
	for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
		echo "$c"
		descendants "$c"
	done
}
# kill_tree PID...: TERM each pid and all its descendants (collected first),
# wait up to 5 s, then KILL what is left. Only pids we were given.
kill_tree() {
	local all=() p i
	for p in "$@"; do
		[ -n "$p" ] || continue
		all+=("$p" $(descendants "$p"))
	done
	[ ${#all[@]} -gt 0 ] || return 0
	kill -TERM "${all[@]}" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		local alive=0
		for p in "${all[@]}"; do
			[ -d /proc/"$p" ] && [ "$(awk '{print $3}' /proc/"$p"/stat 2>/dev/null)" != Z ] && alive=1
		done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	kill -KILL "${all[@]}" 2>/dev/null
	for p in "$@"; do wait "$p" 2>/dev/null; done
	return 0
}
bench_cleanup_procs() {
	[ ${#OWN_PIDS[@]} -gt 0 ] && kill_tree "${OWN_PIDS[@]}"
	OWN_PIDS=()
}

# wait_until TENTHS CMD...: poll CMD every 0.1 s, at most TENTHS times.
wait_until() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}
# rotate K WORD...: the words, starting at the K-th (mod their count). Passes
# rotate their row order with it, so that no row always follows the same one:
# measured here, the row run first in an A/B pass of two nsession builds had a
# 15% higher upload median, whichever build it was.
rotate() {
	local k=$1 n
	shift
	n=$#
	[ "$n" -gt 0 ] || return 0
	k=$((k % n))
	set -- "${@:k+1}" "${@:1:k}"
	echo "$*"
}
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 30000))
		ss -Hltn "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return 0; }
	done
	return 1
}
host_gateway() { ip -4 route show default | awk '{print $3; exit}'; }

# ---- a veth pair between two network namespaces of our own --------------------
# veth_up: namespaces $VETH_A (server side, 10.203.77.1) and $VETH_B (client).
VETH_A=nsbench-a-$$
VETH_B=nsbench-b-$$
VETH_IP_A=10.203.77.1
VETH_MADE=0
veth_up() {
	ip netns add "$VETH_A" || return 1
	VETH_MADE=1
	ip netns add "$VETH_B" || return 1
	ip link add nsbva$$ netns "$VETH_A" type veth peer name nsbvb$$ netns "$VETH_B" || return 1
	ip -n "$VETH_A" addr add $VETH_IP_A/24 dev nsbva$$
	ip -n "$VETH_B" addr add 10.203.77.2/24 dev nsbvb$$
	ip -n "$VETH_A" link set lo up
	ip -n "$VETH_B" link set lo up
	ip -n "$VETH_A" link set nsbva$$ up
	ip -n "$VETH_B" link set nsbvb$$ up
}
veth_down() {
	[ "$VETH_MADE" = 1 ] || return 0
	# processes we started inside are already gone (kill_tree); the pair dies with its netns
	ip netns del "$VETH_A" 2>/dev/null
	ip netns del "$VETH_B" 2>/dev/null
	VETH_MADE=0
}

# ---- the engines, as command prefixes that run CMD inside a session ------------
# engine_prefix ENGINE: prints the words to put before CMD to run it, as the
# bench user, in a session of ENGINE that can reach host 127.0.0.1 at the
# address printed by engine_hostaddr. (Run through as_bench.)
engine_prefix() {
	case $1 in
	nsession) echo "$NSESSION run --allow-host-loopback --" ;;
	slirp4netns) echo "bash $BENCH_DIR/slirp-by-hand.sh --allow-host-loopback --" ;;
	rootlesskit) echo "rootlesskit --net=slirp4netns --copy-up=/etc" ;;
	pasta) echo "pasta --config-net --" ;;
	esac
}
engine_hostaddr() {
	case $1 in
	pasta) host_gateway ;; # pasta maps its gateway address to the host's loopback
	*) echo 10.0.2.2 ;;
	esac
}
ENGINES="nsession slirp4netns rootlesskit pasta"

# Commands printed into RESULTS.md, one per line, in a fenced block.
cmd_block() {
	echo '```'
	cat
	echo '```'
}

# rc_text RC: "rc N" or "rc N = killed by SIGNAME"
rc_text() {
	if [ "$1" -gt 128 ] 2>/dev/null && [ "$1" -lt 160 ]; then
		echo "rc $1 = killed by SIG$(kill -l $(($1 - 128)))"
	else
		echo "rc $1"
	fi
}
