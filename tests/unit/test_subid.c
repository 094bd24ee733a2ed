/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_subid.c - the strict subuid/subgid parser, its loader and lookups.
 *
 * Malformed lines are one table: each line is parsed after a good line of
 * bob's, must become exactly one ERROR on line 2 with file:line, reason and
 * fix, must make lookup fail closed for its owner and must not block bob.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>

#include "testlib.h"
#include "subid.h"

#define TPATH "test/subuid"
#define GOOD NSESS_FIXTURES "/subid/good"

/* ---- helpers ---------------------------------------------------------- */

static int parse_mem(const char *data, size_t len, struct nsess_subid_file *f)
{
	FILE *fp = fmemopen((void *)data, len, "r");
	int r;

	cr_assert_not_null(fp, "fmemopen");
	r = nsess_subid_parse(fp, TPATH, f);
	fclose(fp);
	return r;
}

static int parse_str(const char *s, struct nsess_subid_file *f)
{
	return parse_mem(s, strlen(s), f);
}

/* Every byte of a message must be printable ASCII: no raw escapes. */
static void assert_printable(const char *msg)
{
	const unsigned char *p;

	for (p = (const unsigned char *)msg; *p; p++)
		cr_assert(*p >= 0x20 && *p < 0x7f, "raw byte 0x%02x in message: %s", *p, msg);
}

static const struct nsess_subid_problem *find_problem(const struct nsess_subid_file *f,
						      unsigned int line, int severity)
{
	size_t i;

	for (i = 0; i < f->n_problems; i++)
		if (f->problems[i].line == line && f->problems[i].severity == severity)
			return &f->problems[i];
	return NULL;
}

static size_t count_severity(const struct nsess_subid_file *f, int severity)
{
	size_t i, n = 0;

	for (i = 0; i < f->n_problems; i++)
		n += f->problems[i].severity == severity;
	return n;
}

static char tmp_root[64];

static void make_tmp_root(void)
{
	char etc[128];

	strcpy(tmp_root, "/tmp/nsess-subid-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp_root), "mkdtemp: %s", strerror(errno));
	snprintf(etc, sizeof(etc), "%s/etc", tmp_root);
	cr_assert_eq(mkdir(etc, 0755), 0);
}

static void rm_tmp_root(void)
{
	char p[192];
	const char *names[] = { "subuid", "subgid", "passwd", "group", "nsswitch.conf" };
	size_t i;

	if (!tmp_root[0])
		return;
	for (i = 0; i < NSESS_ARRAY_SIZE(names); i++) {
		snprintf(p, sizeof(p), "%s/etc/%s", tmp_root, names[i]);
		if (unlink(p) < 0 && errno == EISDIR)
			rmdir(p);
		rmdir(p);
	}
	snprintf(p, sizeof(p), "%s/etc", tmp_root);
	rmdir(p);
	rmdir(tmp_root);
	tmp_root[0] = '\0';
}

static void tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/etc/%s", tmp_root, name);
}

/* ---- malformed lines: one table -------------------------------------- */

struct bad_case {
	const char *name;
	const char *line;	/* NULL: generated (see bad_line()) */
	size_t len;		/* 0: strlen(line) */
	const char *user;	/* who the line belongs to; NULL: nobody */
	uid_t uid;
	const char *want;	/* must appear in the problem and in lookup's message */
	const char *want2;	/* optional second fragment */
};

