#!/usr/bin/env bash
# Two users' sessions cannot see into, signal or join each other
# (shared/SECURITY-CHECKS.md, "Checks to automate"). Needs root.
#
# User A ($E2E_USER) holds a session open (root --user: holder, engine, a
# listener on 10.0.2.100:7000 inside); user B (nsetest2, its own subordinate
# range) then probes A from a session of its own, both kinds (root --user
# and rootless), and from B's plain host shell:
#   - B's network is its own: A's listener is not reachable at A's address;
#   - B cannot signal A's command, holder or engine;
#   - B cannot open A's namespace files, join them (nsenter) or read A's
#     engine's fd table;
#   - B cannot list /run/nsession (A's session record).
# Then a listener on a link-local host address is unreachable from B's
# session unless host loopback is allowed.
# A's session must still be working at the end. Nothing is left behind:
# nsetest2's subuid/subgid lines are removed, its processes must be gone.
set -u
. "$NSESS_SRCDIR/tests/e2e/lib.sh"

if [ "$(id -u)" != 0 ]; then
	not_ok "e2e isolation tests need root"
	e2e_done
	exit 1
fi
for need in nsenter socat setpriv timeout; do
	command -v "$need" >/dev/null 2>&1 || { not_ok "tool $need is installed"; e2e_done; exit 1; }
done

A=$E2E_USER
B=nsetest2
wd=$(mktemp -d /tmp/nsess-iso.XXXXXX)
chmod 755 "$wd"
apid=
ll=169.254.77.1	# link-local, like the cloud metadata service (169.254.169.254)
ll_pid=
ll_added=
cleanup() {
	[ -n "$apid" ] && kill "$apid" 2>/dev/null
	[ -n "$ll_pid" ] && kill "$ll_pid" 2>/dev/null
	wait 2>/dev/null
	[ -n "$ll_added" ] && ip addr del "$ll/32" dev lo 2>/dev/null
	sed -i "/^$B:/d" /etc/subuid /etc/subgid
	e2e_restore_tun
	rm -rf "$wd"
}
trap cleanup EXIT

e2e_users
id "$B" >/dev/null 2>&1 || useradd -m -s /bin/bash "$B"
sed -i "/^$B:/d" /etc/subuid /etc/subgid
echo "$B:400000:65536" >>/etc/subuid
echo "$B:400000:65536" >>/etc/subgid
e2e_tun_open

# ---- A: a session that stays open ------------------------------------------
touch "$wd/a.out"
chmod 666 "$wd/a.out"
"$NSESSION" run --user "$A" -- sh -c "readlink /proc/self/ns/net > $wd/a.out;
	socat TCP-LISTEN:7000,bind=10.0.2.100,reuseaddr,fork SYSTEM:'echo from-A' & s=\$!;
	sleep 60 & t=\$!; trap 'kill \$s \$t; exit 0' TERM;
	echo \$\$ >> $wd/a.out; wait" >"$wd/a.err" 2>&1 &
apid=$!
for _ in $(seq 1 50); do [ "$(wc -l <"$wd/a.out")" -ge 2 ] && break; sleep 0.1; done
sleep 0.3 # the listener
a_net=$(sed -n 1p "$wd/a.out")
a_cmd=$(sed -n 2p "$wd/a.out")
a_holder=$(pgrep -P "$apid" -u 300000 | head -n 1)
a_engine=$(pgrep -P "$apid" -u "$A" -x nsession-engine | head -n 1)
if [ -z "$a_net" ] || [ -z "$a_cmd" ] || [ -z "$a_holder" ] || [ -z "$a_engine" ]; then
	not_ok "A's session is up" "net '$a_net' command '$a_cmd' holder '$a_holder' engine '$a_engine'" "$(cat "$wd/a.err")"
	e2e_done
	exit 1
fi
ok "A's session is up (command $a_cmd, holder $a_holder, engine $a_engine)"
# control: A's listener answers inside A's own network namespace
got=$(nsenter -t "$a_cmd" -n timeout 3 socat -t 2 - TCP:10.0.2.100:7000 </dev/null 2>&1)
check_eq "control: A's listener answers inside A's network" "from-A" "$got"

