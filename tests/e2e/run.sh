#!/usr/bin/env bash
# End-to-end acceptance of `nsession run` (issue: a command in a fresh
# user+net+mount namespace with TAP networking). Needs root: it creates a
# test user with subordinate ids, opens /dev/net/tun to 0666 (the
# distribution default) for the rootless cases and restores it afterwards.
set -u
. "$NSESS_SRCDIR/tests/e2e/lib.sh"

if [ "$(id -u)" != 0 ]; then
	not_ok "e2e run tests need root"
	e2e_done
	exit 1
fi

workdir=$(mktemp -d)
chmod 755 "$workdir"
bgpids=()
cleanup() {
	local p
	for p in "${bgpids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	e2e_restore_tun
	rm -rf "$workdir"
}
trap cleanup EXIT

e2e_users
e2e_tun_open
uid=$(id -u "$E2E_USER")
gid=$(id -g "$E2E_USER")

host_ns() { readlink /proc/self/ns/"$1"; }

# ---- maps and namespaces, rootless, both layouts --------------------------
out=$(as_user "$E2E_USER" "$NSESSION" run --map=root -- sh -c 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; readlink /proc/self/ns/user /proc/self/ns/net /proc/self/ns/mnt' 2>&1)
check_eq "rootless root layout: uid 0 inside" "0" "$(sed -n 1p <<<"$out")"
check_eq "rootless root layout: gid 0 inside" "0" "$(sed -n 2p <<<"$out")"
umap=$(sed -n '3,4p' <<<"$out" | awk '{print $1" "$2" "$3}' | tr '\n' '/')
check_eq "rootless root layout: 0 is the user, 1.. the subuid range" "0 $uid 1/1 $E2E_SUBSTART 65535/" "$umap"
check_not_contains "rootless: user ns differs from the host's" "$(host_ns user)" "$out"
check_not_contains "rootless: net ns differs from the host's" "$(host_ns net)" "$out"
check_not_contains "rootless: mnt ns differs from the host's" "$(host_ns mnt)" "$out"

out=$(as_user "$E2E_USER" "$NSESSION" run --map=keep-id -- sh -c 'id -u; id -g; cat /proc/self/uid_map' 2>&1)
check_eq "rootless keep-id: own uid inside" "$uid" "$(sed -n 1p <<<"$out")"
check_eq "rootless keep-id: own gid inside" "$gid" "$(sed -n 2p <<<"$out")"
umap=$(sed -n '3,$p' <<<"$out" | awk '{print $1" "$2" "$3}' | tr '\n' '/')
check_contains "rootless keep-id: uid maps to itself" "$uid $uid 1/" "$umap"
check_contains "rootless keep-id: ids below uid from the range" "0 $E2E_SUBSTART $uid/" "$umap"

# ---- root: --user, keep-id with all groups --------------------------------
out=$("$NSESSION" run --user "$E2E_USER" -- sh -c 'id -u; id -g; cat /proc/self/uid_map; echo ---; cat /proc/self/gid_map; grep -E "^Cap(Eff|Prm)" /proc/self/status; readlink /proc/self/ns/user' 2>&1)
check_eq "root --user: the user's uid inside" "$uid" "$(sed -n 1p <<<"$out")"
check_eq "root --user: the user's gid inside" "$gid" "$(sed -n 2p <<<"$out")"
umap=$(sed -n '3,/---/p' <<<"$out" | awk '{print $1" "$2" "$3}' | tr '\n' '/')
check_contains "root --user: keep-id uid line" "$uid $uid 1/" "$umap"
check_contains "root --user: fill from the subuid range" "0 $E2E_SUBSTART $uid/" "$umap"
check_not_contains "root --user: host root never mapped" " 0 " "$(sed -n '3,/CapEff/p' <<<"$out" | awk '{print " "$2" "}')"
check_contains "root --user: no capabilities left" "CapEff:	0000000000000000" "$out"
check_not_contains "root --user: user ns differs" "$(host_ns user)" "$out"

# ---- network inside ---------------------------------------------------------
for who in user root; do
	if [ $who = user ]; then
		run=(as_user "$E2E_USER" "$NSESSION" run --)
	else
		run=("$NSESSION" run --user "$E2E_USER" --)
	fi
	out=$("${run[@]}" sh -c 'ip -o link show dev tap0; cat /sys/class/net/tap0/mtu; ip -o addr show dev tap0; ip route show default; ip -6 route show default; cat /etc/resolv.conf; cat /etc/hosts; grep -E " /etc/(resolv.conf|hosts) " /proc/self/mountinfo | cut -d" " -f5,6' 2>&1)
	check_contains "$who: tap0 is up" ",UP" "$(head -n 1 <<<"$out")"
	check_eq "$who: tap0 MTU 65520 (the default)" "65520" "$(sed -n 2p <<<"$out")"
	check_contains "$who: tap0 has 10.0.2.100/24" "inet 10.0.2.100/24" "$out"
	check_contains "$who: tap0 has fd00::100/64" "inet6 fd00::100/64" "$out"
	check_contains "$who: IPv4 default route via 10.0.2.2" "default via 10.0.2.2 dev tap0" "$out"
	check_contains "$who: IPv6 default route via fd00::2" "default via fd00::2 dev tap0" "$out"
	check_contains "$who: the IPv4 route sends 16384, takes 32727, ACKs at once" \
		"default via 10.0.2.2 dev tap0 proto static mtu 16384 advmss 32727 quickack 1" "$out"
	check_contains "$who: the IPv6 route sends 16384, takes 32727, ACKs at once" \
		"mtu 16384 advmss 32727 quickack 1" "$(grep fd00::2 <<<"$out")"
	check_contains "$who: resolv.conf names the forwarder" "nameserver 10.0.2.3" "$out"
	check_contains "$who: hosts names the session" "10.0.2.100" "$out"
	check_contains "$who: resolv.conf is mounted read-only" "/etc/resolv.conf ro," "$out"
	check_contains "$who: hosts is mounted read-only" "/etc/hosts ro," "$out"
done

# ---- DNS through the forwarder to a resolver on host loopback ---------------
# libslirp forwards to the nameserver in the engine's /etc/resolv.conf, so the
# test gives the engine (and only it) a private resolv.conf naming a random
# loopback address, so concurrent runs cannot answer each other.
dns_ip=127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 2))
echo "nameserver $dns_ip" >"$workdir/resolv.conf"
dnsmasq --no-daemon --keep-in-foreground --port=53 --listen-address=$dns_ip --bind-interfaces \
	--no-resolv --no-hosts --address=/nsession-test.example/192.0.2.55 --user=root \
	--pid-file="$workdir/dnsmasq.pid" >"$workdir/dnsmasq.log" 2>&1 &
