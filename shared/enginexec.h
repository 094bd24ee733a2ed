/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * enginexec.h - a rootless session's process becomes nsession-engine
 * (see enginexec.c)
 */
#ifndef NSESS_ENGINEXEC_H
#define NSESS_ENGINEXEC_H

#include <stdbool.h>
#include <stddef.h>
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
	pid_t cmd_pid;		/* the command (our child) */
	int cmd_pidfd;
	int sync;		/* its exec-status socket */
	int sigfd;		/* signalfd of the forwarded signals (mask stays blocked) */
	const struct nsess_bpf *bpf;	/* the engine's seccomp program, or NULL */
	bool verbose;
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
 * nsess_engine_exec() - replace this process with nsession-engine
 * @path: from nsess_engine_program_path()
 * @h: the session; its fds are passed by number, everything else stays
 *     close-on-exec; the environment is empty (test builds pass their
 *     sanitizer and fault-injection variables)
 * @e: why it did not happen
 *
 * Return: only on failure, -errno with @e set; every fd of @h is then as
 * it was (open, close-on-exec), so the caller can run the engine itself.
 */
int nsess_engine_exec(const char *path, const struct nsess_engine_handoff *h,
		      struct nsess_error *e);

/**
 * nsess_engine_args_parse() - nsession-engine's command line
 * @argc, @argv: "--tap FD --cmd PID:PIDFD --sync FD --signals FD --plan FD [--verbose]"
 * @out: filled (its plan pointer is left NULL)
 * @plan_fd: the --plan fd
 * @e: names the bad argument
 *
 * Return: 0 or -EINVAL.
 */
int nsess_engine_args_parse(int argc, const char *const argv[], struct nsess_engine_handoff *out,
			    int *plan_fd, struct nsess_error *e);

/**
 * nsess_engine_plan_write() - the plan as nsess_engine_plan_read() takes it
 * @fd: the pipe (one write(), which a pipe takes whole)
 * @bpf: a compiled seccomp program for the engine, or NULL
 * Return: 0 or -errno with @e set.
 */
int nsess_engine_plan_write(int fd, const struct nsess_netplan *plan, const struct nsess_bpf *bpf,
			    struct nsess_error *e);

/**
 * nsess_engine_plan_read() - the plan nsess_engine_exec() wrote, to EOF
 * @fd: read end of its pipe (closed here)
 * @out: the validated plan
 * @bpf: the seccomp program that came with it (n = 0: none)
 * @e: a version or size mismatch (nsession and nsession-engine of
 *     different builds) or an invalid plan
 *
 * Return: 0, -EPROTO or -errno.
 */
int nsess_engine_plan_read(int fd, struct nsess_netplan *out, struct nsess_bpf *bpf,
			   struct nsess_error *e);

/**
 * nsess_engine_serve() - a rootless session's engine, from start to the command's end
 * @plan: the validated network plan
 * @tap: the TAP queue (always taken)
 * @bpf: the engine's compiled seccomp program, or NULL (then compiled here);
 *       freed once loaded and set to NULL
 * @cmd, @sync, @sigfd: the command, its exec-status socket, the signalfd
 * @exit_code: the command's exit code (see nsess_cmdwait_finish())
 *
 * Creates the engine, locks and confines this process, runs the loop until
 * the command exits and reaps it. Shared by nsession-engine and by nsession
 * when the program cannot be started.
 *
 * Return: 0 once the command has been waited for; -errno with @e set when
 * the engine could not start (the command is left for the caller to kill).
 */
int nsess_engine_serve(const struct nsess_netplan *plan, int tap, struct nsess_bpf **bpf,
		       struct nsess_proc *cmd, int sync, int sigfd, const struct nsess_log *log,
		       int *exit_code, struct nsess_error *e);

/**
 * nsess_engine_program_main() - all of nsession-engine
 * Return: the exit code of nsession: the command's, or 125 when the engine
 * could not start (the command is killed then).
 */
int nsess_engine_program_main(int argc, char *argv[]);

#endif
