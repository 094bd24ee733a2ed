/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * enginexec.c - a rootless session's process becomes nsession-engine.
 *
 * Why: the engine of a rootless session is the nsession process itself,
 * which by then has mapped libnl, libcap, NSS modules and their data, and
 * carries the heap and stack of the whole setup (subid files, id-map plans,
 * helper argv). Measured on an idle session: 472 KiB private dirty, of it
 * 196 KiB heap and 72 KiB stack. A freshly executed program that links
 * only libslirp (with glib), libseccomp, libcap and libc starts with a
 * heap of about 36 KiB and no setup garbage. nsession-engine is that
 * program; it runs the engine's loop and the wait for the command, which is
 * all that is left to do once the command has been started.
 *
 * The handoff is an execve() of this same process: the pid does not change,
 * so the command's parent-death signal and its getppid() check stay valid,
 * and the shell still waits for the pid it started. What crosses it:
 *  - argv: the fd numbers (--tap, --cmd PID:PIDFD, --sync, --signals,
 *    --plan) and --verbose; those fds alone lose close-on-exec for the
 *    exec, and the program sets it again first thing and closes every
 *    other fd above 2;
 *  - the network plan, through a pipe written before the exec: a header
 *    (magic, PACKAGE_VERSION, the struct size) and the struct itself, so a
 *    nsession-engine of another build is refused instead of misread;
 *  - the signal mask (exec keeps it) with the signalfd that reads it;
 *  - an empty environment (test builds pass their sanitizer and
 *    fault-injection variables, nothing else).
 * When the exec fails, the fds are restored and the caller runs the engine
 * in its own process, as before; the session works, with more memory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cmdwait.h"
#include "engine.h"
#include "enginexec.h"
#include "log.h"
#include "spawn.h"

#ifndef NSESS_ENGINE_PROGRAM
#error "NSESS_ENGINE_PROGRAM (the installed nsession-engine) must be defined"
#endif

#define ENGINE_MAGIC "NSESSENG"

/* the plan's message; the offsets of magic (0) and version (8) are fixed */
struct engine_plan_msg {
	char magic[8];
	char version[32];
	uint32_t plan_size;
	struct nsess_netplan plan;
	struct nsess_bpf bpf;		/* the engine's seccomp program; n = 0: none */
};

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

static int engine_cloexec(int fd, bool on)
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
	_cleanup_free_ struct engine_plan_msg *m = calloc(1, sizeof(*m));
	ssize_t n;

	if (!m)
		return nsess_error_set(e, ENOMEM, "engine handoff: out of memory");
	memcpy(m->magic, ENGINE_MAGIC, sizeof(m->magic));
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
	char a_tap[16], a_cmd[32], a_sync[16], a_sig[16], a_plan[16];
	char *argv[16], *envp[NSESS_ARRAY_SIZE(engine_env_names)];
	int fds[5], dup_of[5], pipefd[2], r;
	size_t n = 0, ne = 0, i;
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

	fds[0] = h->tap;
	fds[1] = h->cmd_pidfd;
	fds[2] = h->sync;
	fds[3] = h->sigfd;
	fds[4] = pipefd[0];
	/*
	 * Started with stdio closed, this process may hold a session fd as 0,
	 * 1 or 2; the engine takes those numbers as its stdio (its messages go
	 * to 2), so such an fd crosses as a copy above 2.
	 */
	for (i = 0; i < NSESS_ARRAY_SIZE(fds); i++) {
		dup_of[i] = -1;
		if (fds[i] >= 3 || r < 0)
			continue;
		dup_of[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (dup_of[i] < 0)
			r = -errno;
		else
			fds[i] = dup_of[i];
	}

	snprintf(a_tap, sizeof(a_tap), "%d", fds[0]);
	snprintf(a_cmd, sizeof(a_cmd), "%d:%d", (int)h->cmd_pid, fds[1]);
	snprintf(a_sync, sizeof(a_sync), "%d", fds[2]);
	snprintf(a_sig, sizeof(a_sig), "%d", fds[3]);
	snprintf(a_plan, sizeof(a_plan), "%d", fds[4]);
	argv[n++] = (char *)"nsession-engine";
	argv[n++] = (char *)"--tap";
	argv[n++] = a_tap;
	argv[n++] = (char *)"--cmd";
	argv[n++] = a_cmd;
	argv[n++] = (char *)"--sync";
	argv[n++] = a_sync;
	argv[n++] = (char *)"--signals";
	argv[n++] = a_sig;
	argv[n++] = (char *)"--plan";
	argv[n++] = a_plan;
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

	for (i = 0; i < NSESS_ARRAY_SIZE(fds) && r == 0; i++)
		r = engine_cloexec(fds[i], false);
	if (r == 0) {
		execve(path, argv, envp);
		r = -errno;
	}
	/* still here: everything back as it was */
	for (i = 0; i < NSESS_ARRAY_SIZE(fds); i++) {
		if (dup_of[i] >= 0)
			close(dup_of[i]);
		else
			engine_cloexec(fds[i], true);
	}
	close(pipefd[0]);
	return nsess_error_set(e, -r, "cannot start %s: %s", path, strerror(-r));
}

