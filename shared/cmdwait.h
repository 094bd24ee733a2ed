/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cmdwait.h - waiting for a session's command (see cmdwait.c)
 */
#ifndef NSESS_CMDWAIT_H
#define NSESS_CMDWAIT_H

#include <signal.h>
#include <stdbool.h>

#include "log.h"
#include "spawn.h"
#include "sync.h"

struct nsess_cmdwait {
	struct nsess_proc *cmd;
	int sigfd;
	int sync;		/* exec-status socket (EOF once exec worked) */
	bool exited;
	bool exec_failed;	/* the command child reported an error (exec or earlier) */
	int exec_err;
	int exec_stage;
	char exec_msg[NSESS_SYNC_TEXT_MAX + 64];
	struct nsess_proc *engine_proc; /* root path: the engine process, to notice its death */
	const struct nsess_log *log;
	/*
	 * A rootless session whose engine is not started yet: the loop also
	 * returns, with @net_wanted set and @net_why saying why, when @tap
	 * (>= 0) has a frame or @idle_ms have passed since the loop began.
	 */
	int tap;
	int idle_ms;
	bool net_wanted;
	const char *net_why;
};

/**
 * nsess_cmdwait_signals_block() - block the signals forwarded to the
 * command (INT TERM HUP QUIT USR1 USR2 WINCH) and read them from @sigfd
 * @old: the previous mask, to restore
 * Return: 0 or -errno (nothing changed then).
 */
int nsess_cmdwait_signals_block(sigset_t *old, int *sigfd);

/**
 * nsess_cmdwait_loop() - run until the command exits: a plain poll() over
 * the signalfd, the command's pidfd, the engine process's pidfd (when
 * @w->engine_proc is set) and the socket. nsession-engine polls these fds
 * in its own loop and calls the two handlers below instead.
 * Set @w->tap to -1 unless the engine is to be started later (see above).
 * Return: 0 (the command exited, or @w->net_wanted) or -errno from poll().
 */
int nsess_cmdwait_loop(struct nsess_cmdwait *w);

/* @w->sigfd is readable: forward what it holds to the command */
void nsess_cmdwait_on_signal(struct nsess_cmdwait *w);

/*
 * @w->sync is readable: an exec error or a warning is taken; EOF closes it
 * and sets @w->sync to -1 (a caller polling it stops watching that fd)
 */
void nsess_cmdwait_on_sync(struct nsess_cmdwait *w);

/**
 * nsess_cmdwait_finish() - reap the command and turn its end into an exit
 * code: its status (128+N for a signal), 127/126 when exec failed, 125 for
 * a failure before exec; an exec failure reported before exit wins
 * Closes @w->sync.
 */
int nsess_cmdwait_finish(struct nsess_cmdwait *w, const struct nsess_log *log);

/**
 * nsess_cmdwait_kill_session() - a rootless session failed after its command
 * started: kill the command and everything in @userns (see
 * nsess_proc_kill_userns()), say so when some may be left, and reap the
 * command. The caller still closes @cmd's handles and @userns.
 */
void nsess_cmdwait_kill_session(struct nsess_proc *cmd, int userns, const struct nsess_log *log);

#endif
