#!/bin/bash
# bench/slirp-by-hand.sh [--allow-host-loopback] [--ipv6] [-- CMD...]
# slirp4netns set up by hand, the way its README shows, timed as one unit:
#   1. a holder process in new user+net+mount namespaces (unshare -Urnm),
#   2. slirp4netns --configure --mtu=65520 [--disable-host-loopback]
#      [--enable-ipv6] PID tap0 in the background, waited for through
#      --ready-fd (with --ipv6 also until tap0 has its SLAAC address from
#      slirp4netns' router advertisement, out of duplicate address detection),
#   3. nsenter into the holder's user+net namespaces and run CMD
#      (default: ip route show default),
#   4. kill slirp4netns and the holder and reap both.
# Exits with CMD's status. Every read is bounded (timeout 20 s).
loop=--disable-host-loopback
if [ "${1:-}" = --allow-host-loopback ]; then
	loop=
	shift
fi
v6=
if [ "${1:-}" = --ipv6 ]; then
	v6=--enable-ipv6
	shift
fi
[ "${1:-}" = -- ] && shift
[ $# -gt 0 ] || set -- ip route show default

# unshare execs sh in its own pid: $$ is the holder's pid, printed once the
# namespaces exist and the id maps are written.
exec {hfd}< <(exec unshare -Urnm sh -c 'echo $$; exec sleep 600')
holder_pid=$!
read -r -t 20 -u "$hfd" holder || { kill "$holder_pid" 2>/dev/null; exit 111; }

exec {rfd}< <(exec slirp4netns --configure --mtu=65520 $loop $v6 --ready-fd=3 "$holder" tap0 3>&1 >/dev/null 2>&1)
slirp=$!
if ! read -r -t 20 -n 1 -u "$rfd" ready || [ "$ready" != 1 ]; then
	kill "$slirp" "$holder" 2>/dev/null
	wait "$slirp" "$holder" 2>/dev/null
	exit 112
fi

if [ -n "$v6" ]; then
	for ((i = 0; i < 100; i++)); do
		nsenter --preserve-credentials -U -n -t "$holder" -- \
			ip -6 addr show dev tap0 scope global -tentative | grep -q inet6 && break
		sleep 0.1
	done
fi
nsenter --preserve-credentials -U -n -t "$holder" -- "$@"
rc=$?
kill "$slirp" "$holder" 2>/dev/null
wait "$slirp" "$holder" 2>/dev/null
exec {hfd}<&- {rfd}<&-
exit $rc
