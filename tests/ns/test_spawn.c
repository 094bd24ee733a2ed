/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spawn.c: helpers run by absolute path with a fixed environment whatever
 * the caller's PATH and environment say; exit codes; fd hygiene.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "spawn.h"
#include "../unit/testlib.h"

/* argv strings: -Wwrite-strings makes literals const */
#define A(s) ((char *)(s))

Test(spawn, helper_gets_fixed_environment)
{
	char out[4096];
	char *const argv[] = { A("/usr/bin/env"), NULL };

	/* a poisoned caller: what su or sshd might have been given */
	setenv("PATH", "/tmp/evil:/nonexistent", 1);
	setenv("LD_PRELOAD", "/tmp/evil.so", 1);
	setenv("IFS", "x", 1);
	cr_assert_eq(nsess_run_helper(argv, out, sizeof(out)), 0);
	cr_assert(strstr(out, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"), "got: %s", out);
	cr_assert(strstr(out, "LC_ALL=C"), "got: %s", out);
	cr_assert_null(strstr(out, "LD_PRELOAD"), "the caller's environment leaked: %s", out);
	cr_assert_null(strstr(out, "evil"), "the caller's PATH leaked: %s", out);
	cr_assert_null(strstr(out, "IFS"), "got: %s", out);
	unsetenv("LD_PRELOAD");
	unsetenv("IFS");
}

Test(spawn, helper_needs_absolute_path)
{
	char *const argv[] = { A("env"), NULL };

	setenv("PATH", "/usr/bin", 1);
	cr_assert_eq(nsess_run_helper(argv, NULL, 0), -EINVAL, "a helper was looked up in PATH");
}

Test(spawn, helper_results)
{
	char out[256];
	char *const ok[] = { A("/bin/sh"), A("-c"), A("echo fine"), NULL };
	char *const bad[] = { A("/bin/sh"), A("-c"), A("echo 'newuidmap: range not allowed' >&2; exit 1"), NULL };
	char *const missing[] = { A("/nonexistent/newuidmap"), NULL };

	cr_assert_eq(nsess_run_helper(ok, out, sizeof(out)), 0);
	cr_assert_str_eq(out, "fine");
	cr_assert_eq(nsess_run_helper(bad, out, sizeof(out)), -EPERM);
	cr_assert_str_eq(out, "newuidmap: range not allowed");
	cr_assert_eq(nsess_run_helper(missing, out, sizeof(out)), -ENOENT);
}

/* a helper that exists but cannot be executed is told apart from a missing one */
Test(spawn, helper_not_executable)
{
	char dir[] = "/tmp/nsess-spawn-XXXXXX", path[64], out[256];
	char *argv[] = { path, NULL };
	int fd;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/newuidmap", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_expect_eq(nsess_run_helper(argv, out, sizeof(out)), -EACCES, "mode 0644");
	/* executable, but not a program the kernel can run (and no #!) */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "\x7f" "ELF junk", 9), 9);
	close(fd);
	chmod(path, 0755);
	cr_expect_eq(nsess_run_helper(argv, out, sizeof(out)), -EACCES, "not a valid ELF");
	unlink(path);
	rmdir(dir);
}

Test(spawn, helper_sees_no_inherited_fds)
{
	char out[1024];
	char *const argv[] = { A("/bin/sh"), A("-c"), A("ls /proc/self/fd | tr '\\n' ' '"), NULL };
	int leak = open("/dev/null", O_RDONLY); /* deliberately without O_CLOEXEC */

	cr_assert_geq(leak, 3);
	cr_assert_eq(nsess_run_helper(argv, out, sizeof(out)), 0);
	/* 0, 1, 2 and the fd ls itself opens */
	cr_assert_eq(strlen(out) <= 8, 1, "fds leaked into the helper: %s", out);
	close(leak);
}

Test(spawn, exit_codes)
{
	cr_assert_eq(nsess_exit_code(7 << 8), 7);
	cr_assert_eq(nsess_exit_code(SIGKILL), 128 + SIGKILL);
	cr_assert_eq(nsess_exit_code(SIGTERM | 0x80), 128 + SIGTERM);
}

Test(spawn, fork_wait_kill_by_pidfd)
{
	struct nsess_proc p = NSESS_PROC_INIT;
	int st = 0, r;

	r = nsess_fork(&p);
	cr_assert_geq(r, 0);
	if (r == 0) {
		pause();
		_exit(0);
	}
	cr_assert_geq(p.pidfd, 0);
	cr_assert(fcntl(p.pidfd, F_GETFD) & FD_CLOEXEC);
	cr_assert(fcntl(p.procfd, F_GETFD) & FD_CLOEXEC);
	cr_assert_eq(nsess_proc_kill(&p, SIGTERM), 0);
	cr_assert_eq(nsess_proc_wait(&p, &st), 0);
	cr_assert_eq(nsess_exit_code(st), 128 + SIGTERM);
	/* signalling a reaped child through its pidfd is harmless */
	cr_assert_eq(nsess_proc_kill(&p, SIGTERM), 0);
	nsess_proc_close(&p);
}

