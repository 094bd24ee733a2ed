/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_idmap.c - the id map planner, validator and renderers (pure code).
 *
 * Plans are compared as the exact text the kernel would get in uid_map /
 * gid_map, so a test failure shows the map an admin would see.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "idmap.h"
#include "testlib.h"

#define R1(s, c) { .r = { { (s), (c) } }, .n = 1 }

static const struct nsess_ranges r_main = R1(400000, 65536);
static const struct nsess_ranges r_small = R1(400000, 1000);
static const struct nsess_ranges r_two = { .r = { { 100000, 500 }, { 200000, 65536 } }, .n = 2 };
static const struct nsess_ranges r_adjacent = { .r = { { 100000, 10 }, { 100010, 10 } }, .n = 2 };
static const struct nsess_ranges r_root_two = { .r = { { 100000, 10 }, { 300000, 65536 } },
						.n = 2 };
static const struct nsess_ranges r_empty = { .n = 0 };
static const struct nsess_ranges r_zero_count = R1(400000, 0);
static const struct nsess_ranges r_has_1003 = R1(1000, 65536);
static const struct nsess_ranges r_start0 = R1(0, 65536);
static const struct nsess_ranges r_past_end = R1(4294967200u, 200);

static const uint32_t g_example[] = { 1003, 100 };
static const uint32_t g_primary[] = { 1003 };
static const uint32_t g_with0[] = { 1003, 0, 100 };
static const uint32_t g_adjacent[] = { 1003, 100, 101, 102, 1004 };
static const uint32_t g_big_user[] = { 100000 };
static const uint32_t g_in_range[] = { 1003, 400050 };
static const uint32_t g_minus1[] = { 1003, 4294967295u };

#define GROUPS(g) .groups = (g), .n_groups = NSESS_ARRAY_SIZE(g)

/* Render both maps of a plan; asserts they fit. */
static void render_plan(const struct nsess_idmap_plan *p, char *u, char *g, size_t len)
{
	cr_assert_geq(nsess_map_render(&p->uid, u, len), 0);
	cr_assert_geq(nsess_map_render(&p->gid, g, len), 0);
}

/* ---- the plans that must come out exactly so ------------------------------ */

struct plan_ok_case {
	const char *name;
	struct nsess_idmap_req req;
	const char *uid_map;
	const char *gid_map;
	bool deny;
	uint32_t inside_uid, inside_gid;
};