bgpids+=($!)
sleep 0.5
out=$(unshare -m sh -c "mount --bind $workdir/resolv.conf /etc/resolv.conf && setpriv --reuid=$E2E_USER --regid=$gid --init-groups -- $NSESSION run -- getent hosts nsession-test.example" 2>&1)
check_contains "DNS: a name served on host loopback resolves inside (rootless)" "192.0.2.55" "$out"
out=$(unshare -m sh -c "mount --bind $workdir/resolv.conf /etc/resolv.conf && $NSESSION run --user $E2E_USER -- getent hosts nsession-test.example" 2>&1)
check_contains "DNS: a name served on host loopback resolves inside (root --user)" "192.0.2.55" "$out"

# ---- host loopback: off by default, on with --allow-host-loopback ----------
port=$((20000 + RANDOM % 20000))
socat TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork SYSTEM:'echo hello-from-host' >/dev/null 2>&1 &
bgpids+=($!)
sleep 0.3
probe="timeout 3 bash -c 'exec 3<>/dev/tcp/10.0.2.2/$port && head -n 1 <&3' 2>&1 || echo unreachable"
out=$(as_user "$E2E_USER" "$NSESSION" run -- bash -c "$probe" 2>&1)
check_contains "host loopback unreachable by default (rootless)" "unreachable" "$out"
check_not_contains "host loopback unreachable by default: no data" "hello-from-host" "$out"
out=$(as_user "$E2E_USER" "$NSESSION" run --allow-host-loopback -- bash -c "$probe" 2>&1)
check_contains "host loopback reachable with --allow-host-loopback (rootless)" "hello-from-host" "$out"
out=$("$NSESSION" run --user "$E2E_USER" -- bash -c "$probe" 2>&1)
check_contains "host loopback unreachable by default (root --user)" "unreachable" "$out"
out=$("$NSESSION" run --user "$E2E_USER" --allow-host-loopback -- bash -c "$probe" 2>&1)
check_contains "host loopback reachable with --allow-host-loopback (root --user)" "hello-from-host" "$out"

