/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spawn.c - fork/unshare/setns/exec, pidfds, helpers; see spawn.h.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "spawn.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int spawn_pidfd_open(pid_t pid)
{
	long r = syscall(SYS_pidfd_open, pid, 0);

	return r < 0 ? -errno : (int)r;
}

/*
 * Handles on a child that is ours and not yet reaped: its pid cannot have
 * been reused, so both name it. pidfd_open gives close-on-exec fds by
 * definition. @want_procfd: also its /proc directory, which only the
 * namespace children need (their maps and ns files); a helper already runs
 * setuid root when posix_spawn returns, and /proc mounted hidepid=ptraceable
 * hides such a process from its caller. On failure the child is killed and
 * reaped.
 */
static int spawn_adopt(pid_t pid, bool want_procfd, struct nsess_proc *out)
{
	char path[32];
	int pidfd, procfd = -1;

	pidfd = spawn_pidfd_open(pid);
	if (pidfd >= 0 && want_procfd) {
		snprintf(path, sizeof(path), "/proc/%d", (int)pid);
		procfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if (pidfd < 0 || (want_procfd && procfd < 0)) {
		int r = pidfd < 0 ? pidfd : -errno;

		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (pidfd >= 0)
			close(pidfd);
		if (procfd >= 0)
			close(procfd);
		return r;
	}
	out->pid = pid;
	out->pidfd = pidfd;
	out->procfd = procfd;
	return 0;
}

int nsess_fork(struct nsess_proc *out)
{
	pid_t pid;
	int r;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		return 0;
	r = spawn_adopt(pid, true, out);
	return r < 0 ? r : 1;
}

void nsess_proc_close(struct nsess_proc *p)
{
	if (p->pidfd >= 0)
		close(p->pidfd);
	if (p->procfd >= 0)
		close(p->procfd);
	p->pidfd = p->procfd = -1;
}

const char *nsess_wait_status_text(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	return buf;
}

int nsess_proc_wait(struct nsess_proc *p, int *status)
{
	siginfo_t si;
	int st;

	if (p->pidfd < 0)
		return -EBADF;
	memset(&si, 0, sizeof(si));
	while (waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si, WEXITED) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (si.si_code == CLD_EXITED)
		st = (si.si_status & 0xff) << 8;
	else
		st = (si.si_status & 0x7f) | (si.si_code == CLD_DUMPED ? 0x80 : 0);
	if (status)
		*status = st;
	return 0;
}

int nsess_proc_kill(struct nsess_proc *p, int sig)
{
	if (p->pidfd < 0)
		return -EBADF;
	if (syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) < 0)
		return errno == ESRCH ? 0 : -errno;
	return 0;
}

/* Is the user namespace @fd (consumed) @want or nested in it? */
static bool spawn_userns_within(int fd, const struct stat *want)
{
	for (int depth = 0; fd >= 0 && depth < 33; depth++) {
		struct stat st;
		int parent;

		if (fstat(fd, &st) == 0 && st.st_dev == want->st_dev && st.st_ino == want->st_ino) {
			close(fd);
			return true;
		}
		/* EPERM above the caller's own namespace: the walk is over */
		parent = ioctl(fd, NS_GET_PARENT);
		close(fd);
		fd = parent;
	}
	if (fd >= 0)
		close(fd);
	return false;
}

/* Has the process behind @pidfd not exited yet (any of its threads still runs)? */
static bool spawn_alive(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	/* POLLIN once the whole thread group has exited; a zombie leader alone is not that */
	return poll(&p, 1, 0) == 0;
}

/*
 * One pass over /proc: SIGKILL what lives in @want.
 * Return: how many were signalled, or -errno when some process could not be
 * looked at (the pass is incomplete).
 */
static int spawn_kill_pass(const struct stat *want)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();
	int n = 0, err = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		int pidfd, pdir, nsfd;

		if (*end || pid <= 0 || pid == self)
			continue;
		/* the pidfd first: if the pid is reused after this, the signal misses, never strays */
		pidfd = spawn_pidfd_open((pid_t)pid);
		if (pidfd < 0) {
			if (pidfd != -ESRCH)
				err = pidfd;
			continue;
		}
		pdir = openat(dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_CLOEXEC);
		nsfd = pdir < 0 ? -1 : openat(pdir, "ns/user", O_RDONLY | O_CLOEXEC);
		if (nsfd >= 0 && spawn_userns_within(nsfd, want) && spawn_alive(pidfd) &&
		    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) == 0)
			n++;
		if (pdir >= 0)
			close(pdir);
		close(pidfd);
	}
	closedir(d);
	return err < 0 ? err : n;
}

