/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * session.h - orchestration: the only layer that logs. Sequences the pure
 * plans and the apply steps into a running session.
 *
 * Two shapes (shared/DESIGN.md sections 2-3):
 *  - rootless `nsession run`: a child unshares, the parent writes its maps
 *    (fallback chain), the child sets up mounts and network, hands the TAP
 *    fd over and execs the command; the parent runs the engine and waits.
 *  - root (`nsession run --user`, the PAM module): nsess_session_create()
 *    makes a holder process that owns the namespaces and an engine process
 *    running as the user; the session process joins with
 *    nsess_session_join() and then becomes the user.
 */
#ifndef NSESS_SESSION_H
#define NSESS_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "idmap.h"
#include "log.h"
#include "mapwrite.h"
#include "netplan.h"
#include "spawn.h"
#include "util.h"

#define NSESS_GROUPS_MAX 256

struct nsess_user {
	char name[256];
	uint32_t uid;
	uint32_t gid;
	uint32_t groups[NSESS_GROUPS_MAX];
	size_t n_groups;
	char home[512];
	char shell[256];
};

/**
 * nsess_user_lookup() - passwd entry and group list of a user
 * @name: user name, or NULL to look up @uid
 * @uid: used when @name is NULL, which also means "the calling user": the
 *	group list is then this process's own (getgroups()), not the group
 *	database's
 * @out: written on success
 * @e: "unknown user 'x'" and the like
 * Return: 0 or -errno.
 */
int nsess_user_lookup(const char *name, uid_t uid, struct nsess_user *out, struct nsess_error *e);

struct nsess_run_opts {
	char *const *argv;		/* the command */
	enum nsess_layout layout;	/* KEEP_ID or ROOT */
	struct nsess_netplan net;
	const char *user;		/* root only: run as this user (create-join-switch) */
	const char *engine_user;	/* root only: the engine's account; NULL/"": the user */
	const char *engine_program;	/* root only: nsession-engine checked by
					 * nsess_engine_program_check(); NULL: where
					 * nsess_engine_program_path() finds it */
	const char *root;		/* "/" (subid files and diagnostics) */
	const char *newuidmap;
	const char *newgidmap;
};

/**
 * nsess_run() - run one command in a fresh session and wait for it
 * @o: what to run
 * @log: all messages go here
 * @exit_code: the command's exit status, 128+N when killed by signal N,
 *             127/126 when it could not be executed
 * Return: 0 when the command ran (whatever its status), -errno when the
 * session could not be set up (already logged, nothing left behind).
 */
int nsess_run(const struct nsess_run_opts *o, const struct nsess_log *log, int *exit_code);

/* A session created by root: namespaces held by @holder, engine running. */
struct nsess_session {
	struct nsess_proc holder;
	int holder_sock;	/* EOF tells the holder to exit */
	struct nsess_proc engine;
	int lifeline;		/* write end; EOF tells the engine to exit */
	int ns_user, ns_mnt, ns_net;
	bool has_net;
	struct nsess_map_report maps;
	uint32_t groups_mapped[NSESS_GROUPS_MAX]; /* groups the session may keep */
	size_t n_groups_mapped;
};

/**
 * nsess_session_create() - create namespaces and engine for @u (as root)
 * @s: written on success
 * @u: the user
 * @plan: network plan
 * @layout: the id map layout (KEEP_ID for logins)
 * @o: root, helper paths (argv/user/net ignored)
 * @log: warnings (fallbacks) go here
 * @e: why not; nothing is left running on failure
 * Return: 0 or -errno.
 */
int nsess_session_create(struct nsess_session *s, const struct nsess_user *u,
			 const struct nsess_netplan *plan, enum nsess_layout layout,
			 const struct nsess_run_opts *o, const struct nsess_log *log,
			 struct nsess_error *e);

/**
 * nsess_session_join() - move the calling process into @s
 * @s: the session
 * @inside_root: afterwards become uid/gid 0 inside (which maps to a
 *               delegated id, never host root), so a later switch to the
 *               user drops every capability
 * @e: which step failed
 * Return: 0 or -errno.
 */
int nsess_session_join(const struct nsess_session *s, bool inside_root, struct nsess_error *e);

/**
 * nsess_session_engine_ended() - has the session's engine exited already?
 * @s: a created session
 * @why: if so, how, as text ("exit status 125", "killed by signal 9 (Killed)")
 * @len: room at @why
 *
 * Asked before nsess_session_destroy(), which ends the engine itself: an
 * engine that is already gone left the session without a network from
 * then on, and nothing else would tell. The process is not reaped here.
 * Return: true if it has exited.
 */
bool nsess_session_engine_ended(const struct nsess_session *s, char *why, size_t len);

/**
 * nsess_session_destroy() - end the engine and the holder, reap both;
 * idempotent, fine when either already died
 */
void nsess_session_destroy(struct nsess_session *s);

/** nsess_session_close_fds() - drop this process's copies of @s's fds (a forked child) */
void nsess_session_close_fds(struct nsess_session *s);

#endif