static const struct plan_ok_case plan_ok_cases[] = {
	{
		/* DESIGN.md section 2, measured on a real system: byte for byte */
		"keep-id verified example",
		{ .layout = NSESS_LAYOUT_KEEP_ID, .uid = 1003, .gid = 1003, GROUPS(g_example),
		  .subuid = &r_main, .subgid = &r_main },
		"0 400000 1003\n1003 1003 1\n1004 401003 64532\n",
		"0 400000 100\n100 100 1\n101 400100 902\n1003 1003 1\n1004 401002 64532\n",
		false, 1003, 1003,
	},
	{
		"keep-id, supplementary gid 0 dropped, setgroups denied",
		{ .layout = NSESS_LAYOUT_KEEP_ID, .uid = 1003, .gid = 1003, GROUPS(g_with0),
		  .subuid = &r_main, .subgid = &r_main },
		"0 400000 1003\n1003 1003 1\n1004 401003 64532\n",
		"0 400000 100\n100 100 1\n101 400100 902\n1003 1003 1\n1004 401002 64532\n",
		true, 1003, 1003,
	},
	{
		"keep-id, adjacent kept gids merged into one line",
		{ .layout = NSESS_LAYOUT_KEEP_ID, .uid = 1003, .gid = 1003, GROUPS(g_adjacent),
		  .subuid = &r_main, .subgid = &r_main },
		"0 400000 1003\n1003 1003 1\n1004 401003 64532\n",
		"0 400000 100\n100 100 3\n103 400100 900\n1003 1003 2\n1005 401000 64531\n",
		false, 1003, 1003,
	},
	{
		"keep-id, two ranges consumed in order",
		{ .layout = NSESS_LAYOUT_KEEP_ID, .uid = 1003, .gid = 1003, GROUPS(g_primary),
		  .subuid = &r_two, .subgid = &r_two },
		"0 100000 500\n500 200000 503\n1003 1003 1\n1004 200503 64532\n",
		"0 100000 500\n500 200000 503\n1003 1003 1\n1004 200503 64532\n",
		false, 1003, 1003,
	},
	{
		"keep-id, host-adjacent ranges merged, pool runs dry",
		{ .layout = NSESS_LAYOUT_KEEP_ID, .uid = 1003, .gid = 1003,
		  .subuid = &r_adjacent, .subgid = &r_adjacent },
		"0 100000 20\n1003 1003 1\n",
		"0 100000 20\n1003 1003 1\n",
		false, 1003, 1003,
	},
	{
		"keep-id, 1000-id range, kept ids beyond it",
		{ .layout = NSESS_LAYOUT_KEEP_ID, .uid = 1003, .gid = 1003, GROUPS(g_example),
		  .subuid = &r_small, .subgid = &r_small },
		"0 400000 1000\n1003 1003 1\n",
		"0 400000 100\n100 100 1\n101 400100 900\n1003 1003 1\n",
		false, 1003, 1003,
	},
	{
		"keep-id, kept id past the inside size",
		{ .layout = NSESS_LAYOUT_KEEP_ID, .uid = 100000, .gid = 100000,
		  GROUPS(g_big_user), .subuid = &r_main, .subgid = &r_main },
		"0 400000 65536\n100000 100000 1\n",
		"0 400000 65536\n100000 100000 1\n",
		false, 100000, 100000,
	},
	{
		"keep-id, explicit inside size",
		{ .layout = NSESS_LAYOUT_KEEP_ID, .uid = 1003, .gid = 1003, .size = 2000,
		  .subuid = &r_main, .subgid = &r_main },
		"0 400000 1003\n1003 1003 1\n1004 401003 996\n",
		"0 400000 1003\n1003 1003 1\n1004 401003 996\n",
		false, 1003, 1003,
	},
	{
		"root, same user as the verified example",
		{ .layout = NSESS_LAYOUT_ROOT, .uid = 1003, .gid = 1003, GROUPS(g_example),
		  .subuid = &r_main, .subgid = &r_main },
		"0 1003 1\n1 400000 65535\n",
		"0 1003 1\n1 400000 65535\n",
		true, 0, 0,
	},
	{
		"root, only the primary group: setgroups may stay allowed",
		{ .layout = NSESS_LAYOUT_ROOT, .uid = 1003, .gid = 1003, GROUPS(g_primary),
		  .subuid = &r_main, .subgid = &r_main },
		"0 1003 1\n1 400000 65535\n",
		"0 1003 1\n1 400000 65535\n",
		false, 0, 0,
	},
	{
		"root, two ranges",
		{ .layout = NSESS_LAYOUT_ROOT, .uid = 1003, .gid = 1003,
		  .subuid = &r_root_two, .subgid = &r_small },
		"0 1003 1\n1 100000 10\n11 300000 65525\n",
		"0 1003 1\n1 400000 1000\n",
		false, 0, 0,
	},
	{
		"single, the user as root inside, no ranges needed",
		{ .layout = NSESS_LAYOUT_SINGLE, .uid = 1003, .gid = 1003, GROUPS(g_example) },
		"0 1003 1\n", "0 1003 1\n", true, 0, 0,
	},
	{
		"single, keep-id style, ranges ignored",
		{ .layout = NSESS_LAYOUT_SINGLE, .uid = 1003, .gid = 1004, .subuid = &r_main,
		  .subgid = &r_main, .single_inside_uid = 1003, .single_inside_gid = 1004 },
		"1003 1003 1\n", "1004 1004 1\n", true, 1003, 1004,
	},
};

Test(idmap, plan_table)
{
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(plan_ok_cases); i++) {
		const struct plan_ok_case *c = &plan_ok_cases[i];
		struct nsess_idmap_plan p;
		struct nsess_error e = { 0 };
		char u[4096], g[4096];
		int rc;

		rc = nsess_idmap_plan(&c->req, &p, &e);
		cr_assert_eq(rc, 0, "%s: rc %d (%s)", c->name, rc, e.msg);
		render_plan(&p, u, g, sizeof(u));
		cr_expect_str_eq(u, c->uid_map, "%s: uid_map\n%s", c->name, u);
		cr_expect_str_eq(g, c->gid_map, "%s: gid_map\n%s", c->name, g);
		cr_expect_eq(p.setgroups_deny, c->deny, "%s: setgroups_deny", c->name);
		cr_expect_eq(p.inside_uid, c->inside_uid, "%s: inside_uid %u", c->name,
			     p.inside_uid);
		cr_expect_eq(p.inside_gid, c->inside_gid, "%s: inside_gid %u", c->name,
			     p.inside_gid);
		cr_expect_eq(p.layout, c->req.layout, "%s: layout", c->name);
	}
}