static const struct bad_case bad_cases[] = {
	{ "count 0", "alice:100000:0\n", 0, "alice", 1000,
	  TPATH ":2: count 0 for 'alice': a range needs at least one id; fix the line to "
	  "OWNER:START:COUNT with COUNT >= 1 (for example alice:100000:65536)", NULL },
	{ "start 0", "alice:0:65536\n", 0, "alice", 1000,
	  "start 0 for 'alice': a range must never contain id 0 (root)", "START >= 1" },
	{ "ends at (uid_t)-1", "alice:4294901760:65536\n", 0, "alice", 1000,
	  "range 4294901760:65536 for 'alice' ends at 4294967295, which is (uid_t)-1", "START+COUNT-1 <= 4294967294" },
	{ "wraps", "alice:4294967295:2\n", 0, "alice", 1000,
	  "range 4294967295:2 for 'alice' ends at 4294967296, it wraps around past 4294967295",
	  "START+COUNT-1 <= 4294967294" },
	{ "wraps far", "alice:4000000000:1000000000\n", 0, "alice", 1000, "wraps around", NULL },
	{ "count up to -1", "alice:1:4294967295\n", 0, "alice", 1000, "ends at 4294967295", NULL },
	{ "start too large", "alice:4294967296:1\n", 0, "alice", 1000,
	  "START '4294967296' for 'alice' is larger than 4294967295", NULL },
	{ "count too large", "alice:1:99999999999\n", 0, "alice", 1000,
	  "COUNT '99999999999' for 'alice' is larger than 4294967295", NULL },
	{ "start not numeric", "alice:abc:65536\n", 0, "alice", 1000,
	  "START 'abc' for 'alice' is not a decimal number", "for example alice:100000:65536" },
	{ "count not numeric", "alice:100000:lots\n", 0, "alice", 1000,
	  "COUNT 'lots' for 'alice' is not a decimal number", NULL },
	{ "start negative", "alice:-1:65536\n", 0, "alice", 1000,
	  "START '-1' for 'alice' is negative", NULL },
	{ "count negative", "alice:100000:-65536\n", 0, "alice", 1000,
	  "COUNT '-65536' for 'alice' is negative", NULL },
	{ "leading plus", "alice:+100000:65536\n", 0, "alice", 1000, "has a leading '+'", NULL },
	{ "leading space", "alice: 100000:65536\n", 0, "alice", 1000, "has leading spaces", NULL },
	{ "trailing space", "alice:100000:65536 \n", 0, "alice", 1000, "has trailing spaces",
	  NULL },
	{ "leading zeros start", "alice:0100000:65536\n", 0, "alice", 1000,
	  "START '0100000' for 'alice' has leading zeros", NULL },
	{ "leading zeros count", "alice:100000:065536\n", 0, "alice", 1000,
	  "COUNT '065536' for 'alice' has leading zeros", NULL },
	{ "trailing junk", "alice:100000:65536abc\n", 0, "alice", 1000,
	  "COUNT '65536abc' for 'alice' has trailing junk after the number", NULL },
	{ "trailing comment", "alice:100000:65536 # main\n", 0, "alice", 1000,
	  "has trailing junk after the number", NULL },
	{ "hex", "alice:0x10000:65536\n", 0, "alice", 1000, "has trailing junk", NULL },
	{ "extra field", "alice:100000:65536:extra\n", 0, "alice", 1000,
	  "extra fields after COUNT (':extra')", "exactly three fields" },
	{ "missing field", "alice:100000\n", 0, "alice", 1000,
	  "'alice:100000' is not OWNER:START:COUNT (fields are missing)", NULL },
	{ "no colons", "alice 100000 65536\n", 0, "alice", 1000, "fields are missing", NULL },
	{ "empty start", "alice::65536\n", 0, "alice", 1000, "START '' for 'alice' is empty",
	  NULL },
	{ "empty owner", ":100000:65536\n", 0, NULL, 0,
	  TPATH ":2: empty owner; put the user name or uid before the first ':'", NULL },
	{ "space before owner", " alice:100000:65536\n", 0, "alice", 1000,
	  "owner ' alice': owner contains spaces", NULL },
	{ "NIS plus owner", "+alice:100000:65536\n", 0, "alice", 1000,
	  "owner '+alice': owner starts with '+' or '-'", NULL },
	{ "numeric owner zeros", "01000:100000:65536\n", 0, "someone", 1000,
	  "numeric owner has leading zeros", NULL },
	{ "numeric owner bad line", "1000:0:65536\n", 0, "alice", 1000, "start 0 for '1000'",
	  NULL },
	{ "numeric owner too big", "4294967295:100000:65536\n", 0, "someone", 4294967295u,
	  "numeric owner is not a valid uid", NULL },
	{ "CRLF", "alice:100000:65536\r\n", 0, "alice", 1000, "file has DOS line endings",
	  "sed -i" },
	{ "NUL byte", "alice:100000\0:65536\n", sizeof("alice:100000\0:65536\n") - 1, "alice",
	  1000, "line contains a NUL byte", NULL },
	{ "NUL byte in owner", "alice\0x:100000:65536\n", sizeof("alice\0x:100000:65536\n") - 1,
	  "alice", 1000, "NUL byte", NULL },
	{ "huge line", NULL, 0, "alice", 1000, "line is longer than 512 bytes",
	  "for example alice:100000:65536" },
	{ "escape in START", "alice:\033[31mred:65536\n", 0, "alice", 1000,
	  "START '\\x1b[31mred' for 'alice' is not a decimal number", NULL },
	{ "escape in owner", "ali\033[2Jce:100000:65536\n", 0, "ali\033[2Jce", 1000,
	  "owner 'ali\\x1b[2Jce': owner contains control characters", NULL },
	{ "backslash escaped", "alice:1\\n:65536\n", 0, "alice", 1000, "START '1\\x5cn'", NULL },
};

static char *bad_line(const struct bad_case *c, size_t *len)
{
	char *s;

	if (c->line) {
		*len = c->len ? c->len : strlen(c->line);
		s = malloc(*len);
		cr_assert_not_null(s);
		memcpy(s, c->line, *len);
		return s;
	}
	/* a line one byte too long to be read whole */
	*len = NSESS_SUBID_LINE_MAX + 2;
	s = malloc(*len);
	cr_assert_not_null(s);
	memset(s, '1', *len);
	memcpy(s, "alice:100000:", 13);
	s[*len - 1] = '\n';
	return s;
}

ParameterizedTestParameters(subid, malformed)
{
	static size_t idx[NSESS_ARRAY_SIZE(bad_cases)];
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(idx); i++)
		idx[i] = i;
	return cr_make_param_array(size_t, idx, NSESS_ARRAY_SIZE(idx));
}

ParameterizedTest(size_t *i, subid, malformed)
{
	static const char head[] = "bob:900000:65536\n";
	const struct bad_case *c = &bad_cases[*i];
	struct nsess_subid_file f = { 0 };
	const struct nsess_subid_problem *p;
	struct nsess_ranges out = { .n = 77 };
	struct nsess_error e = { 0 };
	size_t len;
	char *line = bad_line(c, &len), *buf;

	buf = malloc(sizeof(head) - 1 + len);
	cr_assert_not_null(buf);
	memcpy(buf, head, sizeof(head) - 1);
	memcpy(buf + sizeof(head) - 1, line, len);

	cr_assert_eq(parse_mem(buf, sizeof(head) - 1 + len, &f), 0, "[%s] parse", c->name);
	cr_assert_eq(f.n_entries, 1, "[%s] only bob's line is an entry", c->name);
	cr_assert_eq(count_severity(&f, NSESS_PROBLEM_ERROR), 1, "[%s] one error", c->name);
	p = find_problem(&f, 2, NSESS_PROBLEM_ERROR);
	cr_assert_not_null(p, "[%s] the error is on line 2", c->name);
	cr_expect(strncmp(p->msg, TPATH ":2: ", strlen(TPATH ":2: ")) == 0,
		  "[%s] starts with file:line: %s", c->name, p->msg);
	cr_expect_not_null(strstr(p->msg, c->want), "[%s] '%s' not in: %s", c->name, c->want,
			   p->msg);
	if (c->want2)
		cr_expect_not_null(strstr(p->msg, c->want2), "[%s] '%s' not in: %s", c->name,
				   c->want2, p->msg);
	cr_expect(strstr(p->msg, "for example") || strstr(p->msg, "convert it"),
		  "[%s] no fix hint: %s", c->name, p->msg);
	assert_printable(p->msg);

	if (c->user) {
		/* fail closed for the owner of the broken line ... */
		cr_assert_eq(nsess_subid_lookup(&f, c->user, c->uid, &out, &e), -EINVAL,
			     "[%s] lookup must fail closed", c->name);
		cr_expect_eq(e.err, EINVAL);
		cr_expect_not_null(strstr(e.msg, TPATH ":2:"), "[%s] %s", c->name, e.msg);
		cr_expect_not_null(strstr(e.msg, c->want), "[%s] %s", c->name, e.msg);
		cr_expect_eq(out.n, 77, "[%s] output written on failure", c->name);
	} else {
		/* ... and a line nobody can be blamed for blocks nobody */
		cr_expect_str_empty(p->owner, "[%s] blamed on '%s'", c->name, p->owner);
		cr_expect_eq(nsess_subid_lookup(&f, "alice", 1000, &out, &e), -ENOENT, "[%s]",
			     c->name);
	}
	/* a malformed line of another owner does not block bob */
	cr_assert_eq(nsess_subid_lookup(&f, "bob", 1001, &out, &e), 0, "[%s] bob: %s", c->name,
		     e.msg);
	cr_expect_eq(out.n, 1);
	cr_expect_eq(out.r[0].start, 900000);
	cr_expect_eq(out.r[0].count, 65536);

	nsess_subid_file_free(&f);
	free(buf);
	free(line);
}

