/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * subid_nss.c - subordinate ids from libsubid (the "subid:" nsswitch
 * source); the only file that talks to libsubid. See subid.h.
 *
 * libsubid prints its complaints to stderr unless told otherwise, and when
 * told "NULL" it opens /dev/null without close-on-exec. Inside sshd neither
 * is acceptable, so it gets a stream of our own that discards everything
 * and holds no fd at all.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <shadow/subid.h>

#include "subid.h"

static FILE *sidnss_sink;

static ssize_t sidnss_discard(void *cookie, const char *buf, size_t size)
{
	(void)cookie;
	(void)buf;
	return (ssize_t)size;
}

/* Once per process; libsubid keeps the stream for good. */
static int sidnss_init(void)
{
	cookie_io_functions_t io = { .write = sidnss_discard };
	FILE *sink;

	if (sidnss_sink)
		return 0;
	sink = fopencookie(NULL, "w", io);
	if (!sink)
		return -ENOMEM;
	/* a NULL progname makes libsubid allocate nothing */
	if (!subid_init(NULL, sink)) {
		fclose(sink);
		return -ENOMEM;
	}
	sidnss_sink = sink;
	return 0;
}

int nsess_subid_nss_lookup(const char *user, enum nsess_subid_kind kind,
			   struct nsess_ranges *out, struct nsess_error *e)
{
	const char *what = kind == NSESS_SUBGID ? "subgid" : "subuid";
	_cleanup_free_ struct subid_range *raw = NULL;
	_cleanup_free_ struct nsess_range *m = NULL;
	char eu[48];
	size_t merged;
	int i, n, r;

	if (!user || !*user || !out)
		return nsess_error_set(e, EINVAL, "no user name to look up in libsubid");
	nsess_escape(user, (size_t)-1, eu, sizeof(eu));
	r = sidnss_init();
	if (r < 0)
		return nsess_error_set(e, -r, "cannot set up libsubid quietly: out of memory");

	n = kind == NSESS_SUBGID ? subid_get_gid_ranges(user, &raw)
				 : subid_get_uid_ranges(user, &raw);
	if (n < 0)
		return nsess_error_set(e, EIO,
				       "libsubid could not look up the %s ranges of '%s'; check the "
				       "\"subid:\" line in /etc/nsswitch.conf and its service",
				       what, eu);
	if (n == 0 || !raw)
		return nsess_error_set(e, ENOENT, "libsubid knows no %s range for '%s'", what, eu);

	m = calloc((size_t)n, sizeof(*m));
	if (!m)
		return nsess_error_set(e, ENOMEM, "out of memory looking up '%s' in libsubid", eu);
	for (i = 0; i < n; i++) {
		unsigned long long start = raw[i].start, count = raw[i].count;

		/* the same rules as the file parser: never 0, never (uid_t)-1 */
		if (start == 0 || count == 0 || start > 4294967294ull || count > 4294967294ull ||
		    start + count - 1 > 4294967294ull)
			return nsess_error_set(e, EINVAL,
					       "libsubid returned the %s range %llu:%llu for '%s', "
					       "which is empty, contains id 0 or goes past "
					       "4294967294; fix the subid service's data",
					       what, start, count, eu);
		m[i].start = (uint32_t)start;
		m[i].count = (uint32_t)count;
	}
	merged = nsess_range_merge(m, (size_t)n);
	if (merged > NSESS_RANGES_MAX)
		return nsess_error_set(e, E2BIG,
				       "libsubid returned %zu separate %s ranges for '%s', more "
				       "than %d; merge them",
				       merged, what, eu, NSESS_RANGES_MAX);
	memset(out, 0, sizeof(*out));
	memcpy(out->r, m, merged * sizeof(*m));
	out->n = (unsigned int)merged;
	return 0;
}
