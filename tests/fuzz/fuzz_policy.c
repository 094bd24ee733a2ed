/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_policy.c - libFuzzer target for the nsession.conf parser.
 *
 * The input is the policy file. A parse error must leave the output alone
 * and explain itself in one escaped line; a parsed file must resolve for
 * any user to values inside the documented limits, and describe itself
 * in one printable line (exact-size buffer ok, one byte less -ENOSPC).
 * Users resolved: "alice" in groups alice, dev and ops (the names the
 * seed corpus uses in its sections), and "bob" with no groups at all.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check_line(const char *s, size_t cap)
{
	size_t len = strnlen(s, cap), i;

	if (len == cap)
		abort();
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			abort();
}

static void fz_resolve(const struct nsess_policy_file *pf, const char *user,
		       const char *const *groups, size_t n_groups)
{
	struct nsess_policy p;
	char line[1024], small[1024];
	int n, m;

	memset(&p, 0x5a, sizeof(p));
	nsess_policy_resolve(pf, user, groups, n_groups, &p);
	if (p.net.mtu < 1280 || p.net.mtu > 65520)
		abort();
	if (p.on_failure != NSESS_FAIL_CLOSED && p.on_failure != NSESS_FAIL_OPEN)
		abort();
	if (p.fallback != NSESS_FALLBACK_SINGLE && p.fallback != NSESS_FALLBACK_REFUSE)
		abort();
	if (p.net.n_publish > NSESS_PUBLISH_MAX)
		abort();
	fz_check_line(p.matched, sizeof(p.matched));

	n = nsess_policy_describe(&p, line, sizeof(line));
	if (n < 0)
		abort(); /* a resolved policy always fits in a 1 KiB line */
	if ((size_t)n != strlen(line))
		abort();
	fz_check_line(line, sizeof(line));
	m = nsess_policy_describe(&p, small, (size_t)n + 1);
	if (m != n || memcmp(small, line, (size_t)n + 1) != 0)
		abort();
	if (nsess_policy_describe(&p, small, (size_t)n) != -ENOSPC)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const alice_groups[] = { "alice", "dev", "ops" };
	struct nsess_policy_file *pf = NULL;
	struct nsess_error e = { 0 };
	char *copy;
	FILE *fp;
	int ret;

	/* fmemopen() wants a writable buffer and refuses size 0 on old glibc */
	copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	fp = fmemopen(copy, size ? size : 1, "r");
	if (!fp) {
		free(copy);
		return 0;
	}
	if (!size)
		fgetc(fp); /* an empty file: leave the stream at its end */

	ret = nsess_policy_parse(fp, "/etc/security/nsession.conf", &pf, &e);
	fclose(fp);
	free(copy);
	if (ret < 0) {
		if (pf || (ret != -EINVAL && ret != -EFBIG && ret != -ENOMEM))
			abort();
		if (!e.msg[0])
			abort();
		fz_check_line(e.msg, sizeof(e.msg));
		return 0;
	}
	if (!pf)
		abort();

	fz_resolve(pf, "alice", alice_groups, 3);
	fz_resolve(pf, "bob", NULL, 0);

	nsess_policy_free(pf);
	return 0;
}
