/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_policy.c - the policy file: parser, loader, resolution, describe.
 *
 * Good and bad settings are tables: each bad line is parsed after a good
 * first line and must fail on line 2 with "PATH:2: ", naming the value (escaped) and
 * leaving the output alone. Fixtures are parsed through a stream under the
 * real path's name; the loader is exercised on files made at test time,
 * because fixtures' owners and modes depend on who checked them out.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "testlib.h"
#include "policy.h"

#define TPATH "/etc/security/nsession.conf"
#define FIX NSESS_FIXTURES "/policy"
#define SAMPLE NSESS_FIXTURES "/../../etc/nsession.conf"
#define DEFAULT_LINE                                                                     \
	"sandbox yes, net slirp, host loopback no, mtu 65520, ipv6 yes, map keep-id, "   \
	"on_failure closed, fallback single, 0 published ports (from defaults)"
#define VALID_KEYS "valid keys: sandbox, net, allow_host_loopback, publish, mtu, ipv6, map, " \
		   "on_failure, fallback, engine_user"

/* Not a real pointer: tells whether an output was written. */
#define UNTOUCHED ((struct nsess_policy_file *)(uintptr_t)0x5a5a)

/* ---- helpers ------------------------------------------------------------ */

static int parse_mem(const char *data, size_t len, struct nsess_policy_file **pf,
		     struct nsess_error *e)
{
	FILE *fp = len ? fmemopen((void *)data, len, "r") : tmpfile();
	int r;

	cr_assert_not_null(fp, "fmemopen");
	r = nsess_policy_parse(fp, TPATH, pf, e);
	fclose(fp);
	return r;
}

static int parse_str(const char *s, struct nsess_policy_file **pf, struct nsess_error *e)
{
	return parse_mem(s, strlen(s), pf, e);
}

/* A fixture, shown in messages and `matched` under the real path. */
static struct nsess_policy_file *parse_fixture(const char *name)
{
	struct nsess_policy_file *pf = NULL;
	struct nsess_error e = { 0 };
	char p[512];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", FIX, name);
	fp = fopen(p, "re");
	cr_assert_not_null(fp, "%s: %s", p, strerror(errno));
	cr_assert_eq(nsess_policy_parse(fp, TPATH, &pf, &e), 0, "%s", e.msg);
	fclose(fp);
	cr_assert_not_null(pf);
	return pf;
}

static void describe(const struct nsess_policy *p, char *buf, size_t len)
{
	cr_assert_gt(nsess_policy_describe(p, buf, len), 0);
}

/* Every byte of a message must be printable ASCII: no raw escapes. */
static void assert_printable(const char *msg)
{
	const unsigned char *c;

	for (c = (const unsigned char *)msg; *c; c++)
		cr_assert(*c >= 0x20 && *c < 0x7f, "raw byte 0x%02x in message: %s", *c, msg);
}

static void assert_fails(const char *text, size_t len, int err, unsigned int line,
			 const char *want)
{
	struct nsess_policy_file *pf = UNTOUCHED;
	struct nsess_error e = { 0 };
	char head[64];

	cr_assert_eq(parse_mem(text, len, &pf, &e), -err, "want -%d for [%.*s]: %s", err,
		     (int)(len < 200 ? len : 200), text, e.msg);
	cr_expect_eq(e.err, err);
	cr_expect_eq(pf, UNTOUCHED, "output written on failure");
	snprintf(head, sizeof(head), "%s:%u: ", TPATH, line);
	cr_expect(strncmp(e.msg, head, strlen(head)) == 0, "want '%s' first: %s", head, e.msg);
	cr_expect_not_null(strstr(e.msg, want), "'%s' not in: %s", want, e.msg);
	assert_printable(e.msg);
}

static char tmp_dir[64];

static void make_tmp(void)
{
	strcpy(tmp_dir, "/tmp/nsess-policy-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp_dir), "mkdtemp: %s", strerror(errno));
}

static void rm_tmp(void)
{
	static const char *const names[] = { "nsession.conf", "link.conf", "dir.conf" };
	char p[192];
	size_t i;

	if (!tmp_dir[0])
		return;
	for (i = 0; i < NSESS_ARRAY_SIZE(names); i++) {
		snprintf(p, sizeof(p), "%s/%s", tmp_dir, names[i]);
		if (unlink(p) < 0 && errno == EISDIR)
			rmdir(p);
		rmdir(p);
	}
	rmdir(tmp_dir);
	tmp_dir[0] = '\0';
}

static void tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmp_dir, name);
}

/* Write @text to @path with @mode (umask does not apply: chmod after). */
static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "we");

	cr_assert_not_null(fp, "%s: %s", path, strerror(errno));
	cr_assert_eq(fputs(text, fp) >= 0, 1);
	cr_assert_eq(fclose(fp), 0);
	cr_assert_eq(chmod(path, mode), 0);
}

/* ---- defaults -------------------------------------------------------------- */

Test(policy, defaults_without_file)
{
	struct nsess_policy p;
	char buf[512];

	memset(&p, 0xa5, sizeof(p));
	nsess_policy_resolve(NULL, "alice", NULL, 0, &p);
	cr_expect(p.sandbox);
	cr_expect_eq(p.net.mode, NSESS_NET_SLIRP);
	cr_expect_not(p.net.allow_host_loopback);
	cr_expect_eq(p.net.n_publish, 0);
	cr_expect_eq(p.net.mtu, 65520);
	cr_expect(p.net.ipv6);
	cr_expect_eq(p.layout, NSESS_LAYOUT_KEEP_ID);
	cr_expect_eq(p.on_failure, NSESS_FAIL_CLOSED);
	cr_expect_eq(p.fallback, NSESS_FALLBACK_SINGLE);
	cr_expect_str_eq(p.matched, "defaults");
	/* the rest of the plan is the network defaults */
	cr_expect_str_eq(p.net.ifname, "tap0");
	cr_expect_str_eq(p.net.hostname, "nsession");
	describe(&p, buf, sizeof(buf));
	cr_expect_str_eq(buf, DEFAULT_LINE);
}

