/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cmdwait.c - the process that started a session's command waits for it:
 * forwards signals, reads the exec status and warnings from its socket,
 * notices its exit and turns the status into ours. See cmdwait.h.
 *
 * Shared by nsession-engine, whose loop does the polling and calls the
 * handlers below (engineprog.c), and by root's run --user and the
 * engine-less rootless runs (the plain poll loop here, which also watches a
 * separate engine process). Nothing here links libslirp.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include "cmdwait.h"

static const int cmdwait_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

void nsess_cmdwait_on_signal(struct nsess_cmdwait *w)
{
	struct signalfd_siginfo si;

	while (read(w->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		/*
		 * The terminal already delivered this one to the whole
		 * foreground process group, the command included: do not
		 * deliver it twice.
		 */
		if (si.ssi_code == SI_KERNEL && getpgid(w->cmd->pid) == getpgrp())
			continue;
		nsess_proc_kill(w->cmd, (int)si.ssi_signo);
	}
}

void nsess_cmdwait_on_sync(struct nsess_cmdwait *w)
{
	struct nsess_sync_msg m;
	int r;

	r = nsess_sync_recv(w->sync, w->cmd->pid, &m, NULL);
	if (r == -EAGAIN)
		return;
	if (r == 0 && m.type == NSESS_SYNC_ERROR) {
		/* exec, or a step before it (joining, switching ids) */
		w->exec_failed = true;
		w->exec_err = m.err;
		w->exec_stage = m.stage;
		if (m.stage == NSESS_STAGE_EXEC)
			snprintf(w->exec_msg, sizeof(w->exec_msg), "%s", m.text);
		else
			snprintf(w->exec_msg, sizeof(w->exec_msg), "%s: %s",
				 nsess_stage_name(m.stage), m.text);
		return;
	}
	if (r == 0 && m.type == NSESS_SYNC_WARNING) {
		nsess_log(w->log, LOG_WARNING, "%s", m.text);
		return;
	}
	/* EOF: exec succeeded (the socket is close-on-exec) or the child died */
	close(w->sync);
	w->sync = -1;
}

static long long cmdwait_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int nsess_cmdwait_loop(struct nsess_cmdwait *w)
{
	long long deadline = w->tap >= 0 && w->idle_ms >= 0 ? cmdwait_now_ms() + w->idle_ms : -1;

	while (!w->exited) {
		struct nsess_proc *eng = w->engine_proc;
		/* a command whose exec failed is ending: no engine for it */
		bool lazy = w->tap >= 0 && !w->exec_failed;
		struct pollfd p[5] = {
			{ .fd = w->sigfd, .events = POLLIN },
			{ .fd = w->cmd->pidfd, .events = POLLIN },
			{ .fd = eng && eng->pidfd >= 0 ? eng->pidfd : -1, .events = POLLIN },
			{ .fd = w->sync, .events = POLLIN },
			{ .fd = lazy ? w->tap : -1, .events = POLLIN },
		};
		int timeout = -1, n;

		if (lazy && deadline >= 0) {
			long long left = deadline - cmdwait_now_ms();

			timeout = left > 0 ? (int)left : 0;
		}
		n = poll(p, 5, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[0].revents)
			nsess_cmdwait_on_signal(w);
		if (w->sync >= 0 && p[3].revents)
			nsess_cmdwait_on_sync(w);
		if (p[2].revents) {
			char how[64];
			int st = 0;

			/* the session keeps running, without a network: say so once */
			nsess_proc_wait(eng, &st);
			nsess_log(w->log, LOG_WARNING,
				  "the network engine (pid %d) ended (%s): the session has no "
				  "network from now on",
				  (int)eng->pid, nsess_wait_status_text(st, how, sizeof(how)));
			nsess_proc_close(eng);
		}
		if (p[1].revents) {
			w->exited = true;
			break;
		}
		/* an exec error read just now stays here: the command is ending */
		if (lazy && !w->exec_failed && (p[4].revents || n == 0)) {
			w->net_wanted = true;
			w->net_why = p[4].revents ? "the session's first frame" : "the idle timer";
			break;
		}
	}
	return 0;
}

int nsess_cmdwait_finish(struct nsess_cmdwait *w, const struct nsess_log *log)
{
	int status = 0;

	/*
	 * The command has exited, so its end of the socket is closed: what is
	 * left is either the exec error it sent or EOF, never "no data yet".
	 */
	for (int i = 0; i < 4 && w->sync >= 0 && !w->exec_failed; i++) {
		fcntl(w->sync, F_SETFL, fcntl(w->sync, F_GETFL) | O_NONBLOCK);
		nsess_cmdwait_on_sync(w);
	}
	if (w->sync >= 0) {
		close(w->sync);
		w->sync = -1;
	}
	if (nsess_proc_wait(w->cmd, &status) < 0)
		return 125;
	if (w->exec_failed) {
		nsess_log(log, LOG_ERR, "%s", w->exec_msg);
		if (w->exec_stage != NSESS_STAGE_EXEC)
			return 125;
		return w->exec_err == ENOENT ? 127 : 126;
	}
	return nsess_exit_code(status);
}

int nsess_cmdwait_signals_block(sigset_t *old, int *sigfd)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < NSESS_ARRAY_SIZE(cmdwait_signals); i++)
		sigaddset(&set, cmdwait_signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, old) < 0)
		return -errno;
	*sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (*sigfd < 0) {
		int r = -errno;

		sigprocmask(SIG_SETMASK, old, NULL);
		return r;
	}
	return 0;
}

void nsess_cmdwait_kill_session(struct nsess_proc *cmd, int userns, const struct nsess_log *log)
{
	int r = nsess_proc_kill_userns(cmd, userns);

	/* EINVAL/EBADF: no namespace of its own yet, the command was all of it */
	if (r < 0 && r != -EINVAL && r != -EBADF)
		nsess_log(log, LOG_WARNING, "ending the failed session's processes: %s: some may "
			  "be left in its namespaces", strerror(-r));
	nsess_proc_wait(cmd, NULL);
}