/* The spec's own example once more, spelled as DESIGN.md shows it. */
Test(idmap, verified_example_render_exact)
{
	const struct nsess_idmap_req req = {
		.layout = NSESS_LAYOUT_KEEP_ID, .uid = 1003, .gid = 1003, GROUPS(g_example),
		.subuid = &r_main, .subgid = &r_main,
	};
	struct nsess_idmap_plan p;
	char buf[256];
	int n;

	cr_assert_eq(nsess_idmap_plan(&req, &p, NULL), 0);
	cr_assert_eq(p.uid.n, 3);
	cr_assert_eq(p.gid.n, 5);
	n = nsess_map_render(&p.uid, buf, sizeof(buf));
	cr_assert_eq(n, (int)strlen("0 400000 1003\n1003 1003 1\n1004 401003 64532\n"));
	cr_assert_eq(memcmp(buf, "0 400000 1003\n1003 1003 1\n1004 401003 64532\n", (size_t)n + 1),
		     0);
	n = nsess_map_render(&p.gid, buf, sizeof(buf));
	cr_assert_str_eq(buf, "0 400000 100\n100 100 1\n101 400100 902\n1003 1003 1\n"
			      "1004 401002 64532\n");
	cr_assert_eq(n, 68);
}

/* ---- plans that must be refused ------------------------------------------- */

struct plan_bad_case {
	const char *name;
	struct nsess_idmap_req req;
	int rc;
	const char *msg1;
	const char *msg2;
};

static const struct plan_bad_case plan_bad_cases[] = {
	{ "keep-id, uid 0",
	  { .layout = NSESS_LAYOUT_KEEP_ID, .uid = 0, .gid = 1003, .subuid = &r_main,
	    .subgid = &r_main },
	  -EPERM, "uid 0", "never maps host root" },
	{ "single, uid 0",
	  { .layout = NSESS_LAYOUT_SINGLE, .uid = 0, .gid = 1003 },
	  -EPERM, "uid 0", "never maps host root" },
	{ "root, primary gid 0",
	  { .layout = NSESS_LAYOUT_ROOT, .uid = 1003, .gid = 0, .subuid = &r_main,
	    .subgid = &r_main },
	  -EPERM, "primary gid 0", "never maps host group 0" },
	{ "keep-id, no subuid",
	  { .layout = NSESS_LAYOUT_KEEP_ID, .uid = 1003, .gid = 1003, .subgid = &r_main },
	  -EINVAL, "no subuid range is delegated to uid 1003",
	  "usermod --add-subuids 100000-165535 USER" },
	{ "keep-id, empty subgid",
	  { .layout = NSESS_LAYOUT_KEEP_ID, .uid = 1003, .gid = 1003, .subuid = &r_main,
	    .subgid = &r_empty },
	  -EINVAL, "no subgid range", "usermod --add-subgids 100000-165535 USER" },
	{ "keep-id, subgid of count 0",
	  { .layout = NSESS_LAYOUT_KEEP_ID, .uid = 1003, .gid = 1003, .subuid = &r_main,
	    .subgid = &r_zero_count },
	  -EINVAL, "no subgid range", "/etc/subgid" },
	{ "root, no subuid",
	  { .layout = NSESS_LAYOUT_ROOT, .uid = 1003, .gid = 1003, .subgid = &r_main },
	  -EINVAL, "root layout", "usermod --add-subuids" },
	{ "keep-id, subuid range contains the user's uid",
	  { .layout = NSESS_LAYOUT_KEEP_ID, .uid = 1003, .gid = 1003, .subuid = &r_has_1003,
	    .subgid = &r_main },
	  -EINVAL, "uid map line 2 '1003 1003 1': its host ids overlap line 1 '0 1000 1003'",
	  "mapped twice" },
	{ "root, subuid range contains the user's uid",
	  { .layout = NSESS_LAYOUT_ROOT, .uid = 1003, .gid = 1003, .subuid = &r_has_1003,
	    .subgid = &r_main },
	  -EINVAL, "uid map line 2 '1 1000 65535'", "overlap line 1 '0 1003 1'" },
	{ "keep-id, subgid range contains a supplementary gid",
	  { .layout = NSESS_LAYOUT_KEEP_ID, .uid = 1003, .gid = 1003, GROUPS(g_in_range),
	    .subuid = &r_main, .subgid = &r_main },
	  -EINVAL, "gid map line 4 '400050 400050 1'", "/etc/subgid" },
	{ "keep-id, subuid range starting at 0",
	  { .layout = NSESS_LAYOUT_KEEP_ID, .uid = 1003, .gid = 1003, .subuid = &r_start0,
	    .subgid = &r_main },
	  -EPERM, "subuid range 0:65536", "host id 0" },
	{ "root, subgid range past 4294967294",
	  { .layout = NSESS_LAYOUT_ROOT, .uid = 1003, .gid = 1003, .subuid = &r_main,
	    .subgid = &r_past_end },
	  -EINVAL, "subgid range 4294967200:200", "4294967294" },
	{ "keep-id, group 4294967295",
	  { .layout = NSESS_LAYOUT_KEEP_ID, .uid = 1003, .gid = 1003, GROUPS(g_minus1),
	    .subuid = &r_main, .subgid = &r_main },
	  -EINVAL, "gid map line 4 '4294967295 4294967295 1'", "pass 4294967294" },
	{ "single, inside uid 4294967295",
	  { .layout = NSESS_LAYOUT_SINGLE, .uid = 1003, .gid = 1003,
	    .single_inside_uid = 4294967295u },
	  -EINVAL, "uid map line 1 '4294967295 1003 1'", "inside ids" },
	{ "unknown layout",
	  { .layout = (enum nsess_layout)7, .uid = 1003, .gid = 1003, .subuid = &r_main,
	    .subgid = &r_main },
	  -EINVAL, "unknown id map layout 7", "keep-id" },
	{ "groups count without an array",
	  { .layout = NSESS_LAYOUT_KEEP_ID, .uid = 1003, .gid = 1003, .n_groups = 3,
	    .subuid = &r_main, .subgid = &r_main },
	  -EINVAL, "3 groups", "no group array" },
};