Test(policy, missing_file_gives_defaults, .init = make_tmp, .fini = rm_tmp)
{
	struct nsess_policy_file *pf = NULL;
	struct nsess_error e = { 0 };
	struct nsess_policy p;
	char path[192], buf[512];

	tmp_path(path, sizeof(path), "nsession.conf");
	cr_assert_eq(nsess_policy_load(path, &pf, &e), 0, "%s", e.msg);
	cr_assert_not_null(pf, "a missing file still gives a (empty) parsed file");
	nsess_policy_resolve(pf, "alice", NULL, 0, &p);
	describe(&p, buf, sizeof(buf));
	cr_expect_str_eq(buf, DEFAULT_LINE);
	nsess_policy_free(pf);
}

Test(policy, empty_and_comment_files)
{
	static const char *const names[] = { "empty.conf", "comments.conf" };
	const char *groups[] = { "dev" };
	struct nsess_policy p;
	char buf[512];
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(names); i++) {
		struct nsess_policy_file *pf = parse_fixture(names[i]);

		nsess_policy_resolve(pf, "alice", groups, 1, &p);
		describe(&p, buf, sizeof(buf));
		cr_expect_str_eq(buf, DEFAULT_LINE, "[%s]", names[i]);
		nsess_policy_free(pf);
	}
	nsess_policy_free(NULL);
}

Test(policy, empty_file_loaded, .init = make_tmp, .fini = rm_tmp)
{
	struct nsess_policy_file *pf = NULL;
	struct nsess_error e = { 0 };
	struct nsess_policy p;
	char path[192], buf[512];

	tmp_path(path, sizeof(path), "nsession.conf");
	write_file(path, "", 0644);
	cr_assert_eq(nsess_policy_load(path, &pf, &e), 0, "%s", e.msg);
	nsess_policy_resolve(pf, "alice", NULL, 0, &p);
	describe(&p, buf, sizeof(buf));
	cr_expect_str_eq(buf, DEFAULT_LINE);
	nsess_policy_free(pf);
}

/* ---- every key, good values ------------------------------------------------ */

struct good_case {
	const char *text;
	const char *want;	/* in the describe line of a user nothing else matches */
};

static const struct good_case good_cases[] = {
	{ "sandbox = no\n", "sandbox no," },
	{ "sandbox = yes\n", "sandbox yes," },
	{ "sandbox=no", "sandbox no," },			/* no spaces, no newline at EOF */
	{ "  sandbox\t=\tno  \n", "sandbox no," },		/* blanks around everything */
	{ "sandbox = no # until the helpers are installed\n", "sandbox no," },
	{ "net = none\n", "net none," },
	{ "net = host\n", "net host," },
	{ "net = slirp\n", "net slirp," },
	{ "allow_host_loopback = yes\n", "host loopback yes," },
	{ "allow_host_loopback = no\n", "host loopback no," },
	{ "publish = 8080:80\n", "1 published port (" },
	{ "publish = 127.0.0.1:8080:80/tcp\npublish = 8080:80/udp\n", "2 published ports" },
	{ "publish = 8080:80\npublish = none\n", "0 published ports" },
	{ "mtu = 1280\n", "mtu 1280," },
	{ "mtu = 65520\n", "mtu 65520," },
	{ "mtu = 1500\nmtu = 9000\n", "mtu 9000," },		/* the later line wins */
	{ "ipv6 = no\n", "ipv6 no," },
	{ "ipv6 = yes\n", "ipv6 yes," },
	{ "map = root\n", "map root," },
	{ "map = keep-id\n", "map keep-id," },
	{ "on_failure = open\n", "on_failure open," },
	{ "on_failure = closed\n", "on_failure closed," },
	{ "fallback = refuse\n", "fallback refuse," },
	{ "fallback = single\n", "fallback single," },
	{ "[user alice]\nsandbox = no\n[default]\nipv6 = no\n", "ipv6 no," },
	{ "[group dev]\nsandbox = no\n", "sandbox yes," },	/* nobody's group */
};

ParameterizedTestParameters(policy, good_values)
{
	static size_t idx[NSESS_ARRAY_SIZE(good_cases)];
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(idx); i++)
		idx[i] = i;
	return cr_make_param_array(size_t, idx, NSESS_ARRAY_SIZE(idx));
}

ParameterizedTest(size_t *i, policy, good_values)
{
	const struct good_case *c = &good_cases[*i];
	struct nsess_policy_file *pf = NULL;
	struct nsess_error e = { 0 };
	struct nsess_policy p;
	char buf[512];

	cr_assert_eq(parse_str(c->text, &pf, &e), 0, "[%s] %s", c->text, e.msg);
	nsess_policy_resolve(pf, "zed", NULL, 0, &p);
	describe(&p, buf, sizeof(buf));
	cr_expect_not_null(strstr(buf, c->want), "[%s] '%s' not in: %s", c->text, c->want, buf);
	cr_expect_str_eq(p.matched, "defaults");
	nsess_policy_free(pf);
}

