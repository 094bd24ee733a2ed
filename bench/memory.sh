#!/bin/bash
# bench/memory.sh - memory of the network engine per session.
# Idle: N sessions of `sleep 300` per engine, started as the bench user, one
# engine at a time; once all are up, sum Rss and Pss from
# /proc/PID/smaps_rollup over each session's helper processes: every process
# of the session's tree except the payload and our wrappers (comm sleep,
# bash, nsenter). That is nsession-engine (the nsession process after it
# execs the engine) for nsession; slirp4netns
# for slirp4netns by hand (its holder is the payload sleep); rootlesskit's
# parent, child and slirp4netns; pasta. PSS divides shared pages among
# their users, so per-session PSS falls as N grows; RSS counts them in full.
# Under load: one session running iperf3 (up, then down) against a host
# server; the helper's Rss/Pss are sampled every 0.2 s, the maximum is kept.
set -u
. "$(dirname "$0")/lib.sh"
bench_mkwork
cleanup() { bench_cleanup_procs; rm -rf "$W"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$BENCH_QUICK" = 1 ]; then COUNTS="20"; TL=2; else COUNTS="20 100"; TL=5; fi
notes=()
ensure_bench_user

# helper pids of the session tree rooted at PID
helper_pids() {
	local p c
	for p in "$1" $(descendants "$1"); do
		c=$(cat /proc/"$p"/comm 2>/dev/null) || continue
		case $c in sleep | bash | nsenter | setpriv | iperf3) ;; *) echo "$p" ;; esac
	done
}
# sum_kb FIELD PIDS...: sum of FIELD (Rss|Pss) from smaps_rollup, in kB
sum_kb() {
	local f=$1 p t=0 v
	shift
	for p in "$@"; do
		v=$(awk -v f="$f:" '$1 == f {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null)
		t=$((t + ${v:-0}))
	done
	echo $t
}
# a session counts as up when its payload sleep runs inside
session_up() { # ROOTPID
	local p
	for p in $(descendants "$1"); do
		[ "$(cat /proc/"$p"/comm 2>/dev/null)" = sleep ] &&
			[ "$(readlink /proc/"$p"/ns/net)" != "$(readlink /proc/$$/ns/net)" ] && return 0
	done
	return 1
}
all_up() { local r; for r in "${roots[@]}"; do session_up "$r" || return 1; done; }

mib() { awk -v k="$1" -v n="$2" 'BEGIN { printf "%.2f", k / 1024 / n }'; }

TABLE_IDLE="$W/idle.md"
: >"$TABLE_IDLE"
for n in $COUNTS; do
	mem_avail=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
	for e in $ENGINES; do
		# pasta was seen at ~30 MiB per session: skip what would not fit
		if [ "$e" = pasta ] && [ $((n * 40 * 1024)) -gt $((mem_avail / 2)) ]; then
			notes+=("- pasta x$n: not measured, would need ~$((n * 40)) MiB and $((mem_avail / 1024)) MiB are available")
			continue
		fi
		log "$e: $n idle sessions"
		ensure_bench_user
		roots=()
		for ((i = 0; i < n; i++)); do
			(cd "$W/u" && exec $BENCH_SETPRIV $(engine_prefix "$e") sleep 300 </dev/null >/dev/null 2>>"$W/err-$e.txt") &
			roots+=($!)
			OWN_PIDS+=($!)
		done
		if ! wait_until 600 all_up; then
			up=0
			for r in "${roots[@]}"; do session_up "$r" && up=$((up + 1)); done
			notes+=("- $e x$n: only $up sessions came up within 60 s: $(tail -c 200 "$W/err-$e.txt" | tr '\n' ' ')")
		fi
		sleep 1
		hp=()
		for r in "${roots[@]}"; do hp+=($(helper_pids "$r")); done
		comms=$(for p in "${hp[@]}"; do cat /proc/"$p"/comm 2>/dev/null; done | sort | uniq -c | awk '{printf "%s x%s ", $2, $1}')
		rss=$(sum_kb Rss "${hp[@]}")
		pss=$(sum_kb Pss "${hp[@]}")
		printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$e" "$n" "$(mib "$rss" "$n")" "$(mib "$pss" "$n")" \
			"$(mib "$rss" 1)" "$(mib "$pss" 1)" "$comms" >>"$TABLE_IDLE"
		kill_tree "${roots[@]}"
		OWN_PIDS=()
		left=$(sweep_strays)
		[ -n "$left" ] && notes+=("- $e x$n: after killing the sessions, left behind: $left(killed)")
	done
done

# ---- under load ----------------------------------------------------------------
port=$(free_port)
as_bench iperf3 -s -B 127.0.0.1 -p "$port" >/dev/null 2>&1 &
srv=$!
OWN_PIDS+=($srv)
wait_until 50 port_open 127.0.0.1 "$port" || log "iperf3 server did not start"
TABLE_LOAD="$W/load.md"
: >"$TABLE_LOAD"
for e in $ENGINES; do
	log "$e: under load"
	ensure_bench_user
	maxr=0
	maxp=0
	mbps=
	for r in "" -R; do
		(cd "$W/u" && exec $BENCH_SETPRIV $(engine_prefix "$e") iperf3 -c "$(engine_hostaddr "$e")" -p "$port" -t "$TL" $r -J </dev/null >"$W/load.json" 2>/dev/null) &
		root=$!
		OWN_PIDS+=($root)
		for ((i = 0; i < (TL + 20) * 5; i++)); do
			[ -d /proc/$root ] && [ "$(awk '{print $3}' /proc/$root/stat 2>/dev/null)" != Z ] || break
			hp=($(helper_pids "$root"))
			if [ ${#hp[@]} -gt 0 ]; then
				v=$(sum_kb Rss "${hp[@]}"); [ "$v" -gt "$maxr" ] && maxr=$v
				v=$(sum_kb Pss "${hp[@]}"); [ "$v" -gt "$maxp" ] && maxp=$v
			fi
			sleep 0.2
		done
		if [ -d /proc/$root ] && [ "$(awk '{print $3}' /proc/$root/stat 2>/dev/null)" != Z ]; then
			rc=124 # still running after the sampling window: killed below
		else
			wait "$root" 2>/dev/null # bash may have reaped it already; wait still has its status
			rc=$?
		fi
		[ $rc -ne 0 ] && notes+=("- $e under load, iperf3 ${r:-up}: the session command ended with $(rc_text $rc)")
		kill_tree "$root"
		OWN_PIDS=("$srv")
		mbps+="$($PY -c 'import json,sys; t=open(sys.argv[1]).read(); print("%.0f" % (json.loads(t[t.index("{"):])["end"]["sum_received"]["bits_per_second"]/1e6))' "$W/load.json" 2>/dev/null || echo '?') "
	done
	left=$(sweep_strays)
	[ -n "$left" ] && notes+=("- $e under load: left behind: $left(killed)")
	printf '| %s | %s | %s | %s |\n' "$e" "$(mib "$maxr" 1)" "$(mib "$maxp" 1)" "$(echo $mbps | sed 's/ / \/ /')" >>"$TABLE_LOAD"
done

{
	echo "## Engine memory"
	echo
	echo "### idle sessions (\`sleep 300\` inside), per engine, one engine at a time"
	echo
	echo "| engine | sessions | RSS per session (MiB) | PSS per session (MiB) | RSS total (MiB) | PSS total (MiB) | helper processes counted |"
	echo "|---|---:|---:|---:|---:|---:|---|"
	cat "$TABLE_IDLE"
	echo
	echo "One sample per row (memory of idle helpers does not move much); RSS totals"
	echo "count shared pages (libraries, the binary) once per process, PSS totals do not."
	echo
	echo "### one session under load (iperf3 -t $TL up, then down, to host loopback)"
	echo
	echo "| engine | max RSS (MiB) | max PSS (MiB) | Mbit/s up / down during the sample |"
	echo "|---|---:|---:|---|"
	cat "$TABLE_LOAD"
	echo
	echo "Commands (as $BENCH_USER; each idle session started in the background):"
	echo
	for e in $ENGINES; do printf '%-12s %s sleep 300\n' "$e:" "$(engine_prefix "$e")"; done | cmd_block
	echo
	echo "Helper processes = the session's process tree minus the payload and wrappers"
	echo "(comm sleep, bash, nsenter, iperf3); values from /proc/PID/smaps_rollup (Rss, Pss)."
	echo "Load sampling every 0.2 s while iperf3 runs; max over both directions."
	if [ ${#notes[@]} -gt 0 ]; then
		echo
		printf '%s\n' "${notes[@]}"
	fi
	echo
} >"$BENCH_OUT"