# ---- the same over IPv6: fd00::2 is the host's ::1 ------------------------------
# The session's IPv6 TCP takes the engine's own path as IPv4 does (868ede8):
# a short answer, then 4 MiB from a host ::1 server, all of which must arrive.
# bulk_server ADDR PORT [BANNER]: in the background, answers every
# connection with BANNER and 4 MiB of zeros, then closes it
bulk_server() {
	python3 -c '
import socket, sys
addr, port, banner = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(8)
data = banner + bytes(4194304)
while True:
    c, _ = s.accept()
    try:
        c.sendall(data)
    except OSError:
        pass
    c.close()
' "$1" "$2" "${3:-}" >/dev/null 2>&1 &
	bgpids+=($!)
}
port6=$((20000 + RANDOM % 20000))
bulk_server ::1 $port6 $'hello-from-host6\n'
wait_until 30 bash -c "exec 3<>/dev/tcp/::1/$port6" 2>/dev/null
probe6='
import socket, sys
try:
    s = socket.create_connection(("fd00::2", int(sys.argv[1])), timeout=5)
except OSError as e:
    print("unreachable:", e)
    sys.exit(0)
got = b""
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    got += b
print("%s got=%d" % (got[:16].decode(), len(got) - 17))
'
# run_as WHO ARGS...: nsession run ARGS as the test user, rootless or root --user
run_as() {
	local who=$1
	shift
	if [ "$who" = rootless ]; then
		as_user "$E2E_USER" "$NSESSION" run "$@"
	else
		"$NSESSION" run --user "$E2E_USER" "$@"
	fi
}
out=$(run_as rootless -- python3 -c "$probe6" $port6 2>&1)
check_contains "IPv6 host loopback unreachable by default (rootless)" "unreachable" "$out"
for who in rootless "root --user"; do
	out=$(run_as "$who" --allow-host-loopback -- python3 -c "$probe6" $port6 2>&1)
	check_eq "IPv6 TCP to [fd00::2] reaches host ::1 with --allow-host-loopback ($who), 4 MiB arrive" \
		"hello-from-host6 got=4194304" "$out"
done

# ---- TCP segment sizes through the engine ------------------------------------
# What the routes ask for must be what flows: the session sends 16344-byte
# segments (route MTU 16384) and receives larger ones from the engine's TCP
# path, at most the advmss of 32727. Read back with TCP_INFO after 4 MiB came
# from a host loopback server, which must all arrive. The server hands the
# kernel all 4 MiB at once, so the engine always has more queued than one
# segment: a server writing 8 KiB at a time would give 8 KiB segments.
port2=$((40000 + RANDOM % 20000))
bulk_server 127.0.0.1 $port2
wait_until 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port2" 2>/dev/null
mss_probe='
import socket, struct, sys
s = socket.create_connection(("10.0.2.2", int(sys.argv[1])), timeout=10)
got = 0
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    got += len(b)
i = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
snd, rcv = struct.unpack_from("II", i, 16)
print("got=%d snd_mss=%d receives-larger=%s" % (got, snd, "yes" if 16344 < rcv <= 32727 else "no: %d" % rcv))
'
for who in rootless "root --user"; do
	out=$(run_as "$who" --allow-host-loopback -- python3 -c "$mss_probe" $port2 2>&1)
	check_eq "TCP through the engine ($who): 4 MiB arrive, sent in 16344, received in larger segments" \
		"got=4194304 snd_mss=16344 receives-larger=yes" "$out"