Test(policy, publish_rule_fields)
{
	struct nsess_policy_file *pf = NULL;
	struct nsess_error e = { 0 };
	struct nsess_policy p;

	cr_assert_eq(parse_str("publish = 127.0.0.1:2222:22\npublish = 5353:53/udp\n", &pf, &e),
		     0, "%s", e.msg);
	nsess_policy_resolve(pf, "zed", NULL, 0, &p);
	cr_assert_eq(p.net.n_publish, 2);
	cr_expect_not(p.net.publish[0].udp);
	cr_expect_eq(p.net.publish[0].host_addr.s_addr, htonl(INADDR_LOOPBACK));
	cr_expect_eq(p.net.publish[0].host_port, 2222);
	cr_expect_eq(p.net.publish[0].guest_port, 22);
	cr_expect(p.net.publish[1].udp);
	cr_expect_eq(p.net.publish[1].host_addr.s_addr, htonl(INADDR_ANY));
	cr_expect_eq(p.net.publish[1].host_port, 5353);
	cr_expect_eq(p.net.publish[1].guest_port, 53);
	nsess_policy_free(pf);
}

/* ---- bad lines: one table ---------------------------------------------------- */

struct bad_case {
	const char *line;	/* parsed as line 2, after "sandbox = yes\n" */
	const char *want;	/* must appear in the message */
};

static const struct bad_case bad_cases[] = {
	/* values: yes/no only */
	{ "sandbox = true", "sandbox 'true' is not yes or no; write sandbox = yes" },
	{ "sandbox = 1", "'1'" },
	{ "sandbox = Yes", "'Yes'" },
	{ "sandbox = yes please", "'yes please'" },
	{ "allow_host_loopback = on", "allow_host_loopback 'on' is not yes or no" },
	{ "ipv6 = false", "ipv6 'false'" },
	/* empty values */
	{ "sandbox =", "sandbox has no value; write sandbox = yes|no (default yes)" },
	{ "net =   ", "net has no value; write net = slirp|none|host" },
	{ "mtu = # later", "mtu has no value" },
	{ "map=", "map has no value; write map = keep-id|root" },
	/* enumerations */
	{ "net = slirp4netns", "net 'slirp4netns' is not a network mode; write net = slirp" },
	{ "net = SLIRP", "'SLIRP'" },
	{ "map = single", "map 'single' is not an id layout; write map = keep-id" },
	{ "map = keepid", "'keepid'" },
	{ "on_failure = fail-open", "on_failure 'fail-open' is not closed or open" },
	{ "fallback = none", "fallback 'none' is not single or refuse" },
	/* numbers */
	{ "mtu = 1279", "mtu '1279' is not a number in 1280..65520" },
	{ "mtu = 65521", "'65521'" },
	{ "mtu = 01500", "'01500'" },
	{ "mtu = 1500k", "'1500k'" },
	{ "mtu = -1", "'-1'" },
	{ "mtu = 99999999999999999999", "'99999999999999999999'" },
	/* publish */
	{ "publish = 8080", "\"8080\"" },
	{ "publish = 0:80", "\"0:80\"" },
	{ "publish = 8080:80/sctp", "\"8080:80/sctp\"" },
	{ "publish = ::1:8080:80", "\"::1:8080:80\"" },
	{ "publish = None", "\"None\"" },
	{ "publish = 1:2:3:4", "\"1:2:3:4\" has too many ':'" },
	{ "publish = 65536:80", "; or write publish = none to clear the list" },
	/* keys */
	{ "alow_host_loopback = yes", "unknown key 'alow_host_loopback'; " VALID_KEYS },
	{ "Sandbox = no", "unknown key 'Sandbox' (keys are lower case: write sandbox)" },
	{ "sandbox yes", "'sandbox yes' is neither KEY = VALUE nor a section header" },
	{ "= yes", "'= yes' has no key before '='" },
	{ "sand box = yes", "'sand box = yes' is neither" },
	/* section headers */
	{ "[user]", "section header '[user]' is not valid; write [user NAME], [group NAME] or "
		    "[default]" },
	{ "[user ]", "user name '' in the section header is not valid" },
	{ "[User alice]", "'[User alice]'" },
	{ "[user  alice]", "user name ' alice'" },
	{ "[user alice ]", "user name 'alice '" },
	{ "[ user alice]", "'[ user alice]'" },
	{ "[user alice", "section header '[user alice' does not end with ']'" },
	{ "[user alice] sandbox = no", "does not end with ']'" },
	{ "[user al/ice]", "user name 'al/ice'" },
	{ "[user alice bob]", "'alice bob'" },
	{ "[user a$b]", "'a$b'" },
	{ "[user $]", "'$'" },
	{ "[group]", "'[group]'" },
	{ "[group d:v]", "group name 'd:v'" },
	{ "[defaults]", "'[defaults]'" },
	{ "[Default]", "'[Default]'" },
	{ "[]", "'[]'" },
	{ "[", "'['" },
	/* untrusted bytes come out escaped */
	{ "net = \x1b[31mred", "net '\\x1b[31mred'" },
	{ "map = k\xc3\xa9" "ep", "'k\\xc3\\xa9ep'" },
	{ "\x1b]0;owned\x07 = yes", "unknown key '\\x1b]0;owned\\x07'" },
	{ "[user \x1b[2J]", "user name '\\x1b[2J'" },
	{ "net = a\\b", "'a\\x5cb'" },
	{ "mtu = 1500\r", "carriage return" },
};

ParameterizedTestParameters(policy, bad_lines)
{
	static size_t idx[NSESS_ARRAY_SIZE(bad_cases)];
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(idx); i++)
		idx[i] = i;
	return cr_make_param_array(size_t, idx, NSESS_ARRAY_SIZE(idx));
}