/* Is /proc the procfs of our own pid namespace (its pids are ours)? */
static bool spawn_proc_is_ours(void)
{
	char buf[24];
	ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);
	unsigned int v;

	if (n <= 0)
		return false;
	buf[n] = '\0';
	return nsess_parse_u32(buf, &v) == 0 && (pid_t)v == getpid();
}

int nsess_proc_kill_userns(struct nsess_proc *p, int userns_fd)
{
	struct stat want, own;
	int total = 0, pass, n = 0, r;

	r = userns_fd >= 0 ? (fstat(userns_fd, &want) < 0 ? -errno : 0)
	    : p->procfd >= 0 ? (fstatat(p->procfd, "ns/user", &want, 0) < 0 ? -errno : 0)
			     : -EBADF;
	if (r == 0 && stat("/proc/self/ns/user", &own) < 0)
		r = -errno;
	/* never a sweep of our own namespace: that would be all of the user's processes */
	if (r == 0 && want.st_dev == own.st_dev && want.st_ino == own.st_ino)
		r = -EINVAL;
	/* a /proc of another pid namespace names other processes than our pidfds would */
	if (r == 0 && !spawn_proc_is_ours())
		r = -EXDEV;
	/* the command first, so it forks no more */
	nsess_proc_kill(p, SIGKILL);
	if (r < 0)
		return r;
	for (pass = 0; pass < 100; pass++) {
		n = spawn_kill_pass(&want);
		if (n == 0)
			return total;
		if (n > 0)
			total += n;
		/* let the signalled ones die before looking again */
		(void)poll(NULL, 0, 1);
	}
	return n < 0 ? n : -EBUSY;
}

int nsess_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

