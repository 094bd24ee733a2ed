/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_enginexec.c - what crosses the exec into nsession-engine: its
 * command line and the plan's message, good and bad.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "engineprog.h"
#include "testlib.h"

#define ARGC(a) ((int)NSESS_ARRAY_SIZE(a) - 1)

Test(enginexec, args_good)
{
	const char *argv[] = { "nsession-engine", "--tap", "3", "--cmd", "4242:4", "--sync", "5",
			       "--signals", "6", "--plan", "7", "--verbose", NULL };
	struct nsess_engine_handoff h;
	struct nsess_error e = { 0 };
	int plan = -1;

	cr_assert_eq(nsess_engine_args_parse(ARGC(argv), argv, &h, &plan, &e), 0, "%s", e.msg);
	cr_expect_eq(h.tap, 3);
	cr_expect_eq(h.cmd_pid, 4242);
	cr_expect_eq(h.cmd_pidfd, 4);
	cr_expect_eq(h.sync, 5);
	cr_expect_eq(h.sigfd, 6);
	cr_expect_eq(plan, 7);
	cr_expect(h.verbose);
	cr_expect_null(h.plan);
}

/* started after the command's exec status was read: no --sync */
Test(enginexec, args_without_sync)
{
	const char *argv[] = { "nsession-engine", "--tap", "3", "--cmd", "4242:4", "--signals", "6",
			       "--plan", "7", NULL };
	struct nsess_engine_handoff h;
	struct nsess_error e = { 0 };
	int plan = -1;

	cr_assert_eq(nsess_engine_args_parse(ARGC(argv), argv, &h, &plan, &e), 0, "%s", e.msg);
	cr_expect_eq(h.sync, -1);
	cr_expect_eq(h.sigfd, 6);
	cr_expect_eq(h.userns, -1, "no --userns: no namespace to sweep");
	cr_expect(!h.session);
}

/* the session's user namespace, for the sweep of a failed start */
Test(enginexec, args_userns)
{
	const char *argv[] = { "nsession-engine", "--tap", "3", "--cmd", "4242:4", "--userns", "8",
			       "--signals", "6", "--plan", "7", NULL };
	const char *bad[] = { "nsession-engine", "--session", "--tap", "3", "--lifeline", "4",
			      "--holder", "5", "--ready", "6", "--plan", "7", "--userns", "8", NULL };
	struct nsess_engine_handoff h;
	struct nsess_error e = { 0 };
	int plan = -1;

	cr_assert_eq(nsess_engine_args_parse(ARGC(argv), argv, &h, &plan, &e), 0, "%s", e.msg);
	cr_expect_eq(h.userns, 8);
	cr_expect_eq(nsess_engine_args_parse(ARGC(bad), bad, &h, &plan, &e), -EINVAL,
		     "a root session's engine took --userns");
}

Test(enginexec, args_session)
{
	const char *argv[] = { "nsession-engine", "--session", "--tap", "3", "--lifeline", "4",
			       "--holder", "5", "--ready", "6", "--plan", "7", NULL };
	struct nsess_engine_handoff h;
	struct nsess_error e = { 0 };
	int plan = -1;

	cr_assert_eq(nsess_engine_args_parse(ARGC(argv), argv, &h, &plan, &e), 0, "%s", e.msg);
	cr_expect(h.session);
	cr_expect_eq(h.tap, 3);
	cr_expect_eq(h.lifeline, 4);
	cr_expect_eq(h.holder_pidfd, 5);
	cr_expect_eq(h.ready, 6);
	cr_expect_eq(plan, 7);
	cr_expect_eq(h.sync, -1);
	cr_expect_eq(h.cmd_pidfd, -1);
	cr_expect(!h.verbose);
}