ParameterizedTest(size_t *i, policy, bad_lines)
{
	const struct bad_case *c = &bad_cases[*i];
	char text[1200];

	snprintf(text, sizeof(text), "sandbox = yes\n%s\n# after\n", c->line);
	assert_fails(text, strlen(text), EINVAL, 2, c->want);
}

Test(policy, name_lengths)
{
	struct nsess_policy_file *pf = NULL;
	struct nsess_error e = { 0 };
	char text[700], name[300];

	memset(name, 'a', 256);
	name[256] = '\0';
	snprintf(text, sizeof(text), "[user %s$]\nsandbox = no\n[group %s]\n", name, name);
	cr_assert_eq(parse_str(text, &pf, &e), 0, "256 characters and a '$': %s", e.msg);
	nsess_policy_free(pf);

	snprintf(text, sizeof(text), "# one too many\n[user %sb]\n", name);
	assert_fails(text, strlen(text), EINVAL, 2, "user name 'aaaa");
}

Test(policy, machine_account_names)
{
	const char *groups[] = { "users", "pc$" };
	struct nsess_policy_file *pf = NULL;
	struct nsess_error e = { 0 };
	struct nsess_policy p;

	cr_assert_eq(parse_str("[user ws01$]\nnet = none\n[group pc$]\nipv6 = no\n"
			       "[user a.b_c-d]\nmap = root\n", &pf, &e), 0, "%s", e.msg);
	nsess_policy_resolve(pf, "ws01$", NULL, 0, &p);
	cr_expect_eq(p.net.mode, NSESS_NET_NONE);
	nsess_policy_resolve(pf, "ws02$", groups, 2, &p);
	cr_expect_not(p.net.ipv6);
	nsess_policy_resolve(pf, "a.b_c-d", NULL, 0, &p);
	cr_expect_eq(p.layout, NSESS_LAYOUT_ROOT);
	nsess_policy_free(pf);
}

/* ---- resolution ------------------------------------------------------------ */

struct resolve_case {
	const char *user;
	const char *groups[3];
	const char *want;	/* the whole describe line */
};

#define FROM(what) " (from " what ")"

static const struct resolve_case resolve_cases[] = {
	/* settings outside sections only; [default] lines count, the later mtu wins */
	{ "zed", { NULL },
	  "sandbox yes, net slirp, host loopback no, mtu 9000, ipv6 yes, map keep-id, "
	  "on_failure closed, fallback refuse, 1 published port" FROM("defaults") },
	{ "zed", { "staff", "users" },
	  "sandbox yes, net slirp, host loopback no, mtu 9000, ipv6 yes, map keep-id, "
	  "on_failure closed, fallback refuse, 1 published port" FROM("defaults") },
	/* a [user] section beats a matching [group] section; publish accumulates */
	{ "alice", { "dev" },
	  "sandbox yes, net slirp, host loopback no, mtu 9000, ipv6 yes, map root, "
	  "on_failure closed, fallback refuse, 2 published ports" FROM("[user alice] at " TPATH
								       ":7") },
	/* the first matching group in FILE order, not in the user's order */
	{ "dave", { "ops", "dev" },
	  "sandbox yes, net slirp, host loopback yes, mtu 9000, ipv6 no, map keep-id, "
	  "on_failure closed, fallback refuse, 1 published port" FROM("[group dev] at " TPATH
								      ":11") },
	{ "erin", { "users", "ops" },
	  "sandbox yes, net host, host loopback no, mtu 9000, ipv6 yes, map keep-id, "
	  "on_failure open, fallback refuse, 1 published port" FROM("[group ops] at " TPATH
								    ":15") },
	/* a section after [default] */
	{ "bob", { "dev" },
	  "sandbox no, net slirp, host loopback no, mtu 9000, ipv6 yes, map keep-id, "
	  "on_failure closed, fallback refuse, 1 published port" FROM("[user bob] at " TPATH
								      ":23") },
	/* publish = none clears the outside list */
	{ "carol", { NULL },
	  "sandbox yes, net slirp, host loopback no, mtu 9000, ipv6 yes, map keep-id, "
	  "on_failure closed, fallback refuse, 1 published port" FROM("[user carol] at " TPATH
								      ":26") },
	/* names match exactly: "ops$" is not "ops" */
	{ "frank", { "ops$" },
	  "sandbox yes, net slirp, host loopback no, mtu 9000, ipv6 no, map keep-id, "
	  "on_failure closed, fallback refuse, 1 published port" FROM("[group ops$] at " TPATH
								      ":30") },
	/* user names never match group sections and vice versa */
	{ "dev", { "alice" },
	  "sandbox yes, net slirp, host loopback no, mtu 9000, ipv6 yes, map keep-id, "
	  "on_failure closed, fallback refuse, 1 published port" FROM("defaults") },
	{ "Alice", { "DEV" },
	  "sandbox yes, net slirp, host loopback no, mtu 9000, ipv6 yes, map keep-id, "
	  "on_failure closed, fallback refuse, 1 published port" FROM("defaults") },
};

Test(policy, resolution)
{
	struct nsess_policy_file *pf = parse_fixture("full.conf");
	struct nsess_policy p;
	char buf[512];
	size_t i, n;

	for (i = 0; i < NSESS_ARRAY_SIZE(resolve_cases); i++) {
		const struct resolve_case *c = &resolve_cases[i];

		for (n = 0; n < NSESS_ARRAY_SIZE(c->groups) && c->groups[n]; n++)
			;
		memset(&p, 0xa5, sizeof(p));
		nsess_policy_resolve(pf, c->user, c->groups, n, &p);
		describe(&p, buf, sizeof(buf));
		cr_expect_str_eq(buf, c->want, "[%s]", c->user);
	}
	nsess_policy_free(pf);
}

