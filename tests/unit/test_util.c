/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_util.c - the strict number parser, the escaper, the error record and
 * the capturing log sink.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "testlib.h"
#include "log.h"
#include "spawn.h"
#include "util.h"

/* ---- nsess_parse_u32 --------------------------------------------------- */

struct u32_case {
	const char *in;
	int ret;
	unsigned int val;
};

static const struct u32_case u32_cases[] = {
	{ "0", 0, 0 },
	{ "1", 0, 1 },
	{ "65536", 0, 65536 },
	{ "4294967294", 0, 4294967294u },
	{ "4294967295", 0, 4294967295u },
	{ "4294967296", -ERANGE, 0 },
	{ "99999999999", -ERANGE, 0 },
	{ "184467440737095516160000", -ERANGE, 0 },	/* would wrap a 64-bit accumulator */
	{ "", -EINVAL, 0 },
	{ "00", -EINVAL, 0 },
	{ "007", -EINVAL, 0 },
	{ "-1", -EINVAL, 0 },
	{ "-0", -EINVAL, 0 },
	{ "+1", -EINVAL, 0 },
	{ " 1", -EINVAL, 0 },
	{ "1 ", -EINVAL, 0 },
	{ "1\n", -EINVAL, 0 },
	{ "1a", -EINVAL, 0 },
	{ "0x10", -EINVAL, 0 },
	{ "1e3", -EINVAL, 0 },
	{ "١", -EINVAL, 0 },	/* a non-ASCII digit */
};

Test(util, parse_u32_table)
{
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(u32_cases); i++) {
		const struct u32_case *c = &u32_cases[i];
		unsigned int v = 12345;
		int r = nsess_parse_u32(c->in, &v);

		cr_expect_eq(r, c->ret, "'%s': got %d, want %d", c->in, r, c->ret);
		if (c->ret == 0)
			cr_expect_eq(v, c->val, "'%s': got %u", c->in, v);
		else
			cr_expect_eq(v, 12345, "'%s': output written on failure", c->in);
	}
}

Test(util, parse_u32_null)
{
	unsigned int v = 7;

	cr_expect_eq(nsess_parse_u32(NULL, &v), -EINVAL);
	cr_expect_eq(v, 7);
}

/* ---- nsess_escape ------------------------------------------------------ */

struct esc_case {
	const char *in;
	size_t inlen;		/* (size_t)-1: NUL-terminated */
	size_t outlen;
	const char *want;
};

static const struct esc_case esc_cases[] = {
	{ "alice", (size_t)-1, 64, "alice" },
	{ "a b:c~", (size_t)-1, 64, "a b:c~" },
	{ "\033[31mred\033[0m", (size_t)-1, 64, "\\x1b[31mred\\x1b[0m" },
	{ "\033]0;title\007", (size_t)-1, 64, "\\x1b]0;title\\x07" },
	{ "back\\slash", (size_t)-1, 64, "back\\x5cslash" },
	{ "tab\there", (size_t)-1, 64, "tab\\x09here" },
	{ "line\r\n", (size_t)-1, 64, "line\\x0d\\x0a" },
	{ "\x7f\x80\xff", (size_t)-1, 64, "\\x7f\\x80\\xff" },
	{ "h\xc3\xa9", (size_t)-1, 64, "h\\xc3\\xa9" },		/* UTF-8 is escaped too */
	{ "a\0b", 3, 64, "a\\x00b" },				/* explicit length: NUL shown */
	{ "abcdef", 3, 64, "abc" },				/* stops after inlen */
	{ "ab\0cd", (size_t)-1, 64, "ab" },			/* stops at NUL */
	{ "", (size_t)-1, 64, "" },
	{ "abcdefghijklmnop", (size_t)-1, 10, "abcdef..." },	/* truncated, marked */
	{ "\033\033\033\033", (size_t)-1, 12, "\\x1b\\x1b..." },	/* never half an escape */
	{ "abc", (size_t)-1, 8, "abc" },
};

Test(util, escape_table)
{
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(esc_cases); i++) {
		const struct esc_case *c = &esc_cases[i];
		char out[64];

		memset(out, 'Z', sizeof(out));
		cr_expect_eq(nsess_escape(c->in, c->inlen, out, c->outlen), out);
		cr_expect_str_eq(out, c->want, "case %zu: got '%s' want '%s'", i, out, c->want);
		cr_expect_lt(strlen(out), c->outlen, "case %zu: overflowed", i);
	}
}

Test(util, escape_small_buffers)
{
	char out[8] = "xxxxxxx";

	/* below 4 bytes there is no room even for "...": empty string */
	cr_expect_str_eq(nsess_escape("abc", (size_t)-1, out, 3), "");
	cr_expect_eq(out[1], 'x', "wrote past the NUL");
	out[0] = 'x';
	nsess_escape("abc", (size_t)-1, out, 0);
	cr_expect_eq(out[0], 'x', "outlen 0 must not write");
	cr_expect_str_eq(nsess_escape(NULL, (size_t)-1, out, sizeof(out)), "");
}

