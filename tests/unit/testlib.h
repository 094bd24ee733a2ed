/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * testlib.h - shared bits for the Criterion tiers.
 *
 * A test that needs root or namespaces skips on a developer's laptop, but
 * fails when NSESS_TEST_MUST_RUN=1 or CI=true: in CI (root) nothing that can
 * run may quietly skip.
 */
#ifndef NSESS_TESTLIB_H
#define NSESS_TESTLIB_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../checksum.h"

static inline bool nsess_test_must_run(void)
{
	const char *m = getenv("NSESS_TEST_MUST_RUN");
	const char *ci = getenv("CI");

	return (m && strcmp(m, "1") == 0) || (ci && strcmp(ci, "true") == 0);
}

#define NSESS_TEST_NEED(cond, why)                                                   \
	do {                                                                         \
		if (!(cond)) {                                                       \
			if (nsess_test_must_run())                                   \
				cr_assert_fail("cannot run: %s (must run: CI=true or " \
					 "NSESS_TEST_MUST_RUN=1)", why);             \
			else                                                         \
				cr_skip_test("%s", why);                             \
		}                                                                    \
	} while (0)

#define NSESS_TEST_NEED_ROOT() NSESS_TEST_NEED(geteuid() == 0, "needs root")

/*
 * A deadline for a test that could hang: SIGALRM ends its worker, which
 * Criterion reports as a crash of that test. Not Criterion's .timeout: its
 * runner (libcriterion 2.4.1) can leave a timeout's 48-byte record behind,
 * which the sanitizer tier's leak check counts as a failure of the whole
 * binary.
 */
#define NSESS_TEST_DEADLINE(seconds) ((void)alarm(seconds))

#ifndef NSESS_FIXTURES
#define NSESS_FIXTURES "tests/fixtures"
#endif

#endif
