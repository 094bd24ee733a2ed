/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spawn.c: helpers run by absolute path with a fixed environment whatever
 * the caller's PATH and environment say; exit codes; fd hygiene.
 */
#include <fcntl.h>
#include <pthread.h>
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
