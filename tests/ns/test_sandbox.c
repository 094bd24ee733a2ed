/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_sandbox.c - the engine's containment (SECURITY-CHECKS invariant 5).
 *
 *  - the allowlist, in a forked child: allowed calls work, a disallowed
 *    syscall (or a forbidden argument) kills the child with SIGSYS, a
 *    socket of another family fails with EAFNOSUPPORT;
 *  - the identity drop, in a forked root child: ids, groups, every
 *    capability set;
 *  - the real engine of a root-created session: /proc/<pid>/status (Uid,
 *    Cap*, NoNewPrivs, Seccomp), its fd table, and that it exits cleanly
 *    (status 0, not SIGSYS) when its lifeline reaches EOF or the holder
 *    dies.
 *
 * The session tests use a throwaway system account "nsesbox" (created if
 * absent). It has no subordinate ids, so the map falls back to a single id
 * with a warning, which is all the engine needs.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/netlink.h>

#include "netplan.h"
#include "sandbox.h"
#include "session.h"
#include "../unit/testlib.h"

#define SANDBOX_TEST_USER "nsesbox"

/* ---- the allowlist in a child ------------------------------------------- */

enum expect { SURVIVES, KILLED };

struct sc_case {
	const char *name;
	enum nsess_sandbox_role role;
	enum expect expect;
	int (*act)(void); /* 0: behaved as expected for a survivor */
};

static int act_execve(void)
{
	static char prog[] = "true";
	char *const argv[] = { prog, NULL };
	char *const envp[] = { NULL };

	execve("/bin/true", argv, envp);
	return 1;
}

static int act_ptrace(void)
{
	ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	return 1;
}

static int act_fork(void)
{
	pid_t p = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);

	if (p == 0)
		_exit(0);
	return 1;
}

static int act_unshare(void)
{
	unshare(CLONE_NEWUSER);
	return 1;
}

static int act_kill(void)
{
	kill(getpid(), 0);
	return 1;
}

static int act_open_write(void)
{
	int fd = openat(AT_FDCWD, "/dev/null", O_WRONLY | O_CLOEXEC);

	return fd >= 0 ? 1 : 2;
}

static int act_open_path(void)
{
	int fd = openat(AT_FDCWD, "/etc", O_PATH | O_CLOEXEC);

	return fd >= 0 ? 1 : 2;
}

static int act_mmap_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p != MAP_FAILED ? 1 : 2;
}

static int act_prctl(void)
{
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return 1;
}

static int act_getpgrp(void)
{
	return getpgrp() > 0 ? 0 : 1;
}

