/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fault.h - fault injection for test builds (configure --enable-fault-injection).
 *
 * Each step of the open path calls nsess_fault("STEP") right where the real
 * step can fail and, on a hit, takes the same error path a real failure
 * takes. With NSESS_FAULT=STEP in the environment that step fails with EIO.
 * Steps: userns maps mounts tap net engine fork join exec state.
 *
 * Without -DNSESS_FAULT_INJECTION both helpers are constant 0 and the
 * compiler drops the calls: a release build has no such hook.
 */
#ifndef NSESS_FAULT_H
#define NSESS_FAULT_H

#include "util.h"

#ifdef NSESS_FAULT_INJECTION
#include <string.h>

/* -EIO when NSESS_FAULT names @step exactly, else 0. */
static inline int nsess_fault(const char *step)
{
	const char *f = getenv("NSESS_FAULT");

	return f && strcmp(f, step) == 0 ? -EIO : 0;
}

/* nsess_fault() that also fills @e: "[WHAT: ]injected fault (NSESS_FAULT=STEP)". */
static inline int nsess_fault_err(const char *step, const char *what, struct nsess_error *e)
{
	if (nsess_fault(step) == 0)
		return 0;
	return nsess_error_set(e, EIO, "%s%sinjected fault (NSESS_FAULT=%s)", what ? what : "",
			       what ? ": " : "", step);
}
#else
static inline int nsess_fault(const char *step)
{
	(void)step;
	return 0;
}

static inline int nsess_fault_err(const char *step, const char *what, struct nsess_error *e)
{
	(void)step;
	(void)what;
	(void)e;
	return 0;
}
#endif

#endif /* NSESS_FAULT_H */