Test(policy, publish_accumulates)
{
	struct nsess_policy_file *pf = parse_fixture("full.conf");
	const char *groups[] = { "dev" };
	struct nsess_policy p;

	/* outside sections first, then the section's */
	nsess_policy_resolve(pf, "alice", groups, 1, &p);
	cr_assert_eq(p.net.n_publish, 2);
	cr_expect_eq(p.net.publish[0].host_port, 8080);
	cr_expect_eq(p.net.publish[0].guest_port, 80);
	cr_expect_eq(p.net.publish[1].host_port, 2222);
	cr_expect_eq(p.net.publish[1].guest_port, 22);
	cr_expect_eq(p.net.publish[1].host_addr.s_addr, htonl(INADDR_LOOPBACK));

	/* `publish = none` dropped the outside rule before adding its own */
	nsess_policy_resolve(pf, "carol", NULL, 0, &p);
	cr_assert_eq(p.net.n_publish, 1);
	cr_expect(p.net.publish[0].udp);
	cr_expect_eq(p.net.publish[0].host_port, 5353);
	nsess_policy_free(pf);
}

Test(policy, resolve_without_user_or_groups)
{
	struct nsess_policy_file *pf = parse_fixture("full.conf");
	struct nsess_policy p;

	nsess_policy_resolve(pf, NULL, NULL, 0, &p);
	cr_expect_str_eq(p.matched, "defaults");
	cr_expect_eq(p.net.mtu, 9000);
	nsess_policy_free(pf);
}

Test(policy, describe_exact)
{
	struct nsess_policy_file *pf = parse_fixture("full.conf");
	const char *groups[] = { "users", "ops" };
	struct nsess_policy p;
	char buf[512], small[32];
	int n;

	nsess_policy_resolve(pf, "erin", groups, 2, &p);
	n = nsess_policy_describe(&p, buf, sizeof(buf));
	cr_assert_str_eq(buf, "sandbox yes, net host, host loopback no, mtu 9000, ipv6 yes, "
			      "map keep-id, on_failure open, fallback refuse, 1 published port "
			      "(from [group ops] at /etc/security/nsession.conf:15)");
	cr_expect_eq(n, (int)strlen(buf));

	/* too small: -ENOSPC and nothing written */
	memset(small, 'x', sizeof(small));
	cr_expect_eq(nsess_policy_describe(&p, small, sizeof(small)), -ENOSPC);
	cr_expect_eq(small[0], 'x');
	cr_expect_eq(nsess_policy_describe(&p, buf, (size_t)n), -ENOSPC);
	cr_expect_eq(nsess_policy_describe(&p, buf, (size_t)n + 1), n);
	nsess_policy_free(pf);
}

Test(policy, engine_user)
{
	static const char text[] = "engine_user = nsession-engine\n"
				   "[user alice]\n"
				   "engine_user = alice.eng_2\n"
				   "[user bob]\n"
				   "net = none\n";
	struct nsess_policy_file *pf = NULL;
	struct nsess_error e = { 0 };
	struct nsess_policy p;
	char buf[1024];

	cr_assert_eq(parse_str(text, &pf, &e), 0, "%s", e.msg);
	nsess_policy_resolve(pf, "alice", NULL, 0, &p);
	cr_expect_str_eq(p.engine_user, "alice.eng_2");
	nsess_policy_resolve(pf, "bob", NULL, 0, &p);
	cr_expect_str_eq(p.engine_user, "nsession-engine", "the outside setting applies");
	describe(&p, buf, sizeof(buf));
	cr_expect_str_eq(buf, "sandbox yes, net none, host loopback no, mtu 65520, ipv6 yes, "
			      "map keep-id, on_failure closed, fallback single, 0 published ports, "
			      "engine as nsession-engine (from [user bob] at "
			      "/etc/security/nsession.conf:4)");
	nsess_policy_free(pf);

	/* unset: the session user, and describe does not mention it */
	nsess_policy_resolve(NULL, "carol", NULL, 0, &p);
	cr_expect_str_eq(p.engine_user, "");
	describe(&p, buf, sizeof(buf));
	cr_expect_str_eq(buf, DEFAULT_LINE);

	assert_fails("engine_user = root\n", 18, EINVAL, 1, "the engine never runs as root");
	assert_fails("\nengine_user = a b\n", 19, EINVAL, 2, "is not an account name");
	assert_fails("engine_user = ../x/y\n", 21, EINVAL, 1, "is not an account name");
	assert_fails("engine_user = e\033[2J\n", 22, EINVAL, 1, "is not an account name");
	assert_fails("engine_user =\n", 14, EINVAL, 1, "engine_user = ACCOUNT");
}

/* ---- sections ------------------------------------------------------------- */

Test(policy, duplicate_sections)
{
	static const char user_twice[] = "[user alice]\nmap = root\n\n[group alice]\n"
					 "[default]\n[user alice]\nnet = none\n";
	static const char group_twice[] = "[group dev]\n[group ops]\n[group dev]\n";
	struct nsess_policy_file *pf = NULL;
	struct nsess_error e = { 0 };

	assert_fails(user_twice, sizeof(user_twice) - 1, EINVAL, 6,
		     "[user alice] is already defined at line 1; merge the two sections");
	assert_fails(group_twice, sizeof(group_twice) - 1, EINVAL, 3,
		     "[group dev] is already defined at line 1");

	/* [default] may come back any number of times; a user and a group may share a name */
	cr_assert_eq(parse_str("[default]\n[user x]\n[default]\n[group x]\n[default]\n", &pf, &e),
		     0, "%s", e.msg);
	nsess_policy_free(pf);
}

