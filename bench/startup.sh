#!/bin/bash
# bench/startup.sh - time from "start" to "a command ran inside with its
# network configured, and everything is torn down again": the command is
# `ip route show default` (floors run `true`). hyperfine times each process
# from spawn to exit, so teardown is included for every row that waits for
# its helpers (all of them do).
#
# Interleaving: hyperfine runs each command's runs in one block. To spread
# the machine's noise evenly, this script runs ROUNDS rounds; each round is
# one hyperfine invocation with all commands (--warmup 1 --runs K each) in
# a rotated order, then the root-only row in its own invocation. The JSON of
# all rounds is merged, so n = ROUNDS x K per row.
set -u
. "$(dirname "$0")/lib.sh"
bench_mkwork
trap 'bench_cleanup_procs; rm -rf "$W"' EXIT
trap 'exit 130' INT TERM

if [ "$BENCH_QUICK" = 1 ]; then ROUNDS=2; K=3; else ROUNDS=8; K=5; fi

# name|command (bench user rows)
ROWS_USER=(
	"unshare -Urnm (floor)|unshare -Urnm true"
	"unshare --map-auto (floor)|unshare --map-auto -rnm true"
	"bwrap (no NAT)|bwrap --unshare-user --unshare-net --dev-bind / / ip route show default"
	"slirp4netns by hand|bash $BENCH_DIR/slirp-by-hand.sh"
	"rootlesskit+slirp4netns|rootlesskit --net=slirp4netns --copy-up=/etc --disable-host-loopback ip route show default"
	"pasta|pasta --config-net -- ip route show default"
	"nsession --map=root|$NSESSION run --map=root -- ip route show default"
	"nsession --map=keep-id|$NSESSION run --map=keep-id -- ip route show default"
	"nsession --net=none (ref)|$NSESSION run --net=none -- ip route show default"
)
ROWS_ROOT=(
	"nsession --user (as root)|$NSESSION run --user $BENCH_USER -- ip route show default"
)
# as $BENCH_USER_NOSUB, who has no subordinate ids: the single-id map
ROWS_NOSUB=(
	"nsession single-id map|$NSESSION run -- ip route show default"
)
notes=()
# References for the single-id row, in its invocation: what `ip` itself costs
# over `true`, and the kernel's part of a session with nothing around it
# (kernel-floor.c: one process, nsession's own netconf and mounts code, no
# engine, nothing waits). No process model can go below the second.
FLOOR=$(dirname "$NSESSION")/bench/kernel-floor
ROWS_NOSUB+=("unshare -Urnm ip route (floor + ip)|unshare -Urnm ip route show default")
if [ -x "$FLOOR" ]; then
	ROWS_NOSUB+=(
		"kernel floor: v4 route only (ref)|$FLOOR -4 -- ip route show default"
		"kernel floor: session setup (ref)|$FLOOR -- ip route show default"
	)
else
	notes+=("- no kernel-floor rows: $FLOOR is not built (it is built with nsession, in the build tree)")
fi

# Sanity: each command must succeed once (and, for the NAT rows, print a
# default route); rows that do not are left out with the reason.
check_row() { # user|root|nosub NAME CMD
	local who=$1 name=$2 cmd=$3 out rc
	if [ "$who" = root ]; then
		(cd "$W" && timeout 30 $cmd </dev/null >"$W/check.out" 2>&1)
	elif [ "$who" = nosub ]; then
		(cd "$W/n" && as_nosub timeout 30 $cmd </dev/null >"$W/check.out" 2>&1)
	else
		(cd "$W/u" && as_bench timeout 30 $cmd </dev/null >"$W/check.out" 2>&1)
	fi
	rc=$?
	out=$(head -c 2000 "$W/check.out")
	left=$(sweep_strays)
	[ -n "$left" ] && notes+=("- **$name**: the check run left processes behind: $left(killed)")
	if [ $rc -ne 0 ]; then
		notes+=("- **$name**: not measured: \`$cmd\` failed (rc $rc): $(echo "$out" | tail -n 2 | tr '\n' ' ')")
		return 1
	fi
	case $name in
	*floor* | *none* | bwrap*) ;;
	*) if ! grep -q '^default via' <<<"$out"; then
		notes+=("- **$name**: not measured: no default route inside; output: $(echo "$out" | head -n 2 | tr '\n' ' ')")
		return 1
	fi ;;
	esac
	return 0
}
ensure_bench_user
ensure_nosub_user || notes+=("- could not create $BENCH_USER_NOSUB: no single-id rows")
mkdir -p "$W/n" && chown "$BENCH_USER_NOSUB:" "$W/n" 2>/dev/null
good_user=()
good_root=()
good_nosub=()
for r in "${ROWS_USER[@]}"; do check_row user "${r%%|*}" "${r#*|}" && good_user+=("$r"); done
for r in "${ROWS_ROOT[@]}"; do check_row root "${r%%|*}" "${r#*|}" && good_root+=("$r"); done
if id "$BENCH_USER_NOSUB" >/dev/null 2>&1; then
	for r in "${ROWS_NOSUB[@]}"; do check_row nosub "${r%%|*}" "${r#*|}" && good_nosub+=("$r"); done
