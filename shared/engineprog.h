/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engineprog.h - nsession-engine, the program (see engineprog.c); links
 * libslirp through engine.c. Starting it: enginexec.h.
 */
#ifndef NSESS_ENGINEPROG_H
#define NSESS_ENGINEPROG_H

#include "enginexec.h"
#include "spawn.h"

/**
 * nsess_engine_args_parse() - nsession-engine's command line
 * @argc, @argv: rootless: "--tap FD --cmd PID:PIDFD --sync FD --signals FD
 *     --plan FD [--verbose]"; root's session: "--session --tap FD
 *     --lifeline FD --holder PIDFD --ready FD --plan FD [--verbose]"
 * @out: filled (its plan pointer is left NULL)
 * @plan_fd: the --plan fd
 * @e: names the bad argument
 *
 * Return: 0 or -EINVAL.
 */
int nsess_engine_args_parse(int argc, const char *const argv[], struct nsess_engine_handoff *out,
			    int *plan_fd, struct nsess_error *e);

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
 * @userns: the session's user namespace fd, or -1; closed and set to -1 once
 *          the engine runs confined (it is only needed to sweep a failure)
 * @exit_code: the command's exit code (see nsess_cmdwait_finish())
 *
 * Creates the engine, locks and confines this process, runs the loop until
 * the command exits and reaps it. Every failure return comes before the
 * seccomp filter is loaded.
 *
 * Return: 0 once the command has been waited for; -errno with @e set when
 * the engine could not start (the command is left for the caller to kill).
 */
int nsess_engine_serve(const struct nsess_netplan *plan, int tap, struct nsess_bpf **bpf,
		       struct nsess_proc *cmd, int sync, int sigfd, int *userns,
		       const struct nsess_log *log, int *exit_code, struct nsess_error *e);

/**
 * nsess_engine_program_main() - all of nsession-engine
 * Return: rootless, the exit code of nsession: the command's, or 125 when
 * the engine could not start (the command is killed then); root's session:
 * 0 when a lifeline ended it, 125 when it could not start (said on --ready).
 * "--version" prints the program's and libslirp's versions.
 */
int nsess_engine_program_main(int argc, char *argv[]);

#endif