done

# ---- the rootless engine: nsession-engine, a lean image of its own ---------
# The command's parent is the engine; it must be nsession-engine (same pid as
# the nsession the shell started), mapping none of the setup's libraries. The
# command starts while its parent is still about to exec the engine, so the
# parent's name is read after a connection went through the engine: by then
# the engine runs, in whichever image it is going to run.
probe2="$probe; echo PARENT=\$(cat /proc/\$PPID/comm)"
out=$(as_user "$E2E_USER" "$NSESSION" run --allow-host-loopback -- bash -c "$probe2" 2>&1)
check_eq "rootless: the command's parent is nsession-engine" "PARENT=nsession-engine" "$(grep -m 1 '^PARENT=' <<<"$out")"
check_contains "rootless: traffic flows through nsession-engine" "hello-from-host" "$out"
as_user "$E2E_USER" "$NSESSION" run -- sleep 30 >/dev/null 2>&1 &
sub=$!
bgpids+=($sub)
# as_user's setpriv execs nsession, which execs nsession-engine: one pid throughout
np=
wait_until 50 eval 'np=$(pgrep -P $sub | head -n 1); [ -n "$np" ] && [ "$(cat /proc/$np/comm 2>/dev/null)" = nsession-engine ]'
check_eq "rootless: nsession became nsession-engine in place (same pid)" "nsession-engine" "$(cat /proc/${np:-0}/comm 2>&1)"
maps=$(cat /proc/$np/maps 2>&1)
check_contains "nsession-engine maps libslirp" "libslirp" "$maps"
check_not_contains "nsession-engine maps no libnl (the setup's library)" "libnl" "$maps"
check_not_contains "nsession-engine maps no NSS module" "libnss_" "$maps"
check_eq "nsession-engine holds only stdio, TAP, pidfd, socket, signalfd and libslirp's fds" "" \
	"$(ls -l /proc/$np/fd 2>&1 | awk 'NR > 1 && $NF !~ /^(\/dev\/(pts\/[0-9]+|null|net\/tun)|anon_inode:(\[pidfd\]|\[signalfd\]|\[eventpoll\])|socket:.*|pipe:.*|\/dev\/urandom)$/ { print $NF }')"
check_contains "nsession-engine: seccomp filter loaded" "Seccomp:	2" "$(cat /proc/$np/status)"
check_contains "nsession-engine: no new privileges" "NoNewPrivs:	1" "$(cat /proc/$np/status)"
check_eq "nsession-engine: environment is empty" "" "$(tr '\0' '\n' </proc/$np/environ | grep -v -E '^(ASAN|UBSAN|LSAN)_OPTIONS=|^NSESS_FAULT(_TAG)?=' || true)"
kill -TERM "${np:-$sub}"
wait $sub
check_eq "nsession-engine forwards SIGTERM: exit 143" "143" "$?"

