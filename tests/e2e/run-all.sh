#!/usr/bin/env bash
# Runs each end-to-end script and prints the total as "e2e: N passed, M failed".
set -u
export E2E_RESULTS
E2E_RESULTS=$(mktemp)
rc=0
for t in "$@"; do
	echo "## $t"
	bash "$NSESS_SRCDIR/$t" || rc=1
done
p=0
f=0
while read -r a b; do
	p=$((p + a))
	f=$((f + b))
done <"$E2E_RESULTS"
rm -f "$E2E_RESULTS"
[ "$p" -eq 0 ] && [ "$f" -eq 0 ] && f=1 # a tier that counted nothing has failed
echo "e2e: $p passed, $f failed"
[ "$f" -eq 0 ] && [ $rc -eq 0 ]