static int act_open_read(void)
{
	char buf[64];
	int fd = openat(AT_FDCWD, "/etc/hosts", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 1;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n >= 0 ? 0 : 2;
}

static int act_inet_sockets(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int t = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	socklen_t len = sizeof(sa);
	int fl;

	if (u < 0 || t < 0)
		return 1;
	if (bind(u, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(u, (struct sockaddr *)&sa, &len) < 0)
		return 2;
	fl = fcntl(u, F_GETFL);
	if (fl < 0 || fcntl(u, F_SETFL, fl | O_NONBLOCK) < 0)
		return 3;
	if (sendto(u, "x", 1, 0, (struct sockaddr *)&sa, sizeof(sa)) != 1)
		return 4;
	close(u);
	close(t);
	return 0;
}

static int act_netlink_refused(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	return fd < 0 && errno == EAFNOSUPPORT ? 0 : 1;
}

static int act_unix_refused(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	return fd < 0 && errno == EAFNOSUPPORT ? 0 : 1;
}

static int act_packet_refused(void)
{
	int fd = socket(17 /* AF_PACKET */, SOCK_RAW | SOCK_CLOEXEC, 0);

	return fd < 0 && errno == EAFNOSUPPORT ? 0 : 1;
}

static int act_malloc(void)
{
	/* small (brk) and large (mmap) allocations, then free (munmap) */
	for (size_t sz = 16; sz <= (8u << 20); sz *= 4) {
		char *p = malloc(sz);

		if (!p)
			return 1;
		memset(p, 1, sz);
		free(p);
	}
	return 0;
}

static const struct sc_case sc_cases[] = {
	{ "execve", NSESS_SANDBOX_ENGINE, KILLED, act_execve },
	{ "ptrace", NSESS_SANDBOX_ENGINE, KILLED, act_ptrace },
	{ "clone", NSESS_SANDBOX_ENGINE, KILLED, act_fork },
	{ "unshare", NSESS_SANDBOX_ENGINE, KILLED, act_unshare },
	{ "kill", NSESS_SANDBOX_ENGINE, KILLED, act_kill },
	{ "prctl", NSESS_SANDBOX_ENGINE, KILLED, act_prctl },
	{ "openat O_WRONLY", NSESS_SANDBOX_ENGINE, KILLED, act_open_write },
	{ "openat O_PATH", NSESS_SANDBOX_ENGINE, KILLED, act_open_path },
	{ "mmap PROT_EXEC", NSESS_SANDBOX_ENGINE, KILLED, act_mmap_exec },
	{ "getpgrp (parent only)", NSESS_SANDBOX_ENGINE, KILLED, act_getpgrp },
	{ "execve (parent)", NSESS_SANDBOX_ENGINE_PARENT, KILLED, act_execve },
	{ "getpgrp (parent)", NSESS_SANDBOX_ENGINE_PARENT, SURVIVES, act_getpgrp },
	{ "openat O_RDONLY", NSESS_SANDBOX_ENGINE, SURVIVES, act_open_read },
	{ "inet sockets", NSESS_SANDBOX_ENGINE, SURVIVES, act_inet_sockets },
	{ "netlink refused", NSESS_SANDBOX_ENGINE, SURVIVES, act_netlink_refused },
	{ "AF_UNIX refused", NSESS_SANDBOX_ENGINE, SURVIVES, act_unix_refused },
	{ "AF_PACKET refused", NSESS_SANDBOX_ENGINE, SURVIVES, act_packet_refused },
	{ "malloc/free", NSESS_SANDBOX_ENGINE, SURVIVES, act_malloc },
};

/*
 * Runs @c in a child under the filter, compiled and loaded by libseccomp,
 * or (@exported) compiled in the parent and loaded from the BPF, as
 * nsession-engine does; returns its wait status.
 */
static int sc_run(const struct sc_case *c, bool exported)
{
	static struct nsess_bpf bpf;
	int status = 0;
	pid_t p;

	if (exported)
		cr_assert_eq(nsess_sandbox_seccomp_export(c->role, &bpf), 0, "%s", c->name);
	p = fork();
	cr_assert_geq(p, 0, "fork: %s", strerror(errno));
	if (p == 0) {
		int r = nsess_sandbox_lock();

		if (r == 0)
			r = exported ? nsess_sandbox_seccomp_load(&bpf) : nsess_sandbox_seccomp(c->role);
		if (r < 0)
			_exit(100);
		_exit(c->act());
	}
	cr_assert_eq(waitpid(p, &status, 0), p);
	return status;
}

static void sc_check_all(bool exported)
{
	for (size_t i = 0; i < NSESS_ARRAY_SIZE(sc_cases); i++) {
		const struct sc_case *c = &sc_cases[i];
		int st = sc_run(c, exported);

		cr_assert_neq(WIFEXITED(st) ? WEXITSTATUS(st) : 0, 100,
			      "%s: loading the filter failed", c->name);
		if (c->expect == KILLED)
			cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
				  "%s: expected death by SIGSYS, got status 0x%x", c->name, st);
		else
			cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
				  "%s: expected to survive with 0, got status 0x%x", c->name, st);
	}
}

Test(sandbox, allowlist_kills_and_allows)
{
	sc_check_all(false);
}

Test(sandbox, exported_allowlist_kills_and_allows)
{
	sc_check_all(true);
}

