/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * idmap.h - plan, validate and render user namespace id maps.
 *
 * Pure code. A plan is computed from the user's ids and delegated ranges,
 * then validated (never host id 0, no overlap, no wrap, <= 340 lines) and
 * rendered either as the kernel's uid_map text or as newuidmap arguments.
 *
 * Layouts (inside ids are the ids seen in the namespace):
 *  KEEP_ID  the user's uid and gids map to themselves; every other inside id
 *           0..size-1 is filled, in order, from the delegated ranges.
 *  ROOT     inside 0 is the user (uid / primary gid), inside 1.. are the
 *           delegated ranges in order (podman's default).
 *  SINGLE   one line: the user's id at @single_inside; nothing else mapped.
 */
#ifndef NSESS_IDMAP_H
#define NSESS_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "subid.h"
#include "util.h"

#define NSESS_MAP_LINES_MAX 340	 /* the kernel's limit since 4.15 */
#define NSESS_INSIDE_SIZE 65536u /* inside ids 0..65535 by default */

enum nsess_layout {
	NSESS_LAYOUT_KEEP_ID = 0,
	NSESS_LAYOUT_ROOT = 1,
	NSESS_LAYOUT_SINGLE = 2,
};

struct nsess_map_line {
	uint32_t inside;
	uint32_t outside;
	uint32_t count;
};

struct nsess_map {
	struct nsess_map_line l[NSESS_MAP_LINES_MAX];
	unsigned int n;
};

/*
 * What to map. @groups are the supplementary gids (the primary gid may be
 * among them). @subuid/@subgid may be NULL or empty for SINGLE.
 * @size: number of inside ids to fill (0 = NSESS_INSIDE_SIZE).
 * @single_inside_uid/@single_inside_gid: for SINGLE, where the user's ids land
 * inside (0 for "root", the user's own ids for "keep-id").
 */
struct nsess_idmap_req {
	enum nsess_layout layout;
	uint32_t uid;
	uint32_t gid;
	const uint32_t *groups;
	size_t n_groups;
	const struct nsess_ranges *subuid;
	const struct nsess_ranges *subgid;
	uint32_t size;
	uint32_t single_inside_uid;
	uint32_t single_inside_gid;
};

/*
 * The result. @setgroups_deny is true whenever a supplementary group of the
 * user is not mapped (a root writer must then write "deny" itself,
 * CVE-2014-8989 / CVE-2018-7169), and always for SINGLE.
 * @inside_uid/@inside_gid: the user's ids as seen inside.
 */
struct nsess_idmap_plan {
	enum nsess_layout layout;
	struct nsess_map uid;
	struct nsess_map gid;
	bool setgroups_deny;
	uint32_t inside_uid;
	uint32_t inside_gid;
};

/**
 * nsess_idmap_plan() - compute and validate the maps for a request
 * @req: what to map
 * @out: written only on success
 * @e: why not (e.g. "uid 0 cannot be mapped", "no subuid range for ...")
 *
 * Return: 0, -EINVAL (bad request), -ERANGE (needs more than 340 lines),
 * -EPERM (would map host id 0).
 */
int nsess_idmap_plan(const struct nsess_idmap_req *req, struct nsess_idmap_plan *out,
		     struct nsess_error *e);

/**
 * nsess_map_validate() - check a map before it goes near the kernel
 * @m: the map
 * @what: "uid" or "gid", for messages
 * @e: names the offending line
 *
 * Refuses: no lines, more than 340 lines, a line of count 0, a line whose
 * inside or outside end passes 4294967294, a line that contains outside id
 * 0, lines whose inside or outside ranges overlap.
 *
 * Return: 0, -EINVAL, -ERANGE or -EPERM.
 */
int nsess_map_validate(const struct nsess_map *m, const char *what, struct nsess_error *e);

/**
 * nsess_map_render() - the text the kernel wants in /proc/PID/uid_map
 * @m: a validated map
 * @buf: "IN OUT COUNT\n" per line
 * @len: size of @buf
 *
 * Return: bytes written (without the NUL), or -ENOSPC.
 */
int nsess_map_render(const struct nsess_map *m, char *buf, size_t len);

/*
 * Arguments for newuidmap/newgidmap: "PID IN OUT COUNT ...". Strings live
 * in @store; @argv is NULL-terminated and points into it.
 */
struct nsess_map_argv {
	char *argv[3 + 3 * NSESS_MAP_LINES_MAX + 1];
	char store[3 * NSESS_MAP_LINES_MAX * 11 + 64 + 256];
};

/**
 * nsess_map_helper_argv() - build the helper's argument vector
 * @m: a validated map
 * @helper: absolute path of newuidmap or newgidmap (argv[0])
 * @pid: target process
 * @out: filled
 *
 * Return: 0 or -ENOSPC.
 */
int nsess_map_helper_argv(const struct nsess_map *m, const char *helper, pid_t pid,
			  struct nsess_map_argv *out);

/**
 * nsess_layout_name() / nsess_layout_parse() - "keep-id", "root", "single"
 */
const char *nsess_layout_name(enum nsess_layout l);
int nsess_layout_parse(const char *s, enum nsess_layout *out);

#endif
