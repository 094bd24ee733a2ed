/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * subid.h - subordinate id delegations (/etc/subuid, /etc/subgid, libsubid).
 *
 * Pure code: parses text, answers questions about it. The loader reads
 * "<root>/etc/subuid" so tests pass a fixture tree as root.
 *
 * Line format (shadow's subuid(5)): OWNER:START:COUNT, OWNER a user name or
 * a numeric uid. '#' lines and blank lines are ignored. Strict: START >= 1,
 * COUNT >= 1, START+COUNT-1 <= 4294967294 (never 0 nor (uid_t)-1), decimal
 * digits only, no trailing junk, no NUL byte, no line longer than
 * NSESS_SUBID_LINE_MAX, at most NSESS_SUBID_ENTRIES_MAX entries.
 */
#ifndef NSESS_SUBID_H
#define NSESS_SUBID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "util.h"

#define NSESS_SUBID_LINE_MAX 512
#define NSESS_SUBID_ENTRIES_MAX 65536
#define NSESS_SUBID_PROBLEMS_MAX 64
#define NSESS_OWNER_MAX 256
#define NSESS_RANGES_MAX 64

enum nsess_subid_kind { NSESS_SUBUID = 0, NSESS_SUBGID = 1 };

/* A contiguous block of host ids: start .. start+count-1. */
struct nsess_range {
	uint32_t start;
	uint32_t count;
};

/* The ranges delegated to one owner, sorted by start, duplicates removed. */
struct nsess_ranges {
	struct nsess_range r[NSESS_RANGES_MAX];
	unsigned int n;
};

/* One well-formed line. */
struct nsess_subid_entry {
	char owner[NSESS_OWNER_MAX];
	uint32_t start;
	uint32_t count;
	unsigned int line;
};

enum nsess_problem_severity { NSESS_PROBLEM_WARN = 1, NSESS_PROBLEM_ERROR = 2 };

/*
 * A line the parser refused or flagged. @owner is the owner field when it
 * could be read (so a bad line can be blamed on its user), else "".
 * @msg is a finished sentence that names file:line, the reason and the fix;
 * untrusted bytes in it are escaped.
 */
struct nsess_subid_problem {
	unsigned int line;
	int severity;
	char owner[NSESS_OWNER_MAX];
	char msg[384];
};

struct nsess_subid_file {
	char path[256];			/* as shown to admins, e.g. "/etc/subuid" */
	bool present;			/* false: the file does not exist */
	struct nsess_subid_entry *entries;
	size_t n_entries;
	/*
	 * NSESS_SUBID_PROBLEMS_MAX slots (40 KiB), allocated at the first
	 * problem: a clean file never touches them. NULL while n_problems is 0.
	 */
	struct nsess_subid_problem *problems;
	size_t n_problems;
	size_t n_problems_dropped;	/* past NSESS_SUBID_PROBLEMS_MAX */
	/*
	 * Either flag makes every lookup fail closed: @truncated when parsing
	 * stopped early (file over 16 MiB, more than NSESS_SUBID_ENTRIES_MAX
	 * entries; the last problem says which), @errors_dropped when an ERROR
	 * that blames an owner did not fit in @problems.
	 */
	bool truncated;
	bool errors_dropped;
	bool nomem;			/* the problem list could not be allocated: parse fails */
};

/**
 * nsess_subid_parse() - parse a subuid/subgid file
 * @f: stream to read (bounded: stops with a problem past 16 MiB)
 * @path: name to use in messages
 * @out: filled on success; free with nsess_subid_file_free()
 *
 * Malformed lines do not fail the parse: they become problems with
 * severity ERROR. A duplicate line is a WARN.
 *
 * Return: 0, or -ENOMEM / -EIO.
 */
int nsess_subid_parse(FILE *f, const char *path, struct nsess_subid_file *out);

/**
 * nsess_subid_load() - open and parse "<root>/etc/subuid" or ".../subgid"
 * @root: "/" on a real system, a fixture directory in tests
 * @kind: which file
 * @out: filled on success (present=false and no entries if the file is
 *       missing); free with nsess_subid_file_free()
 * @e: why it failed
 *
 * Refuses (-EINVAL) anything that is not a regular file (a FIFO, a device)
 * without blocking on it, and opens with O_NOFOLLOW|O_NONBLOCK.
 *
 * Return: 0 or -errno.
 */
int nsess_subid_load(const char *root, enum nsess_subid_kind kind,
		     struct nsess_subid_file *out, struct nsess_error *e);

void nsess_subid_file_free(struct nsess_subid_file *f);

/**
 * nsess_subid_lookup() - the ranges delegated to one user
 * @f: a parsed file
 * @user: the user's name
 * @uid: the user's uid (lines may name the owner numerically)
 * @out: sorted, duplicates removed, overlapping lines of the same owner merged
 * @e: why it failed
 *
 * Return: 0 with @out->n >= 1; -ENOENT when the user has no entry;
 * -EINVAL when a line that belongs to the user is malformed (fail closed:
 * @e names file:line and the fix); -EEXIST when one of the user's ranges
 * overlaps another owner's range (names both lines); -E2BIG past
 * NSESS_RANGES_MAX ranges.
 */
int nsess_subid_lookup(const struct nsess_subid_file *f, const char *user, uid_t uid,
		       struct nsess_ranges *out, struct nsess_error *e);

/**
 * nsess_subid_check_ids() - refuse delegations that contain a passwd id
 * @ranges: a user's ranges
 * @ids: the ids of the other accounts (from nsess_passwd_ids())
 * @n_ids: how many
 * @self: the user's own id, allowed
 * @what: "subuid" or "subgid", for the message
 * @e: names the colliding id and range
 *
 * Return: 0 or -EEXIST.
 */
int nsess_subid_check_ids(const struct nsess_ranges *ranges, const uint32_t *ids, size_t n_ids,
			  uint32_t self, const char *what, struct nsess_error *e);

/**
 * nsess_passwd_ids() - every uid (or gid) listed in <root>/etc/passwd (or group)
 * @root: "/" or a fixture tree
 * @kind: NSESS_SUBUID reads passwd uids, NSESS_SUBGID reads group gids
 * @out: malloc'd array, sorted; free() it
 * @n_out: length
 *
 * Return: 0 or -errno (a missing file gives 0 ids).
 */
int nsess_passwd_ids(const char *root, enum nsess_subid_kind kind, uint32_t **out, size_t *n_out);

/**
 * nsess_range_merge() - sort ranges and merge overlapping or adjacent ones
 * @r: ranges, each with count >= 1 and start+count-1 <= 4294967295;
 *     rewritten in place
 * @n: how many
 *
 * Return: the number of ranges left in @r.
 */
size_t nsess_range_merge(struct nsess_range *r, size_t n);

/**
 * nsess_ranges_total() - the number of ids in all ranges (saturating)
 */
uint64_t nsess_ranges_total(const struct nsess_ranges *r);

/**
 * nsess_subid_nss_source() - the NSS service named for subordinate ids
 * @root: "/" or a fixture tree; ROOT/etc/nsswitch.conf is read
 * @out: the service of its "subid:" line (e.g. "sss")
 * @outlen: size of @out
 *
 * libsubid is worth asking only when that line names a service: without
 * one, or with "files", it reads the same /etc/subuid and /etc/subgid.
 *
 * Return: 1 with @out set; 0 when there is no such line, it says "files",
 * or there is no nsswitch.conf; -errno when the file cannot be read.
 */
int nsess_subid_nss_source(const char *root, char *out, size_t outlen);

#ifdef HAVE_LIBSUBID
/**
 * nsess_subid_nss_lookup() - ask libsubid (subid: in nsswitch.conf)
 * @user, @kind, @out, @e: as nsess_subid_lookup()
 *
 * Return: 0, -ENOENT when libsubid knows no range for @user, -errno.
 */
int nsess_subid_nss_lookup(const char *user, enum nsess_subid_kind kind,
			   struct nsess_ranges *out, struct nsess_error *e);
#endif

#endif