Test(sandbox, exported_program_refused_when_empty)
{
	static struct nsess_bpf bpf;

	bpf.n = 0;
	cr_expect_eq(nsess_sandbox_seccomp_load(&bpf), -EINVAL);
	bpf.n = NSESS_BPF_INSNS_MAX + 1;
	cr_expect_eq(nsess_sandbox_seccomp_load(&bpf), -EINVAL);
	cr_expect_eq(nsess_sandbox_seccomp_export((enum nsess_sandbox_role)42, &bpf), -EINVAL);
	cr_expect_eq(bpf.n, 0, "nothing exported for an unknown role");
}

Test(sandbox, unknown_role_refused)
{
	cr_assert_eq(nsess_sandbox_seccomp((enum nsess_sandbox_role)42), -EINVAL);
}

Test(sandbox, never_drops_to_root)
{
	cr_assert_eq(nsess_sandbox_drop_privileges(0, 1000), -EINVAL);
	cr_assert_eq(nsess_sandbox_drop_privileges(1000, 0), -EINVAL);
	cr_assert_eq(nsess_sandbox_drop_privileges((uid_t)-1, 1000), -EINVAL);
}

/* ---- /proc/<pid>/status ---------------------------------------------------- */

/* The value after "@key:" in /proc/<pid>/status, tabs squeezed to spaces. */
static bool status_field(pid_t pid, const char *key, char *out, size_t outlen)
{
	char path[64], line[512];
	size_t klen = strlen(key);
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *v, *w;

		if (strncmp(line, key, klen) != 0 || line[klen] != ':')
			continue;
		v = line + klen + 1;
		while (*v == '\t' || *v == ' ')
			v++;
		v[strcspn(v, "\n")] = '\0';
		for (w = v; *w; w++)
			if (*w == '\t')
				*w = ' ';
		snprintf(out, outlen, "%s", v);
		found = true;
		break;
	}
	fclose(f);
	return found;
}

static void assert_contained(pid_t pid, uint32_t uid, uint32_t gid)
{
	static const char *const caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
	char v[256], want[128];

	snprintf(want, sizeof(want), "%u %u %u %u", uid, uid, uid, uid);
	cr_assert(status_field(pid, "Uid", v, sizeof(v)));
	cr_expect_str_eq(v, want, "Uid: %s, want %s", v, want);
	snprintf(want, sizeof(want), "%u %u %u %u", gid, gid, gid, gid);
	cr_assert(status_field(pid, "Gid", v, sizeof(v)));
	cr_expect_str_eq(v, want, "Gid: %s, want %s", v, want);
	cr_assert(status_field(pid, "Groups", v, sizeof(v)));
	cr_expect_str_eq(v, "", "Groups: '%s', want none", v);
	for (size_t i = 0; i < NSESS_ARRAY_SIZE(caps); i++) {
		cr_assert(status_field(pid, caps[i], v, sizeof(v)), "no %s line", caps[i]);
		cr_expect_str_eq(v, "0000000000000000", "%s: %s", caps[i], v);
	}
	cr_assert(status_field(pid, "NoNewPrivs", v, sizeof(v)));
	cr_expect_str_eq(v, "1", "NoNewPrivs: %s", v);
}

/* ---- identity drop ---------------------------------------------------------- */

Test(sandbox, drop_privileges_empties_everything)
{
	int status;
	pid_t p;

	NSESS_TEST_NEED_ROOT();
	p = fork();
	cr_assert_geq(p, 0);
	if (p == 0) {
		char v[64];

		if (nsess_sandbox_drop_privileges(65534, 65534) < 0)
			_exit(1);
		/* no way back */
		if (setresuid(0, 0, 0) == 0 || setgroups(0, NULL) == 0)
			_exit(2);
		if (!status_field(getpid(), "CapBnd", v, sizeof(v)) ||
		    strcmp(v, "0000000000000000") != 0)
			_exit(3);
		if (!status_field(getpid(), "CapInh", v, sizeof(v)) ||
		    strcmp(v, "0000000000000000") != 0)
			_exit(4);
		if (!status_field(getpid(), "Uid", v, sizeof(v)) ||
		    strcmp(v, "65534 65534 65534 65534") != 0)
			_exit(5);
		_exit(0);
	}
	cr_assert_eq(waitpid(p, &status, 0), p);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
}