# ---- the engine starts with the session's first frame, or after 25 ms -------
# (IPv4 only here: with IPv6 the link-up chatter is filtered, see below)
out=$(as_user "$E2E_USER" "$NSESSION" run -v --no-ipv6 -- sh -c 'sleep 0.5; echo PARENT=$(cat /proc/$PPID/comm)' 2>&1)
check_contains "idle session: the engine starts on its timer" "starting the network engine: the idle timer" "$out"
check_eq "idle session: the lean engine serves it from then on" "PARENT=nsession-engine" "$(grep -m 1 '^PARENT=' <<<"$out")"
out=$(as_user "$E2E_USER" "$NSESSION" run -v --no-ipv6 --allow-host-loopback -- bash -c "$probe" 2>&1)
check_contains "a first connection starts the engine" "starting the network engine: the session's first frame" "$out"
check_contains "a first connection goes through at once" "hello-from-host" "$out"
n=0
for _ in 1 2 3; do
	as_user "$E2E_USER" "$NSESSION" run -v --no-ipv6 -- true 2>&1 | grep -q "no engine was started" && n=$((n + 1))
done
check_eq "a command that ends at once never starts the engine (in 1 of 3 runs at least)" "yes" "$([ "$n" -ge 1 ] && echo yes || echo "no: $n of 3")"
# With IPv6 on, the kernel sends MLD reports and DAD probes on tap0 within
# ~10 ms of link-up; they need no answer and must not start the engine.
n=0
for _ in 1 2 3; do
	as_user "$E2E_USER" "$NSESSION" run -v -- sleep 0.01 2>&1 | grep -q "no engine was started" && n=$((n + 1))
done
check_eq "IPv6 link-up chatter does not start the engine (in 2 of 3 runs at least)" "yes" "$([ "$n" -ge 2 ] && echo yes || echo "no: $n of 3")"
out=$(as_user "$E2E_USER" "$NSESSION" run -v -- bash -c 'echo q >/dev/udp/10.0.2.3/53; sleep 0.05' 2>&1)
check_contains "with IPv6 on, a first datagram still starts the engine at once" "starting the network engine: the session's first frame" "$out"
out=$(as_user "$E2E_USER" "$NSESSION" run -v --no-ipv6 -- sh -c 'exit 7' 2>&1)
check_eq "without an engine: the command's exit code is nsession's" "7" "$?"
out=$(as_user "$E2E_USER" "$NSESSION" run -v --no-ipv6 --publish 127.0.0.1:$((20000 + RANDOM % 20000)):8080 -- true 2>&1)
check_not_contains "--publish: the engine starts at once (its listeners are the ports)" "no engine was started" "$out"
check_not_contains "--publish: not deferred" "starting the network engine:" "$out"

# Without nsession-engine beside it (and none installed), a session with a
# network cannot start: nsession fails closed, names what is missing, and
# leaves no process behind; --net=none needs no engine and still runs.
mkdir -p "$workdir/solo"
cp "$NSESSION" "$workdir/solo/nsession"
chmod 755 "$workdir/solo" "$workdir/solo/nsession"
installed=$(strings -a "$NSESSION" | grep -m 1 '/nsession-engine$' || true)
mkdir -p "$workdir/solo-ran"
chmod 1777 "$workdir/solo-ran"
out=$(as_user "$E2E_USER" "$workdir/solo/nsession" run --allow-host-loopback -- bash -c "touch $workdir/solo-ran/ran; $probe2" 2>&1)
rc=$?
if [ -n "$installed" ] && [ -x "$installed" ]; then
	check_eq "no nsession-engine beside nsession: the installed $installed runs" "PARENT=nsession-engine" "$(grep -m 1 '^PARENT=' <<<"$out")"
else
	check_eq "no nsession-engine anywhere: exit 125" "125" "$rc"
	check_not_contains "no nsession-engine anywhere: the command never ran" "PARENT=" "$out"
	check_eq "no nsession-engine anywhere: the command never started (it is looked for first)" \
		"" "$(ls "$workdir/solo-ran")"
	check_contains "no nsession-engine anywhere: the error names what is missing" \
		"nsession-engine is not installed (${installed:-/})" "$out"
	check_contains "no nsession-engine anywhere: the error names the way out" "--net=none" "$out"
	check_eq "no nsession-engine anywhere: no process left" "" "$(pgrep -u "$E2E_USER" -a || true)"
	out=$(as_user "$E2E_USER" "$workdir/solo/nsession" run --net=none -- echo net-none-runs 2>&1)
	check_eq "no nsession-engine anywhere: --net=none still runs" "net-none-runs" "$out"
