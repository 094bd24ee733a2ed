#!/usr/bin/env bash
# configure names the Debian package of a missing dependency. Simulated with a
# pkg-config directory that holds every .pc file this machine has except the
# one under test, so nothing is uninstalled.
set -u
. "$NSESS_SRCDIR/tests/e2e/lib.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fake_pc_without() {
	local dir=$work/pc-$1 d f
	mkdir -p "$dir"
	for d in $(pkg-config --variable pc_path pkg-config | tr ':' ' '); do
		[ -d "$d" ] || continue
		for f in "$d"/*.pc; do
			[ -e "$f" ] && [ ! -e "$dir/$(basename "$f")" ] && cp "$f" "$dir/"
		done
	done
	rm -f "$dir/$1.pc"
	echo "$dir"
}

for case in slirp:libslirp-dev libnl-route-3.0:libnl-route-3-dev libcap:libcap-dev criterion:libcriterion-dev; do
	pc=${case%%:*}
	pkg=${case#*:}
	dir=$(fake_pc_without "$pc")
	mkdir -p "$work/b-$pc"
	out=$(cd "$work/b-$pc" && PKG_CONFIG_LIBDIR=$dir "$NSESS_SRCDIR/configure" 2>&1)
	rc=$?
	check_eq "configure without $pc.pc fails" "1" "$([ $rc -ne 0 ] && echo 1 || echo 0)"
	check_contains "configure without $pc.pc names $pkg" "install the Debian package" "$(grep -a "error:" <<<"$out")"
	check_contains "configure without $pc.pc: the package is $pkg" "$pkg" "$(grep -a "error:" <<<"$out")"
done

e2e_done
[ "$fail" -eq 0 ]