fi
log "rows: ${#good_user[@]} as $BENCH_USER, ${#good_root[@]} as root, ${#good_nosub[@]} as $BENCH_USER_NOSUB; $ROUNDS rounds x $K runs"

# hyperfine_round WHO JSON ROTATE ROWS...
hyperfine_round() {
	local who=$1 json=$2 rot=$3 n args=() i r
	shift 3
	n=$#
	local rows=("$@")
	for ((i = 0; i < n; i++)); do
		r=${rows[$(((i + rot) % n))]}
		args+=(-n "${r%%|*}" "${r#*|}")
	done
	if [ "$who" = root ]; then
		(cd "$W" && timeout 300 hyperfine -N --style none --warmup 1 --runs "$K" --export-json "$json" "${args[@]}") >/dev/null 2>"$W/hf.err"
	elif [ "$who" = nosub ]; then
		(cd "$W/n" && as_nosub timeout 300 hyperfine -N --style none --warmup 1 --runs "$K" --export-json "$json" "${args[@]}") >/dev/null 2>"$W/hf.err"
	else
		(cd "$W/u" && as_bench timeout 300 hyperfine -N --style none --warmup 1 --runs "$K" --export-json "$json" "${args[@]}") >/dev/null 2>"$W/hf.err"
	fi || { log "hyperfine round failed: $(tail -n 3 "$W/hf.err")"; notes+=("- a hyperfine round failed ($who): $(tail -n 1 "$W/hf.err")"); }
}