int nsess_open_ns(int procfd, const char *name)
{
	char path[32];
	int fd;

	snprintf(path, sizeof(path), "ns/%s", name);
	fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int nsess_setns(int userfd, int mntfd, int netfd, struct nsess_error *e)
{
	static const struct {
		int type;
		const char *name;
	} order[] = { { CLONE_NEWUSER, "user" }, { CLONE_NEWNS, "mount" }, { CLONE_NEWNET, "network" } };
	int fds[3] = { userfd, mntfd, netfd };

	for (size_t i = 0; i < NSESS_ARRAY_SIZE(order); i++) {
		if (fds[i] < 0)
			continue;
		if (setns(fds[i], order[i].type) < 0)
			return nsess_error_set(e, errno, "joining the session's %s namespace: %s",
					       order[i].name, strerror(errno));
	}
	return 0;
}

int nsess_unshare(int flags, struct nsess_error *e)
{
	if (unshare(flags) == 0)
		return 0;
	switch (errno) {
	case ENOSPC:
		return nsess_error_set(e, ENOSPC,
				       "unshare: namespace limit reached (ENOSPC); raise it with "
				       "'sysctl -w user.max_user_namespaces=15000' (and "
				       "user.max_net_namespaces / user.max_mnt_namespaces)");
	case EPERM:
		return nsess_error_set(e, EPERM,
				       "unshare: not permitted (EPERM): unprivileged user namespaces are "
				       "blocked here (kernel.unprivileged_userns_clone=0, "
				       "kernel.apparmor_restrict_unprivileged_userns=1, a container's "
				       "seccomp policy, or user.max_user_namespaces=0); run 'nsession "
				       "doctor' to see which");
	case EINVAL:
		return nsess_error_set(e, EINVAL,
				       "unshare: invalid (EINVAL): the process is multithreaded or the "
				       "kernel lacks user/network/mount namespace support");
	default:
		return nsess_error_set(e, errno, "unshare: %s", strerror(errno));
	}
}

void nsess_close_inherited(int from)
{
	if (syscall(SYS_close_range, (unsigned int)from, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	/* older kernels: walk the table */
	for (int fd = from; fd < 65536; fd++) {
		int fl = fcntl(fd, F_GETFD);

		if (fl >= 0)
			fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
}

void nsess_close_all_but(const int *keep, size_t n)
{
	int lo = 3;

	for (;;) {
		int next = INT_MAX;

		for (size_t i = 0; i < n; i++)
			if (keep[i] >= lo && keep[i] < next)
				next = keep[i];
		if (next > lo && syscall(SYS_close_range, (unsigned int)lo,
					 next == INT_MAX ? ~0U : (unsigned int)(next - 1), 0) < 0) {
			/* older kernels: close one by one */
			for (int fd = lo; fd < (next == INT_MAX ? 65536 : next); fd++)
				close(fd);
		}
		if (next == INT_MAX)
			break;
		lo = next + 1;
	}
}

/*
 * The helper is started with posix_spawn(): glibc runs it from a vfork-style
 * child sharing our memory, so nothing of this process is copied (a fork of
 * a PAM host or of nsession copies its page tables first, the larger part of
 * a millisecond here, and then pays copy-on-write faults in both). The file
 * actions give it /dev/null as stdin, the pipe as stdout and stderr, and no
 * other fd; the signal mask and dispositions are reset, since the caller
 * may have signals blocked for its signalfd.
 */
int nsess_helper_start(char *const argv[], struct nsess_helper *h)
{
	static char env_path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	static char env_lc[] = "LC_ALL=C";
	char *const env[] = { env_path, env_lc, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int pipefd[2], r;
	pid_t pid;

	h->proc = (struct nsess_proc)NSESS_PROC_INIT;
	h->out_fd = -1;
	if (!argv[0] || argv[0][0] != '/')
		return -EINVAL;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	sigemptyset(&none);
	sigfillset(&all);
	r = posix_spawn_file_actions_init(&fa);
	if (r == 0) {
		r = posix_spawnattr_init(&attr);
		if (r != 0)
			posix_spawn_file_actions_destroy(&fa);
	}
	if (r != 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -r;
	}
	r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCLOSEFROM_NP
	/* our fds are close-on-exec already; this also covers a caller's (PAM) */
	if (r == 0)
		r = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	if (r == 0)
		r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (r == 0)
		r = posix_spawnattr_setsigmask(&attr, &none);
	if (r == 0)
		r = posix_spawnattr_setsigdefault(&attr, &all);
	if (r == 0)
		r = posix_spawn(&pid, argv[0], &fa, &attr, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		/*
		 * The exec failed (as the exit codes 127 and 126 would say), or
		 * a file action or the clone did: those keep their own errno.
		 */
		switch (r) {
		case ENOENT:
		case ENOTDIR:
			return -ENOENT;
		case EACCES:
		case EPERM:
		case ENOEXEC:
		case ETXTBSY:
		case ELOOP:
			return -EACCES;
		default:
			return -r;
		}
	}
	r = spawn_adopt(pid, false, &h->proc);
	if (r < 0) {
		close(pipefd[0]);
		return r;
	}
	h->out_fd = pipefd[0];
	return 0;
}

int nsess_helper_finish(struct nsess_helper *h, char *out, size_t outlen)
{
	size_t used = 0;
	char sink[256];
	int status, r;

	for (;;) {
		ssize_t n;
		char *dst = out && used + 1 < outlen ? out + used : sink;
		size_t room = out && used + 1 < outlen ? outlen - used - 1 : sizeof(sink);

		n = read(h->out_fd, dst, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (dst != sink)
			used += (size_t)n;
	}
	close(h->out_fd);
	h->out_fd = -1;
	if (out && outlen) {
		out[used] = '\0';
		while (used > 0 && (out[used - 1] == '\n' || out[used - 1] == ' '))
			out[--used] = '\0';
	}
	r = nsess_proc_wait(&h->proc, &status);
	nsess_proc_close(&h->proc);
	if (r < 0)
		return r;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -ENOENT;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 126)
		return -EACCES;
	return -EPERM;
}

int nsess_run_helper(char *const argv[], char *out, size_t outlen)
{
	struct nsess_helper h;
	int r;

	r = nsess_helper_start(argv, &h);
	if (r < 0)
		return r;
	return nsess_helper_finish(&h, out, outlen);
}

int nsess_threads(void)
{
	char buf[4096];
	ssize_t n;
	int fd, threads = -ENOENT;
	char *p;

	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	p = strstr(buf, "\nThreads:");
	if (p) {
		unsigned int v;
		char num[16];
		size_t i = 0;

		p += 9;
		while (*p == ' ' || *p == '\t')
			p++;
		while (i + 1 < sizeof(num) && *p >= '0' && *p <= '9')
			num[i++] = *p++;
		num[i] = '\0';
		if (nsess_parse_u32(num, &v) == 0 && v >= 1)
			threads = (int)v;
	}
	return threads;
}