Test(idmap, plan_refusals)
{
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(plan_bad_cases); i++) {
		const struct plan_bad_case *c = &plan_bad_cases[i];
		struct nsess_idmap_plan p, before;
		struct nsess_error e = { 0 };
		int rc;

		memset(&p, 0x5a, sizeof(p));
		memcpy(&before, &p, sizeof(p));
		rc = nsess_idmap_plan(&c->req, &p, &e);
		cr_expect_eq(rc, c->rc, "%s: rc %d, expected %d (%s)", c->name, rc, c->rc, e.msg);
		cr_expect_eq(e.err, -c->rc, "%s: e.err %d", c->name, e.err);
		cr_expect(strstr(e.msg, c->msg1) != NULL, "%s: '%s' not in '%s'", c->name, c->msg1,
			  e.msg);
		cr_expect(strstr(e.msg, c->msg2) != NULL, "%s: '%s' not in '%s'", c->name, c->msg2,
			  e.msg);
		cr_expect_eq(memcmp(&p, &before, sizeof(p)), 0, "%s: output written on failure",
			     c->name);
	}
}

/* ---- the kernel's 340-line limit ------------------------------------------ */

/*
 * gid 1003 splits the fill into 3 lines; every extra group far past the
 * inside size, spaced by 2 so that none merge, adds exactly one line.
 */
static int plan_with_spaced_groups(size_t n_extra, struct nsess_idmap_plan *p,
				   struct nsess_error *e)
{
	static uint32_t groups[400];
	struct nsess_idmap_req req = {
		.layout = NSESS_LAYOUT_KEEP_ID, .uid = 1003, .gid = 1003,
		.subuid = &r_main, .subgid = &r_main,
	};
	size_t i;

	cr_assert_leq(n_extra, NSESS_ARRAY_SIZE(groups) - 1);
	groups[0] = 1003;
	for (i = 0; i < n_extra; i++)
		groups[i + 1] = 200000 + 2 * (uint32_t)i;
	req.groups = groups;
	req.n_groups = n_extra + 1;
	return nsess_idmap_plan(&req, p, e);
}