Test(util, escape_output_is_printable)
{
	char in[256], out[1100];
	size_t i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (char)i;
	nsess_escape(in, sizeof(in), out, sizeof(out));
	cr_assert_eq(strlen(out), 95 - 1 + (256 - 95 + 1) * 4, "every byte kept: %zu",
		     strlen(out));
	for (i = 0; out[i]; i++)
		cr_assert(out[i] >= 0x20 && out[i] < 0x7f, "byte 0x%02x at %zu",
			  (unsigned char)out[i], i);
}

/* ---- nsess_error ------------------------------------------------------- */

Test(util, error_set)
{
	struct nsess_error e = { 0 };

	cr_expect_eq(nsess_error_set(&e, ENOENT, "no %s in %s:%d", "alice", "/etc/subuid", 7),
		     -ENOENT);
	cr_expect_eq(e.err, ENOENT);
	cr_expect_str_eq(e.msg, "no alice in /etc/subuid:7");

	/* a negative errno is taken as meant */
	cr_expect_eq(nsess_error_set(&e, -EPERM, "x"), -EPERM);
	cr_expect_eq(e.err, EPERM);

	/* no record: still returns the code */
	cr_expect_eq(nsess_error_set(NULL, EIO, "ignored"), -EIO);
}

Test(util, error_set_truncates)
{
	struct nsess_error e = { 0 };
	char big[4096];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	nsess_error_set(&e, E2BIG, "%s", big);
	cr_expect_eq(strlen(e.msg), sizeof(e.msg) - 1);
}

Test(util, error_prefix)
{
	struct nsess_error e = { 0 };

	nsess_error_set(&e, EACCES, "cannot open %s", "/dev/net/tun");
	nsess_error_prefix(&e, "session for '%s'", "alice");
	cr_expect_str_eq(e.msg, "session for 'alice': cannot open /dev/net/tun");
	cr_expect_eq(e.err, EACCES, "prefix keeps the errno");
	nsess_error_prefix(&e, "pam");
	cr_expect_str_eq(e.msg, "pam: session for 'alice': cannot open /dev/net/tun");
	nsess_error_prefix(NULL, "nothing to do");
}

/* ---- the capturing log sink -------------------------------------------- */

Test(util, log_capture)
{
	struct nsess_log_capture cap;
	struct nsess_log log;

	nsess_log_capture_init(&log, &cap);
	cr_expect_eq(cap.lines, 0);
	cr_expect_eq(cap.worst_prio, LOG_DEBUG + 1);
	cr_expect_str_empty(cap.buf);

	nsess_log(&log, LOG_INFO, "opened session %d", 3);
	nsess_log(&log, LOG_ERR, "cannot read %s", "/etc/subuid");
	nsess_log(&log, LOG_WARNING, "fallback");
	cr_expect_str_eq(cap.buf, "opened session 3\ncannot read /etc/subuid\nfallback\n");
	cr_expect_eq(cap.lines, 3);
	cr_expect_eq(cap.worst_prio, LOG_ERR);
	cr_expect_eq(cap.len, strlen(cap.buf));

	/* less important than max_prio: dropped */
	log.max_prio = LOG_NOTICE;
	nsess_log(&log, LOG_DEBUG, "noise");
	cr_expect_eq(cap.lines, 3);
	cr_expect_null(strstr(cap.buf, "noise"));

	/* no sink: nothing happens */
	nsess_log(NULL, LOG_ERR, "dropped");
}

Test(util, log_capture_full_buffer)
{
	struct nsess_log_capture cap;
	struct nsess_log log;
	char line[1500];
	int i;

	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	nsess_log_capture_init(&log, &cap);
	for (i = 0; i < 20; i++)
		nsess_log(&log, LOG_NOTICE, "%s", line);
	cr_expect_eq(cap.lines, 20, "every line counted even when not kept");
	cr_expect_lt(cap.len, sizeof(cap.buf));
	cr_expect_eq(cap.buf[cap.len], '\0');
	cr_expect_eq(strlen(cap.buf), cap.len);
	cr_expect_eq(cap.buf[cap.len - 1], '\n', "a cut line still ends the buffer");
}

/* a syslog socket of our own, in a temporary directory */
/* a datagram socket bound at @path, as a syslog daemon's /dev/log */
static int syslog_bind(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind %s: %s", path,
		     strerror(errno));
	return fd;
}

static int syslog_sink(char *path, size_t len)
{
	char dir[] = "/tmp/nsess-syslog.XXXXXX";

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, len, "%s/log", dir);
	return syslog_bind(path);
}

static void syslog_sink_remove(int fd, const char *path)
{
	char dir[108];

	close(fd);
	unlink(path);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
}