/* ---- well-formed lines at the edges ---------------------------------- */

struct good_case {
	const char *line;
	uint32_t start, count;
};

static const struct good_case good_cases[] = {
	{ "alice:4294901759:65536\n", 4294901759u, 65536 },	/* ends exactly at 4294967294 */
	{ "alice:4294967294:1\n", 4294967294u, 1 },
	{ "alice:1:4294967294\n", 1, 4294967294u },
	{ "alice:1:1\n", 1, 1 },
	{ "alice:100000:65536", 100000, 65536 },		/* no newline at EOF */
	{ "1000:100000:65536\n", 100000, 65536 },		/* numeric owner */
	{ "# comment\n\n   \nalice:100000:65536\n", 100000, 65536 },
};

Test(subid, boundary_valid)
{
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(good_cases); i++) {
		const struct good_case *c = &good_cases[i];
		struct nsess_subid_file f = { 0 };
		struct nsess_ranges out = { 0 };
		struct nsess_error e = { 0 };

		cr_assert_eq(parse_str(c->line, &f), 0);
		cr_expect_eq(f.n_problems, 0, "'%s': %s", c->line,
			     f.problems ? f.problems[0].msg : "");
		/* a clean file never pays for the 40 KiB problem list */
		cr_expect_null(f.problems, "'%s': problem list allocated", c->line);
		cr_assert_eq(nsess_subid_lookup(&f, "alice", 1000, &out, &e), 0, "'%s': %s",
			     c->line, e.msg);
		cr_expect_eq(out.n, 1);
		cr_expect_eq(out.r[0].start, c->start, "'%s'", c->line);
		cr_expect_eq(out.r[0].count, c->count, "'%s'", c->line);
		nsess_subid_file_free(&f);
	}
}

Test(subid, boundary_one_past)
{
	struct nsess_subid_file f = { 0 };

	/* one more id than the boundary case above */
	cr_assert_eq(parse_str("alice:4294901759:65537\n", &f), 0);
	cr_assert_eq(f.n_entries, 0);
	cr_assert_eq(f.n_problems, 1);
	cr_expect_not_null(strstr(f.problems[0].msg, "ends at 4294967295"), "%s",
			   f.problems[0].msg);
	nsess_subid_file_free(&f);
}

Test(subid, line_length_boundary)
{
	char line[NSESS_SUBID_LINE_MAX + 2];
	struct nsess_subid_file f = { 0 };

	/* exactly NSESS_SUBID_LINE_MAX bytes is read whole (and fails on content) */
	memset(line, 'a', NSESS_SUBID_LINE_MAX);
	memcpy(line + NSESS_SUBID_LINE_MAX - 4, ":1:1", 4);
	line[NSESS_SUBID_LINE_MAX] = '\n';
	cr_assert_eq(parse_mem(line, NSESS_SUBID_LINE_MAX + 1, &f), 0);
	cr_assert_eq(f.n_problems, 1);
	cr_expect_not_null(strstr(f.problems[0].msg, "owner is longer than 255 bytes"), "%s",
			   f.problems[0].msg);
	nsess_subid_file_free(&f);

	/* one byte more and the line is refused as too long */
	memset(line, 'a', NSESS_SUBID_LINE_MAX + 1);
	memcpy(line + NSESS_SUBID_LINE_MAX - 3, ":1:1", 4);
	line[NSESS_SUBID_LINE_MAX + 1] = '\n';
	cr_assert_eq(parse_mem(line, NSESS_SUBID_LINE_MAX + 2, &f), 0);
	cr_assert_eq(f.n_problems, 1);
	cr_expect_not_null(strstr(f.problems[0].msg, TPATH ":1: line is longer than 512 bytes"),
			   "%s", f.problems[0].msg);
	nsess_subid_file_free(&f);
}

/* ---- duplicates, merges, overlaps ------------------------------------ */