for ((round = 0; round < ROUNDS; round++)); do
	log "round $((round + 1))/$ROUNDS"
	ensure_bench_user
	[ ${#good_user[@]} -gt 0 ] && hyperfine_round user "$W/u/r$round.json" "$round" "${good_user[@]}"
	[ ${#good_root[@]} -gt 0 ] && hyperfine_round root "$W/r${round}root.json" 0 "${good_root[@]}"
	# the floor again in the same invocation, so this row has a neighbour measured with it
	[ ${#good_nosub[@]} -gt 0 ] && hyperfine_round nosub "$W/n/n$round.json" "$round" \
		"unshare -Urnm (floor) as $BENCH_USER_NOSUB|unshare -Urnm true" "${good_nosub[@]}"
	left=$(sweep_strays)
	if [ -n "$left" ]; then
		log "left behind after round $((round + 1)): $left"
		notes+=("- after round $((round + 1)), processes of $BENCH_USER outlived their command: $left(killed; hyperfine had already seen the command exit)")
	fi
done
$REPORT hyperfine "$W/samples.tsv" "$W"/u/r*.json "$W"/r*root.json "$W"/n/n*.json 2>/dev/null

order=$(for r in "${ROWS_USER[@]}" "${ROWS_ROOT[@]}" "unshare -Urnm (floor) as $BENCH_USER_NOSUB|" "${ROWS_NOSUB[@]}"; do printf '%s,' "${r%%|*}"; done)
{
	echo "## Startup: a command ran with networking configured, all torn down"
	echo
	echo "Wall time per run from hyperfine (spawn to exit of the whole command, helpers"
	echo "reaped). $ROUNDS rounds x $K runs per row (--warmup 1 per round), rows rotated each"
	echo "round; ratios are of medians."
	echo
	$REPORT table "$W/samples.tsv" --label command --order "$order" \
		--ratio "unshare -Urnm (floor),unshare --map-auto (floor)"
	echo
	echo "nsession rows against each peer (median / median; below 1 = nsession faster):"
	echo
	$REPORT matrix "$W/samples.tsv" \
		--rows "nsession --map=root,nsession --map=keep-id,nsession --user (as root),nsession single-id map" \
		--cols "bwrap (no NAT),slirp4netns by hand,rootlesskit+slirp4netns,pasta"
	echo
	echo "The single-id row against the rows of its own invocation (all as"
	echo "$BENCH_USER_NOSUB; a kernel-floor row does only the kernel's part of a session,"
	echo "see below):"
	echo
	$REPORT matrix "$W/samples.tsv" --rows "nsession single-id map" \
		--cols "unshare -Urnm (floor) as $BENCH_USER_NOSUB,unshare -Urnm ip route (floor + ip),kernel floor: v4 route only (ref),kernel floor: session setup (ref)"
	echo
	echo "Commands (rows marked as root run from a root hyperfine; the others from"
	echo "\`$BENCH_SETPRIV hyperfine -N ...\`, i.e. as $BENCH_USER, rootless):"
	echo
	{
		for r in "${ROWS_USER[@]}"; do printf '%-28s %s\n' "${r%%|*}:" "${r#*|}"; done
		for r in "${ROWS_ROOT[@]}"; do printf '%-28s %s\n' "${r%%|*}:" "${r#*|}"; done
		for r in "${ROWS_NOSUB[@]}"; do printf '%-28s %s\n' "${r%%|*}:" "${r#*|}  (as $BENCH_USER_NOSUB)"; done
		echo "hyperfine -N --style none --warmup 1 --runs $K --export-json FILE -n NAME CMD ...  (x $ROUNDS rounds)"
	} | cmd_block
	echo
	echo "What the rows measure:"
	echo
	echo "- floors: \`unshare -Urnm true\` (the kernel part: three namespaces, uid/gid map"
	echo "  written by unshare itself) and \`unshare --map-auto\` (the same plus newuidmap and"
	echo "  newgidmap with the /etc/subuid ranges). Neither has a network beyond lo."
	echo "- bwrap: user+net+mount namespaces and the command; no NAT, so no default route."
	echo "- slirp4netns by hand: holder + slirp4netns --configure + ready-fd wait + nsenter +"
	echo "  kill and reap, in one bash ([slirp-by-hand.sh](slirp-by-hand.sh))."
	echo "- rootlesskit: its parent, child and slirp4netns, with /etc copied up."
	echo "- pasta: \`--config-net\` configures the namespace's interface from the host's."
	echo "- nsession rows: the engine (libslirp) in nsession-engine, which the rootless"
	echo "  nsession process execs in place once the command runs; --map=root and"
	echo "  --map=keep-id pay newuidmap/newgidmap (run at the same time); \`--user\` runs"
	echo "  from root with the bench user's ranges; --net=none has no engine and no TAP"
	echo "  (reference); the single-id row runs as $BENCH_USER_NOSUB, who has no line in"
	echo "  /etc/subuid, so only the user's own uid and gid are mapped (no helper runs); its"
	echo "  own invocation also times \`unshare -Urnm true\` as that user."
	echo "- references in the single-id invocation: \`unshare -Urnm ip route show default\`"
	echo "  is the floor plus what \`ip\` costs over \`true\`; the kernel-floor rows run"
	echo "  [kernel-floor.c](kernel-floor.c), one process that unshares, writes its own"
	echo "  single-id maps and, with nsession's own code, makes the TAP and configures it"
	echo "  (\`-4\`: one IPv4 address and route; without: everything a session gets, v4 and"
	echo "  v6 addresses, neighbours and routes, resolv.conf and hosts, /sys), then execs"
	echo "  the command. It has no engine and nothing waits for anything, so its network"
	echo "  carries nothing: it is the kernel's part of a session, below which no process"
	echo "  model can go."
	if [ ${#notes[@]} -gt 0 ]; then
		echo
		printf '%s\n' "${notes[@]}"
	fi
	echo
} >"$BENCH_OUT"