/* ---- the program's side ------------------------------------------------ */

static int engine_arg_fd(const char *s, int *out)
{
	unsigned int v;

	if (nsess_parse_u32(s, &v) < 0 || v < 3 || v > INT_MAX)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

int nsess_engine_args_parse(int argc, const char *const argv[], struct nsess_engine_handoff *out,
			    int *plan_fd, struct nsess_error *e)
{
	struct nsess_engine_handoff h = { .tap = -1, .cmd_pidfd = -1, .sync = -1, .sigfd = -1 };
	int plan = -1, i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int r = -EINVAL;

		if (strcmp(a, "--verbose") == 0) {
			h.verbose = true;
			continue;
		}
		if (!v)
			return nsess_error_set(e, EINVAL, "option '%s' needs a value", a);
		if (strcmp(a, "--tap") == 0) {
			r = engine_arg_fd(v, &h.tap);
		} else if (strcmp(a, "--sync") == 0) {
			r = engine_arg_fd(v, &h.sync);
		} else if (strcmp(a, "--signals") == 0) {
			r = engine_arg_fd(v, &h.sigfd);
		} else if (strcmp(a, "--plan") == 0) {
			r = engine_arg_fd(v, &plan);
		} else if (strcmp(a, "--cmd") == 0) {
			const char *colon = strchr(v, ':');
			char pid[16];
			unsigned int p;

			if (colon && (size_t)(colon - v) < sizeof(pid)) {
				memcpy(pid, v, (size_t)(colon - v));
				pid[colon - v] = '\0';
				if (nsess_parse_u32(pid, &p) == 0 && p > 1 && p <= INT_MAX &&
				    engine_arg_fd(colon + 1, &h.cmd_pidfd) == 0) {
					h.cmd_pid = (pid_t)p;
					r = 0;
				}
			}
		} else {
			return nsess_error_set(e, EINVAL, "unknown option '%s'", a);
		}
		if (r < 0)
			return nsess_error_set(e, EINVAL, "bad value '%s' for %s", v, a);
		i++;
	}
	if (h.tap < 0 || h.cmd_pidfd < 0 || h.sync < 0 || h.sigfd < 0 || plan < 0)
		return nsess_error_set(e, EINVAL, "--tap, --cmd, --sync, --signals and --plan are "
				       "all required");
	*out = h;
	*plan_fd = plan;
	return 0;
}

int nsess_engine_plan_read(int fd, struct nsess_netplan *out, struct nsess_bpf *bpf,
			   struct nsess_error *e)
{
	_cleanup_close_ int f = fd;
	_cleanup_free_ struct engine_plan_msg *m = calloc(1, sizeof(*m));
	size_t got = 0;
	char extra;