Test(util, log_syslog_sends_tagged_lines_at_notice_and_above)
{
	struct nsess_log_syslog st = { .fd = -1 };
	struct nsess_log log = { 0 };
	char path[108], buf[512], want[128];
	int fd = syslog_sink(path, sizeof(path));
	ssize_t n;

	cr_assert_eq(nsess_log_syslog_open(&log, &st, path, "nsession-engine", LOG_AUTHPRIV, 0), 0);
	nsess_log(&log, LOG_INFO, "not sent without verbose");
	nsess_log(&log, LOG_NOTICE, "refused a packet to %s", "169.254.169.254");
	nsess_log(&log, LOG_ERR, "failed");
	/* AUTHPRIV is facility 10: <85> is notice, <83> err */
	snprintf(want, sizeof(want), "<85>nsession-engine[%d]: refused a packet to 169.254.169.254",
		 (int)getpid());
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	cr_assert_gt(n, 0, "nothing arrived");
	buf[n] = '\0';
	cr_expect_str_eq(buf, want);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	cr_assert_gt(n, 0, "the error did not arrive");
	buf[n] = '\0';
	snprintf(want, sizeof(want), "<83>nsession-engine[%d]: failed", (int)getpid());
	cr_expect_str_eq(buf, want);
	cr_expect_lt(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 0, "an extra line arrived");
	nsess_log_syslog_close(&st);
	nsess_log_syslog_close(&st);
	cr_expect_eq(st.fd, -1);

	/* verbose: info lines too */
	cr_assert_eq(nsess_log_syslog_open(&log, &st, path, "x", LOG_DAEMON, 1), 0);
	nsess_log(&log, LOG_INFO, "hello");
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	snprintf(want, sizeof(want), "<30>x[%d]: hello", (int)getpid());
	cr_expect_str_eq(buf, want);
	nsess_log_syslog_close(&st);
	syslog_sink_remove(fd, path);
}

/* a restarted syslog daemon: a new socket at the same path gets the next line */
Test(util, log_syslog_reaches_a_restarted_daemon)
{
	struct nsess_log_syslog st = { .fd = -1 };
	struct nsess_log log = { 0 };
	char path[108], dir[108], buf[512], want[128];
	int fd = syslog_sink(path, sizeof(path)), fd2, first;
	ssize_t n;

	cr_assert_eq(nsess_log_syslog_open(&log, &st, path, "nsession-engine", LOG_AUTHPRIV, 0), 0);
	first = st.fd;
	nsess_log(&log, LOG_NOTICE, "before");
	cr_assert_gt(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 0, "the first line did not arrive");

	/* the daemon goes away; while it is away a line is lost, nothing else */
	syslog_sink_remove(fd, path);
	nsess_log(&log, LOG_NOTICE, "while away");
	/* it comes back: a new socket at the same path */
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	cr_assert_eq(mkdir(dir, 0700), 0);
	fd2 = syslog_bind(path);
	nsess_log(&log, LOG_NOTICE, "after the restart");
	snprintf(want, sizeof(want), "<85>nsession-engine[%d]: after the restart", (int)getpid());
	n = recv(fd2, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	cr_assert_gt(n, 0, "nothing reached the restarted daemon");
	buf[n] = '\0';
	cr_expect_str_eq(buf, want);
	cr_expect_eq(st.fd, first, "a new socket was made (the engine's seccomp forbids that)");
	nsess_log_syslog_close(&st);
	syslog_sink_remove(fd2, path);
}

Test(util, log_syslog_without_a_socket_fails_and_leaves_the_sink_alone)
{
	struct nsess_log_syslog st = { .fd = -1 };
	struct nsess_log_capture cap;
	struct nsess_log log;
	char path[108];
	int fd = syslog_sink(path, sizeof(path));

	syslog_sink_remove(fd, path);	/* nobody there now */
	nsess_log_capture_init(&log, &cap);
	cr_expect_eq(nsess_log_syslog_open(&log, &st, path, "x", LOG_AUTHPRIV, 0), -ENOENT);
	cr_expect_eq(st.fd, -1);
	nsess_log(&log, LOG_ERR, "still captured");
	cr_expect(strstr(cap.buf, "still captured"), "the sink was changed: %s", cap.buf);
}

Test(util, wait_status_text)
{
	char b[64];

	cr_expect_str_eq(nsess_wait_status_text(3 << 8, b, sizeof(b)), "exit status 3");
	cr_expect_str_eq(nsess_wait_status_text(0, b, sizeof(b)), "exit status 0");
	cr_expect_str_eq(nsess_wait_status_text(9, b, sizeof(b)), "killed by signal 9 (Killed)");
	/* a core dump (0x80) does not change the signal */
	cr_expect_str_eq(nsess_wait_status_text(31 | 0x80, b, sizeof(b)),
			 "killed by signal 31 (Bad system call)");
	cr_expect_str_eq(nsess_wait_status_text(9, b, 8), "killed ", "not cut to the buffer");
}
