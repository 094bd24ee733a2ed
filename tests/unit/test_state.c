/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Session records under a run directory: format/parse round trip, strict
 * parsing, creation and removal through directory fds, and refusal of a run
 * directory someone else made (wrong mode, a symlink in its place).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "state.h"
#include "testlib.h"

static struct nsess_state_info sample(void)
{
	struct nsess_state_info i = { .uid = 1002, .holder_pid = 41, .engine_pid = 42,
				      .opener_pid = 40, .started = 1790000000 };

	strcpy(i.user, "alice");
	return i;
}

Test(state, format_parse_roundtrip)
{
	struct nsess_state_info in = sample(), out;
	char buf[512];

	cr_assert_gt(nsess_state_format(&in, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "user=alice\nuid=1002\nholder_pid=41\nengine_pid=42\nopener_pid=40\n"
			      "started=1790000000\n");
	cr_assert_eq(nsess_state_parse(buf, &out), 0);
	cr_assert_str_eq(out.user, "alice");
	cr_assert_eq(out.uid, 1002);
	cr_assert_eq(out.holder_pid, 41);
	cr_assert_eq(out.engine_pid, 42);
	cr_assert_eq(out.opener_pid, 40);
	cr_assert_eq(out.started, 1790000000);
}

Test(state, user_name_escaped)
{
	struct nsess_state_info in = sample();
	char buf[512];

	strcpy(in.user, "ev\nil\x1b[2J");
	cr_assert_gt(nsess_state_format(&in, buf, sizeof(buf)), 0);
	cr_assert(strstr(buf, "user=ev\\x0ail\\x1b[2J\n"), "got: %s", buf);
}

Test(state, parse_refuses_malformed)
{
	static const char *const bad[] = {
		"",
		"user=a\nuid=1\nholder_pid=1\nengine_pid=1\nopener_pid=1\n",		    /* no started */
		"user=a\nuid=x\nholder_pid=1\nengine_pid=1\nopener_pid=1\nstarted=1\n",   /* not a number */
		"user=a\nuid=1\nholder_pid=1\nengine_pid=1\nopener_pid=1\nstarted=1",	    /* no newline */
		"user=a\nuid=1\nholder_pid=1\nengine_pid=1\nopener_pid=1\nstarted=1\nx=1\n", /* unknown */
		"user=\nuid=1\nholder_pid=1\nengine_pid=1\nopener_pid=1\nstarted=1\n",    /* empty user */
		"user=a\nuid=-1\nholder_pid=1\nengine_pid=1\nopener_pid=1\nstarted=1\n",  /* negative */
		"garbage\n",
	};
	struct nsess_state_info out;

	for (size_t i = 0; i < NSESS_ARRAY_SIZE(bad); i++)
		cr_expect_eq(nsess_state_parse(bad[i], &out), -EINVAL, "case %zu accepted", i);
}

Test(state, name_valid)
{
	cr_assert(nsess_state_name_valid("0123456789abcdef"));
	cr_assert_not(nsess_state_name_valid("0123456789abcde"));
	cr_assert_not(nsess_state_name_valid("0123456789abcdef0"));
	cr_assert_not(nsess_state_name_valid("0123456789ABCDEF"));
	cr_assert_not(nsess_state_name_valid("../../etc/passwd"));
}

Test(state, create_and_remove)
{
	char base[] = "/tmp/nsess-state-XXXXXX", run[64], name[NSESS_STATE_NAME_LEN + 1], path[128];
	struct nsess_state_info in = sample(), out;
	struct nsess_error e = { 0 };
	char text[512];
	struct stat st;
	int rootfd = -1, fd;
	ssize_t n;

	cr_assert_not_null(mkdtemp(base));
	snprintf(run, sizeof(run), "%s/run", base);
	cr_assert_eq(nsess_state_open_root(run, &rootfd, &e), 0, "%s", e.msg);
	cr_assert_eq(stat(run, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700);

	cr_assert_eq(nsess_state_create(rootfd, &in, name, &e), 0, "%s", e.msg);
	cr_assert(nsess_state_name_valid(name));
	snprintf(path, sizeof(path), "%s/%s/session", run, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	cr_assert_gt(n, 0);
	text[n] = '\0';
	cr_assert_eq(nsess_state_parse(text, &out), 0);
	cr_assert_eq(out.holder_pid, 41);

	cr_assert_eq(nsess_state_remove(rootfd, name), 0);
	snprintf(path, sizeof(path), "%s/%s", run, name);
	cr_assert_neq(stat(path, &st), 0, "record still there after remove");
	/* idempotent */
	cr_assert_eq(nsess_state_remove(rootfd, name), 0);
	/* a name we did not generate is refused, never walked */
	cr_assert_eq(nsess_state_remove(rootfd, "../run"), -EINVAL);
	close(rootfd);
	rmdir(run);
	rmdir(base);
}

Test(state, refuses_untrusted_rundir)
{
	char base[] = "/tmp/nsess-state-XXXXXX", run[64], target[64];
	struct nsess_error e = { 0 };
	int fd = -1;

	cr_assert_not_null(mkdtemp(base));
	/* made by someone else with a loose mode */
	snprintf(run, sizeof(run), "%s/run", base);
	cr_assert_eq(mkdir(run, 0755), 0);
	cr_assert_eq(nsess_state_open_root(run, &fd, &e), -EPERM);
	cr_assert(strstr(e.msg, "0755"), "%s", e.msg);
	rmdir(run);
	/* a symlink in its place */
	snprintf(target, sizeof(target), "%s/elsewhere", base);
	cr_assert_eq(mkdir(target, 0700), 0);
	cr_assert_eq(symlink(target, run), 0);
	{
		int r = nsess_state_open_root(run, &fd, &e);

		/* O_DIRECTORY|O_NOFOLLOW on a symlink: ENOTDIR (or ELOOP) */
		cr_assert(r == -ENOTDIR || r == -ELOOP, "got %d", r);
		cr_assert(strstr(e.msg, "symlink"), "%s", e.msg);
	}
	unlink(run);
	rmdir(target);
	rmdir(base);
}

Test(state, pid_alive_rules)
{
	int64_t now = (int64_t)time(NULL);
	pid_t z;

	cr_assert(nsess_state_pid_alive("", getpid(), now), "this process is alive");
	/* a record written long before this process started: the pid was reused */
	cr_assert_not(nsess_state_pid_alive("", getpid(), now - 100000));
	cr_assert_not(nsess_state_pid_alive("", 0, now));
	cr_assert_not(nsess_state_pid_alive("", 2147483647, now));
	/* a zombie is dead even though /proc/PID exists */
	z = fork();
	cr_assert_geq(z, 0);
	if (z == 0)
		_exit(0);
	usleep(200000);
	cr_assert_not(nsess_state_pid_alive("", z, now), "a zombie counted as alive");
	waitpid(z, NULL, 0);
}

Test(state, reclaim_removes_only_dead_holders)
{
	char base[] = "/tmp/nsess-state-XXXXXX", run[64], live[NSESS_STATE_NAME_LEN + 1],
	     dead[NSESS_STATE_NAME_LEN + 1], path[128];
	struct nsess_state_info in = sample();
	struct nsess_error e = { 0 };
	struct stat st;
	int rootfd = -1;

	cr_assert_not_null(mkdtemp(base));
	snprintf(run, sizeof(run), "%s/run", base);
	cr_assert_eq(nsess_state_open_root(run, &rootfd, &e), 0, "%s", e.msg);
	in.started = (int64_t)time(NULL);
	in.holder_pid = getpid();
	cr_assert_eq(nsess_state_create(rootfd, &in, live, &e), 0);
	in.holder_pid = 2147483647;
	cr_assert_eq(nsess_state_create(rootfd, &in, dead, &e), 0);

	cr_assert_eq(nsess_state_reclaim(rootfd), 1);
	snprintf(path, sizeof(path), "%s/%s", run, live);
	cr_assert_eq(stat(path, &st), 0, "a live session's record was removed");
	snprintf(path, sizeof(path), "%s/%s", run, dead);
	cr_assert_neq(stat(path, &st), 0, "a dead session's record was kept");
	cr_assert_eq(nsess_state_remove(rootfd, live), 0);
	close(rootfd);
	rmdir(run);
	rmdir(base);
}
