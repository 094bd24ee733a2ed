/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * enginexec.c - every session's NAT engine runs as nsession-engine, a
 * program of its own image; this is the side that starts it. Nothing here
 * links libslirp: nsession and pam_nsession.so never map it (nor glib), so
 * they load faster and a PAM host process such as sshd keeps none of it.
 * The program's side is engineprog.c.
 *
 * Why a program of its own: an engine forked from nsession, or from the
 * PAM host process, carries that process's libraries, heap and stack for
 * the whole session (472 KiB private dirty measured for nsession, 184 KiB
 * for root's forked engine, sshd's heap with it). A freshly executed
 * program that links only libslirp (with glib), libseccomp, libcap and libc
 * starts with a heap of about 36 KiB and no setup garbage.
 *
 * Two ways in:
 *  - rootless (nsess_engine_exec with h->session false): an execve() of the
 *    nsession process itself once the command runs. The pid does not
 *    change, so the command's parent-death signal and its getppid() check
 *    stay valid and the shell still waits for the pid it started. The
 *    engine also waits for the command, forwards signals and reads the exec
 *    status (--cmd, --sync, --signals).
 *  - root's sessions (h->session true): a child forked for the engine has
 *    dropped to the engine's ids, emptied its capabilities and set
 *    no_new_privs; it then becomes nsession-engine, which serves until its
 *    lifeline (--lifeline) closes or the namespace holder (--holder, a
 *    pidfd) exits, and says on --ready when it runs confined.
 * What crosses the exec:
 *  - argv: fd numbers and --verbose; those fds alone lose close-on-exec for
 *    the exec, and the program sets it again first thing and closes every
 *    other fd above 2;
 *  - the network plan through a pipe written before the exec: a header
 *    (magic, PACKAGE_VERSION, the struct size), the struct, and optionally
 *    a precompiled seccomp program, so a nsession-engine of another build
 *    is refused instead of misread;
 *  - the signal mask (exec keeps it), with the signalfd that reads it;
 *  - an empty environment (test builds pass their sanitizer and
 *    fault-injection variables, nothing else).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "enginexec.h"

#ifndef NSESS_ENGINE_PROGRAM
#error "NSESS_ENGINE_PROGRAM (the installed nsession-engine) must be defined"
#endif

/* environment variables a test build hands on; a release build: none */
static const char *const engine_env_names[] = {
#ifdef NSESS_SANITIZED
	"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
#endif
#ifdef NSESS_FAULT_INJECTION
	"NSESS_FAULT", "NSESS_FAULT_TAG",
#endif
	NULL,
};

static bool engine_is_program(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) &&
	       access(path, X_OK) == 0;
}

int nsess_engine_program_path(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		/* a binary replaced while it runs reads "... (deleted)": not a directory to trust */
		if (slash && !strstr(self, " (deleted)")) {
			*slash = '\0';
			if ((size_t)snprintf(buf, len, "%s/nsession-engine", self) < len &&
			    engine_is_program(buf))
				return 0;
		}
	}
	if ((size_t)snprintf(buf, len, "%s", NSESS_ENGINE_PROGRAM) >= len)
		return -ENAMETOOLONG;
	return engine_is_program(buf) ? 0 : -ENOENT;
}

static int engine_check_owner(const char *what, const char *path, const struct stat *st,
			      struct nsess_error *e)
{
	char esc[PATH_MAX / 4];

	if (st->st_uid != 0 || (st->st_mode & 022))
		return nsess_error_set(e, EPERM, "engine program: %s %s is owned by uid %u with "
				       "mode %04o; it must belong to root and be writable by root "
				       "alone (chown root: and chmod go-w)", what,
				       nsess_escape(path, (size_t)-1, esc, sizeof(esc)),
				       (unsigned int)st->st_uid, (unsigned int)(st->st_mode & 07777));
	return 0;
}

int nsess_engine_program_check(const char *path, struct nsess_error *e)
{
	char esc[PATH_MAX / 4], dir[PATH_MAX], *slash;
	struct stat st;
	int r;

	if (!path || path[0] != '/' || strlen(path) >= sizeof(dir))
		return nsess_error_set(e, EINVAL, "engine program '%s': give an absolute path to "
				       "nsession-engine (installed as %s)",
				       nsess_escape(path ? path : "", (size_t)-1, esc, sizeof(esc)),
				       NSESS_ENGINE_PROGRAM);
	if (stat(path, &st) < 0)
		return nsess_error_set(e, errno, "engine program %s: %s; install nsession-engine "
				       "there or name the installed %s",
				       nsess_escape(path, (size_t)-1, esc, sizeof(esc)), strerror(errno),
				       NSESS_ENGINE_PROGRAM);
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
		return nsess_error_set(e, EINVAL, "engine program %s is not an executable file; "
				       "name nsession-engine (installed as %s)",
				       nsess_escape(path, (size_t)-1, esc, sizeof(esc)),
				       NSESS_ENGINE_PROGRAM);
	r = engine_check_owner("file", path, &st, e);
	if (r < 0)
		return r;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) < 0)
		return nsess_error_set(e, errno, "engine program: directory %s: %s",
				       nsess_escape(dir, (size_t)-1, esc, sizeof(esc)), strerror(errno));
	return engine_check_owner("directory", dir, &st, e);
}

