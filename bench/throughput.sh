#!/bin/bash
# bench/throughput.sh - TCP throughput through each engine with iperf3.
# An iperf3 server listens on host 127.0.0.1; each engine's session reaches
# it at the address that engine maps to host loopback (10.0.2.2 for
# nsession --allow-host-loopback, slirp4netns and rootlesskit without
# --disable-host-loopback; pasta's gateway address). "up" = session -> host
# (iperf3 -c), "down" = host -> session (iperf3 -c -R). Ceilings: plain
# loopback on the host, and a veth pair between two network namespaces this
# script creates (and deletes). Passes are interleaved: every pass runs every
# engine in both directions, so slow phases of the machine hit all rows, and
# the order of rows (and of the two directions) rotates from pass to pass.
# The -ipv6 rows do the same over IPv6: a server on host ::1, reached at
# fd00::2 (nsession, and slirp4netns with --enable-ipv6).
set -u
. "$(dirname "$0")/lib.sh"
bench_mkwork
cleanup() { bench_cleanup_procs; veth_down; rm -rf "$W"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$BENCH_QUICK" = 1 ]; then PASSES=1; T=2; else PASSES=7; T=3; fi
notes=()
ensure_bench_user

port=$(free_port)
as_bench iperf3 -s -B 127.0.0.1 -p "$port" >/dev/null 2>&1 &
OWN_PIDS+=($!)
wait_until 50 port_open 127.0.0.1 "$port" || { log "iperf3 server did not start"; }
as_bench iperf3 -s -B ::1 -p "$port" >/dev/null 2>&1 &
OWN_PIDS+=($!)
wait_until 50 bash -c "exec 3<>/dev/tcp/::1/$port" 2>/dev/null || { log "iperf3 server on ::1 did not start"; }
veth_ok=0
if veth_up; then
	ip netns exec "$VETH_A" iperf3 -s -B "$VETH_IP_A" -p "$port" >/dev/null 2>&1 &
	OWN_PIDS+=($!)
	wait_until 50 ip netns exec "$VETH_A" bash -c "exec 3<>/dev/tcp/$VETH_IP_A/$port" 2>/dev/null && veth_ok=1
fi
[ $veth_ok = 1 ] || notes+=("- veth: not measured (could not set up the pair or its iperf3 server)")

# client command (words) for ROW; DIR: up|down
client_cmd() {
	local row=$1 dir=$2 r=
	[ "$dir" = down ] && r=-R
	case $row in
	loopback) echo "$BENCH_SETPRIV iperf3 -c 127.0.0.1 -p $port -t $T -J $r" ;;
	veth) echo "ip netns exec $VETH_B iperf3 -c $VETH_IP_A -p $port -t $T -J $r" ;;
	nsession-ipv6) echo "$BENCH_SETPRIV $(engine_prefix nsession) iperf3 -c fd00::2 -p $port -t $T -J $r" ;;
	slirp4netns-ipv6) echo "$BENCH_SETPRIV bash $BENCH_DIR/slirp-by-hand.sh --allow-host-loopback --ipv6 -- iperf3 -c fd00::2 -p $port -t $T -J $r" ;;
	*) echo "$BENCH_SETPRIV $(engine_prefix "$row") iperf3 -c $(engine_hostaddr "$row") -p $port -t $T -J $r" ;;
	esac
}
V6ROWS="nsession-ipv6 slirp4netns-ipv6"
ROWS="loopback veth $ENGINES $V6ROWS"
[ $veth_ok = 1 ] || ROWS="loopback $ENGINES $V6ROWS"