Test(subid, duplicates_warn)
{
	struct nsess_subid_file f = { 0 };
	struct nsess_ranges out = { 0 };
	struct nsess_error e = { 0 };
	const struct nsess_subid_problem *p;

	cr_assert_eq(parse_str("alice:100000:65536\nbob:300000:10\nalice:100000:65536\n", &f), 0);
	cr_assert_eq(f.n_entries, 3);
	cr_assert_eq(f.n_problems, 1);
	p = find_problem(&f, 3, NSESS_PROBLEM_WARN);
	cr_assert_not_null(p);
	cr_expect_str_eq(p->msg, TPATH ":3: duplicate of line 1 ('alice:100000:65536'); delete "
				  "one of the two lines");
	cr_assert_eq(nsess_subid_lookup(&f, "alice", 1000, &out, &e), 0, "%s", e.msg);
	cr_expect_eq(out.n, 1);
	nsess_subid_file_free(&f);
}

Test(subid, same_owner_merged)
{
	struct nsess_subid_file f = { 0 };
	struct nsess_ranges out = { 0 };
	struct nsess_error e = { 0 };
	const struct nsess_subid_problem *p;

	/* overlapping lines (one by name, one by uid), an adjacent one, a separate one */
	cr_assert_eq(parse_str("alice:700000:10\n"
			       "alice:100000:65536\n"
			       "alice:150000:65536\n"
			       "alice:215536:100\n",
			       &f),
		     0);
	cr_assert_eq(count_severity(&f, NSESS_PROBLEM_ERROR), 0);
	p = find_problem(&f, 3, NSESS_PROBLEM_WARN);
	cr_assert_not_null(p);
	cr_expect_not_null(strstr(p->msg, "overlaps line 2"), "%s", p->msg);
	cr_expect_not_null(strstr(p->msg, "merged"), "%s", p->msg);
	cr_assert_eq(nsess_subid_lookup(&f, "alice", 1000, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(out.n, 2);
	cr_expect_eq(out.r[0].start, 100000);
	cr_expect_eq(out.r[0].count, 215636 - 100000);
	cr_expect_eq(out.r[1].start, 700000);
	cr_expect_eq(out.r[1].count, 10);
	cr_expect_eq(nsess_ranges_total(&out), 215636 - 100000 + 10);
	nsess_subid_file_free(&f);

	/* the same user by name and by uid: merged, not a collision */
	cr_assert_eq(parse_str("alice:100000:65536\n1000:120000:65536\n", &f), 0);
	cr_assert_eq(nsess_subid_lookup(&f, "alice", 1000, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(out.n, 1);
	cr_expect_eq(out.r[0].count, 120000 + 65536 - 100000);
	nsess_subid_file_free(&f);
}

Test(subid, cross_owner_overlap)
{
	struct nsess_subid_file f = { 0 };
	struct nsess_ranges out = { .n = 77 };
	struct nsess_error e = { 0 };
	const char *path = NSESS_FIXTURES "/subid/overlap/etc/subuid";
	char want[512];

	cr_assert_eq(nsess_subid_load(NSESS_FIXTURES "/subid/overlap", NSESS_SUBUID, &f, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(nsess_subid_lookup(&f, "alice", 1000, &out, &e), -EEXIST);
	snprintf(want, sizeof(want),
		 "%s:1: range 100000-165535 of 'alice' overlaps %s:3 (range 165000-230535 of "
		 "'bob'); owners must not share host ids",
		 path, path);
	cr_expect_not_null(strstr(e.msg, want), "got: %s\nwant: %s", e.msg, want);
	cr_expect_eq(out.n, 77);

	cr_assert_eq(nsess_subid_lookup(&f, "bob", 1001, &out, &e), -EEXIST);
	cr_expect_not_null(strstr(e.msg, ":3: range 165000-230535 of 'bob' overlaps"), "%s",
			   e.msg);
	cr_expect_not_null(strstr(e.msg, ":1 (range 100000-165535 of 'alice')"), "%s", e.msg);

	/* an uninvolved owner still works */
	cr_assert_eq(nsess_subid_lookup(&f, "carol", 1002, &out, &e), 0, "%s", e.msg);
	cr_expect_eq(out.n, 1);

	/* the file record shows the collision too, blamed on nobody */
	cr_assert_eq(count_severity(&f, NSESS_PROBLEM_ERROR), 1);
	cr_expect_str_empty(f.problems[0].owner);
	cr_expect_not_null(strstr(f.problems[0].msg, "overlaps line 1"), "%s", f.problems[0].msg);
	nsess_subid_file_free(&f);
}

Test(subid, too_many_ranges)
{
	char *buf = malloc(70 * 32), *p = buf;
	struct nsess_subid_file f = { 0 };
	struct nsess_ranges out = { 0 };
	struct nsess_error e = { 0 };
	int i;

	cr_assert_not_null(buf);
	for (i = 0; i < NSESS_RANGES_MAX; i++)
		p += sprintf(p, "alice:%d:10\n", 100000 + i * 100);
	cr_assert_eq(parse_str(buf, &f), 0);
	cr_assert_eq(nsess_subid_lookup(&f, "alice", 1000, &out, &e), 0, "%s", e.msg);
	cr_expect_eq(out.n, NSESS_RANGES_MAX);
	cr_expect_eq(nsess_ranges_total(&out), NSESS_RANGES_MAX * 10);
	nsess_subid_file_free(&f);

	p += sprintf(p, "alice:%d:10\n", 900000);
	cr_assert_eq(parse_str(buf, &f), 0);
	cr_assert_eq(nsess_subid_lookup(&f, "alice", 1000, &out, &e), -E2BIG);
	cr_expect_not_null(strstr(e.msg, "65 separate ranges, more than 64"), "%s", e.msg);
	nsess_subid_file_free(&f);
	free(buf);
}

/* ---- fixture trees --------------------------------------------------- */

Test(subid, good_tree)
{
	struct nsess_subid_file f = { 0 };
	struct nsess_ranges out = { 0 };
	struct nsess_error e = { 0 };
	const struct nsess_subid_problem *p;

	cr_assert_eq(nsess_subid_load(GOOD, NSESS_SUBUID, &f, &e), 0, "%s", e.msg);
	cr_expect(f.present);
	cr_expect_str_eq(f.path, GOOD "/etc/subuid");
	cr_expect_eq(f.n_entries, 8);
	cr_expect_eq(count_severity(&f, NSESS_PROBLEM_ERROR), 0, "%s",
		     f.problems ? f.problems[0].msg : "");

	/* two lines, out of order in the file, come back sorted */
	cr_assert_eq(nsess_subid_lookup(&f, "alice", 1000, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(out.n, 2);
	cr_expect_eq(out.r[0].start, 100000);
	cr_expect_eq(out.r[1].start, 600000);

	/* bob is named only by uid */
	cr_assert_eq(nsess_subid_lookup(&f, "bob", 1001, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(out.n, 2);
	cr_expect_eq(out.r[0].start, 200000);
	cr_expect_eq(out.r[0].count, 65536);
	cr_expect_eq(out.r[1].start, 300000);
	cr_expect_eq(out.r[1].count, 1000);
	cr_expect_eq(nsess_subid_lookup(&f, "bob", 4242, &out, &e), -ENOENT);

	/* carol: overlap merged, duplicate dropped, both reported as warnings */
	cr_assert_eq(nsess_subid_lookup(&f, "carol", 1002, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(out.n, 1);
	cr_expect_eq(out.r[0].start, 400000);
	cr_expect_eq(out.r[0].count, 1500);
	p = find_problem(&f, 12, NSESS_PROBLEM_WARN);
	cr_assert_not_null(p);
	cr_expect_not_null(strstr(p->msg, "duplicate of line 10"), "%s", p->msg);
	p = find_problem(&f, 11, NSESS_PROBLEM_WARN);
	cr_assert_not_null(p);
	cr_expect_not_null(strstr(p->msg, "overlaps line 10"), "%s", p->msg);

	/* the boundary-valid range */
	cr_assert_eq(nsess_subid_lookup(&f, "dave", 1003, &out, &e), 0, "%s", e.msg);
	cr_expect_eq(out.r[0].start, 4294901759u);

	cr_assert_eq(nsess_subid_lookup(&f, "zed", 2000, &out, &e), -ENOENT);
	cr_expect_not_null(strstr(e.msg, "no line for 'zed' (uid 2000)"), "%s", e.msg);
	nsess_subid_file_free(&f);

	cr_assert_eq(nsess_subid_load(GOOD "/", NSESS_SUBGID, &f, &e), 0, "%s", e.msg);
	cr_expect_str_eq(f.path, GOOD "/etc/subgid");
	cr_expect_eq(f.n_entries, 2);
	cr_assert_eq(nsess_subid_lookup(&f, "bob", 1001, &out, &e), 0, "%s", e.msg);
	cr_expect_eq(out.r[0].start, 200000);
	nsess_subid_file_free(&f);
}

Test(subid, bad_line_of_other_owner)
{
	struct nsess_subid_file f = { 0 };
	struct nsess_ranges out = { 0 };
	struct nsess_error e = { 0 };

	cr_assert_eq(nsess_subid_load(NSESS_FIXTURES "/subid/badother", NSESS_SUBUID, &f, &e), 0);
	cr_expect_eq(count_severity(&f, NSESS_PROBLEM_ERROR), 2);
	cr_assert_eq(nsess_subid_lookup(&f, "alice", 1000, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(nsess_subid_lookup(&f, "bob", 1001, &out, &e), 0, "%s", e.msg);
	cr_assert_eq(nsess_subid_lookup(&f, "carol", 1002, &out, &e), -EINVAL);
	cr_expect_not_null(strstr(e.msg, "/badother/etc/subuid:2: count 0 for 'carol'"), "%s",
			   e.msg);
	/* dave's broken line names him only by uid */
	cr_assert_eq(nsess_subid_lookup(&f, "dave", 1003, &out, &e), -EINVAL);
	cr_expect_not_null(strstr(e.msg, "subuid:3: START 'abc' for '1003'"), "%s", e.msg);
	nsess_subid_file_free(&f);
}

Test(subid, hostile_tree_escaped)
{
	struct nsess_subid_file f = { 0 };
	struct nsess_ranges out = { 0 };
	struct nsess_error e = { 0 };
	size_t i;

	cr_assert_eq(nsess_subid_load(NSESS_FIXTURES "/subid/hostile", NSESS_SUBUID, &f, &e), 0);
	cr_assert_eq(count_severity(&f, NSESS_PROBLEM_ERROR), 2);
	for (i = 0; i < f.n_problems; i++)
		assert_printable(f.problems[i].msg);

	cr_assert_eq(nsess_subid_lookup(&f, "mallory", 1004, &out, &e), -EINVAL);
	assert_printable(e.msg);
	cr_expect_not_null(strstr(e.msg, "subuid:2: START '\\x1b]0;pwned\\x07\\x1b[2J' for "
					 "'mallory' is not a decimal number"),
			   "%s", e.msg);

	cr_assert_eq(nsess_subid_lookup(&f, "bob", 1001, &out, &e), -EINVAL);
	cr_expect_not_null(strstr(e.msg, "subuid:3: file has DOS line endings"), "%s", e.msg);

	cr_assert_eq(nsess_subid_lookup(&f, "alice", 1000, &out, &e), 0, "%s", e.msg);

	/* a hostile user name is escaped in lookup's own messages too */
	cr_assert_eq(nsess_subid_lookup(&f, "x\033[2J", 3000, &out, &e), -ENOENT);
	assert_printable(e.msg);
	cr_expect_not_null(strstr(e.msg, "'x\\x1b[2J'"), "%s", e.msg);
	nsess_subid_file_free(&f);
}

Test(subid, missing_file)
{
	struct nsess_subid_file f = { 0 };
	struct nsess_ranges out = { 0 };
	struct nsess_error e = { 0 };

	cr_assert_eq(nsess_subid_load(NSESS_FIXTURES "/subid/nosubid", NSESS_SUBUID, &f, &e), 0);
	cr_expect_not(f.present);
	cr_expect_eq(f.n_entries, 0);
	cr_assert_eq(nsess_subid_lookup(&f, "alice", 1000, &out, &e), -ENOENT);
	cr_expect_not_null(strstr(e.msg, "/nosubid/etc/subuid does not exist"), "%s", e.msg);
	nsess_subid_file_free(&f);
}

/* ---- the loader against hostile file types ---------------------------- */

Test(subid, fifo_refused, .init = make_tmp_root, .fini = rm_tmp_root)
{
	NSESS_TEST_DEADLINE(10);
	struct nsess_subid_file f = { .n_entries = 99 };
	struct nsess_error e = { 0 };
	uint32_t *ids = NULL;
	size_t n = 0;
	char p[192];

	tmp_path(p, sizeof(p), "subuid");
	cr_assert_eq(mkfifo(p, 0644), 0, "mkfifo: %s", strerror(errno));
	/* nobody ever opens the writing end: a blocking open would hang here */
	cr_assert_eq(nsess_subid_load(tmp_root, NSESS_SUBUID, &f, &e), -EINVAL);
	cr_expect_not_null(strstr(e.msg, "/etc/subuid is a FIFO"), "%s", e.msg);
	cr_expect_eq(f.n_entries, 99, "output written on failure");

	tmp_path(p, sizeof(p), "passwd");
	cr_assert_eq(mkfifo(p, 0644), 0);
	cr_expect_eq(nsess_passwd_ids(tmp_root, NSESS_SUBUID, &ids, &n), -EINVAL);
}

Test(subid, symlink_refused, .init = make_tmp_root, .fini = rm_tmp_root)
{
	struct nsess_subid_file f = { 0 };
	struct nsess_error e = { 0 };
	char p[192];

	tmp_path(p, sizeof(p), "subuid");
	cr_assert_eq(symlink(GOOD "/etc/subuid", p), 0);
	cr_assert_eq(nsess_subid_load(tmp_root, NSESS_SUBUID, &f, &e), -EINVAL);
	cr_expect_not_null(strstr(e.msg, "/etc/subuid is a symbolic link"), "%s", e.msg);
	cr_expect_not_null(strstr(e.msg, "replace it with a regular file"), "%s", e.msg);
}

Test(subid, directory_refused, .init = make_tmp_root, .fini = rm_tmp_root)
{
	struct nsess_subid_file f = { 0 };
	struct nsess_error e = { 0 };
	char p[192];

	tmp_path(p, sizeof(p), "subgid");
	cr_assert_eq(mkdir(p, 0755), 0);
	cr_assert_eq(nsess_subid_load(tmp_root, NSESS_SUBGID, &f, &e), -EINVAL);
	cr_expect_not_null(strstr(e.msg, "/etc/subgid is a directory"), "%s", e.msg);
}

/* Write alice's line and then comment padding up to exactly @size bytes. */
static void write_padded(const char *path, size_t size)
{
	static const char head[] = "alice:100000:65536\n";
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
}

Test(subid, huge_file, .init = make_tmp_root, .fini = rm_tmp_root)
{
	NSESS_TEST_DEADLINE(30);
	struct nsess_subid_file f = { 0 };
	struct nsess_ranges out = { 0 };
	struct nsess_error e = { 0 };
	char p[192];

	tmp_path(p, sizeof(p), "subuid");
	write_padded(p, 16u * 1024 * 1024);
	cr_assert_eq(nsess_subid_load(tmp_root, NSESS_SUBUID, &f, &e), 0, "%s", e.msg);
	cr_expect_not(f.truncated, "exactly 16 MiB is allowed");
	cr_assert_eq(nsess_subid_lookup(&f, "alice", 1000, &out, &e), 0, "%s", e.msg);
	nsess_subid_file_free(&f);

	write_padded(p, 16u * 1024 * 1024 + 1);
	cr_assert_eq(nsess_subid_load(tmp_root, NSESS_SUBUID, &f, &e), 0, "%s", e.msg);
	cr_expect(f.truncated);
	cr_assert_eq(nsess_subid_lookup(&f, "alice", 1000, &out, &e), -EINVAL);
	cr_expect_not_null(strstr(e.msg, "/etc/subuid:"), "%s", e.msg);
	cr_expect_not_null(strstr(e.msg, "file is larger than 16 MiB"), "%s", e.msg);
	cr_expect_eq(nsess_subid_lookup(&f, "bob", 1001, &out, &e), -EINVAL,
		     "a cut-short file fails closed for everyone");
	nsess_subid_file_free(&f);
}

Test(subid, too_many_entries)
{
	NSESS_TEST_DEADLINE(30);
	size_t cap = (NSESS_SUBID_ENTRIES_MAX + 2) * 24, len = 0;
	char *buf = malloc(cap);
	struct nsess_subid_file f = { 0 };
	struct nsess_ranges out = { 0 };
	struct nsess_error e = { 0 };
	int i;

	cr_assert_not_null(buf);
	len += (size_t)sprintf(buf, "alice:1:1000\n");
	for (i = 1; i < NSESS_SUBID_ENTRIES_MAX; i++)
		len += (size_t)sprintf(buf + len, "u%d:%d:1\n", i, 100000 + i);
	cr_assert_eq(parse_mem(buf, len, &f), 0);
	cr_expect_eq(f.n_entries, NSESS_SUBID_ENTRIES_MAX);
	cr_expect_not(f.truncated);
	cr_expect_eq(nsess_subid_lookup(&f, "alice", 1000, &out, &e), 0, "%s", e.msg);
	nsess_subid_file_free(&f);

	len += (size_t)sprintf(buf + len, "one:%d:1\n", 50000);
	cr_assert_eq(parse_mem(buf, len, &f), 0);
	cr_expect(f.truncated);
	cr_assert_eq(nsess_subid_lookup(&f, "alice", 1000, &out, &e), -EINVAL);
	cr_expect_not_null(strstr(e.msg, TPATH ":65537: more than 65536 entries"), "%s", e.msg);
	nsess_subid_file_free(&f);
	free(buf);
}

Test(subid, problems_overflow_fails_closed)
{
	char *buf = malloc(100 * 32), *p = buf;
	struct nsess_subid_file f = { 0 };
	struct nsess_ranges out = { 0 };
	struct nsess_error e = { 0 };
	int i;

	/* 70 broken lines of others, then alice's own broken line */
	cr_assert_not_null(buf);
	p += sprintf(p, "carol:900000:10\n");
	for (i = 0; i < 70; i++)
		p += sprintf(p, "u%d:0:1\n", i);
	p += sprintf(p, "alice:0:1\n");
	cr_assert_eq(parse_str(buf, &f), 0);
	cr_expect_eq(f.n_problems, NSESS_SUBID_PROBLEMS_MAX);
	cr_expect_eq(f.n_problems_dropped, 71 - NSESS_SUBID_PROBLEMS_MAX);
	cr_expect(f.errors_dropped);
	cr_assert_eq(nsess_subid_lookup(&f, "alice", 1000, &out, &e), -EINVAL);
	cr_expect_not_null(strstr(e.msg, "more than 64 malformed lines"), "%s", e.msg);
	cr_expect_eq(nsess_subid_lookup(&f, "carol", 1002, &out, &e), -EINVAL);
	nsess_subid_file_free(&f);

	/* warnings make room for an error that blames someone */
	p = buf;
	for (i = 0; i < 70; i++)
		p += sprintf(p, "bob:900000:10\n");
	p += sprintf(p, "alice:0:1\n");
	cr_assert_eq(parse_str(buf, &f), 0);
	cr_expect_not(f.errors_dropped);
	cr_assert_eq(nsess_subid_lookup(&f, "alice", 1000, &out, &e), -EINVAL);
	cr_expect_not_null(strstr(e.msg, TPATH ":71: start 0 for 'alice'"), "%s", e.msg);
	cr_expect_eq(nsess_subid_lookup(&f, "bob", 1001, &out, &e), 0, "%s", e.msg);
	nsess_subid_file_free(&f);
	free(buf);
}

/* ---- nsswitch.conf: is there a subid service worth asking? ------------- */

static void write_nsswitch(const char *text)
{
	char p[192];
	FILE *fp;

	tmp_path(p, sizeof(p), "nsswitch.conf");
	fp = fopen(p, "we");
	cr_assert_not_null(fp);
	cr_assert_eq(fputs(text, fp) >= 0, 1);
	cr_assert_eq(fclose(fp), 0);
}

Test(subid, nss_source, .init = make_tmp_root, .fini = rm_tmp_root)
{
	static const struct {
		const char *text;
		int want;
		const char *service;
	} cases[] = {
		{ "passwd: files systemd\ngroup: files\n", 0, "" },
		{ "subid: sss\n", 1, "sss" },
		{ "passwd: files\n  subid:\tsss [NOTFOUND=return] files\n", 1, "sss" },
		{ "subid:sss\n", 1, "sss" },
		{ "subid : freeipa # comment\n", 1, "freeipa" },
		{ "subid: files\n", 0, "" },
		{ "# subid: sss\n", 0, "" },
		{ "subid:\n", 0, "" },
		{ "subids: sss\nsubuid: sss\n", 0, "" },
		{ "subid: [NOTFOUND=return]\n", 0, "" },
	};
	char svc[64];
	size_t i;

	/* no nsswitch.conf at all: nothing to ask */
	cr_expect_eq(nsess_subid_nss_source(tmp_root, svc, sizeof(svc)), 0);
	for (i = 0; i < NSESS_ARRAY_SIZE(cases); i++) {
		write_nsswitch(cases[i].text);
		memset(svc, 'x', sizeof(svc));
		cr_expect_eq(nsess_subid_nss_source(tmp_root, svc, sizeof(svc)), cases[i].want,
			     "case %zu: %s", i, cases[i].text);
		cr_expect_str_eq(svc, cases[i].service, "case %zu", i);
	}
	/* a service name longer than the caller's buffer is an error, not a cut */
	write_nsswitch("subid: averyveryverylongservicename\n");
	cr_expect_eq(nsess_subid_nss_source(tmp_root, svc, 8), -ENAMETOOLONG);
}

Test(subid, nss_source_not_a_file, .init = make_tmp_root, .fini = rm_tmp_root)
{
	char p[192], svc[64];

	tmp_path(p, sizeof(p), "nsswitch.conf");
	cr_assert_eq(mkfifo(p, 0644), 0);
	/* a FIFO must not block the lookup */
	cr_expect_eq(nsess_subid_nss_source(tmp_root, svc, sizeof(svc)), -EINVAL);
}

/* ---- passwd/group ids, id collisions, totals -------------------------- */

Test(subid, passwd_ids)
{
	static const uint32_t want_uids[] = { 0, 1, 1000, 1001, 1002, 1003, 100500 };
	static const uint32_t want_gids[] = { 0, 10, 100, 1000 };
	uint32_t *ids = (uint32_t *)1;
	size_t n = 99, i;

	cr_assert_eq(nsess_passwd_ids(GOOD, NSESS_SUBUID, &ids, &n), 0);
	cr_assert_eq(n, NSESS_ARRAY_SIZE(want_uids));
	for (i = 0; i < n; i++)
		cr_expect_eq(ids[i], want_uids[i], "uid %zu: %u", i, ids[i]);
	free(ids);

	cr_assert_eq(nsess_passwd_ids(GOOD, NSESS_SUBGID, &ids, &n), 0);
	cr_assert_eq(n, NSESS_ARRAY_SIZE(want_gids));
	for (i = 0; i < n; i++)
		cr_expect_eq(ids[i], want_gids[i], "gid %zu: %u", i, ids[i]);
	free(ids);

	/* no group file: no ids, not an error */
	cr_assert_eq(nsess_passwd_ids(NSESS_FIXTURES "/subid/nosubid", NSESS_SUBGID, &ids, &n), 0);
	cr_expect_eq(n, 0);
	free(ids);
}

Test(subid, check_ids)
{
	struct nsess_ranges r = { .r = { { 100000, 65536 }, { 600000, 10 } }, .n = 2 };
	static const uint32_t ids[] = { 0, 1000, 100500, 600009 };
	struct nsess_error e = { 0 };

	cr_assert_eq(nsess_subid_check_ids(&r, ids, 2, 1000, "subuid", &e), 0);
	cr_assert_eq(nsess_subid_check_ids(&r, ids, 4, 1000, "subuid", &e), -EEXIST);
	cr_expect_not_null(strstr(e.msg, "subuid range 100000-165535 contains uid 100500 of "
					 "another account (in /etc/passwd)"),
			   "%s", e.msg);
	cr_assert_eq(nsess_subid_check_ids(&r, ids, 4, 1000, "subgid", &e), -EEXIST);
	cr_expect_not_null(strstr(e.msg, "subgid range 100000-165535 contains gid 100500 of "
					 "another group (in /etc/group)"),
			   "%s", e.msg);
	/* the user's own id inside the range is fine; the next range still counts */
	cr_assert_eq(nsess_subid_check_ids(&r, ids, 4, 100500, "subuid", &e), -EEXIST);
	cr_expect_not_null(strstr(e.msg, "600000-600009 contains uid 600009"), "%s", e.msg);
	cr_assert_eq(nsess_subid_check_ids(&r, NULL, 0, 0, "subuid", &e), 0);

	/* ranges from other sources are checked against root and (uid_t)-1 */
	r.r[0] = (struct nsess_range){ 0, 10 };
	cr_assert_eq(nsess_subid_check_ids(&r, NULL, 0, 0, "subuid", &e), -EEXIST);
	cr_expect_not_null(strstr(e.msg, "contains id 0 (root)"), "%s", e.msg);
	r.r[0] = (struct nsess_range){ 4294967295u, 1 };
	cr_assert_eq(nsess_subid_check_ids(&r, NULL, 0, 0, "subuid", &e), -EEXIST);
	cr_expect_not_null(strstr(e.msg, "4294967295 ((uid_t)-1)"), "%s", e.msg);
}

Test(subid, check_ids_against_fixture)
{
	struct nsess_subid_file f = { 0 };
	struct nsess_ranges out = { 0 };
	struct nsess_error e = { 0 };
	uint32_t *ids = NULL;
	size_t n = 0;

	/* svc (uid 100500) lives inside alice's delegation */
	cr_assert_eq(nsess_subid_load(GOOD, NSESS_SUBUID, &f, &e), 0);
	cr_assert_eq(nsess_subid_lookup(&f, "alice", 1000, &out, &e), 0);
	cr_assert_eq(nsess_passwd_ids(GOOD, NSESS_SUBUID, &ids, &n), 0);
	cr_expect_eq(nsess_subid_check_ids(&out, ids, n, 1000, "subuid", &e), -EEXIST);
	cr_expect_not_null(strstr(e.msg, "uid 100500"), "%s", e.msg);
	cr_assert_eq(nsess_subid_lookup(&f, "bob", 1001, &out, &e), 0);
	cr_expect_eq(nsess_subid_check_ids(&out, ids, n, 1001, "subuid", &e), 0, "%s", e.msg);
	free(ids);
	nsess_subid_file_free(&f);
}

Test(subid, ranges_total_and_merge)
{
	struct nsess_ranges r = { .r = { { 1, 4294967294u }, { 1, 4294967294u } }, .n = 2 };
	struct nsess_range m[] = {
		{ 500, 10 }, { 100, 50 }, { 150, 50 }, { 120, 5 }, { 505, 100 }, { 1000, 1 },
	};
	struct nsess_ranges empty = { 0 };

	cr_expect_eq(nsess_ranges_total(&r), 2ull * 4294967294u);
	cr_expect_eq(nsess_ranges_total(&empty), 0);
	cr_expect_eq(nsess_ranges_total(NULL), 0);

	cr_assert_eq(nsess_range_merge(m, NSESS_ARRAY_SIZE(m)), 3);
	cr_expect_eq(m[0].start, 100);
	cr_expect_eq(m[0].count, 100);
	cr_expect_eq(m[1].start, 500);
	cr_expect_eq(m[1].count, 105);
	cr_expect_eq(m[2].start, 1000);
	cr_expect_eq(m[2].count, 1);
	cr_expect_eq(nsess_range_merge(NULL, 0), 0);
}

#ifdef HAVE_LIBSUBID
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void redirect_stderr(void)
{
	cr_redirect_stderr();
}

Test(subid, nss_unknown_user_quiet, .init = redirect_stderr)
{
	struct nsess_ranges out = { .n = 77 };
	struct nsess_error e = { 0 };
	int before = count_fds(), r;

	r = nsess_subid_nss_lookup("nsess-no-such-user-7f3a", NSESS_SUBUID, &out, &e);
	cr_expect(r == -ENOENT || r == -EIO, "r=%d: %s", r, e.msg);
	cr_expect_eq(out.n, 77);
	r = nsess_subid_nss_lookup("nsess-no-such-user-7f3a", NSESS_SUBGID, &out, &e);
	cr_expect(r == -ENOENT || r == -EIO, "r=%d: %s", r, e.msg);
	cr_expect_eq(count_fds(), before, "libsubid left an fd open");
	cr_expect_eq(nsess_subid_nss_lookup("", NSESS_SUBUID, &out, &e), -EINVAL);
	fflush(stderr);
	cr_expect_stderr_eq_str("", "libsubid printed something");
}
#endif
