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
#include <sys/stat.h>
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

/* Is @pid alive (not exited, not a zombie)? */
static bool pid_alive(pid_t pid)
{
	char path[64], buf[512], *rp;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

/*
 * The "command": a new user namespace, then an orphaned grandchild (its
 * parent exits), a child in a nested user namespace, and a plain child;
 * their pids go up the pipe, then it sleeps.
 */
/* A test process that waits to be killed, and ends by itself if it never is. */
static void idle(void)
{
	alarm(20);
	pause();
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

static void sweep_command(int wfd)
{
	pid_t pids[3];

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
	if (write(wfd, &pids[1], 2 * sizeof(pid_t)) != 2 * sizeof(pid_t))
		_exit(13);
	close(wfd);
	idle();
	_exit(0);
}

Test(spawn, kill_userns_leaves_nothing_of_the_session)
{
	struct nsess_proc cmd = NSESS_PROC_INIT, bystander = NSESS_PROC_INIT;
	pid_t got[3];
	int pfd[2], r, status;
	size_t have = 0;

	NSESS_TEST_NEED_ROOT();
	NSESS_TEST_DEADLINE(30);
	/* ours, in our own namespace: the sweep must not touch it */
	r = nsess_fork(&bystander);
	cr_assert_geq(r, 0);
	if (r == 0) {
		idle();
		_exit(0);
	}
	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	r = nsess_fork(&cmd);
	cr_assert_geq(r, 0);
	if (r == 0) {
		close(pfd[0]);
		sweep_command(pfd[1]);
	}
	close(pfd[1]);
	while (have < sizeof(got)) {
		ssize_t n = read(pfd[0], (char *)got + have, sizeof(got) - have);

		cr_assert_gt(n, 0, "the command did not report its children");
		have += (size_t)n;
	}
	close(pfd[0]);
	/* the nested one may still be unsharing: wait until it left our namespace */
	for (int i = 0; i < 200; i++) {
		char a[64], b[64], pa[64];
		ssize_t la, lb;

		snprintf(pa, sizeof(pa), "/proc/%d/ns/user", (int)got[1]);
		la = readlink(pa, a, sizeof(a) - 1);
		snprintf(pa, sizeof(pa), "/proc/%d/ns/user", (int)cmd.pid);
		lb = readlink(pa, b, sizeof(b) - 1);
		if (la > 0 && lb > 0 && (la != lb || memcmp(a, b, (size_t)la) != 0))
			break;
		usleep(5000);
	}
	for (int i = 0; i < 3; i++)
		cr_assert(pid_alive(got[i]), "child %d (pid %d) is not running", i, (int)got[i]);

	r = nsess_proc_kill_userns(&cmd);
	cr_expect_geq(r, 3, "signalled %d", r);
	cr_assert_eq(nsess_proc_wait(&cmd, &status), 0);
	cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	nsess_proc_close(&cmd);
	for (int i = 0; i < 3; i++) {
		bool alive = true;

		/* the orphan and the nested child are reaped by init: give it a moment */
		for (int j = 0; j < 200 && (alive = pid_alive(got[i])); j++)
			usleep(5000);
		cr_expect(!alive, "child %d (pid %d) outlived the sweep", i, (int)got[i]);
	}
	cr_expect(pid_alive(bystander.pid), "a process outside the namespace was killed");

	/* a child still in our own namespace: refused, only the child itself is killed */
	r = nsess_fork(&cmd);
	cr_assert_geq(r, 0);
	if (r == 0) {
		idle();
		_exit(0);
	}
	cr_expect_eq(nsess_proc_kill_userns(&cmd), -EINVAL);
	cr_assert_eq(nsess_proc_wait(&cmd, &status), 0);
	cr_expect(WIFSIGNALED(status));
	nsess_proc_close(&cmd);
	cr_expect(pid_alive(bystander.pid), "the refused sweep killed a bystander");
	nsess_proc_kill(&bystander, SIGKILL);
	nsess_proc_wait(&bystander, NULL);
	nsess_proc_close(&bystander);
}