Test(idmap, line_limit_boundary)
{
	struct nsess_idmap_plan p;
	struct nsess_error e = { 0 };
	char buf[16384];
	int rc;

	rc = plan_with_spaced_groups(337, &p, &e);
	cr_assert_eq(rc, 0, "340 lines refused: %s", e.msg);
	cr_assert_eq(p.gid.n, 340);
	cr_assert_eq(p.uid.n, 3);
	cr_assert_eq(p.gid.l[339].inside, 200000 + 2 * 336);
	cr_assert_eq(p.gid.l[339].outside, 200000 + 2 * 336);
	cr_assert_eq(p.gid.l[339].count, 1);
	cr_assert_gt(nsess_map_render(&p.gid, buf, sizeof(buf)), 0);

	memset(&p, 0x5a, sizeof(p));
	rc = plan_with_spaced_groups(338, &p, &e);
	cr_assert_eq(rc, -ERANGE);
	cr_assert_eq(e.err, ERANGE);
	cr_assert(strstr(e.msg, "more than 340 gid map lines") != NULL, "%s", e.msg);
	cr_assert(strstr(e.msg, "339 supplementary groups") != NULL, "%s", e.msg);
	cr_assert_eq(p.gid.n, 0x5a5a5a5a, "output written on failure");

	rc = plan_with_spaced_groups(399, &p, &e);
	cr_assert_eq(rc, -ERANGE, "400 supplementary groups: %d", rc);
}

/* 64 one-id ranges, not host-adjacent, each fill line separate */
Test(idmap, many_small_ranges)
{
	static struct nsess_ranges many;
	struct nsess_idmap_req req = {
		.layout = NSESS_LAYOUT_KEEP_ID, .uid = 1003, .gid = 1003,
		.subuid = &many, .subgid = &many,
	};
	struct nsess_idmap_plan p;
	struct nsess_error e = { 0 };
	unsigned int i;

	for (i = 0; i < NSESS_RANGES_MAX; i++) {
		many.r[i].start = 500000 + 10 * i;
		many.r[i].count = 1;
	}
	many.n = NSESS_RANGES_MAX;
	cr_assert_eq(nsess_idmap_plan(&req, &p, &e), 0, "%s", e.msg);
	cr_assert_eq(p.uid.n, NSESS_RANGES_MAX + 1);
	cr_assert_eq(p.uid.l[0].inside, 0);
	cr_assert_eq(p.uid.l[0].outside, 500000);
	cr_assert_eq(p.uid.l[63].inside, 63);
	cr_assert_eq(p.uid.l[63].outside, 500630);
	cr_assert_eq(p.uid.l[64].inside, 1003);
	cr_assert_eq(p.uid.l[64].outside, 1003);

	many.n = NSESS_RANGES_MAX + 1;
	cr_assert_eq(nsess_idmap_plan(&req, &p, &e), -EINVAL);
	cr_assert(strstr(e.msg, "65 subuid ranges") != NULL, "%s", e.msg);
}

/* ---- the validator, one refusal reason per row ---------------------------- */

struct validate_case {
	const char *name;
	struct nsess_map_line l[4];
	unsigned int n;	/* lines in use */
	int rc;
	const char *msg;
};

static const struct validate_case validate_cases[] = {
	{ "the verified example",
	  { { 0, 400000, 1003 }, { 1003, 1003, 1 }, { 1004, 401003, 64532 } }, 3, 0, NULL },
	{ "largest valid ids",
	  { { 4294967294u, 4294967294u, 1 } }, 1, 0, NULL },
	{ "no lines", { { 0 } }, 0, -EINVAL, "the uid map has no lines" },
	{ "count 0",
	  { { 0, 400000, 10 }, { 10, 500000, 0 } }, 2, -EINVAL,
	  "uid map line 2 '10 500000 0': the count is 0" },
	{ "host id 0",
	  { { 0, 400000, 1003 }, { 1003, 1003, 1 }, { 1004, 0, 5 } }, 3, -EPERM,
	  "uid map line 3 '1004 0 5': it contains host id 0" },
	{ "host range wrapping through 0",
	  { { 0, 4294967295u, 2 } }, 1, -EPERM,
	  "uid map line 1 '0 4294967295 2': it contains host id 0" },
	{ "inside end past 4294967294",
	  { { 4294967290u, 400000, 10 } }, 1, -EINVAL,
	  "uid map line 1 '4294967290 400000 10': inside ids 4294967290..4294967299 pass" },
	{ "inside wrapping",
	  { { 4294967295u, 400000, 2 } }, 1, -EINVAL,
	  "uid map line 1 '4294967295 400000 2': inside ids" },
	{ "host end past 4294967294",
	  { { 0, 4294967290u, 6 } }, 1, -EINVAL,
	  "uid map line 1 '0 4294967290 6': host ids 4294967290..4294967295 pass 4294967294" },
	{ "host end exactly 4294967294",
	  { { 0, 4294967290u, 5 } }, 1, 0, NULL },
	{ "host id 4294967295",
	  { { 0, 4294967295u, 1 } }, 1, -EINVAL,
	  "uid map line 1 '0 4294967295 1': host ids 4294967295..4294967295 pass 4294967294" },
	{ "inside overlap",
	  { { 0, 400000, 10 }, { 20, 600000, 1 }, { 5, 500000, 10 } }, 3, -EINVAL,
	  "uid map line 3 '5 500000 10': its inside ids overlap line 1 '0 400000 10'" },
	{ "host overlap",
	  { { 0, 400000, 10 }, { 100, 400009, 10 } }, 2, -EINVAL,
	  "uid map line 2 '100 400009 10': its host ids overlap line 1 '0 400000 10'" },
	{ "touching ranges do not overlap",
	  { { 0, 400000, 10 }, { 10, 400010, 10 } }, 2, 0, NULL },
};

