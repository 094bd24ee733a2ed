#!/usr/bin/env bash
. "$NSESS_SRCDIR/tests/e2e/lib.sh"
not_ok "reliability.sh not written yet"
e2e_done
exit 1