	if (!m)
		return nsess_error_set(e, ENOMEM, "engine: out of memory");
	while (got < sizeof(*m)) {
		ssize_t n = read(f, (char *)m + got, sizeof(*m) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return nsess_error_set(e, errno, "engine: reading the plan: %m");
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got != sizeof(*m) || memcmp(m->magic, ENGINE_MAGIC, sizeof(m->magic)) != 0 ||
	    m->plan_size != sizeof(m->plan) || read(f, &extra, 1) != 0)
		return nsess_error_set(e, EPROTO, "engine: the plan from nsession is not one this "
				       "nsession-engine %s reads (%zu bytes); install nsession and "
				       "nsession-engine from the same build", PACKAGE_VERSION, got);
	m->version[sizeof(m->version) - 1] = '\0';
	if (strcmp(m->version, PACKAGE_VERSION) != 0)
		return nsess_error_set(e, EPROTO, "engine: nsession %s started nsession-engine %s; "
				       "install both from the same build", m->version,
				       PACKAGE_VERSION);
	if (m->bpf.n > NSESS_BPF_INSNS_MAX)
		return nsess_error_set(e, EPROTO, "engine: a seccomp program of %u instructions "
				       "(at most %d)", m->bpf.n, NSESS_BPF_INSNS_MAX);
	if (nsess_netplan_validate(&m->plan, e) < 0)
		return -EINVAL;
	*out = m->plan;
	*bpf = m->bpf;
	return 0;
}

int nsess_engine_serve(const struct nsess_netplan *plan, int tap, struct nsess_bpf **bpf,
		       struct nsess_proc *cmd, int sync, int sigfd, const struct nsess_log *log,
		       int *exit_code, struct nsess_error *e)
{
	struct nsess_engine *eng = NULL;
	struct nsess_cmdwait w;
	int r;

	r = nsess_engine_new(plan, tap, log, &eng, e); /* owns the TAP fd */
	if (r < 0) {
		free(*bpf);
		*bpf = NULL;
		return r;
	}
	/*
	 * The user already, with empty capability sets in the init namespace;
	 * its bounding set cannot be emptied without CAP_SETPCAP. Lock it and
	 * load the allowlist that also covers waiting for the command and
	 * forwarding signals: compiled by nsession while it waited for the
	 * setup, else compiled here.
	 */
	r = nsess_sandbox_lock();
	if (r == 0)
		r = *bpf && (*bpf)->n ? nsess_sandbox_seccomp_load(*bpf)
				      : nsess_sandbox_seccomp(NSESS_SANDBOX_ENGINE_PARENT);
	/* 8 KiB that would otherwise stay dirty for the whole session */
	free(*bpf);
	*bpf = NULL;
	if (r < 0) {
		nsess_engine_free(eng);
		return nsess_error_set(e, -r, "confining the network engine (seccomp): %s",
				       strerror(-r));
	}
	/*
	 * Building the seccomp filter and reading the plan left freed memory
	 * in the heap; give its pages back before the process idles for the
	 * length of a session (about 90 KiB measured).
	 */
	malloc_trim(0);
	w = (struct nsess_cmdwait){ .cmd = cmd, .sigfd = sigfd, .sync = sync, .eng = eng,
				    .log = log };
	r = nsess_cmdwait_loop(&w);
	if (r < 0)
		nsess_log(log, LOG_ERR, "network engine failed: %s", strerror(-r));
	nsess_engine_free(eng);
	/* nsess_cmdwait_finish() may read the socket once more: not through the engine */
	w.eng = NULL;
	*exit_code = nsess_cmdwait_finish(&w, log);
	return 0;
}

int nsess_engine_program_main(int argc, char *argv[])
{
	struct nsess_engine_handoff h;
	struct nsess_proc cmd = NSESS_PROC_INIT;
	struct nsess_error e = { 0 };
	struct nsess_netplan plan;
	_cleanup_free_ struct nsess_bpf *bpf = calloc(1, sizeof(*bpf));
	struct nsess_log log;
	int plan_fd = -1, r, code;

	nsess_log_stderr(&log, 0);
	r = nsess_engine_args_parse(argc, (const char *const *)argv, &h, &plan_fd, &e);
	if (r < 0) {
		nsess_log(&log, LOG_ERR, "nsession-engine: %s (nsession run starts it; it is not "
			  "run by hand)", e.msg);
		return 125;
	}
	nsess_log_stderr(&log, h.verbose);
	{
		const int keep[] = { h.tap, h.cmd_pidfd, h.sync, h.sigfd, plan_fd };

		nsess_close_all_but(keep, NSESS_ARRAY_SIZE(keep));
		for (size_t i = 0; i < NSESS_ARRAY_SIZE(keep); i++)
			engine_cloexec(keep[i], true);
	}
	/*
	 * A stdio fd that whoever started nsession had closed gets /dev/null:
	 * else the first socket libslirp opens would become fd 2 and receive
	 * our messages in the middle of the session's traffic.
	 */
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		r = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (r >= 0 && r != fd)
			close(r);
	}
	cmd.pid = h.cmd_pid;
	cmd.pidfd = h.cmd_pidfd;

	r = bpf ? nsess_engine_plan_read(plan_fd, &plan, bpf, &e)
		: nsess_error_set(&e, ENOMEM, "engine: out of memory");
	if (r == 0)
		r = nsess_engine_serve(&plan, h.tap, &bpf, &cmd, h.sync, h.sigfd, &log, &code, &e);
	else
		close(h.tap);
	if (r < 0) {
		nsess_proc_kill(&cmd, SIGKILL);
		nsess_proc_wait(&cmd, NULL);
		nsess_proc_close(&cmd);
		nsess_log(&log, LOG_ERR, "%s", e.msg);
		return 125;
	}
	nsess_proc_close(&cmd);
	close(h.sigfd);
	return code;
}