Test(policy, many_sections)
{
	size_t n = 20000, i, o = 0, cap = n * 40;
	struct nsess_policy_file *pf = NULL;
	struct nsess_error e = { 0 };
	const char *groups[] = { "g19999" };
	struct nsess_policy p;
	char *text = malloc(cap);

	cr_assert_not_null(text);
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(text + o, cap - o, "[user u%zu]\n[group g%zu]\nipv6 = no\n",
				      i, i);
	cr_assert_eq(parse_mem(text, o, &pf, &e), 0, "%s", e.msg);
	nsess_policy_resolve(pf, "u12345", NULL, 0, &p);
	cr_expect_str_eq(p.matched, "[user u12345] at " TPATH ":37036");
	nsess_policy_resolve(pf, "nobody", groups, 1, &p);
	cr_expect_not(p.net.ipv6);
	nsess_policy_free(pf);

	/* a duplicate far down is still found, at its line */
	o += (size_t)snprintf(text + o, cap - o, "[group g7]\n");
	assert_fails(text, o, EINVAL, 3 * (unsigned int)n + 1, "already defined at line 23");
	free(text);
}

/* ---- publish conflicts ------------------------------------------------------ */

Test(policy, publish_conflicts)
{
	static const char dup_outside[] = "publish = 8080:80\n[user a]\n[default]\n"
					  "publish = 127.0.0.1:8080:8080\n";
	static const char dup_section[] = "publish = 8080:80\n[user a]\npublish = 8080:81\n";
	static const char renewed[] = "publish = 8080:80\n[user a]\npublish = none\n"
				      "publish = 8080:81\n";
	struct nsess_policy_file *pf = NULL;
	struct nsess_error e = { 0 };
	struct nsess_policy p;
	char text[2048];
	size_t o = 0, i;

	assert_fails(dup_outside, sizeof(dup_outside) - 1, EINVAL, 4,
		     "host port 8080/tcp is already published");
	assert_fails(dup_section, sizeof(dup_section) - 1, EINVAL, 3,
		     "(in [user a], on top of 1 rule published outside sections)");

	cr_assert_eq(parse_str(renewed, &pf, &e), 0, "%s", e.msg);
	nsess_policy_resolve(pf, "a", NULL, 0, &p);
	cr_assert_eq(p.net.n_publish, 1);
	cr_expect_eq(p.net.publish[0].guest_port, 81);
	nsess_policy_free(pf);

	/* tcp and udp on the same port are two different rules */
	cr_assert_eq(parse_str("publish = 53:53\npublish = 53:53/udp\n", &pf, &e), 0, "%s", e.msg);
	nsess_policy_free(pf);

	/* at most 32 */
	for (i = 0; i < NSESS_PUBLISH_MAX; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "publish = %zu:80\n", 10000 + i);
	cr_assert_eq(parse_mem(text, o, &pf, &e), 0, "%s", e.msg);
	nsess_policy_free(pf);
	o += (size_t)snprintf(text + o, sizeof(text) - o, "publish = 20000:80\n");
	assert_fails(text, o, EINVAL, NSESS_PUBLISH_MAX + 1, "at most 32 rules");
}

/* ---- hostile text ----------------------------------------------------------- */

Test(policy, dos_line_endings)
{
	static const char crlf[] = "sandbox = yes\r\nnet = none\r\n";
	static const char comment[] = "# written on Windows\r\n";

	assert_fails(crlf, sizeof(crlf) - 1, EINVAL, 1,
		     "line ends with a carriage return (DOS line endings); convert with "
		     "dos2unix " TPATH);
	assert_fails(comment, sizeof(comment) - 1, EINVAL, 1, "dos2unix");
}

Test(policy, nul_byte)
{
	static const char text[] = "sandbox = yes\nnet = sl\0irp\n";
	static const char in_comment[] = "sandbox = yes\n\n# \0\n";

	assert_fails(text, sizeof(text) - 1, EINVAL, 2, "NUL byte at column 9");
	assert_fails(in_comment, sizeof(in_comment) - 1, EINVAL, 3, "NUL byte");
}

Test(policy, long_line)
{
	size_t max = NSESS_POLICY_LINE_MAX, len = 14 + max + 1 + 12;
	struct nsess_policy_file *pf = NULL;
	struct nsess_error e = { 0 };
	char *text = malloc(len + 2);

	cr_assert_not_null(text);
	/* exactly 1024 bytes before the newline: allowed */
	memcpy(text, "sandbox = yes\n", 14);
	memset(text + 14, ' ', max);
	text[14] = '#';
	text[14 + max] = '\n';
	memcpy(text + 14 + max + 1, "net = none\n", 12);
	cr_assert_eq(parse_mem(text, 14 + max + 1 + 11, &pf, &e), 0, "%s", e.msg);
	nsess_policy_free(pf);

	/* one more byte */
	memcpy(text, "sandbox = yes\n", 14);
	memset(text + 14, ' ', max + 1);
	text[14] = '#';
	text[14 + max + 1] = '\n';
	assert_fails(text, 14 + max + 2, EINVAL, 2, "line is longer than 1024 bytes");
	free(text);
}

/* Write a setting and then comment padding up to exactly @size bytes. */
static void write_padded(const char *path, size_t size)
{
	static const char head[] = "sandbox = no\n";
	char pad[400];
	size_t done;
	FILE *fp = fopen(path, "we");

	cr_assert_not_null(fp);
	cr_assert_eq(fputs(head, fp) >= 0, 1);
	done = sizeof(head) - 1;
	memset(pad, '#', sizeof(pad));
	while (done < size) {
		size_t n = size - done < sizeof(pad) ? size - done : sizeof(pad);

		pad[n - 1] = '\n';
		cr_assert_eq(fwrite(pad, 1, n, fp), n);
		pad[n - 1] = '#';
		done += n;
	}
	cr_assert_eq(fclose(fp), 0);
	cr_assert_eq(chmod(path, 0644), 0);
}

