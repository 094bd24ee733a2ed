#!/usr/bin/env bash
# The README's demo: a real session for a demo user, showing its own
# namespaces, id maps, addresses, routes and DNS. Run as root by scripts/dev demo.
set -eu
build=$1
user=nsdemo
id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
for f in /etc/subuid /etc/subgid; do
	touch "$f"
	grep -q "^$user:" "$f" || echo "$user:500000:65536" >>"$f"
done
echo "host namespaces: $(readlink /proc/self/ns/user) $(readlink /proc/self/ns/net) $(readlink /proc/self/ns/mnt)"
echo "\$ nsession run --user $user -- sh -c '...'"
exec "$build/nsession" run --user "$user" -- sh -c '
echo "== who:        $(id)"
echo "== namespaces: $(readlink /proc/self/ns/user) $(readlink /proc/self/ns/net) $(readlink /proc/self/ns/mnt)"
echo "== uid_map:";  cat /proc/self/uid_map
echo "== gid_map:";  cat /proc/self/gid_map
echo "== addresses:"; ip -brief addr
echo "== routes:";    ip route; ip -6 route show default
echo "== DNS:";       cat /etc/resolv.conf
'
