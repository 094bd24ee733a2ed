/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_subid.c - libFuzzer target for the /etc/subuid parser and lookup.
 *
 * The input is the file's content. Besides what ASan/UBSan/LSan catch,
 * this checks what subid.h promises: problems are bounded and every
 * message is escaped (no control byte from the file may reach a log), a
 * file cut short refuses every lookup, and a successful lookup returns
 * sorted, disjoint, valid ranges. Lookups: the fixed user "alice" (uid
 * 1000), then the owners the file itself names first, so the found,
 * blamed and colliding paths are reached, not only "no entry".
 *
 * Inputs are at most 4 KiB, too short to pass the entry or size limit;
 * test_subid.c covers those. 65 broken lines do fit, so the fuzzer does
 * reach errors_dropped and checks that it fails every lookup closed.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A finished one-line message: NUL-terminated, printable ASCII only. */
static void fz_check_msg(const char *msg, size_t cap)
{
	size_t len = strnlen(msg, cap), i;

	if (len == cap)
		abort();
	for (i = 0; i < len; i++)
		if ((unsigned char)msg[i] < 0x20 || (unsigned char)msg[i] >= 0x7f)
			abort();
}

static void fz_lookup(const struct nsess_subid_file *sf, const char *user, uid_t uid)
{
	struct nsess_ranges r;
	struct nsess_error e = { 0 };
	unsigned int i;
	int ret;

	memset(&r, 0, sizeof(r));
	ret = nsess_subid_lookup(sf, user, uid, &r, &e);
	if (ret < 0) {
		if (ret != -ENOENT && ret != -EINVAL && ret != -EEXIST && ret != -E2BIG)
			abort();
		fz_check_msg(e.msg, sizeof(e.msg));
		return;
	}
	/* a file that was not read to the end must fail closed */
	if (sf->truncated || sf->errors_dropped)
		abort();
	if (r.n < 1 || r.n > NSESS_RANGES_MAX)
		abort();
	for (i = 0; i < r.n; i++) {
		uint64_t last = (uint64_t)r.r[i].start + r.r[i].count - 1;

		if (r.r[i].start < 1 || r.r[i].count < 1 || last > 4294967294ull)
			abort();
		if (i && (uint64_t)r.r[i - 1].start + r.r[i - 1].count > r.r[i].start)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nsess_subid_file sf;
	char *copy;
	FILE *fp;
	size_t i;
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

	memset(&sf, 0, sizeof(sf));
	ret = nsess_subid_parse(fp, "/etc/subuid", &sf);
	fclose(fp);
	free(copy);
	if (ret < 0) {
		if (ret != -ENOMEM && ret != -EIO)
			abort();
		return 0;
	}

	if (sf.n_problems > NSESS_SUBID_PROBLEMS_MAX || sf.n_entries > NSESS_SUBID_ENTRIES_MAX)
		abort();
	for (i = 0; i < sf.n_problems; i++)
		fz_check_msg(sf.problems[i].msg, sizeof(sf.problems[i].msg));
	for (i = 0; i < sf.n_entries; i++) {
		const struct nsess_subid_entry *en = &sf.entries[i];

		if (strnlen(en->owner, sizeof(en->owner)) == sizeof(en->owner) || !en->owner[0])
			abort();
		if (en->start < 1 || en->count < 1 ||
		    (uint64_t)en->start + en->count - 1 > 4294967294ull)
			abort();
	}

	fz_lookup(&sf, "alice", 1000);
	if (sf.n_entries)
		fz_lookup(&sf, sf.entries[0].owner, 1001);
	if (sf.n_entries > 1)
		fz_lookup(&sf, sf.entries[sf.n_entries - 1].owner, 1002);
	if (sf.n_problems && sf.problems[0].owner[0])
		fz_lookup(&sf, sf.problems[0].owner, 1003);

	nsess_subid_file_free(&sf);
	return 0;
}
