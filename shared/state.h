/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * state.h - session records under /run/nsession, handled through
 * directory fds only (openat/mkdirat/unlinkat with O_NOFOLLOW; never a
 * path walk, never rm -rf). Names are random numbers we generate, never
 * derived from PAM items or user names.
 *
 *   /run/nsession/              root-owned, 0700
 *   /run/nsession/<16 hex>/     one per session, 0700
 *   /run/nsession/<16 hex>/session   "key=value" lines (below)
 */
#ifndef NSESS_STATE_H
#define NSESS_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define NSESS_RUNDIR "/run/nsession"
#define NSESS_STATE_NAME_LEN 16

struct nsess_state_info {
	char user[256];
	uint32_t uid;
	pid_t holder_pid;
	pid_t engine_pid;
	pid_t opener_pid;
	int64_t started;	/* seconds since the epoch */
};

/**
 * nsess_state_format() - the text of a session file (pure)
 * Return: bytes written or -ENOSPC.
 */
int nsess_state_format(const struct nsess_state_info *info, char *buf, size_t len);

/**
 * nsess_state_parse() - read a session file's text back (pure, strict)
 * Return: 0, or -EINVAL (unknown key, bad number, missing key).
 */
int nsess_state_parse(const char *text, struct nsess_state_info *out);

/**
 * nsess_state_open_root() - open (creating if needed) the run directory
 * @rundir: NSESS_RUNDIR, or a test directory
 * @fd_out: O_DIRECTORY|O_CLOEXEC fd, written on success
 * @e: why not; refuses a symlink, a directory not owned by us (root), or one
 *     whose mode is not 0700 (someone else made it: do not trust it)
 * Return: 0 or -errno.
 */
int nsess_state_open_root(const char *rundir, int *fd_out, struct nsess_error *e);

/**
 * nsess_state_create() - make a new session record
 * @rootfd: from nsess_state_open_root()
 * @info: what to record
 * @name_out: NSESS_STATE_NAME_LEN + 1 bytes: the record's name
 * @e: why not
 * Return: 0 or -errno; nothing is left behind on failure.
 */
int nsess_state_create(int rootfd, const struct nsess_state_info *info, char *name_out,
		       struct nsess_error *e);

/**
 * nsess_state_remove() - remove a record; a record already gone is fine
 * Return: 0 or -errno.
 */
int nsess_state_remove(int rootfd, const char *name);

/**
 * nsess_state_pid_alive() - is the process a record names still that process?
 * @root: "" for the machine, else a fixture root ("<root>/proc/PID/...")
 * @pid: the recorded pid
 * @started: the record's start time (seconds since the epoch)
 *
 * Dead when /proc/PID is gone, when it is a zombie (State: Z or X), or
 * when /proc/PID/stat says it started more than 2 s after the record was
 * written (the pid was reused by another process).
 */
bool nsess_state_pid_alive(const char *root, pid_t pid, int64_t started);

/**
 * nsess_state_reclaim() - remove the records whose holder process is gone
 * (a PAM host that died without close_session)
 * @rootfd: from nsess_state_open_root()
 * Return: the number removed, or -errno.
 */
int nsess_state_reclaim(int rootfd);

/** nsess_state_name_valid() - exactly 16 lowercase hex digits */
int nsess_state_name_valid(const char *name);

#endif