fi

# ---- root --user --engine-user: the engine as a dedicated account -----------
e2e_engine_account
out=$("$NSESSION" run --user "$E2E_USER" --engine-user "$E2E_ENGINE_ACCT" --allow-host-loopback -- \
	bash -c "id -u; $probe; sleep 0.5" 2>&1 &
	np=$!
	eng=
	for _ in $(seq 1 30); do
		eng=$(pgrep -P "$np" -u "$E2E_ENGINE_ACCT" | head -n 1)
		[ -n "$eng" ] && break
		sleep 0.05
	done
	echo "ENGINE_UID=$( [ -n "$eng" ] && awk '/^Uid:/ {print $2}' "/proc/$eng/status")"
	wait "$np")
check_contains "--engine-user: the engine runs as $E2E_ENGINE_ACCT" "ENGINE_UID=$(id -u "$E2E_ENGINE_ACCT")" "$out"
check_eq "--engine-user: the command is still the user" "$uid" "$(grep -x "$uid" <<<"$out")"
check_contains "--engine-user: traffic flows through the engine" "hello-from-host" "$out"
out=$("$NSESSION" run --user "$E2E_USER" --engine-user nsess-no-such-acct -- echo RAN 2>&1)
rc=$?
check_eq "--engine-user missing account: exit 125" "125" "$rc"
check_contains "--engine-user missing account: names it and the fix" \
	"engine account: unknown user 'nsess-no-such-acct' (not in passwd or NSS); create it (useradd --system" "$out"
check_not_contains "--engine-user missing account: the command did not run" "RAN" "$out"
out=$("$NSESSION" run --user "$E2E_USER" --engine-user root -- echo RAN 2>&1)
check_contains "--engine-user root: refused" "the engine never runs with id 0" "$out"
out=$(as_user "$E2E_USER" "$NSESSION" run --engine-user "$E2E_ENGINE_ACCT" -- echo RAN 2>&1)
check_eq "--engine-user rootless: a usage error (exit 2)" "2" "$?"
check_contains "--engine-user rootless: says it goes with --user" "goes with --user" "$out"

# ---- a host peer that closes while the session still sends -----------------
# libslirp then writes into a closed socket: EPIPE for the engine to handle,
# never a SIGPIPE that kills it (nsession used to exit 141 here).
cport=$((20000 + RANDOM % 20000))
socat TCP-LISTEN:$cport,bind=127.0.0.1,reuseaddr,fork SYSTEM:'head -c 1 >/dev/null' >/dev/null 2>&1 &
bgpids+=($!)
sleep 0.3
out=$(as_user "$E2E_USER" "$NSESSION" run --allow-host-loopback -- sh -c "head -c 100000000 /dev/zero | timeout 10 socat -u - TCP:10.0.2.2:$cport 2>/dev/null; echo sender-done" 2>&1)
rc=$?
check_eq "peer closing mid-stream: nsession survives (exit 0, not 141)" "0" "$rc"
check_contains "peer closing mid-stream: the command ran to its end" "sender-done" "$out"

# ---- --publish reaches a listener inside -----------------------------------
hport=$((20000 + RANDOM % 20000))
setpriv --reuid="$E2E_USER" --regid="$gid" --init-groups --reset-env -- "$NSESSION" run --publish 127.0.0.1:$hport:8080 -- \
	socat TCP-LISTEN:8080,reuseaddr,fork SYSTEM:'echo hello-from-inside' >"$workdir/pub.log" 2>&1 &
pubpid=$!
got=
for _ in $(seq 1 50); do
	got=$(timeout 4 socat -t 3 - TCP:127.0.0.1:$hport </dev/null 2>/dev/null) && [ -n "$got" ] && break
	sleep 0.1
