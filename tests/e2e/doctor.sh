#!/usr/bin/env bash
. "$NSESS_SRCDIR/tests/e2e/lib.sh"
not_ok "tests/e2e/doctor.sh not written yet"
e2e_done
exit 1