Test(enginexec, args_bad)
{
	static const struct {
		const char *name;
		const char *argv[18];
		const char *want;
	} cases[] = {
		{ "no --plan", { "e", "--tap", "3", "--cmd", "9:4", "--sync", "5", "--signals", "6" },
		  "are all required" },
		{ "stdio as the TAP", { "e", "--tap", "1", "--cmd", "9:4", "--sync", "5", "--signals",
					"6", "--plan", "7" }, "bad value '1' for --tap" },
		{ "pid without pidfd", { "e", "--tap", "3", "--cmd", "9", "--sync", "5", "--signals",
					 "6", "--plan", "7" }, "bad value '9' for --cmd" },
		{ "pid 1", { "e", "--tap", "3", "--cmd", "1:4", "--sync", "5", "--signals", "6",
			     "--plan", "7" }, "bad value '1:4' for --cmd" },
		{ "no pid", { "e", "--tap", "3", "--cmd", ":4", "--sync", "5", "--signals", "6",
			      "--plan", "7" }, "bad value ':4' for --cmd" },
		{ "not a number", { "e", "--tap", "3x", "--cmd", "9:4", "--sync", "5", "--signals",
				    "6", "--plan", "7" }, "bad value '3x' for --tap" },
		{ "unknown option", { "e", "--tap", "3", "--exec", "/bin/sh" }, "unknown option '--exec'" },
		{ "session without holder", { "e", "--session", "--tap", "3", "--lifeline", "4",
					      "--ready", "6", "--plan", "7" },
		  "--session takes --tap, --lifeline, --holder" },
		{ "session with a command", { "e", "--session", "--tap", "3", "--lifeline", "4",
					      "--holder", "5", "--ready", "6", "--plan", "7",
					      "--sync", "8" }, "and no other fd" },
		{ "lifeline without session", { "e", "--tap", "3", "--cmd", "9:4", "--sync", "5",
						"--signals", "6", "--plan", "7", "--lifeline", "8" },
		  "need --session" },
		{ "missing value", { "e", "--tap" }, "option '--tap' needs a value" },
	};

	for (size_t i = 0; i < NSESS_ARRAY_SIZE(cases); i++) {
		struct nsess_engine_handoff h = { .tap = -2 };
		struct nsess_error e = { 0 };
		int argc = 0, plan = -2;

		while (cases[i].argv[argc])
			argc++;
		cr_expect_eq(nsess_engine_args_parse(argc, cases[i].argv, &h, &plan, &e), -EINVAL,
			     "%s", cases[i].name);
		cr_expect(strstr(e.msg, cases[i].want) != NULL, "%s: %s", cases[i].name, e.msg);
		cr_expect_eq(plan, -2, "%s: nothing written on failure", cases[i].name);
		cr_expect_eq(h.tap, -2, "%s: nothing written on failure", cases[i].name);
	}
}

/* A pipe holding @len bytes of @buf (the write end closed). */
static int pipe_with(const void *buf, size_t len)
{
	int p[2];

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(write(p[1], buf, len), (ssize_t)len);
	close(p[1]);
	return p[0];
}

/* The message nsess_engine_plan_write() makes for @plan and @bpf, in @buf. */
static size_t plan_message(const struct nsess_netplan *plan, const struct nsess_bpf *bpf,
			   char *buf, size_t size)
{
	struct nsess_error e = { 0 };
	int p[2];
	ssize_t n;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(nsess_engine_plan_write(p[1], plan, bpf, &e), 0, "%s", e.msg);
	close(p[1]);
	n = read(p[0], buf, size);
	close(p[0]);
	cr_assert_gt(n, (ssize_t)sizeof(*plan));
	return (size_t)n;
}

Test(enginexec, plan_roundtrip)
{
	static struct nsess_bpf bpf, got;
	struct nsess_netplan in, out;
	struct nsess_publish pub;
	struct nsess_error e = { 0 };
	static char buf[32768];
	size_t len;

	nsess_netplan_defaults(&in);
	in.mtu = 9000;
	in.allow_host_loopback = true;
	cr_assert_eq(nsess_publish_parse("127.0.0.1:8080:80", &pub, &e), 0, "%s", e.msg);
	cr_assert_eq(nsess_netplan_add_publish(&in, &pub, &e), 0, "%s", e.msg);
	/* two instructions: "return ALLOW" twice; the content is the kernel's to judge */
	bpf.n = 2;
	bpf.insn[0] = (struct sock_filter){ .code = 0x06, .k = 0x7fff0000 };
	bpf.insn[1] = bpf.insn[0];
	len = plan_message(&in, &bpf, buf, sizeof(buf));

	memset(&out, 0, sizeof(out));
	cr_assert_eq(nsess_engine_plan_read(pipe_with(buf, len), &out, &got, &e), 0, "%s", e.msg);
	cr_expect_eq(memcmp(&in, &out, sizeof(in)), 0, "the plan arrives as it was sent");
	cr_expect_eq(out.mtu, 9000);
	cr_expect_eq(out.n_publish, 1);
	cr_expect_eq(got.n, 2);
	cr_expect_eq(memcmp(got.insn, bpf.insn, 2 * sizeof(bpf.insn[0])), 0);

	/* no program: the engine compiles its own */
	len = plan_message(&in, NULL, buf, sizeof(buf));
	cr_assert_eq(nsess_engine_plan_read(pipe_with(buf, len), &out, &got, &e), 0, "%s", e.msg);
	cr_expect_eq(got.n, 0);
}