done
check_contains "--publish 127.0.0.1:$hport:8080 reaches the session" "hello-from-inside" "$got"
kill -TERM $pubpid
wait $pubpid
check_eq "SIGTERM to nsession is forwarded: exit 143" "143" "$?"

# ---- exit status and signals ---------------------------------------------
as_user "$E2E_USER" "$NSESSION" run -- sh -c 'exit 7' >/dev/null 2>&1
check_eq "exit status is the command's" "7" "$?"
as_user "$E2E_USER" "$NSESSION" run -- sh -c 'kill -KILL $$' >/dev/null 2>&1
check_eq "killed by signal 9: exit 137" "137" "$?"
# started with stdin, stdout and stderr closed, session fds get numbers 0-2
mkdir -p "$workdir/u" && chown "$E2E_USER" "$workdir/u"
as_user "$E2E_USER" "$NSESSION" run --allow-host-loopback -- bash -c "{ $probe; } >$workdir/u/closed.out 2>&1; exit 5" 0<&- 1>&- 2>&-
check_eq "stdio closed: exit status is still the command's" "5" "$?"
check_contains "stdio closed: traffic flows" "hello-from-host" "$(cat "$workdir/u/closed.out" 2>&1)"
as_user "$E2E_USER" "$NSESSION" run -- sleep 30 0<&- 1>&- 2>&- &
sub=$!
bgpids+=($sub)
np=
wait_until 50 eval 'np=$(pgrep -P $sub | head -n 1); [ -n "$np" ] && [ "$(cat /proc/$np/comm 2>/dev/null)" = nsession-engine ]'
check_eq "stdio closed: the engine's fds 0-2 are /dev/null, not a socket of the session" \
	"/dev/null /dev/null /dev/null" "$(readlink /proc/${np:-0}/fd/0 /proc/${np:-0}/fd/1 /proc/${np:-0}/fd/2 | tr '\n' ' ' | sed 's/ $//')"
kill -TERM "${np:-$sub}"
wait $sub
# Job control on: bash would otherwise start background jobs with SIGINT
# ignored, and an ignored signal is (rightly) inherited by the command.
set -m
bg_user() { setpriv --reuid="$E2E_USER" --regid="$gid" --init-groups --reset-env -- "$NSESSION" "$@" >/dev/null 2>&1 & }
for sig in USR1:138 INT:130 TERM:143; do
	bg_user run -- sleep 30
	p=$!
	sleep 0.5
	kill -"${sig%%:*}" $p
	wait $p
	check_eq "SIG${sig%%:*} to nsession is forwarded: exit ${sig#*:}" "${sig#*:}" "$?"
done
"$NSESSION" run --user "$E2E_USER" -- sleep 30 >/dev/null 2>&1 &
p=$!
sleep 0.5
kill -HUP $p
wait $p
check_eq "root --user: SIGHUP forwarded: exit 129" "129" "$?"
set +m
err=$(as_user "$E2E_USER" "$NSESSION" run -- /nonexistent/cmd 2>&1)
rc=$?
check_eq "a command that cannot be run: exit 127" "127" "$rc"
check_contains "a command that cannot be run: named" "/nonexistent/cmd" "$err"

sleep 0.5
check_eq "no process of the test user remains" "" "$(user_procs "$E2E_USER")"
check_eq "no nsession process remains" "" "$(pgrep -a -x nsession; pgrep -a -x nsession-engine)"

# ---- --net=none and --net=host ---------------------------------------------
out=$(as_user "$E2E_USER" "$NSESSION" run --net=none -- sh -c 'ls /sys/class/net' 2>&1)
check_eq "--net=none: only lo" "lo" "$out"
out=$(as_user "$E2E_USER" "$NSESSION" run --net=host -- readlink /proc/self/ns/net 2>&1)
check_eq "--net=host: the host's network namespace" "$(host_ns net)" "$out"

