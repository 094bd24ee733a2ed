/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * enginexec.h - starting nsession-engine, the program every session's NAT
 * engine runs in (see enginexec.c; the program's side: engineprog.h)
 */
#ifndef NSESS_ENGINEXEC_H
#define NSESS_ENGINEXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"
#include "netplan.h"
#include "sandbox.h"
#include "spawn.h"
#include "util.h"

/* What crosses the exec: the plan and the fds of a running session. */
struct nsess_engine_handoff {
	const struct nsess_netplan *plan;
	int tap;		/* the session's TAP queue */
	bool session;		/* root's session (the lifelines below), else rootless */
	/* rootless: the engine also waits for the command */
	pid_t cmd_pid;		/* the command (our child) */
	int cmd_pidfd;
	int userns;		/* the session's user namespace, swept if the engine fails; or -1 */
	int sync;		/* its exec-status socket; -1: the status was read already */
	int sigfd;		/* signalfd of the forwarded signals (mask stays blocked) */
	/* root's session */
	int lifeline;		/* read end: EOF stops the engine */
	int holder_pidfd;	/* the namespace holder: its exit stops the engine */
	int ready;		/* gets one NUL byte once the engine runs confined, or why not */
	const struct nsess_bpf *bpf;	/* the engine's seccomp program, or NULL */
	bool verbose;
};

/*
 * A rootless session starts its engine at the first frame from the session
 * or after this long, whichever comes first (see session_run_rootless()).
 */
#define NSESS_ENGINE_IDLE_MS 25

/* The plan's message on the --plan pipe; magic (0) and version (8) stay put. */
#define NSESS_ENGINE_MAGIC "NSESSENG"
struct nsess_engine_plan_msg {
	char magic[8];
	char version[32];
	uint32_t plan_size;
	struct nsess_netplan plan;
	struct nsess_bpf bpf;		/* the engine's seccomp program; n = 0: none */
};

/**
 * nsess_engine_program_path() - where nsession-engine is
 * @buf, @len: receives an absolute path
 *
 * nsession-engine beside the running binary (/proc/self/exe) when there is
 * one, which is the build tree; else the installed NSESS_ENGINE_PROGRAM.
 *
 * Return: 0, or -ENOENT when neither is an executable regular file.
 */
int nsess_engine_program_path(char *buf, size_t len);

/**
 * nsess_engine_program_check() - an nsession-engine named by the admin
 * (pam_nsession's engine=), started from a root process
 * @path: must be absolute, a regular executable file owned by root and
 *        writable by nobody else, in a directory of the same kind
 * @e: names the path, what is wrong and the fix
 *
 * Return: 0 or -errno (-EINVAL, -ENOENT, -EPERM).
 */
int nsess_engine_program_check(const char *path, struct nsess_error *e);

/**
 * nsess_engine_exec() - replace this process with nsession-engine
 * @path: from nsess_engine_program_path()
 * @h: the session; its fds are passed by number, everything else stays
 *     close-on-exec; the environment is empty (test builds pass their
 *     sanitizer and fault-injection variables)
 * @e: why it did not happen
 *
 * Return: only on failure, -errno with @e set; every fd of @h is then as
 * it was (open, close-on-exec).
 */
int nsess_engine_exec(const char *path, const struct nsess_engine_handoff *h,
		      struct nsess_error *e);

/* Set or clear close-on-exec on @fd. Return: 0 or -errno. */
int nsess_engine_cloexec(int fd, bool on);

/**
 * nsess_engine_plan_write() - the plan as nsess_engine_plan_read() takes it
 * @fd: the pipe (one write(), which a pipe takes whole)
 * @bpf: a compiled seccomp program for the engine, or NULL
 * Return: 0 or -errno with @e set.
 */
int nsess_engine_plan_write(int fd, const struct nsess_netplan *plan, const struct nsess_bpf *bpf,
			    struct nsess_error *e);

#endif