Test(idmap, validate_table)
{
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(validate_cases); i++) {
		const struct validate_case *c = &validate_cases[i];
		struct nsess_map m = { .n = c->n };
		struct nsess_error e = { 0 };
		int rc;

		memcpy(m.l, c->l, sizeof(c->l));
		rc = nsess_map_validate(&m, "uid", &e);
		cr_expect_eq(rc, c->rc, "%s: rc %d, expected %d (%s)", c->name, rc, c->rc, e.msg);
		if (c->msg)
			cr_expect(strstr(e.msg, c->msg) != NULL, "%s: '%s' not in '%s'", c->name,
				  c->msg, e.msg);
		else
			cr_expect_eq(e.err, 0, "%s: error recorded on success", c->name);
	}
}

Test(idmap, validate_line_count)
{
	static struct nsess_map m;
	struct nsess_error e = { 0 };
	unsigned int i;

	for (i = 0; i < NSESS_MAP_LINES_MAX; i++) {
		m.l[i].inside = i * 10;
		m.l[i].outside = 100000 + i * 10;
		m.l[i].count = 10;
	}
	m.n = NSESS_MAP_LINES_MAX;
	cr_assert_eq(nsess_map_validate(&m, "gid", &e), 0, "%s", e.msg);
	m.n = NSESS_MAP_LINES_MAX + 1;
	cr_assert_eq(nsess_map_validate(&m, "gid", &e), -ERANGE);
	cr_assert_str_eq(e.msg, "the gid map has 341 lines; the kernel accepts at most 340");
	cr_assert_eq(nsess_map_validate(NULL, "gid", &e), -EINVAL);
}

/* ---- renderers ------------------------------------------------------------ */

Test(idmap, render_enospc)
{
	static const char want[] = "0 400000 1003\n1003 1003 1\n1004 401003 64532\n";
	struct nsess_map m = {
		.l = { { 0, 400000, 1003 }, { 1003, 1003, 1 }, { 1004, 401003, 64532 } },
		.n = 3,
	};
	char buf[64];
	size_t need = strlen(want);

	/* exactly the text but no room for the NUL: refused, buffer untouched */
	memset(buf, 'x', sizeof(buf));
	cr_assert_eq(nsess_map_render(&m, buf, need), -ENOSPC);
	cr_assert_eq(buf[0], 'x');
	cr_assert_eq(nsess_map_render(&m, buf, 0), -ENOSPC);
	cr_assert_eq(nsess_map_render(&m, buf, 10), -ENOSPC);
	cr_assert_eq(buf[0], 'x');

	cr_assert_eq(nsess_map_render(&m, buf, need + 1), (int)need);
	cr_assert_str_eq(buf, want);
}

Test(idmap, render_largest_map_fits_a_page)
{
	static struct nsess_map m;
	static char buf[4096 * 4];
	unsigned int i;
	int n;

	for (i = 0; i < NSESS_MAP_LINES_MAX; i++) {
		m.l[i].inside = 4000000000u + i;
		m.l[i].outside = 4100000000u + i;
		m.l[i].count = 1;
	}
	m.n = NSESS_MAP_LINES_MAX;
	n = nsess_map_render(&m, buf, sizeof(buf));
	cr_assert_eq(n, (int)(NSESS_MAP_LINES_MAX * strlen("4000000000 4100000000 1\n")));
	cr_assert_eq(strncmp(buf, "4000000000 4100000000 1\n4000000001 4100000001 1\n", 48), 0);
}