# ---- bad input --------------------------------------------------------------
err=$("$NSESSION" run --bogus -- true 2>&1)
rc=$?
check_eq "unknown option: exit 2" "2" "$rc"
check_contains "unknown option: named" "unknown option '--bogus'" "$err"
err=$("$NSESSION" run 2>&1)
rc=$?
check_eq "missing command: exit 2" "2" "$rc"
check_contains "missing command: said" "no command given" "$err"
err=$("$NSESSION" run --user no-such-user-xyz -- true 2>&1)
rc=$?
check_eq "unknown user: exit 125" "125" "$rc"
check_contains "unknown user: named" "unknown user 'no-such-user-xyz'" "$err"
err=$("$NSESSION" run -- true 2>&1)
rc=$?
check_eq "root without --user: exit 125" "125" "$rc"
check_contains "root without --user: explains" "--user" "$err"
err=$(as_user "$E2E_USER" "$NSESSION" run --publish 99999:80 -- true 2>&1)
check_contains "bad --publish: names the value" "99999:80" "$err"
err=$(as_user "$E2E_USER" "$NSESSION" run --mtu 100 -- true 2>&1)
check_contains "bad --mtu: names the value" "100" "$err"

# no subid entry: falls back to a single-id map with one warning
out=$(as_user "$E2E_NOSUB" "$NSESSION" run -- sh -c 'id -u; cat /proc/self/uid_map' 2>&1)
rc=$?
check_eq "no subid entry: still runs" "0" "$rc"
check_contains "no subid entry: warns once" "no subuid range for $E2E_NOSUB" "$out"
check_eq "no subid entry: exactly one warning" "1" "$(grep -c 'warning:' <<<"$out")"
check_eq "no subid entry: single-id map" "1" "$(grep -cE '^ +0 +[0-9]+ +1$' <<<"$out")"

# a malformed subuid line for the user fails closed, naming file:line
cp /etc/subuid "$workdir/subuid.bak"
echo "$E2E_USER:0:65536" >>/etc/subuid
line=$(wc -l </etc/subuid)
err=$(as_user "$E2E_USER" "$NSESSION" run -- true 2>&1)
rc=$?
cp "$workdir/subuid.bak" /etc/subuid
check_eq "malformed subuid line: exit 125" "125" "$rc"
check_contains "malformed subuid line: file:line" "/etc/subuid:$line" "$err"

# /dev/net/tun 0600: rootless cannot create the TAP; the error names the fix
chmod 0600 /dev/net/tun
err=$(as_user "$E2E_USER" "$NSESSION" run -- true 2>&1)
rc=$?
chmod 0666 /dev/net/tun
check_eq "/dev/net/tun 0600: exit 125" "125" "$rc"
check_contains "/dev/net/tun 0600: names the fix" "chmod 0666 /dev/net/tun" "$err"
check_contains "/dev/net/tun 0600: the fix makes it last" "udev rule" "$err"
check_eq "/dev/net/tun 0600: the fix is given once, not again by the doctor brief" "1" \
	"$(grep -o "chmod 0666 /dev/net/tun" <<<"$err" | wc -l)"
sleep 0.3
check_eq "after failures: nothing of the user left running" "" "$(user_procs "$E2E_USER")"

# a uid with no passwd entry: the lookup runs while the setup child already
# unshares, so the failure must also end that child
nopw=$(awk -F: 'BEGIN { u = 47000 } { used[$3] = 1 } END { while (u in used) u++; print u }' /etc/passwd)
err=$(setpriv --reuid="$nopw" --regid="$nopw" --clear-groups --reset-env -- "$NSESSION" run -- true 2>&1)
rc=$?
check_eq "uid without passwd entry: exit 125" "125" "$rc"
check_contains "uid without passwd entry: named" "uid $nopw has no passwd entry" "$err"
sleep 0.3
check_eq "uid without passwd entry: nothing left running" "" "$(pgrep -u "$nopw" -a 2>/dev/null || true)"

e2e_done
[ "$fail" -eq 0 ]