Test(enginexec, plan_refused)
{
	static struct nsess_bpf bpf, got;
	struct nsess_netplan in, out;
	struct nsess_error e = { 0 };
	static char buf[32768], bad[32768];
	size_t len;

	nsess_netplan_defaults(&in);
	len = plan_message(&in, NULL, buf, sizeof(buf));

	/* cut short: another build's smaller struct, or a writer that died */
	cr_expect_eq(nsess_engine_plan_read(pipe_with(buf, len / 2), &out, &got, &e), -EPROTO);
	cr_expect(strstr(e.msg, "from the same build") != NULL, "%s", e.msg);
	/* one byte too many: another build's larger struct */
	memcpy(bad, buf, len);
	bad[len] = 'x';
	cr_expect_eq(nsess_engine_plan_read(pipe_with(bad, len + 1), &out, &got, &e), -EPROTO);
	/* not our magic */
	memcpy(bad, buf, len);
	bad[0] ^= 0x20;
	cr_expect_eq(nsess_engine_plan_read(pipe_with(bad, len), &out, &got, &e), -EPROTO);
	/* another version of the same layout */
	memcpy(bad, buf, len);
	bad[8] = '9';
	cr_expect_eq(nsess_engine_plan_read(pipe_with(bad, len), &out, &got, &e), -EPROTO);
	cr_expect(strstr(e.msg, "started nsession-engine " PACKAGE_VERSION) != NULL, "%s", e.msg);
	/* nothing at all */
	cr_expect_eq(nsess_engine_plan_read(pipe_with(buf, 0), &out, &got, &e), -EPROTO);

	/* a program longer than the message can hold */
	bpf.n = NSESS_BPF_INSNS_MAX + 1;
	len = plan_message(&in, &bpf, buf, sizeof(buf));
	cr_expect_eq(nsess_engine_plan_read(pipe_with(buf, len), &out, &got, &e), -EPROTO);
	cr_expect(strstr(e.msg, "seccomp program") != NULL, "%s", e.msg);

	/* a well-formed message of a plan that does not validate */
	in.mtu = 100;
	len = plan_message(&in, NULL, buf, sizeof(buf));
	cr_expect_eq(nsess_engine_plan_read(pipe_with(buf, len), &out, &got, &e), -EINVAL);
	cr_expect(strstr(e.msg, "MTU") != NULL, "%s", e.msg);
}

Test(enginexec, program_path_is_absolute)
{
	char p[4096];

	/* the unit binary has no nsession-engine beside it; the installed one may exist */
	if (nsess_engine_program_path(p, sizeof(p)) == 0)
		cr_expect_eq(p[0], '/', "%s", p);
	else
		cr_expect_str_eq(p, NSESS_ENGINE_PROGRAM);
	cr_expect_eq(nsess_engine_program_path(p, 8), -ENAMETOOLONG);
}

Test(enginexec, program_refuses_bad_args)
{
	char a0[] = "nsession-engine", a1[] = "--tap", a2[] = "3";
	char *argv[] = { a0, a1, a2, NULL };

	cr_redirect_stderr();
	cr_expect_eq(nsess_engine_program_main(ARGC(argv), argv), 125);
	fflush(stderr);
	cr_expect_stderr_eq_str("nsession: error: nsession-engine: --tap, --cmd, --signals and "
				"--plan are all required, --sync while the command's exec status is "
				"unread (--lifeline, --holder, --ready need --session) (nsession run "
				"starts it; it is not run by hand)\n");
}

/* engine= of pam_nsession: only a root-owned program nobody else may change */
Test(enginexec, program_check)
{
	char dir[] = "/tmp/nsess-engchk-XXXXXX", prog[64], sub[64];
	struct nsess_error e = { 0 };
	int fd;

	cr_assert_not_null(mkdtemp(dir));
	chmod(dir, 0755);
	snprintf(prog, sizeof(prog), "%s/nsession-engine", dir);
	fd = open(prog, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
	cr_assert_geq(fd, 0);
	close(fd);
	if (geteuid() == 0) {
		cr_expect_eq(nsess_engine_program_check(prog, &e), 0, "%s", e.msg);
		chmod(prog, 0775);
		cr_expect_eq(nsess_engine_program_check(prog, &e), -EPERM);
		cr_expect(strstr(e.msg, "mode 0775") && strstr(e.msg, "chmod go-w"), "%s", e.msg);
		chmod(prog, 0755);
		chmod(dir, 0777);
		cr_expect_eq(nsess_engine_program_check(prog, &e), -EPERM);
		cr_expect(strstr(e.msg, "directory"), "%s", e.msg);
		chmod(dir, 0755);
	} else {
		/* not root's: refused whatever the mode */
		cr_expect_eq(nsess_engine_program_check(prog, &e), -EPERM);
		cr_expect(strstr(e.msg, "must belong to root"), "%s", e.msg);
	}
	chmod(prog, 0644);
	cr_expect_eq(nsess_engine_program_check(prog, &e), -EINVAL);
	cr_expect(strstr(e.msg, "not an executable file"), "%s", e.msg);
	cr_expect_eq(nsess_engine_program_check("nsession-engine", &e), -EINVAL);
	cr_expect(strstr(e.msg, "absolute path"), "%s", e.msg);
	snprintf(sub, sizeof(sub), "%s/missing", dir);
	cr_expect_eq(nsess_engine_program_check(sub, &e), -ENOENT);
	cr_expect(strstr(e.msg, "No such file"), "%s", e.msg);
	cr_expect_eq(nsess_engine_program_check(dir, &e), -EINVAL, "a directory: %s", e.msg);
	unlink(prog);
	rmdir(dir);
}