Test(idmap, helper_argv_contents)
{
	const struct nsess_map m = {
		.l = { { 0, 400000, 100 }, { 100, 100, 1 }, { 101, 400100, 902 } },
		.n = 3,
	};
	static const char *const want[] = { "/usr/bin/newgidmap", "4242", "0", "400000", "100",
					    "100", "100", "1", "101", "400100", "902" };
	static struct nsess_map_argv a;
	size_t i;

	cr_assert_eq(nsess_map_helper_argv(&m, "/usr/bin/newgidmap", 4242, &a), 0);
	for (i = 0; i < NSESS_ARRAY_SIZE(want); i++) {
		cr_assert_not_null(a.argv[i], "argv[%zu] is NULL", i);
		cr_expect_str_eq(a.argv[i], want[i], "argv[%zu]", i);
		cr_expect(a.argv[i] >= a.store && a.argv[i] < a.store + sizeof(a.store),
			  "argv[%zu] does not point into the store", i);
	}
	cr_assert_null(a.argv[NSESS_ARRAY_SIZE(want)]);
}

Test(idmap, helper_argv_limits)
{
	static struct nsess_map m;
	static struct nsess_map_argv a;
	static char long_path[4096];
	unsigned int i;

	for (i = 0; i < NSESS_MAP_LINES_MAX; i++) {
		m.l[i].inside = 4000000000u + 2 * i;
		m.l[i].outside = 4100000000u + 2 * i;
		m.l[i].count = 1000000000u;
	}
	m.n = NSESS_MAP_LINES_MAX;
	/* the biggest map with the longest numbers fits the fixed store */
	cr_assert_eq(nsess_map_helper_argv(&m, "/usr/bin/newuidmap", 2147483647, &a), 0);
	cr_assert_str_eq(a.argv[1], "2147483647");
	cr_assert_str_eq(a.argv[3 * NSESS_MAP_LINES_MAX - 1], "4000000678");
	cr_assert_str_eq(a.argv[3 * NSESS_MAP_LINES_MAX + 1], "1000000000");
	cr_assert_null(a.argv[3 * NSESS_MAP_LINES_MAX + 2]);

	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	memset(&a, 0x5a, sizeof(a));
	cr_assert_eq(nsess_map_helper_argv(&m, long_path, 1, &a), -ENOSPC);
	cr_assert_eq(a.store[0], 0x5a, "store written on failure");
	/* never through PATH */
	cr_assert_eq(nsess_map_helper_argv(&m, "newuidmap", 1, &a), -EINVAL);
	cr_assert_eq(nsess_map_helper_argv(&m, "/usr/bin/newuidmap", 0, &a), -EINVAL);
}

/* ---- layout names --------------------------------------------------------- */

Test(idmap, layout_names)
{
	static const struct {
		const char *s;
		int rc;
		enum nsess_layout l;
	} cases[] = {
		{ "keep-id", 0, NSESS_LAYOUT_KEEP_ID }, { "root", 0, NSESS_LAYOUT_ROOT },
		{ "single", 0, NSESS_LAYOUT_SINGLE },	{ "keepid", -EINVAL, 0 },
		{ "Root", -EINVAL, 0 },			{ "", -EINVAL, 0 },
		{ "single ", -EINVAL, 0 },
	};
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(cases); i++) {
		enum nsess_layout l = (enum nsess_layout)99;
		int rc = nsess_layout_parse(cases[i].s, &l);

		cr_expect_eq(rc, cases[i].rc, "'%s': rc %d", cases[i].s, rc);
		if (rc == 0) {
			cr_expect_eq(l, cases[i].l, "'%s'", cases[i].s);
			cr_expect_str_eq(nsess_layout_name(l), cases[i].s);
		} else {
			cr_expect_eq((int)l, 99, "'%s': output written on failure", cases[i].s);
		}
	}
	cr_expect_eq(nsess_layout_parse(NULL, &(enum nsess_layout){ 0 }), -EINVAL);
	cr_expect_null(nsess_layout_name((enum nsess_layout)3));
}