/* ---- the real engine of a root-created session -------------------------------- */

static void ensure_test_user(struct nsess_user *u)
{
	struct nsess_error e = { 0 };

	if (nsess_user_lookup(SANDBOX_TEST_USER, 0, u, &e) == 0)
		return;
	/* tests run in parallel: another one may be creating it right now */
	for (int i = 0; i < 50; i++) {
		if (system("/usr/sbin/useradd --system --no-create-home --shell /usr/sbin/nologin "
			   SANDBOX_TEST_USER " >/dev/null 2>&1") == 0 ||
		    nsess_user_lookup(SANDBOX_TEST_USER, 0, u, &e) == 0)
			break;
		usleep(100000);
	}
	cr_assert_eq(nsess_user_lookup(SANDBOX_TEST_USER, 0, u, &e), 0,
		     "creating the test user " SANDBOX_TEST_USER ": %s", e.msg);
}

static uint16_t sb_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void session_start(struct nsess_session *s, struct nsess_user *u)
{
	static struct nsess_log_capture cap;
	struct nsess_run_opts o = {
		.layout = NSESS_LAYOUT_KEEP_ID,
		.root = "/",
		.newuidmap = NSESS_NEWUIDMAP,
		.newgidmap = NSESS_NEWGIDMAP,
		.engine_program = NSESS_TEST_ENGINE, /* the one built here, as pam's engine= */
	};
	struct nsess_error e = { 0 };
	struct nsess_log log;
	char v[64];
	int r;

	NSESS_TEST_NEED_ROOT();
	NSESS_TEST_NEED(access("/dev/net/tun", F_OK) == 0, "needs /dev/net/tun");
	ensure_test_user(u);
	nsess_log_capture_init(&log, &cap);
	nsess_netplan_defaults(&o.net);
	/* a published port: the engine then holds a listening socket too */
	o.net.n_publish = 1;
	o.net.publish[0] = (struct nsess_publish){
		.host_addr.s_addr = htonl(INADDR_LOOPBACK),
		.host_port = sb_free_port(),
		.guest_port = 8080,
	};
	r = nsess_session_create(s, u, &o.net, o.layout, &o, &log, &e);
	cr_assert_eq(r, 0, "session: %s (log: %s)", e.msg, cap.buf);
	cr_assert_geq(s->engine.pidfd, 0, "no engine process");
	/* the filter is the engine's last step before its loop */
	for (int i = 0; i < 500; i++) {
		if (status_field(s->engine.pid, "Seccomp", v, sizeof(v)) && strcmp(v, "2") == 0)
			return;
		usleep(10000);
	}
	cr_assert_fail("the engine never reached Seccomp: 2 (last: %s)", v);
}

/* Netlink and unix socket inodes of the host's network namespace. */
static bool inode_listed(const char *file, unsigned long ino, int column)
{
	char line[1024];
	bool hit = false;
	FILE *f = fopen(file, "re");

	if (!f)
		return false;
	while (!hit && fgets(line, sizeof(line), f)) {
		char *save = NULL, *tok = strtok_r(line, " \t\n", &save);

		for (int c = 0; tok && c < column; c++)
			tok = strtok_r(NULL, " \t\n", &save);
		if (tok && strtoul(tok, NULL, 10) == ino)
			hit = true;
	}
	fclose(f);
	return hit;
}

/* Is a syslog daemon reading /dev/log? Then a root-made session's engine holds a socket to it. */
static bool syslog_live(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool live = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

	if (fd >= 0)
		close(fd);
	return live;
}