Test(spawn, close_inherited_marks_cloexec)
{
	int fd = open("/dev/null", O_RDONLY);

	cr_assert_geq(fd, 3);
	cr_assert_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	nsess_close_inherited(3);
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

static void *spawn_sleeper(void *arg)
{
	pause();
	return arg;
}

/* a fork keeps one thread: the count must see 1, then 2 after starting one */
Test(spawn, threads_counted)
{
	pid_t pid = fork();
	int st;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		pthread_t t;
		int one = nsess_threads(), two;

		if (pthread_create(&t, NULL, spawn_sleeper, NULL) != 0)
			_exit(99);
		two = nsess_threads();
		_exit(one * 10 + two);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st));
	cr_assert_eq(WEXITSTATUS(st), 12);
}

/* ---- a failed session's sweep of its user namespace ----------------------- */

/* A test process that waits to be killed, and ends by itself if it never is. */
static void idle(void)
{
	alarm(20);
	pause();
}

static void *idle_thread(void *arg)
{
	(void)arg;
	idle();
	return NULL;
}

/* root's own ids mapped into a fresh user namespace: a nested one needs them */
static int self_map(void)
{
	static const char *const files[][2] = {
		{ "/proc/self/uid_map", "0 0 1" },
		{ "/proc/self/setgroups", "deny" },
		{ "/proc/self/gid_map", "0 0 1" },
	};

	for (size_t i = 0; i < 3; i++) {
		int fd = open(files[i][0], O_WRONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : write(fd, files[i][1], strlen(files[i][1]));

		if (fd >= 0)
			close(fd);
		if (n < 0)
			return -1;
	}
	return 0;
}

/* Has the process behind @pidfd exited within @ms? */
static bool exited_within(int pidfd, int ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

#define SWEEP_KIDS 4

/*
 * The "command": a new user namespace, then an orphaned grandchild (its
 * parent exits), a child in a nested user namespace, a plain child and a
 * child whose main thread has exited while another runs on; their pids go
 * up @wfd. On a byte from @gofd it unshares a user namespace of its own
 * (so the one it is in is no longer the session's), says so, and waits.
 */
static void sweep_command(int wfd, int gofd)
{
	pid_t pids[SWEEP_KIDS];
	char c;

	if (unshare(CLONE_NEWUSER) < 0 || self_map() < 0)
		_exit(10);
	pids[0] = fork();
	if (pids[0] == 0) {
		pid_t g = fork();

		if (g == 0) {
			idle();
			_exit(0);
		}
		if (write(wfd, &g, sizeof(g)) != sizeof(g))
			_exit(11);
		_exit(0); /* g is an orphan now */
	}
	waitpid(pids[0], NULL, 0);
	pids[1] = fork();
	if (pids[1] == 0) {
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(12);
		idle();
		_exit(0);
	}
	pids[2] = fork();
	if (pids[2] == 0) {
		idle();
		_exit(0);
	}
	pids[3] = fork();
	if (pids[3] == 0) {
		pthread_t t;

		if (pthread_create(&t, NULL, idle_thread, NULL) != 0)
			_exit(13);
		pthread_exit(NULL); /* the leader is a zombie; the process lives on */
	}
	if (write(wfd, &pids[1], 3 * sizeof(pid_t)) != 3 * sizeof(pid_t))
		_exit(14);
	if (read(gofd, &c, 1) != 1 || unshare(CLONE_NEWUSER) < 0 || self_map() < 0)
		_exit(15);
	if (write(wfd, "u", 1) != 1)
		_exit(16);
	idle();
	_exit(0);
}

#define SWEEP_CHECK(cond, ...)                                           \
	do {                                                             \
		if (!(cond)) {                                           \
			snprintf(msg, len, "line %d: ", __LINE__);       \
			snprintf(msg + strlen(msg), len - strlen(msg),   \
				 __VA_ARGS__);                           \
			return;                                          \
		}                                                        \
	} while (0)

/* Runs as pid 1 of a pid namespace of its own with its own /proc. */
static void sweep_scenario(char *msg, size_t len)
{
	struct nsess_proc cmd = NSESS_PROC_INIT, bystander = NSESS_PROC_INIT;
	int out[2], go[2], kid[SWEEP_KIDS], userns, r, status;
	pid_t got[SWEEP_KIDS];
	size_t have = 0;
	char c;

	/* ours, in our own user namespace: the sweep must not touch it */
	r = nsess_fork(&bystander);
	SWEEP_CHECK(r >= 0, "fork: %s", strerror(-r));
	if (r == 0) {
		idle();
		_exit(0);
	}
	SWEEP_CHECK(pipe2(out, O_CLOEXEC) == 0 && pipe2(go, O_CLOEXEC) == 0, "pipe2");
	r = nsess_fork(&cmd);
	SWEEP_CHECK(r >= 0, "fork: %s", strerror(-r));
	if (r == 0) {
		close(out[0]);
		close(go[1]);
		sweep_command(out[1], go[0]);
	}
	close(out[1]);
	close(go[0]);
	while (have < sizeof(got)) {
		ssize_t n = read(out[0], (char *)got + have, sizeof(got) - have);

		SWEEP_CHECK(n > 0, "the command did not report its children (%zu bytes)", have);
		have += (size_t)n;
	}
	for (int i = 0; i < SWEEP_KIDS; i++) {
		kid[i] = (int)syscall(SYS_pidfd_open, got[i], 0);
		SWEEP_CHECK(kid[i] >= 0 && !exited_within(kid[i], 0), "child %d is not running", i);
	}
	/* the nested one may still be unsharing: wait until it has its own namespace */
	for (int i = 0;; i++) {
		struct stat a, b;
		char pa[64];

		snprintf(pa, sizeof(pa), "/proc/%d/ns/user", (int)got[1]);
		if (stat(pa, &a) == 0 && fstatat(cmd.procfd, "ns/user", &b, 0) == 0 &&
		    a.st_ino != b.st_ino)
			break;
		SWEEP_CHECK(i < 400, "the nested user namespace never appeared");
		usleep(5000);
	}
	/* and the threaded one's leader has exited (only then is it the case to test) */
	for (int i = 0;; i++) {
		char pa[64], st[256] = "", *rp;
		FILE *f;

		snprintf(pa, sizeof(pa), "/proc/%d/stat", (int)got[3]);
		f = fopen(pa, "re");
		if (f) {
			if (!fgets(st, sizeof(st), f))
				st[0] = '\0';
			fclose(f);
		}
		rp = strrchr(st, ')');
		if (rp && rp[1] == ' ' && rp[2] == 'Z')
			break;
		SWEEP_CHECK(i < 400, "the threaded child's main thread never exited");
		usleep(5000);
	}
	SWEEP_CHECK(!exited_within(kid[3], 0), "the threaded child ended with its main thread");
	/* as nsession does: the session's namespace, held before the command runs away */
	userns = nsess_open_ns(cmd.procfd, "user");
	SWEEP_CHECK(userns >= 0, "open ns: %s", strerror(-userns));
	SWEEP_CHECK(write(go[1], "g", 1) == 1 && read(out[0], &c, 1) == 1,
		    "the command did not unshare again");

	r = nsess_proc_kill_userns(&cmd, userns);
	SWEEP_CHECK(r >= SWEEP_KIDS, "the sweep signalled %d", r);
	SWEEP_CHECK(nsess_proc_wait(&cmd, &status) == 0 && WIFSIGNALED(status),
		    "the command was not killed");
	nsess_proc_close(&cmd);
	for (int i = 0; i < SWEEP_KIDS; i++)
		SWEEP_CHECK(exited_within(kid[i], 1000), "child %d (pid %d) outlived the sweep "
			    "(0 orphan, 1 nested user namespace, 2 plain, 3 leader exited)", i,
			    (int)got[i]);
	SWEEP_CHECK(!exited_within(bystander.pidfd, 0), "a process outside the namespace died");

	/* a child still in our own namespace: refused, only the child itself is killed */
	r = nsess_fork(&cmd);
	SWEEP_CHECK(r >= 0, "fork");
	if (r == 0) {
		idle();
		_exit(0);
	}
	r = nsess_proc_kill_userns(&cmd, -1);
	SWEEP_CHECK(r == -EINVAL, "sweeping our own namespace gave %d, not -EINVAL", r);
	SWEEP_CHECK(nsess_proc_wait(&cmd, &status) == 0 && WIFSIGNALED(status),
		    "the refused sweep did not kill its child");
	SWEEP_CHECK(!exited_within(bystander.pidfd, 0), "the refused sweep killed a bystander");
	close(userns);
}

/*
 * In a pid namespace with its own /proc: a sweep gone wrong can only hit the
 * test's own processes, and whatever is left dies with its pid 1.
 */
Test(spawn, kill_userns_leaves_nothing_of_the_session)
{
	char msg[512] = "";
	int res[2], status;
	pid_t box;
	ssize_t n;

	NSESS_TEST_NEED_ROOT();
	NSESS_TEST_DEADLINE(30);
	cr_assert_eq(pipe2(res, O_CLOEXEC), 0);
	box = fork();
	cr_assert_geq(box, 0);
	if (box == 0) {
		pid_t init;

		close(res[0]);
		if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0)
			_exit(20);
		init = fork();
		if (init == 0) {
			if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
			    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
				_exit(21);
			sweep_scenario(msg, sizeof(msg));
			n = write(res[1], msg, strlen(msg) + 1);
			_exit(n > 0 ? 0 : 22);
		}
		_exit(init > 0 && waitpid(init, &status, 0) == init && WIFEXITED(status) ?
			      WEXITSTATUS(status) : 23);
	}
	close(res[1]);
	n = read(res[0], msg, sizeof(msg) - 1);
	close(res[0]);
	cr_assert_eq(waitpid(box, &status, 0), box);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the pid namespace box failed: "
		  "status %d", status);
	cr_assert_gt(n, 0, "no result from the scenario");
	msg[n] = '\0';
	cr_assert_str_empty(msg, "%s", msg);
}
