/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mapwrite.h - get id maps written for a child that just unshared its user
 * namespace, through the fallback chain, and explain every failure.
 *
 * Chain: (1) direct full map (a root writer), (2) newuidmap/newgidmap with
 * the user's subordinate ranges, (3) direct single-id map, (4) the helpers
 * with a single-id map. uid_map and gid_map are each write-once, so the
 * chain tracks them separately: a uid map written by one attempt is kept
 * while later attempts finish the gid map.
 *
 * A malformed subuid/subgid line of the user, or a range that collides
 * with another user's range or a passwd id, is not a reason to fall back:
 * it fails closed at once.
 */
#ifndef NSESS_MAPWRITE_H
#define NSESS_MAPWRITE_H

#include <stdbool.h>
#include <sys/types.h>

#include "idmap.h"
#include "spawn.h"
#include "util.h"

struct nsess_map_request {
	const char *root;	/* where etc/subuid, etc/passwd are read ("/") */
	const char *user;	/* name, for subid lookup and messages */
	uint32_t uid;
	uint32_t gid;
	const uint32_t *groups; /* supplementary groups (root writer only) */
	size_t n_groups;
	enum nsess_layout layout; /* KEEP_ID or ROOT for the full map */
	bool privileged;	/* the writer is root in the parent namespace */
	const char *newuidmap;	/* absolute paths */
	const char *newgidmap;
};

#define NSESS_MAP_ATTEMPTS 4

struct nsess_map_attempt {
	const char *name;
	int err;	/* 0: succeeded (or not needed) */
	bool tried;
	char msg[400];
};

struct nsess_map_report {
	struct nsess_map_attempt a[NSESS_MAP_ATTEMPTS];
	unsigned int n;
	bool single_uid;	/* the uid map is a single id */
	bool single_gid;
	bool setgroups_deny;
	uint32_t inside_uid;	/* the user's ids as seen inside */
	uint32_t inside_gid;
	char uid_map[4096];	/* what was written, for logs and tests */
	char gid_map[4096];
	char warning[512];	/* non-empty: say it once (fell back to single ids) */
};

/**
 * nsess_maps_write() - write @target's maps
 * @req: who and how
 * @target: the child that called unshare(CLONE_NEWUSER) (its procfd is used
 *          for direct writes, its pid for the helpers' argument)
 * @rep: what was tried and what was written (filled on success and failure)
 * @e: on failure one message listing each attempt, the machine's state and
 *     the fix
 * Return: 0 or -errno.
 */
int nsess_maps_write(const struct nsess_map_request *req, const struct nsess_proc *target,
		     struct nsess_map_report *rep, struct nsess_error *e);

/**
 * nsess_user_ranges() - the user's subuid and subgid ranges, checked
 * @root, @user, @uid: who
 * @subuid, @subgid: written on success; n == 0 means "no entry"
 * @e: fail-closed reasons (malformed line of the user, overlap, passwd id)
 * Return: 0 (possibly with empty ranges) or -errno.
 */
int nsess_user_ranges(const char *root, const char *user, uint32_t uid, uint32_t gid,
		      struct nsess_ranges *subuid, struct nsess_ranges *subgid,
		      struct nsess_error *e);

#endif
