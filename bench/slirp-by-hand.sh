#!/bin/bash
# bench/slirp-by-hand.sh [--allow-host-loopback] [-- CMD...]
# slirp4netns set up by hand, the way its README shows, timed as one unit:
#   1. a holder process in new user+net+mount namespaces (unshare -Urnm),
#   2. slirp4netns --configure --mtu=65520 [--disable-host-loopback] PID tap0
#      in the background, waited for through --ready-fd,
#   3. nsenter into the holder's user+net namespaces and run CMD
#      (default: ip route show default),
#   4. kill slirp4netns and the holder and reap both.
# Exits with CMD's status. Every read is bounded (timeout 20 s).
loop=--disable-host-loopback
if [ "${1:-}" = --allow-host-loopback ]; then
	loop=
	shift
fi
[ "${1:-}" = -- ] && shift
[ $# -gt 0 ] || set -- ip route show default

# unshare execs sh in its own pid: $$ is the holder's pid, printed once the
# namespaces exist and the id maps are written.
exec {hfd}< <(exec unshare -Urnm sh -c 'echo $$; exec sleep 600')
holder_pid=$!
read -r -t 20 -u "$hfd" holder || { kill "$holder_pid" 2>/dev/null; exit 111; }

exec {rfd}< <(exec slirp4netns --configure --mtu=65520 $loop --ready-fd=3 "$holder" tap0 3>&1 >/dev/null 2>&1)
slirp=$!
if ! read -r -t 20 -n 1 -u "$rfd" ready || [ "$ready" != 1 ]; then
	kill "$slirp" "$holder" 2>/dev/null
	wait "$slirp" "$holder" 2>/dev/null
	exit 112
fi

nsenter --preserve-credentials -U -n -t "$holder" -- "$@"
rc=$?
kill "$slirp" "$holder" 2>/dev/null
wait "$slirp" "$holder" 2>/dev/null
exec {hfd}<&- {rfd}<&-
exit $rc
