/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * subid_nss.c - subordinate ids from libsubid (the "subid:" nsswitch
 * source); the only file that talks to libsubid. See subid.h.
 *
 * libsubid is not linked in: it is opened by absolute path
 * (NSESS_LIBSUBID_PATH, set by configure) the first time a lookup needs
 * it, which is only when a user has no line in the subid files. Linked,
 * it brought eleven more libraries into every nsession start (about 1 ms
 * measured), every engine and every PAM host, for a source most machines
 * never configure. Once opened it stays (libsubid keeps its stream).
 *
 * libsubid prints its complaints to stderr unless told otherwise, and when
 * told "NULL" it opens /dev/null without close-on-exec. Inside sshd neither
 * is acceptable, so it gets a stream of our own that discards everything
 * and holds no fd at all.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <shadow/subid.h>

#include "subid.h"

/* the three entry points used, typed from libsubid's own header */
struct sidnss_lib {
	__typeof__(subid_init) *init;
	__typeof__(subid_get_uid_ranges) *get_uid_ranges;
	__typeof__(subid_get_gid_ranges) *get_gid_ranges;
};

static struct sidnss_lib sidnss;
static FILE *sidnss_sink;

static ssize_t sidnss_discard(void *cookie, const char *buf, size_t size)
{
	(void)cookie;
	(void)buf;
	return (ssize_t)size;
}

/* Once per process: load libsubid; -ENOENT (with @e set) if it cannot be. */
static int sidnss_load(struct nsess_error *e)
{
	struct sidnss_lib l;
	const char *why;
	void *h;

	if (sidnss.init)
		return 0;
	h = dlopen(NSESS_LIBSUBID_PATH, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!h) {
		why = dlerror();
		return nsess_error_set(e, ENOENT, "cannot load libsubid (%s): %s; install the "
				       "Debian package libsubid4, or remove the \"subid:\" line "
				       "from /etc/nsswitch.conf", NSESS_LIBSUBID_PATH,
				       why ? why : "unknown error");
	}
	l.init = (__typeof__(l.init))dlsym(h, "subid_init");
	l.get_uid_ranges = (__typeof__(l.get_uid_ranges))dlsym(h, "subid_get_uid_ranges");
	l.get_gid_ranges = (__typeof__(l.get_gid_ranges))dlsym(h, "subid_get_gid_ranges");
	if (!l.init || !l.get_uid_ranges || !l.get_gid_ranges) {
		dlclose(h);
		return nsess_error_set(e, ENOENT, "%s is not a libsubid this nsession can use "
				       "(subid_init or subid_get_*_ranges missing)",
				       NSESS_LIBSUBID_PATH);
	}
	/* the handle stays open for good: RTLD_NODELETE, and the stream below */
	sidnss = l;
	return 0;
}

/* Once per process; libsubid keeps the stream for good. */
static int sidnss_init(struct nsess_error *e)
{
	cookie_io_functions_t io = { .write = sidnss_discard };
	FILE *sink;
	int r;

	if (sidnss_sink)
		return 0;
	r = sidnss_load(e);
	if (r < 0)
		return r;
	sink = fopencookie(NULL, "w", io);
	if (!sink)
		return nsess_error_set(e, ENOMEM, "cannot set up libsubid quietly: out of memory");
	/* a NULL progname makes libsubid allocate nothing */
	if (!sidnss.init(NULL, sink)) {
		fclose(sink);
		return nsess_error_set(e, ENOMEM, "cannot set up libsubid quietly: out of memory");
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
	r = sidnss_init(e);
	if (r < 0)
		return r;

	n = kind == NSESS_SUBGID ? sidnss.get_gid_ranges(user, &raw)
				 : sidnss.get_uid_ranges(user, &raw);
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