/* @syslog: /dev/log was live when the engine started */
static void assert_engine_fds(pid_t pid, bool syslog)
{
	char dir[64], path[PATH_MAX], target[PATH_MAX];
	int n_tun = 0, n_pipe = 0, n_pidfd = 0, n_sock = 0, n_null = 0, n_unix = 0;
	struct dirent *d;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	dp = opendir(dir);
	cr_assert(dp, "opendir %s: %s", dir, strerror(errno));
	while ((d = readdir(dp))) {
		unsigned long ino;
		ssize_t n;
		int fd;

		if (d->d_name[0] == '.')
			continue;
		fd = atoi(d->d_name);
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		cr_assert_gt(n, 0);
		target[n] = '\0';
		if (fd <= 2) {
			cr_expect_str_eq(target, "/dev/null", "fd %d -> %s", fd, target);
			n_null++;
		} else if (strcmp(target, "/dev/net/tun") == 0) {
			n_tun++;
		} else if (strncmp(target, "pipe:[", 6) == 0) {
			n_pipe++;
		} else if (strcmp(target, "anon_inode:[pidfd]") == 0) {
			n_pidfd++;
		} else if (sscanf(target, "socket:[%lu]", &ino) == 1) {
			/*
			 * libslirp's sockets are INET ones, never netlink; the
			 * one unix socket allowed is the engine's own log to
			 * /dev/log, connected before its seccomp filter
			 */
			cr_expect_not(inode_listed("/proc/net/netlink", ino, 9),
				      "fd %d is a netlink socket", fd);
			if (inode_listed("/proc/net/unix", ino, 6))
				n_unix++;
			else
				n_sock++;
		} else {
			cr_expect_fail("engine fd %d -> %s is not one it needs", fd, target);
		}
	}
	closedir(dp);
	cr_expect_eq(n_null, 3, "stdio: %d fds on /dev/null", n_null);
	cr_expect_eq(n_tun, 1, "TAP fds: %d", n_tun);
	cr_expect_eq(n_pipe, 1, "lifeline pipes: %d", n_pipe);
	cr_expect_eq(n_pidfd, 1, "pidfds (the holder): %d", n_pidfd);
	cr_expect_eq(n_sock, 1, "sockets (the published port's listener): %d", n_sock);
	cr_expect_eq(n_unix, syslog ? 1 : 0, "unix sockets: %d, with /dev/log %s", n_unix,
		     syslog ? "live (the engine's log)" : "not live");
}

/* The engine must end by itself, with status 0: its exit path is on the list. */
static void assert_engine_exits_cleanly(struct nsess_session *s)
{
	struct pollfd pf = { .fd = s->engine.pidfd, .events = POLLIN };
	int status = -1;

	cr_assert_eq(poll(&pf, 1, 5000), 1, "the engine did not exit within 5 s");
	cr_assert_eq(nsess_proc_wait(&s->engine, &status), 0);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "engine exit status 0x%x (SIGSYS is %d)", status, SIGSYS);
	nsess_proc_close(&s->engine);
}

Test(sandbox, engine_is_contained)
{
	struct nsess_session s;
	struct nsess_user u;
	bool syslog = syslog_live();
	char v[64];

	session_start(&s, &u);
	assert_contained(s.engine.pid, u.uid, u.gid);
	cr_assert(status_field(s.engine.pid, "Seccomp", v, sizeof(v)));
	cr_expect_str_eq(v, "2", "Seccomp: %s", v);
	assert_engine_fds(s.engine.pid, syslog);

	/* lifeline EOF: the owner is gone */
	close(s.lifeline);
	s.lifeline = -1;
	assert_engine_exits_cleanly(&s);
	nsess_session_destroy(&s);
}

Test(sandbox, engine_exits_with_the_holder)
{
	struct nsess_session s;
	struct nsess_user u;

	session_start(&s, &u);
	cr_assert_eq(nsess_proc_kill(&s.holder, SIGKILL), 0);
	assert_engine_exits_cleanly(&s);
	nsess_session_destroy(&s);
}