Test(policy, huge_file, .init = make_tmp, .fini = rm_tmp)
{
	NSESS_TEST_DEADLINE(30);
	struct nsess_policy_file *pf = UNTOUCHED;
	struct nsess_error e = { 0 };
	struct nsess_policy p;
	char path[192];

	tmp_path(path, sizeof(path), "nsession.conf");
	write_padded(path, NSESS_POLICY_SIZE_MAX);
	cr_assert_eq(nsess_policy_load(path, &pf, &e), 0, "exactly 1 MiB: %s", e.msg);
	nsess_policy_resolve(pf, "alice", NULL, 0, &p);
	cr_expect_not(p.sandbox);
	nsess_policy_free(pf);

	pf = UNTOUCHED;
	write_padded(path, NSESS_POLICY_SIZE_MAX + 1);
	cr_assert_eq(nsess_policy_load(path, &pf, &e), -EFBIG, "%s", e.msg);
	cr_expect_eq(e.err, EFBIG);
	cr_expect_eq(pf, UNTOUCHED);
	cr_expect(strncmp(e.msg, path, strlen(path)) == 0 && e.msg[strlen(path)] == ':', "%s",
		  e.msg);
	cr_expect_not_null(strstr(e.msg, "file is larger than 1 MiB"), "%s", e.msg);
}

/* ---- the loader ------------------------------------------------------------- */

