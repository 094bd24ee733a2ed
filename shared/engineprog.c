/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engineprog.c - nsession-engine: the NAT engine of one session in a
 * program of its own image (why: enginexec.c, which starts it). Takes its
 * fds by number and the plan from a pipe; runs the engine confined.
 *  - rootless: this process was nsession, and the session's command is its
 *    child: the engine's loop also forwards signals, reads the command's
 *    exec status and ends with its exit, whose code becomes ours.
 *  - --session (root's sessions, PAM and run --user): serves until the
 *    lifeline's other end closes or the namespace holder exits.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdwait.h"
#include "engine.h"
#include "engineprog.h"
#include "log.h"
#include "sandbox.h"
#include "spawn.h"

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
	struct nsess_engine_handoff h = { .tap = -1, .cmd_pidfd = -1, .userns = -1, .sync = -1,
					  .sigfd = -1, .lifeline = -1, .holder_pidfd = -1,
					  .ready = -1 };
	bool rootless_arg = false;
	int plan = -1, i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int r = -EINVAL;

		if (strcmp(a, "--verbose") == 0) {
			h.verbose = true;
			continue;
		}
		if (strcmp(a, "--session") == 0) {
			h.session = true;
			continue;
		}
		if (!v)
			return nsess_error_set(e, EINVAL, "option '%s' needs a value", a);
		if (strcmp(a, "--tap") == 0) {
			r = engine_arg_fd(v, &h.tap);
		} else if (strcmp(a, "--sync") == 0) {
			r = engine_arg_fd(v, &h.sync);
			rootless_arg = true;
		} else if (strcmp(a, "--userns") == 0) {
			r = engine_arg_fd(v, &h.userns);
			rootless_arg = true;
		} else if (strcmp(a, "--signals") == 0) {
			r = engine_arg_fd(v, &h.sigfd);
			rootless_arg = true;
		} else if (strcmp(a, "--lifeline") == 0) {
			r = engine_arg_fd(v, &h.lifeline);
		} else if (strcmp(a, "--holder") == 0) {
			r = engine_arg_fd(v, &h.holder_pidfd);
		} else if (strcmp(a, "--ready") == 0) {
			r = engine_arg_fd(v, &h.ready);
		} else if (strcmp(a, "--plan") == 0) {
			r = engine_arg_fd(v, &plan);
		} else if (strcmp(a, "--cmd") == 0) {
			const char *colon = strchr(v, ':');
			char pid[16];
			unsigned int p;

			rootless_arg = true;

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
	if (h.session && (rootless_arg || h.tap < 0 || h.lifeline < 0 || h.holder_pidfd < 0 ||
			  h.ready < 0 || plan < 0))
		return nsess_error_set(e, EINVAL, "--session takes --tap, --lifeline, --holder, "
				       "--ready and --plan, all of them, and no other fd");
	if (!h.session && (h.lifeline >= 0 || h.holder_pidfd >= 0 || h.ready >= 0 || h.tap < 0 ||
			   h.cmd_pidfd < 0 || h.sigfd < 0 || plan < 0))
		return nsess_error_set(e, EINVAL, "--tap, --cmd, --signals and --plan are all "
				       "required, --sync while the command's exec status is unread "
				       "(--lifeline, --holder, --ready need --session)");
	*out = h;
	*plan_fd = plan;
	return 0;
}

int nsess_engine_plan_read(int fd, struct nsess_netplan *out, struct nsess_bpf *bpf,
			   struct nsess_error *e)
{
	_cleanup_close_ int f = fd;
	_cleanup_free_ struct nsess_engine_plan_msg *m = calloc(1, sizeof(*m));
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
	if (got != sizeof(*m) || memcmp(m->magic, NSESS_ENGINE_MAGIC, sizeof(m->magic)) != 0 ||
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

/* the command's fds, polled by the engine's loop (see cmdwait.h) */
static void engineprog_cmdwait_cb(struct nsess_engine *eng, int fd, short revents, void *data)
{
	struct nsess_cmdwait *w = data;

	if (fd == w->sigfd) {
		nsess_cmdwait_on_signal(w);
	} else if (fd == w->sync) {
		nsess_cmdwait_on_sync(w);
		if (w->sync < 0) /* EOF: closed just now, nothing reused the number yet */
			nsess_engine_unwatch(eng, fd);
	} else if (fd == w->cmd->pidfd) {
		w->exited = true;
		nsess_engine_stop(eng);
	}
}

int nsess_engine_serve(const struct nsess_netplan *plan, int tap, struct nsess_bpf **bpf,
		       struct nsess_proc *cmd, int sync, int sigfd, int *userns,
		       const struct nsess_log *log, int *exit_code, struct nsess_error *e)
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
	/* confined: nothing from here on fails the session, so no sweep needs it */
	if (*userns >= 0)
		close(*userns);
	*userns = -1;
	/*
	 * Building the seccomp filter and reading the plan left freed memory
	 * in the heap; give its pages back before the process idles for the
	 * length of a session (about 90 KiB measured).
	 */
	malloc_trim(0);
	w = (struct nsess_cmdwait){ .cmd = cmd, .sigfd = sigfd, .sync = sync, .log = log };
	r = nsess_engine_watch(eng, w.sigfd, POLLIN, engineprog_cmdwait_cb, &w);
	if (r == 0)
		r = nsess_engine_watch(eng, w.cmd->pidfd, POLLIN, engineprog_cmdwait_cb, &w);
	if (r == 0 && w.sync >= 0)
		r = nsess_engine_watch(eng, w.sync, POLLIN, engineprog_cmdwait_cb, &w);
	if (r == 0)
		r = nsess_engine_run(eng);
	if (r < 0)
		nsess_log(log, LOG_ERR, "network engine failed: %s", strerror(-r));
	nsess_engine_free(eng);
	*exit_code = nsess_cmdwait_finish(&w, log);
	return 0;
}

static void engineprog_stop_cb(struct nsess_engine *eng, int fd, short revents, void *data)
{
	nsess_engine_stop(eng);
}

/*
 * A root-made session's engine: already at the engine's ids with empty
 * capability sets and no_new_privs (set before the exec, see
 * nsess_session_create()). Serves until the lifeline closes or the
 * namespace holder exits; tells --ready once it runs confined.
 */
static int engineprog_session(const struct nsess_engine_handoff *h, int plan_fd,
			      struct nsess_bpf **bpf)
{
	struct nsess_log_syslog sl = { .fd = -1 };
	struct nsess_engine *eng = NULL;
	struct nsess_error e = { 0 };
	struct nsess_netplan plan;
	struct nsess_log slog;
	const struct nsess_log *log = NULL;
	int r;

	setsid();
	r = *bpf ? nsess_engine_plan_read(plan_fd, &plan, *bpf, &e)
		 : nsess_error_set(&e, ENOMEM, "engine: out of memory");
	if (r < 0) {
		close(h->tap);
		goto fail;
	}
	/* the lock again: exec made the process dumpable */
	r = nsess_sandbox_lock();
	if (r < 0) {
		close(h->tap);
		nsess_error_set(&e, -r, "locking the engine process: %s", strerror(-r));
		goto fail;
	}
	/*
	 * Its stdio is /dev/null: what it has to say (a refused packet, its
	 * own failure) goes to syslog beside the PAM module's lines, through
	 * a socket connected before the seccomp filter forbids new ones.
	 */
	if (nsess_log_syslog_open(&slog, &sl, NULL, "nsession-engine", LOG_AUTHPRIV, h->verbose) == 0)
		log = &slog;
	r = nsess_engine_new(&plan, h->tap, log, &eng, &e);
	if (r < 0)
		goto fail;
	if (nsess_engine_watch(eng, h->lifeline, POLLIN, engineprog_stop_cb, NULL) < 0 ||
	    nsess_engine_watch(eng, h->holder_pidfd, POLLIN, engineprog_stop_cb, NULL) < 0) {
		nsess_error_set(&e, ENOMEM, "watching the lifelines failed");
		goto fail;
	}
	/* sockets bound, files read: from here on only the loop's syscalls */
	r = (*bpf)->n ? nsess_sandbox_seccomp_load(*bpf) : nsess_sandbox_seccomp(NSESS_SANDBOX_ENGINE);
	free(*bpf);
	*bpf = NULL;
	if (r < 0) {
		nsess_error_set(&e, -r, "confining the network engine (seccomp): %s", strerror(-r));
		goto fail;
	}
	malloc_trim(0);
	if (write(h->ready, "", 1) != 1)
		return 125;
	close(h->ready);
	r = nsess_engine_run(eng);
	if (r < 0)
		nsess_log(log, LOG_ERR, "network engine failed: %s; the session has no network "
			  "from now on", strerror(-r));
	nsess_engine_free(eng);
	nsess_log_syslog_close(&sl);
	return r < 0 ? 125 : 0;
fail:
	if (eng)
		nsess_engine_free(eng);
	nsess_log_syslog_close(&sl);
	if (!e.msg[0])
		nsess_error_set(&e, EIO, "failed");
	r = (int)write(h->ready, e.msg, strlen(e.msg)); /* best effort: EOF says enough */
	return 125;
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
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("nsession-engine %s libslirp %s\n", PACKAGE_VERSION, nsess_engine_version());
		return 0;
	}
	r = nsess_engine_args_parse(argc, (const char *const *)argv, &h, &plan_fd, &e);
	if (r < 0) {
		nsess_log(&log, LOG_ERR, "nsession-engine: %s (nsession run starts it; it is not "
			  "run by hand)", e.msg);
		return 125;
	}
	nsess_log_stderr(&log, h.verbose);
	{
		const int keep_rootless[] = { h.tap, h.cmd_pidfd, h.sync, h.sigfd, plan_fd, h.userns };
		const int keep_session[] = { h.tap, h.lifeline, h.holder_pidfd, h.ready, plan_fd, -1 };
		const int *keep = h.session ? keep_session : keep_rootless;

		nsess_close_all_but(keep, 6);
		for (size_t i = 0; i < 6; i++)
			if (keep[i] >= 0)
				nsess_engine_cloexec(keep[i], true);
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
	if (h.session)
		return engineprog_session(&h, plan_fd, &bpf);
	cmd.pid = h.cmd_pid;
	cmd.pidfd = h.cmd_pidfd;

	r = bpf ? nsess_engine_plan_read(plan_fd, &plan, bpf, &e)
		: nsess_error_set(&e, ENOMEM, "engine: out of memory");
	if (r == 0)
		r = nsess_engine_serve(&plan, h.tap, &bpf, &cmd, h.sync, h.sigfd, &h.userns, &log,
				       &code, &e);
	else
		close(h.tap);
	if (r < 0) {
		/*
		 * Fail closed: the command and whatever it started already.
		 * Every failure of nsess_engine_serve() comes before its
		 * seccomp filter is loaded, which would not allow the sweep.
		 */
		nsess_cmdwait_kill_session(&cmd, h.userns, &log);
		nsess_proc_close(&cmd);
		nsess_log(&log, LOG_ERR, "%s", e.msg);
		return 125;
	}
	nsess_proc_close(&cmd);
	close(h.sigfd);
	return code;
}
