#!/bin/bash
# bench/latency.sh - request/response latency: many small rounds of
# connect, send 32 bytes, read the 32-byte answer, close, from inside a
# session to a server on host 127.0.0.1 (through each engine), and over
# plain loopback and a veth pair for reference. Each round is timed inside
# the client (python3 time.perf_counter), so process and session start-up
# are not in the numbers. Passes are interleaved over the rows.
set -u
. "$(dirname "$0")/lib.sh"
bench_mkwork
cleanup() { bench_cleanup_procs; veth_down; rm -rf "$W"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$BENCH_QUICK" = 1 ]; then PASSES=2; N=100; else PASSES=5; N=400; fi
notes=()
ensure_bench_user

cat >"$W/rr-server.py" <<'EOF'
# echo server: accept, read 32 bytes, send them back, close (one at a time)
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(64)
while True:
    c, _ = s.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    while len(buf) < 32:
        d = c.recv(32 - len(buf))
        if not d:
            break
        buf += d
    if buf:
        c.sendall(buf)
    c.close()
EOF
cat >"$W/rr-client.py" <<'EOF'
# rr-client.py HOST PORT N: N rounds of connect/send 32/recv 32/close;
# prints each round's time in microseconds
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
msg = b"x" * 32
out = []
for _ in range(n):
    t0 = time.perf_counter()
    c = socket.create_connection((host, port), timeout=5)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sendall(msg)
    got = b""
    while len(got) < 32:
        d = c.recv(32 - len(got))
        if not d:
            break
        got += d
    c.close()
    out.append((time.perf_counter() - t0) * 1e6)
print("\n".join("%.1f" % v for v in out))
EOF
chmod 644 "$W"/*.py

port=$(free_port)
as_bench $PY "$W/rr-server.py" 127.0.0.1 "$port" >/dev/null 2>&1 &
OWN_PIDS+=($!)
wait_until 50 port_open 127.0.0.1 "$port" || log "server did not start"
veth_ok=0
if veth_up; then
	ip netns exec "$VETH_A" $PY "$W/rr-server.py" "$VETH_IP_A" "$port" >/dev/null 2>&1 &
	OWN_PIDS+=($!)
	wait_until 50 ip netns exec "$VETH_A" bash -c "exec 3<>/dev/tcp/$VETH_IP_A/$port" 2>/dev/null && veth_ok=1
fi
[ $veth_ok = 1 ] || notes+=("- veth: not measured (could not set up the pair or its server)")

client_cmd() {
	case $1 in
	loopback) echo "$BENCH_SETPRIV $PY $W/rr-client.py 127.0.0.1 $port $N" ;;
	veth) echo "ip netns exec $VETH_B $PY $W/rr-client.py $VETH_IP_A $port $N" ;;
	*) echo "$BENCH_SETPRIV $(engine_prefix "$1") $PY $W/rr-client.py $(engine_hostaddr "$1") $port $N" ;;
	esac
}
ROWS="loopback veth $ENGINES"
[ $veth_ok = 1 ] || ROWS="loopback $ENGINES"

for ((pass = 1; pass <= PASSES; pass++)); do
	log "pass $pass/$PASSES ($N rounds per row)"
	ensure_bench_user
	for row in $(rotate $((pass - 1)) $ROWS); do
		(cd "$W/u" && timeout 120 $(client_cmd "$row") </dev/null >"$W/out.txt" 2>"$W/err.txt")
		rc=$?
		left=$(sweep_strays)
		[ -n "$left" ] && notes+=("- $row pass $pass: left behind $left(killed)")
		got=$(grep -cE '^[0-9.]+$' "$W/out.txt")
		if [ "$got" -gt 0 ]; then
			grep -E '^[0-9.]+$' "$W/out.txt" | sed "s/^/$row\t/" >>"$W/rr.tsv"
		fi
		[ "$got" -eq "$N" ] || notes+=("- $row pass $pass: $got of $N rounds ($(rc_text $rc)): $(tail -c 300 "$W/err.txt" | tr '\n' ' ')")
	done
done

{
	echo "## Request/response latency (connect, 32 B request, 32 B answer, close)"
	echo
	echo "Per-round time in microseconds measured inside the client; n = rounds"
	echo "($PASSES interleaved passes x $N, the row order rotated by one each pass). Ratios of"
	echo "medians, lower is better."
	echo
	$REPORT table "$W/rr.tsv" --unit us --decimals 0 --label path --order "loopback,veth,${ENGINES// /,}" --ratio loopback,veth
	echo
	$REPORT matrix "$W/rr.tsv" --rows nsession --cols slirp4netns,rootlesskit,pasta \
		--note "(nsession median / peer median; below 1 = nsession faster)"
	echo
	echo "Commands (server: \`python3 rr-server.py 127.0.0.1 PORT\` as $BENCH_USER, a sequential"
	echo "accept/echo/close loop; rr-server.py and rr-client.py are written by"
	echo "[latency.sh](latency.sh)):"
	echo
	for row in $ROWS; do printf '%-12s %s\n' "$row:" "$(client_cmd "$row" | sed "s| $port | PORT |; s|$W/||; s/$VETH_B/B/")"; done | cmd_block
	echo
	echo "- Each round is a full TCP connection: for the engines that is a connection from"
	echo "  the session's TAP, NATed by the engine into a host socket connect() to"
	echo "  127.0.0.1, and the teardown; the client measures until close() returns."
	if [ ${#notes[@]} -gt 0 ]; then
		echo
		printf '%s\n' "${notes[@]}"
	fi
	echo
} >"$BENCH_OUT"