Test(policy, load_good_file, .init = make_tmp, .fini = rm_tmp)
{
	struct nsess_policy_file *pf = NULL;
	struct nsess_error e = { 0 };
	struct nsess_policy p;
	char path[192], want[256];

	tmp_path(path, sizeof(path), "nsession.conf");
	write_file(path, "# site policy\nnet = none\n[user alice]\nsandbox = no\n", 0600);
	cr_assert_eq(nsess_policy_load(path, &pf, &e), 0, "%s", e.msg);
	nsess_policy_resolve(pf, "alice", NULL, 0, &p);
	cr_expect_not(p.sandbox);
	cr_expect_eq(p.net.mode, NSESS_NET_NONE);
	snprintf(want, sizeof(want), "[user alice] at %s:3", path);
	cr_expect_str_eq(p.matched, want);
	nsess_policy_free(pf);

	/* the loader reports errors with the file's own name */
	write_file(path, "net = none\nmtu = big\n", 0644);
	cr_assert_eq(nsess_policy_load(path, &pf, &e), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: mtu 'big'", path);
	cr_expect(strncmp(e.msg, want, strlen(want)) == 0, "%s", e.msg);
}

Test(policy, fifo_refused, .init = make_tmp, .fini = rm_tmp)
{
	NSESS_TEST_DEADLINE(10);
	struct nsess_policy_file *pf = UNTOUCHED;
	struct nsess_error e = { 0 };
	char path[192];

	tmp_path(path, sizeof(path), "nsession.conf");
	cr_assert_eq(mkfifo(path, 0644), 0, "mkfifo: %s", strerror(errno));
	/* nobody opens the writing end: a blocking open would hang here */
	cr_assert_eq(nsess_policy_load(path, &pf, &e), -EPERM, "%s", e.msg);
	cr_expect_eq(pf, UNTOUCHED);
	cr_expect_not_null(strstr(e.msg, "is a FIFO; the policy must be a regular file"), "%s",
			   e.msg);
}

Test(policy, directory_refused, .init = make_tmp, .fini = rm_tmp)
{
	struct nsess_policy_file *pf = UNTOUCHED;
	struct nsess_error e = { 0 };
	char path[192];

	tmp_path(path, sizeof(path), "dir.conf");
	cr_assert_eq(mkdir(path, 0755), 0);
	cr_assert_eq(nsess_policy_load(path, &pf, &e), -EPERM, "%s", e.msg);
	cr_expect_not_null(strstr(e.msg, "is a directory"), "%s", e.msg);
	cr_expect_eq(pf, UNTOUCHED);
}

Test(policy, symlink_refused, .init = make_tmp, .fini = rm_tmp)
{
	struct nsess_policy_file *pf = UNTOUCHED;
	struct nsess_error e = { 0 };
	char path[192], link[192];

	tmp_path(path, sizeof(path), "nsession.conf");
	tmp_path(link, sizeof(link), "link.conf");
	write_file(path, "sandbox = no\n", 0644);
	cr_assert_eq(symlink(path, link), 0, "symlink: %s", strerror(errno));
	cr_assert_eq(nsess_policy_load(link, &pf, &e), -EPERM, "%s", e.msg);
	cr_expect_eq(pf, UNTOUCHED);
	cr_expect_not_null(strstr(e.msg, "link.conf is a symbolic link"), "%s", e.msg);
	cr_expect_not_null(strstr(e.msg, "replace it with a regular file owned by root"), "%s",
			   e.msg);

	/* a dangling link is refused too, not taken for a missing file */
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(nsess_policy_load(link, &pf, &e), -EPERM, "%s", e.msg);
	cr_expect_eq(pf, UNTOUCHED);
}

Test(policy, writable_by_others_refused, .init = make_tmp, .fini = rm_tmp)
{
	static const mode_t modes[] = { 0664, 0646, 0620, 0666, 0602 };
	struct nsess_policy_file *pf = UNTOUCHED;
	struct nsess_error e = { 0 };
	char path[192], fix[256];
	size_t i;

	tmp_path(path, sizeof(path), "nsession.conf");
	snprintf(fix, sizeof(fix), "chmod go-w %s", path);
	for (i = 0; i < NSESS_ARRAY_SIZE(modes); i++) {
		write_file(path, "sandbox = yes\n", modes[i]);
		cr_assert_eq(nsess_policy_load(path, &pf, &e), -EPERM, "mode %04o", modes[i]);
		cr_expect_eq(e.err, EPERM);
		cr_expect_eq(pf, UNTOUCHED);
		cr_expect_not_null(strstr(e.msg, "is writable by"), "%s", e.msg);
		cr_expect_not_null(strstr(e.msg, fix), "%s", e.msg);
	}
	write_file(path, "sandbox = yes\n", 0664);
	cr_assert_eq(nsess_policy_load(path, &pf, &e), -EPERM);
	cr_expect_not_null(strstr(e.msg, "writable by its group (mode 0664)"), "%s", e.msg);

	/* read-only for everyone but the owner is fine */
	write_file(path, "sandbox = yes\n", 0644);
	cr_assert_eq(nsess_policy_load(path, &pf, &e), 0, "%s", e.msg);
	nsess_policy_free(pf);
}

Test(policy, owner_must_be_root, .init = make_tmp, .fini = rm_tmp)
{
	struct nsess_policy_file *pf = UNTOUCHED;
	struct nsess_error e = { 0 };
	char path[192], fix[256];

	NSESS_TEST_NEED_ROOT();
	tmp_path(path, sizeof(path), "nsession.conf");
	write_file(path, "sandbox = yes\n", 0644);
	cr_assert_eq(chown(path, 1, 0), 0, "chown: %s", strerror(errno));
	cr_assert_eq(nsess_policy_load(path, &pf, &e), -EPERM, "%s", e.msg);
	cr_expect_eq(pf, UNTOUCHED);
	snprintf(fix, sizeof(fix), "chown root %s", path);
	cr_expect_not_null(strstr(e.msg, "is owned by uid 1, not root"), "%s", e.msg);
	cr_expect_not_null(strstr(e.msg, fix), "%s", e.msg);

	cr_assert_eq(chown(path, 0, 1), 0);
	cr_assert_eq(nsess_policy_load(path, &pf, &e), 0, "%s", e.msg);
	nsess_policy_free(pf);
}

Test(policy, relative_path_refused)
{
	struct nsess_policy_file *pf = UNTOUCHED;
	struct nsess_error e = { 0 };

	cr_assert_eq(nsess_policy_load("nsession.conf", &pf, &e), -EINVAL);
	cr_expect_not_null(strstr(e.msg, "not an absolute path"), "%s", e.msg);
	cr_expect_eq(pf, UNTOUCHED);
}

Test(policy, not_a_directory, .init = make_tmp, .fini = rm_tmp)
{
	struct nsess_policy_file *pf = UNTOUCHED;
	struct nsess_error e = { 0 };
	char path[192], below[256];

	/* a path through a file is an error, not a missing file */
	tmp_path(path, sizeof(path), "nsession.conf");
	write_file(path, "", 0644);
	snprintf(below, sizeof(below), "%s/x", path);
	cr_assert_eq(nsess_policy_load(below, &pf, &e), -ENOTDIR, "%s", e.msg);
	cr_expect_not_null(strstr(e.msg, "cannot open"), "%s", e.msg);
	cr_expect_eq(pf, UNTOUCHED);
}

/* ---- the sample config ---------------------------------------------------------- */

/*
 * etc/nsession.conf shows every key commented out with its default: as
 * shipped it changes nothing, and with every "#key = value" and
 * "#[section]" line uncommented it must still parse and still give the
 * defaults to a user no example section names.
 */
Test(policy, sample_config)
{
	struct nsess_policy_file *pf = NULL;
	struct nsess_error e = { 0 };
	struct nsess_policy p;
	char line[1100], buf[512], *text;
	size_t o = 0, cap = 65536;
	unsigned int keys = 0;
	FILE *fp;

	fp = fopen(SAMPLE, "re");
	cr_assert_not_null(fp, "%s: %s", SAMPLE, strerror(errno));
	cr_assert_eq(nsess_policy_parse(fp, SAMPLE, &pf, &e), 0, "%s", e.msg);
	nsess_policy_resolve(pf, "alice", NULL, 0, &p);
	describe(&p, buf, sizeof(buf));
	cr_expect_str_eq(buf, DEFAULT_LINE, "the sample as shipped must change nothing");
	nsess_policy_free(pf);

	text = malloc(cap);
	cr_assert_not_null(text);
	rewind(fp);
	while (fgets(line, sizeof(line), fp)) {
		const char *s = line;

		if (line[0] == '#' && ((line[1] >= 'a' && line[1] <= 'z') || line[1] == '[')) {
			s = line + 1;
			keys++;
		}
		cr_assert_lt(o + strlen(s), cap);
		memcpy(text + o, s, strlen(s));
		o += strlen(s);
	}
	fclose(fp);
	cr_expect_geq(keys, 9, "every key shown");
	cr_assert_eq(parse_mem(text, o, &pf, &e), 0, "uncommented sample: %s", e.msg);
	nsess_policy_resolve(pf, "nobody-in-the-examples", NULL, 0, &p);
	describe(&p, buf, sizeof(buf));
	cr_expect_str_eq(buf, DEFAULT_LINE, "the sample's defaults are the real ones");
	nsess_policy_free(pf);
	free(text);
}
