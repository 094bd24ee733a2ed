/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spawn.h - processes and namespaces: the only file that calls fork,
 * unshare, setns and exec. Processes are held by pidfd and an O_PATH
 * /proc/PID dirfd taken at fork time, never addressed by a pid read later.
 */
#ifndef NSESS_SPAWN_H
#define NSESS_SPAWN_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "util.h"

/*
 * struct nsess_proc - a child we forked
 * @pid: its pid (for messages and newuidmap's argument only)
 * @pidfd: pidfd, close-on-exec
 * @procfd: O_PATH dirfd of /proc/PID, close-on-exec
 */
struct nsess_proc {
	pid_t pid;
	int pidfd;
	int procfd;
};

#define NSESS_PROC_INIT { .pid = 0, .pidfd = -1, .procfd = -1 }

/**
 * nsess_fork() - fork and take stable handles on the child
 * @out: filled in the parent; the child sees pid 0
 *
 * Return: in the parent 1; in the child 0; -errno on failure (no child).
 */
int nsess_fork(struct nsess_proc *out);

/** nsess_proc_close() - close the handles (does not kill or reap) */
void nsess_proc_close(struct nsess_proc *p);

/**
 * nsess_wait_status_text() - "exit status 3", "killed by signal 9 (Killed)"
 * @status: in waitpid() form
 * Return: @buf
 */
const char *nsess_wait_status_text(int status, char *buf, size_t len);

/**
 * nsess_proc_wait() - reap the child through its pidfd
 * @p: the child
 * @status: wait status in waitpid() form (WIFEXITED...), may be NULL
 * Return: 0 or -errno; EINTR retried.
 */
int nsess_proc_wait(struct nsess_proc *p, int *status);

/** nsess_proc_kill() - signal through the pidfd; a child already gone is not an error */
int nsess_proc_kill(struct nsess_proc *p, int sig);

/**
 * nsess_proc_kill_userns() - SIGKILL every live process in a session's user
 * namespace and in the namespaces nested in it
 * @p: a child of ours, not yet reaped (the session's command); killed first
 * @userns_fd: the session's user namespace, taken when it was made; -1 to
 *             use the one @p is in now (through its procfd)
 *
 * For a session that fails after its command started: the command's own
 * children must not live on in namespaces that have no network. The
 * caller must own the namespace (it made it), which lets it signal every
 * id mapped in there. Processes are found in /proc and signalled through
 * pidfds, pass after pass, until one finds none alive (at most 100).
 * Only /proc and pidfd_* calls: not for a process under the engine's
 * seccomp filter.
 *
 * Return: how many signals were sent; -EINVAL when the namespace is the
 * caller's own, -EXDEV when /proc is another pid namespace's (then only @p
 * is killed); -EBUSY or -errno when processes may be left.
 */
int nsess_proc_kill_userns(struct nsess_proc *p, int userns_fd);

/**
 * nsess_exit_code() - a shell-style exit code from a wait status:
 * the exit status, or 128+N when killed by signal N
 */
int nsess_exit_code(int status);

/**
 * nsess_open_ns() - open one namespace file of a child through its procfd
 * @procfd: O_PATH dirfd of /proc/PID
 * @name: "user", "mnt", "net"
 * Return: fd (close-on-exec) or -errno.
 */
int nsess_open_ns(int procfd, const char *name);

/**
 * nsess_setns() - join namespaces in the order user, mnt, net
 * @userfd, @mntfd, @netfd: namespace fds; -1 to skip one
 * @e: which one failed
 * Return: 0 or -errno.
 */
int nsess_setns(int userfd, int mntfd, int netfd, struct nsess_error *e);

/**
 * nsess_unshare() - unshare with a clear error
 * @flags: CLONE_NEW* flags
 * @e: names the sysctl or policy most likely at fault for EPERM/ENOSPC/EINVAL
 * Return: 0 or -errno.
 */
int nsess_unshare(int flags, struct nsess_error *e);

/**
 * nsess_run_helper() - run a helper program and wait for it
 * @argv: argv[0] must be an absolute path; run with a fixed environment
 *        (PATH=/usr/sbin:/usr/bin:/sbin:/bin, LC_ALL=C), stdin /dev/null,
 *        every inherited fd above 2 closed
 * @out: its stdout+stderr, NUL-terminated and trimmed (may be NULL)
 * @outlen: size of @out
 * Return: 0 when it exited 0; -ENOENT/-EACCES when it could not be executed;
 * -EPERM when it ran and failed (text in @out); -errno otherwise.
 */
int nsess_run_helper(char *const argv[], char *out, size_t outlen);

/* A helper started and not yet waited for. */
struct nsess_helper {
	struct nsess_proc proc;
	int out_fd;			/* read end of its stdout+stderr */
};

/**
 * nsess_helper_start() / nsess_helper_finish() - nsess_run_helper() in two
 * halves, so that independent helpers run at the same time
 * @h: filled by start; finish reads its output to EOF, reaps it and
 *     releases everything, and must be called for every started helper
 * Return: start: 0 or -errno (nothing to finish then); finish: as
 * nsess_run_helper().
 */
int nsess_helper_start(char *const argv[], struct nsess_helper *h);
int nsess_helper_finish(struct nsess_helper *h, char *out, size_t outlen);

/**
 * nsess_threads() - number of threads of this process (from /proc/self/status)
 * Return: >= 1, or -errno.
 */
int nsess_threads(void);

/**
 * nsess_close_all_but() - close every fd above 2 except the @n in @keep
 * (a process that keeps running with only what it was given)
 */
void nsess_close_all_but(const int *keep, size_t n);

/** nsess_close_inherited() - mark every fd >= @from close-on-exec (before exec) */
void nsess_close_inherited(int from);

#endif