int nsess_engine_cloexec(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0)
		return -errno;
	if (fcntl(fd, F_SETFD, on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

int nsess_engine_plan_write(int fd, const struct nsess_netplan *plan, const struct nsess_bpf *bpf,
			    struct nsess_error *e)
{
	_cleanup_free_ struct nsess_engine_plan_msg *m = calloc(1, sizeof(*m));
	ssize_t n;

	if (!m)
		return nsess_error_set(e, ENOMEM, "engine handoff: out of memory");
	memcpy(m->magic, NSESS_ENGINE_MAGIC, sizeof(m->magic));
	snprintf(m->version, sizeof(m->version), "%s", PACKAGE_VERSION);
	m->plan_size = (uint32_t)sizeof(m->plan);
	m->plan = *plan;
	if (bpf)
		m->bpf = *bpf;
	/* about 9 KiB into an empty pipe (64 KiB): one write, never blocking */
	do
		n = write(fd, m, sizeof(*m));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*m)) {
		int err = n < 0 ? errno : EIO;

		return nsess_error_set(e, err, "engine handoff: writing the plan: %s",
				       n < 0 ? strerror(err) : "short write");
	}
	return 0;
}

int nsess_engine_exec(const char *path, const struct nsess_engine_handoff *h,
		      struct nsess_error *e)
{
	enum { MAXFD = 6 };
	const char *flag[MAXFD];
	char arg[MAXFD][32], *argv[2 + 2 * MAXFD + 2], *envp[NSESS_ARRAY_SIZE(engine_env_names)];
	int fds[MAXFD], dup_of[MAXFD], pipefd[2], r;
	size_t nfd = 0, n = 0, ne = 0, i;
	extern char **environ;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return nsess_error_set(e, errno, "engine handoff: pipe: %m");
	/* far below the pipe's capacity: this write never blocks */
	r = nsess_engine_plan_write(pipefd[1], h->plan, h->bpf, e);
	close(pipefd[1]);
	if (r < 0) {
		close(pipefd[0]);
		return r;
	}

	flag[nfd] = "--tap";
	fds[nfd++] = h->tap;
	if (h->session) {
		flag[nfd] = "--lifeline";
		fds[nfd++] = h->lifeline;
		flag[nfd] = "--holder";
		fds[nfd++] = h->holder_pidfd;
		flag[nfd] = "--ready";
		fds[nfd++] = h->ready;
	} else {
		flag[nfd] = "--cmd";
		fds[nfd++] = h->cmd_pidfd;
		if (h->userns >= 0) {
			flag[nfd] = "--userns";
			fds[nfd++] = h->userns;
		}
		if (h->sync >= 0) {
			flag[nfd] = "--sync";
			fds[nfd++] = h->sync;
		}
		flag[nfd] = "--signals";
		fds[nfd++] = h->sigfd;
	}
	flag[nfd] = "--plan";
	fds[nfd++] = pipefd[0];
	/*
	 * Started with stdio closed, this process may hold a session fd as 0,
	 * 1 or 2; the engine takes those numbers as its stdio (its messages go
	 * to 2), so such an fd crosses as a copy above 2.
	 */
	for (i = 0; i < nfd; i++) {
		dup_of[i] = -1;
		if (fds[i] >= 3 || r < 0)
			continue;
		dup_of[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (dup_of[i] < 0)
			r = -errno;
		else
			fds[i] = dup_of[i];
	}

	argv[n++] = (char *)"nsession-engine";
	if (h->session)
		argv[n++] = (char *)"--session";
	for (i = 0; i < nfd; i++) {
		if (!h->session && strcmp(flag[i], "--cmd") == 0)
			snprintf(arg[i], sizeof(arg[i]), "%d:%d", (int)h->cmd_pid, fds[i]);
		else
			snprintf(arg[i], sizeof(arg[i]), "%d", fds[i]);
		argv[n++] = (char *)flag[i];
		argv[n++] = arg[i];
	}
	if (h->verbose)
		argv[n++] = (char *)"--verbose";
	argv[n] = NULL;

	for (i = 0; engine_env_names[i]; i++) {
		size_t l = strlen(engine_env_names[i]);

		for (char **ep = environ; ep && *ep; ep++)
			if (strncmp(*ep, engine_env_names[i], l) == 0 && (*ep)[l] == '=') {
				envp[ne++] = *ep;
				break;
			}
	}
	envp[ne] = NULL;

	for (i = 0; i < nfd && r == 0; i++)
		r = nsess_engine_cloexec(fds[i], false);
	if (r == 0) {
		execve(path, argv, envp);
		r = -errno;
	}
	/* still here: everything back as it was */
	for (i = 0; i < nfd; i++) {
		if (dup_of[i] >= 0)
			close(dup_of[i]);
		else
			nsess_engine_cloexec(fds[i], true);
	}
	close(pipefd[0]);
	return nsess_error_set(e, -r, "cannot start %s: %s", path, strerror(-r));
}