# ---- B probes A --------------------------------------------------------------
# one script for every vantage point; each line is "NAME: RESULT"
cat >"$wd/probe.sh" <<PROBE
net=\$(readlink /proc/self/ns/net)
[ "\$net" = "$a_net" ] && echo "own-net: SAME" || echo "own-net: differs"
out=\$(timeout 3 socat -t 2 - TCP:10.0.2.100:7000 </dev/null 2>&1)
[ "\$out" = from-A ] && echo "reach-listener: REACHED" || echo "reach-listener: no"
for p in cmd:$a_cmd holder:$a_holder engine:$a_engine; do
	kill -0 "\${p#*:}" 2>/dev/null && echo "signal-\${p%%:*}: ALLOWED" || echo "signal-\${p%%:*}: refused"
	for ns in net user mnt; do
		readlink /proc/\${p#*:}/ns/\$ns >/dev/null 2>&1 && echo "see-\${p%%:*}-\$ns: SEEN" || echo "see-\${p%%:*}-\$ns: refused"
	done
	nsenter -t "\${p#*:}" -U -n true 2>/dev/null && echo "join-\${p%%:*}: JOINED" || echo "join-\${p%%:*}: refused"
done
ls /proc/$a_engine/fd >/dev/null 2>&1 && echo "engine-fds: LISTED" || echo "engine-fds: refused"
ls /run/nsession >/dev/null 2>&1 && echo "run-nsession: LISTED" || echo "run-nsession: refused"
PROBE
chmod 644 "$wd/probe.sh"

for where in "root --user" rootless host; do
	case $where in
	"root --user") out=$("$NSESSION" run --user "$B" -- sh "$wd/probe.sh" 2>&1) ;;
	rootless) out=$(as_user "$B" "$NSESSION" run -- sh "$wd/probe.sh" 2>&1) ;;
	host) out=$(as_user "$B" sh "$wd/probe.sh" 2>&1) ;;
	esac
	n=$(grep -c ': ' <<<"$out")
	check_eq "B ($where): all 19 probes ran" "19" "$n"
	if [ "$where" != host ]; then
		check_contains "B ($where): a network namespace of its own" "own-net: differs" "$out"
		check_contains "B ($where): A's listener at 10.0.2.100:7000 is not reachable" "reach-listener: no" "$out"
	fi
	for w in SAME REACHED ALLOWED SEEN JOINED LISTED; do
		check_not_contains "B ($where): nothing of A's is $w" ": $w" "$out"
	done
done

# A's session went on through all of it
got=$(nsenter -t "$a_cmd" -n timeout 3 socat -t 2 - TCP:10.0.2.100:7000 </dev/null 2>&1)
check_eq "A's session still answers after B's probes" "from-A" "$got"
kill -0 "$a_engine" 2>/dev/null && ok "A's engine still runs" || not_ok "A's engine still runs"
kill "$apid"
wait "$apid" 2>/dev/null
apid=
for _ in $(seq 1 30); do [ -z "$(user_procs "$B")$(user_procs "$A")" ] && break; sleep 0.1; done
check_eq "no process of A or B is left" "" "$(user_procs "$B")$(user_procs "$A")"

# ---- link-local addresses (SECURITY-CHECKS 6) --------------------------------
# A listener on a link-local address of the host (added to lo for the test)
# stands in for the metadata service: a session must not reach it unless host
# loopback is allowed, and the refusal must come at once, not by timeout.
ll_port=$((40000 + RANDOM % 20000))
if ip addr add "$ll/32" dev lo; then
	ll_added=1
	socat TCP-LISTEN:$ll_port,bind=$ll,reuseaddr,fork SYSTEM:'echo from-link-local' &
	ll_pid=$!
	wait_until 30 bash -c "exec 3<>/dev/tcp/$ll/$ll_port" 2>/dev/null
	out=$(as_user "$B" timeout 10 "$NSESSION" run -- \
		bash -c "exec 3<>/dev/tcp/$ll/$ll_port && echo connected || echo refused" 2>&1)
	check_contains "link-local $ll: refused inside a session by default" "refused" "$out"
	check_not_contains "link-local $ll: no connection by default" "connected" "$out"
	# the engine answers with ICMP "administratively prohibited": no timeout
	check_contains "link-local $ll: connect fails at once with no route" "No route to host" "$out"
	check_contains "link-local $ll: the refusal is explained on stderr" \
		"refused a packet from the session to $ll" "$out"
	out=$(as_user "$B" timeout 10 "$NSESSION" run --allow-host-loopback -- \
		bash -c "exec 3<>/dev/tcp/$ll/$ll_port && cat <&3" 2>&1)
	check_contains "link-local $ll: reachable with --allow-host-loopback" "from-link-local" "$out"
else
	not_ok "add $ll to lo for the link-local checks"
fi

e2e_done
[ "$fail" -eq 0 ]