for ((pass = 1; pass <= PASSES; pass++)); do
	log "pass $pass/$PASSES (t=$T s)"
	ensure_bench_user
	for row in $(rotate $((pass - 1)) $ROWS); do
		for dir in $(rotate $((pass - 1)) up down); do
			cmd=$(client_cmd "$row" "$dir")
			(cd "$W/u" && timeout $((T + 30)) $cmd </dev/null >"$W/out.json" 2>"$W/err.txt")
			rc=$?
			left=$(sweep_strays)
			[ -n "$left" ] && notes+=("- $row $dir pass $pass: left behind $left(killed)")
			res=$($PY - "$W/out.json" <<'EOF'
import json, sys
try:
    txt = open(sys.argv[1]).read()
    d = json.loads(txt[txt.index("{"):])
except Exception:
    print("\tno JSON from iperf3")
    sys.exit()
err = d.get("error", "")
bps = d.get("end", {}).get("sum_received", {}).get("bits_per_second", 0)
if bps > 0 and not err:
    print("%.1f\t" % (bps / 1e6))
else:
    print("\tiperf3: %s (received %.0f bit/s)" % (err or "no error text", bps))
EOF
)
			mbps=${res%%$'\t'*}
			why=${res#*$'\t'}
			if [ -n "$mbps" ] && [ $rc -eq 0 ]; then
				printf '%s\t%s\n' "$row" "$mbps" >>"$W/$dir.tsv"
			else
				notes+=("- $row $dir pass $pass: no result ($(rc_text $rc)); $why; stderr: $(tail -c 300 "$W/err.txt" | tr '\n' ' ')")
			fi
		done
	done
done

rows_csv="loopback,veth,${ENGINES// /,},${V6ROWS// /,}"
{
	echo "## TCP throughput (iperf3, Mbit/s, higher is better)"
	echo
	echo "$PASSES pass(es) of ${T}-second iperf3 runs per row and direction, interleaved (the row"
	echo "order rotated by one each pass, the direction order flipped); the value is iperf3's"
	echo "end.sum_received.bits_per_second. Ratios are to the ceilings."
	echo
	for dir in up down; do
		if [ $dir = up ]; then echo "### up: session -> host (iperf3 -c)"; else echo "### down: host -> session (iperf3 -c -R)"; fi
		echo
		$REPORT table "$W/$dir.tsv" --unit Mbit/s --decimals 0 --label path --order "$rows_csv" --ratio loopback,veth
		echo
		$REPORT matrix "$W/$dir.tsv" --rows nsession --cols slirp4netns,rootlesskit,pasta \
			--note "(nsession median / peer median; above 1 = nsession faster)"
		echo
		$REPORT matrix "$W/$dir.tsv" --rows nsession-ipv6 --cols slirp4netns-ipv6,nsession \
			--note "(IPv6: nsession-ipv6 median / median of the column; above 1 = the IPv6 row faster)"
		echo
	done
	echo "Commands (server: \`iperf3 -s -B 127.0.0.1 -p PORT\` and \`iperf3 -s -B ::1 -p PORT\` as $BENCH_USER; veth server:"
	echo "\`ip netns exec A iperf3 -s -B $VETH_IP_A -p PORT\`; down adds -R):"
	echo
	for row in $ROWS; do printf '%-17s %s\n' "$row:" "$(client_cmd "$row" up | sed "s/-p $port/-p PORT/; s/$VETH_B/B/")"; done | cmd_block
	echo
	echo "- loopback: the host's own TCP stack, no namespace crossing (upper bound)."
	echo "- veth: two network namespaces joined by a veth pair, addresses 10.203.77.1/2"
	echo "  (the kernel path a root-made container would get)."
	echo "- engines: user-mode TCP/IP between the session's TAP and host sockets: libslirp"
	echo "  for slirp4netns and rootlesskit; nsession's own TCP path (shared/tcpfast.c) for"
	echo "  the session's outbound TCP (IPv4 and IPv6), libslirp for the rest; pasta's own. pasta's gateway"
	echo "  address ($(host_gateway)) is mapped to host loopback, so its rows use the tap path."
	echo "- -ipv6 rows: the same to the server on host ::1, reached at fd00::2 (host"
	echo "  loopback's IPv6 address in both); slirp-by-hand.sh --ipv6 waits until tap0 has"
	echo "  its address from slirp4netns' router advertisement before iperf3 starts. Host"
	echo "  loopback has next to no round trip, so libslirp's 64 KiB window, which caps a"
	echo "  flow at 64 KiB per round trip, shows much less here than over a real network."
	if [ ${#notes[@]} -gt 0 ]; then
		echo
		printf '%s\n' "${notes[@]}"
	fi
	echo
} >"$BENCH_OUT"
