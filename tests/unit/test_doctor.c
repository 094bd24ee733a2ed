/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_doctor.c - `nsession doctor` against fixture roots under
 * tests/fixtures/doctor (ok, pam, subid-bad, hostile, sessions, badpolicy)
 * and tests/fixtures/sysinfo/zero: every area in good and failing states,
 * pam.d stack scanning, hostile subuid files (escapes, and a FIFO, a
 * symlink and a huge file made at test time), the renderers (a small JSON
 * validator checks the document) and the one-line brief.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "testlib.h"
#include "doctor.h"
#include "subid.h"
#include "sysinfo.h"

#define DOC_FIX NSESS_FIXTURES "/doctor"

/* ---- helpers ------------------------------------------------------------- */

static struct nsess_findings *run_at(const char *root, const char *user, bool as_root,
				     unsigned int areas, const struct stat *tun)
{
	struct nsess_findings *fs = calloc(1, sizeof(*fs));
	struct nsess_doctor_opts o = {
		.root = root,
		.user = user,
		.newuidmap = "/usr/bin/newuidmap",
		.newgidmap = "/usr/bin/newgidmap",
		.as_root = as_root,
		.areas = areas,
		.tun_st = tun,
	};
	int r;

	cr_assert_not_null(fs);
	r = nsess_doctor_run(&o, fs);
	cr_assert_geq(r, 0, "nsess_doctor_run: %d", r);
	cr_assert_eq(r, nsess_findings_worst(fs));
	cr_assert_eq(fs->dropped, 0);
	return fs;
}

static struct nsess_findings *run_fix(const char *fixture, const char *user, bool as_root,
				      unsigned int areas)
{
	char root[512];

	snprintf(root, sizeof(root), "%s/%s", DOC_FIX, fixture);
	return run_at(root, user, as_root, areas, NULL);
}

/* The first finding with @id whose seen text contains @sub (NULL: any). */
static const struct nsess_finding *find_sub(const struct nsess_findings *fs, const char *id,
					    const char *sub)
{
	unsigned int i;

	for (i = 0; i < fs->n; i++)
		if (strcmp(fs->f[i].id, id) == 0 && (!sub || strstr(fs->f[i].seen, sub)))
			return &fs->f[i];
	return NULL;
}

static const struct nsess_finding *find(const struct nsess_findings *fs, const char *id,
					const char *sub)
{
	const struct nsess_finding *f = find_sub(fs, id, sub);

	cr_assert_not_null(f, "no finding %s with \"%s\"", id, sub ? sub : "");
	return f;
}

static void expect_status(const struct nsess_findings *fs, const char *id, const char *sub,
			  int status)
{
	const struct nsess_finding *f = find(fs, id, sub);

	cr_expect_eq(f->status, status, "%s (%s): %s, expected %s; seen: %s", id, sub ? sub : "",
		     nsess_finding_status_name(f->status), nsess_finding_status_name(status), f->seen);
}

static void expect_has(const char *hay, const char *needle)
{
	cr_expect(strstr(hay, needle) != NULL, "\"%s\" not in \"%s\"", needle, hay);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void tmp_root(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/nsess-doctor-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void rm_root(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * A private copy of a fixture: owned by whoever runs the tests, so the
 * policy loader's owner check (root, or the caller for test roots) holds
 * whether or not the checkout belongs to the caller, and modes can be set.
 */
static void copy_fixture(const char *fixture, char *root, size_t len)
{
	char cmd[1024];

	tmp_root(root, len);
	snprintf(cmd, sizeof(cmd), "cp -r '%s/%s/.' '%s/'", DOC_FIX, fixture, root);
	cr_assert_eq(system(cmd), 0);
}

static void write_file(const char *root, const char *rel, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "we");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static void mkdirs(const char *root, const char *rel)
{
	char path[1024], *p;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
	}
	mkdir(path, 0755);
}

/* Every byte printable ASCII (newlines allowed in text). */
static void expect_clean(const char *buf, bool newlines)
{
	const unsigned char *p;

	for (p = (const unsigned char *)buf; *p; p++)
		cr_expect((*p >= 0x20 && *p < 0x7f) || (newlines && *p == '\n'),
			  "raw byte 0x%02x at %td", *p, (const char *)p - buf);
}

/* ---- a tiny JSON validator (RFC 8259 syntax, no semantics) ------------------- */

static const char *js_value(const char *p, int depth);

static const char *js_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *js_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p && *p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 5;
				continue;
			}
			if (!*p || !strchr("\"\\/bfnrt", *p))
				return NULL;
		}
		p++;
	}
	return *p == '"' ? p + 1 : NULL;
}

static const char *js_value(const char *p, int depth)
{
	if (depth > 32)
		return NULL;
	p = js_ws(p);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		bool obj = *p == '{';

		p = js_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (obj) {
				p = js_string(js_ws(p));
				if (!p)
					return NULL;
				p = js_ws(p);
				if (*p++ != ':')
					return NULL;
			}
			p = js_value(p, depth + 1);
			if (!p)
				return NULL;
			p = js_ws(p);
			if (*p == ',') {
				p++;
				continue;
			}
			return *p == close ? p + 1 : NULL;
		}
	}
	if (*p == '"')
		return js_string(p);
	if (!strncmp(p, "true", 4))
		return p + 4;
	if (!strncmp(p, "false", 5))
		return p + 5;
	if (!strncmp(p, "null", 4))
		return p + 4;
	if (*p == '-' || (*p >= '0' && *p <= '9')) {
		if (*p == '-')
			p++;
		while (*p >= '0' && *p <= '9')
			p++;
		return p;
	}
	return NULL;
}

static bool json_valid(const char *s)
{
	const char *p = js_value(s, 0);

	return p && *js_ws(p) == '\0';
}

Test(doctor, json_validator_self_test)
{
	cr_expect(json_valid("{\"a\":[1,true,null,\"x\\u001b\"]}\n"));
	cr_expect(!json_valid("{\"a\":\"\033\"}"));
	cr_expect(!json_valid("{\"a\":1,}"));
	cr_expect(!json_valid("{\"a\":1"));
}

/* ---- pure helpers ------------------------------------------------------------------ */

Test(doctor, free_range)
{
	struct nsess_range used[] = { { 100000, 65536 }, { 165536, 65536 }, { 250000, 10 } };
	uint32_t ids[] = { 1000, 231100 };

	cr_expect_eq(nsess_doctor_free_range(NULL, 0, NULL, 0, 65536), 100000);
	cr_expect_eq(nsess_doctor_free_range(used, 2, NULL, 0, 65536), 231072);
	/* a passwd id inside the candidate pushes it on */
	cr_expect_eq(nsess_doctor_free_range(used, 2, ids, 2, 65536), 231101);
	cr_expect_eq(nsess_doctor_free_range(used, 3, ids, 2, 65536), 250010);
	cr_expect_eq(nsess_doctor_free_range(used, 1, NULL, 0, 0), 0);
	{
		struct nsess_range all = { 1, 4294967294u };

		cr_expect_eq(nsess_doctor_free_range(&all, 1, NULL, 0, 65536), 0);
	}
}

Test(doctor, pam_join_table)
{
	static const struct {
		const char *svc, *join;
		int want;
	} t[] = {
		{ "sshd", "setcred", NSESS_OK },   { "sshd", "auto", NSESS_OK },
		{ "sshd", NULL, NSESS_OK },	   { "sshd", "", NSESS_OK },
		{ "sshd", "open", NSESS_FAIL },	   { "sshd-extra", "open", NSESS_FAIL },
		{ "su", "auto", NSESS_OK },	   { "su", NULL, NSESS_OK },
		{ "su", "open", NSESS_OK },	   { "su", "setcred", NSESS_FAIL },
		{ "su-l", "setcred", NSESS_FAIL }, { "login", "setcred", NSESS_FAIL },
		{ "runuser", "setcred", NSESS_FAIL }, { "runuser-l", "open", NSESS_OK },
		{ "gdm", "setcred", NSESS_WARN },  { "su", "bogus", NSESS_FAIL },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_expect_eq(nsess_doctor_pam_judge_join(t[i].svc, t[i].join, "session"), t[i].want,
			     "%s join=%s", t[i].svc, t[i].join ? t[i].join : "(none)");
	cr_expect_eq(nsess_doctor_pam_judge_join(NULL, "open", "session"), NSESS_FAIL);
}

/* ---- machine areas ------------------------------------------------------------------ */

Test(doctor, ok_root_machine_areas)
{
	struct stat tun = { .st_mode = S_IFCHR | 0666, .st_rdev = makedev(10, 200) };
	struct nsess_findings *fs;
	char root[512];
	unsigned int i;

	snprintf(root, sizeof(root), "%s/ok", DOC_FIX);
	fs = run_at(root, NULL, false, 0, &tun);
	expect_status(fs, "max_user_namespaces", NULL, NSESS_OK);
	expect_status(fs, "unprivileged_userns_clone", NULL, NSESS_OK);
	expect_status(fs, "apparmor_userns", NULL, NSESS_OK);
	expect_status(fs, "max_net_namespaces", NULL, NSESS_OK);
	expect_status(fs, "ns_user", NULL, NSESS_OK);
	expect_status(fs, "no_new_privs", NULL, NSESS_OK);
	expect_status(fs, "seccomp", NULL, NSESS_OK);
	expect_status(fs, "container", NULL, NSESS_OK);
	expect_status(fs, "tun", NULL, NSESS_OK);
	/* no helpers in the fixture: missing is a failure with the package named */
	expect_status(fs, "newuidmap", NULL, NSESS_FAIL);
	expect_has(find(fs, "newuidmap", NULL)->fix, "uidmap");
	cr_expect_str_eq(find(fs, "max_user_namespaces", NULL)->area, "kernel");
	cr_expect_str_eq(find(fs, "tun", NULL)->area, "tun");
	cr_expect_str_eq(find(fs, "newgidmap", NULL)->area, "helpers");
	cr_expect_str_eq(find(fs, "subuid_file", NULL)->area, "subid");
	cr_expect_str_eq(find(fs, "libslirp", NULL)->area, "engine");
	cr_expect_str_eq(find(fs, "sessions", NULL)->area, "sessions");
	/* no user: no user area */
	cr_expect_null(find_sub(fs, "subuid_range", NULL));
	/* areas come in order, each once */
	for (i = 1; i < fs->n; i++)
		if (strcmp(fs->f[i].area, fs->f[i - 1].area) != 0)
			for (unsigned int j = 0; j + 1 < i; j++)
				cr_expect_str_neq(fs->f[j].area, fs->f[i].area, "area %s split",
						  fs->f[i].area);
	free(fs);
}

Test(doctor, zero_machine_fails)
{
	struct nsess_findings *fs;

	fs = run_at(NSESS_FIXTURES "/sysinfo/zero", NULL, false, NSESS_DOCTOR_KERNEL, NULL);
	expect_status(fs, "max_user_namespaces", NULL, NSESS_FAIL);
	expect_has(find(fs, "max_user_namespaces", NULL)->fix, "sysctl -w user.max_user_namespaces=");
	expect_status(fs, "unprivileged_userns_clone", NULL, NSESS_FAIL);
	expect_status(fs, "apparmor_userns", NULL, NSESS_FAIL);
	expect_status(fs, "max_net_namespaces", NULL, NSESS_FAIL);
	expect_status(fs, "container", NULL, NSESS_INFO);
	cr_expect_null(find_sub(fs, "tun", NULL), "areas select only the kernel");
	free(fs);

	/* as root the unprivileged-only switches are warnings */
	fs = run_at(NSESS_FIXTURES "/sysinfo/zero", NULL, true, NSESS_DOCTOR_KERNEL, NULL);
	expect_status(fs, "unprivileged_userns_clone", NULL, NSESS_WARN);
	expect_status(fs, "apparmor_userns", NULL, NSESS_WARN);
	free(fs);
}

Test(doctor, tun_states)
{
	struct stat open_ = { .st_mode = S_IFCHR | 0666, .st_rdev = makedev(10, 200) };
	struct stat closed = { .st_mode = S_IFCHR | 0600, .st_rdev = makedev(10, 200) };
	struct stat file = { .st_mode = S_IFREG | 0666 };
	struct nsess_findings *fs;
	char root[512];

	snprintf(root, sizeof(root), "%s/ok", DOC_FIX);
	fs = run_at(root, NULL, false, NSESS_DOCTOR_TUN, &open_);
	expect_status(fs, "tun", NULL, NSESS_OK);
	free(fs);
	fs = run_at(root, NULL, false, NSESS_DOCTOR_TUN, &closed);
	expect_status(fs, "tun", NULL, NSESS_FAIL);
	expect_has(find(fs, "tun", NULL)->fix, "chmod 0666 /dev/net/tun");
	free(fs);
	fs = run_at(root, NULL, true, NSESS_DOCTOR_TUN, &closed);
	expect_status(fs, "tun", NULL, NSESS_WARN);
	free(fs);
	fs = run_at(root, NULL, true, NSESS_DOCTOR_TUN, &file);
	expect_status(fs, "tun", NULL, NSESS_FAIL);
	free(fs);
	/* no tun_st and none in the fixture: missing */
	fs = run_at(root, NULL, true, NSESS_DOCTOR_TUN, NULL);
	expect_status(fs, "tun", NULL, NSESS_FAIL);
	expect_has(find(fs, "tun", NULL)->fix, "modprobe tun");
	free(fs);
}

/* ---- users and subordinate ids ---------------------------------------------------------- */

Test(doctor, ok_root_users)
{
	struct nsess_findings *fs;
	char tmp[64];

	copy_fixture("ok", tmp, sizeof(tmp));
	fs = run_at(tmp, "alice", true, 0, NULL);
	expect_status(fs, "user", "uid 1000", NSESS_OK);
	expect_has(find(fs, "user", NULL)->seen, "groups 1000,100,2000");
	expect_status(fs, "subuid_file", NULL, NSESS_OK);
	expect_status(fs, "subuid_range", "100000-165535", NSESS_OK);
	expect_status(fs, "subgid_range", "100000-165535", NSESS_OK);
	expect_status(fs, "login_map", "keep-id layout", NSESS_OK);
	expect_status(fs, "subid_nss", NULL, NSESS_INFO);
	/* the fixture has no helpers: rootless runs fall back, saying why */
	expect_status(fs, "rootless_map", "single-id", NSESS_WARN);
	expect_status(fs, "policy_user", "for alice", NSESS_INFO);
	expect_status(fs, "escape_routes", NULL, NSESS_OK);
	free(fs);

	/* a range smaller than keep-id's 65536 */
	fs = run_fix("ok", "dave", true, NSESS_DOCTOR_USER);
	expect_status(fs, "subuid_range", "1000 ids", NSESS_WARN);
	expect_has(find(fs, "subuid_range", NULL)->fix, "usermod --add-subuids");
	free(fs);

	/* no range, and the policy refuses the fallback for carol */
	fs = run_at(tmp, "carol", true, NSESS_DOCTOR_USER, NULL);
	expect_status(fs, "subuid_range", "no subuid range", NSESS_FAIL);
	expect_status(fs, "login_map", "refused", NSESS_FAIL);
	/* the suggested range is free: after bob's and dave's */
	expect_has(find(fs, "subuid_range", NULL)->fix, "usermod --add-subuids 232072-297607 carol");
	free(fs);
	rm_root(tmp);

	fs = run_fix("ok", "nosuchuser", true, NSESS_DOCTOR_USER);
	expect_status(fs, "user", NULL, NSESS_FAIL);
	expect_has(find(fs, "user", NULL)->seen, "unknown user");
	free(fs);
}

Test(doctor, no_range_without_refuse_is_a_warning)
{
	struct nsess_findings *fs;

	/* badpolicy fixture: no subuid file; the broken policy is not loaded, so fallback single */
	fs = run_fix("badpolicy", "alice", true, NSESS_DOCTOR_USER | NSESS_DOCTOR_SUBID);
	expect_status(fs, "subuid_file", "does not exist", NSESS_INFO);
	expect_status(fs, "subuid_range", "no subuid range", NSESS_WARN);
	expect_status(fs, "login_map", "single-id", NSESS_WARN);
	free(fs);
}

Test(doctor, bad_subids)
{
	struct nsess_findings *fs;

	fs = run_fix("subid-bad", "alice", true, NSESS_DOCTOR_USER | NSESS_DOCTOR_SUBID);
	expect_status(fs, "subuid_line", ":4:", NSESS_FAIL);
	expect_status(fs, "subuid_range", "overlaps", NSESS_FAIL);
	expect_has(find(fs, "subuid_range", NULL)->seen, "subuid:1");
	expect_status(fs, "login_map", "fails closed", NSESS_FAIL);
	expect_status(fs, "subgid_range", NULL, NSESS_OK);
	free(fs);

	fs = run_fix("subid-bad", "frank", true, NSESS_DOCTOR_USER);
	expect_status(fs, "subuid_range", "contains uid 1000", NSESS_FAIL);
	free(fs);

	/* start 0: the parser refuses the line, blamed on gina with file:line */
	fs = run_fix("subid-bad", "gina", true, NSESS_DOCTOR_USER);
	expect_status(fs, "subuid_range", "subuid:4", NSESS_FAIL);
	expect_has(find(fs, "subuid_range", NULL)->seen, "id 0");
	free(fs);

	fs = run_fix("subid-bad", "bob", true, NSESS_DOCTOR_USER);
	expect_status(fs, "subuid_range", "300000-365535", NSESS_OK);
	expect_status(fs, "login_map", NULL, NSESS_OK);
	free(fs);
}

/* ---- hostile subuid files ------------------------------------------------------------------ */

Test(doctor, hostile_escapes_never_reach_output)
{
	struct nsess_findings *fs;
	char *buf = malloc(NSESS_DOCTOR_JSON_MAX);
	int n;

	cr_assert_not_null(buf);
	fs = run_fix("hostile", "alice", true, 0);
	expect_status(fs, "subuid_line", "mallory", NSESS_FAIL);
	expect_status(fs, "subuid_range", NULL, NSESS_OK);

	n = nsess_doctor_to_text(fs, "al\033[2Jice", false, buf, NSESS_DOCTOR_JSON_MAX);
	cr_assert_gt(n, 0);
	cr_assert_lt(n, NSESS_DOCTOR_JSON_MAX);
	cr_expect_null(strchr(buf, '\033'));
	expect_clean(buf, true);
	expect_has(buf, "mallory\\x1b]0;pwned\\x07");
	expect_has(buf, "al\\x1b[2Jice");

	n = nsess_doctor_to_json(fs, "al\033ice", true, buf, NSESS_DOCTOR_JSON_MAX);
	cr_assert_gt(n, 0);
	cr_expect_null(strchr(buf, '\033'));
	expect_clean(buf, true);
	cr_expect(json_valid(buf), "invalid JSON: %s", buf);
	expect_has(buf, "mallory\\u001b]0;pwned\\u0007");

	n = nsess_doctor_brief_render(fs, buf, 2048);
	cr_expect(n == 0 || n == -ENOSPC);
	cr_expect_null(strchr(buf, '\033'));
	expect_clean(buf, false);
	free(fs);
	free(buf);
}

static struct nsess_findings *run_hostile_root(const char *root)
{
	return run_at(root, "alice", true, NSESS_DOCTOR_SUBID | NSESS_DOCTOR_USER, NULL);
}

Test(doctor, fifo_subuid_does_not_hang)
{
	NSESS_TEST_DEADLINE(20);
	char root[64], path[128];
	struct nsess_findings *fs;

	tmp_root(root, sizeof(root));
	mkdirs(root, "etc");
	write_file(root, "etc/passwd", "alice:x:1000:1000::/home/alice:/bin/sh\n");
	snprintf(path, sizeof(path), "%s/etc/subuid", root);
	cr_assert_eq(mkfifo(path, 0644), 0);
	fs = run_hostile_root(root);
	expect_status(fs, "subuid_file", "FIFO", NSESS_FAIL);
	expect_status(fs, "subuid_range", NULL, NSESS_FAIL);
	free(fs);
	rm_root(root);
}

Test(doctor, symlink_subuid_is_not_followed)
{
	NSESS_TEST_DEADLINE(20);
	char root[64], path[128], target[128];
	struct nsess_findings *fs;

	tmp_root(root, sizeof(root));
	mkdirs(root, "etc");
	write_file(root, "etc/passwd", "alice:x:1000:1000::/home/alice:/bin/sh\n");
	write_file(root, "etc/real", "alice:100000:65536\n");
	snprintf(path, sizeof(path), "%s/etc/subuid", root);
	snprintf(target, sizeof(target), "%s/etc/real", root);
	cr_assert_eq(symlink(target, path), 0);
	fs = run_hostile_root(root);
	expect_status(fs, "subuid_file", "symbolic link", NSESS_FAIL);
	expect_status(fs, "subuid_range", NULL, NSESS_FAIL);
	free(fs);
	rm_root(root);
}

Test(doctor, huge_subuid_is_bounded)
{
	NSESS_TEST_DEADLINE(60);
	char root[64], path[128], line[64];
	struct nsess_findings *fs;
	FILE *f;
	long i;

	tmp_root(root, sizeof(root));
	mkdirs(root, "etc");
	write_file(root, "etc/passwd", "alice:x:1000:1000::/home/alice:/bin/sh\n");
	snprintf(path, sizeof(path), "%s/etc/subuid", root);
	f = fopen(path, "we");
	cr_assert_not_null(f);
	/* 20 MiB of junk lines with escapes: more than the parser's 16 MiB bound */
	snprintf(line, sizeof(line), "x\033[2J%s:1:1\n", "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy");
	for (i = 0; i < 20L * 1024 * 1024 / (long)strlen(line) + 1; i++)
		fputs(line, f);
	fclose(f);
	fs = run_hostile_root(root);
	expect_status(fs, "subuid_file", NULL, NSESS_FAIL);
	expect_status(fs, "subuid_range", NULL, NSESS_FAIL);
	cr_expect_leq(fs->n, 24, "problem lines are capped, got %u findings", fs->n);
	{
		char *buf = malloc(NSESS_DOCTOR_TEXT_MAX);

		cr_assert_not_null(buf);
		nsess_doctor_to_text(fs, "alice", false, buf, NSESS_DOCTOR_TEXT_MAX);
		cr_expect_null(strchr(buf, '\033'));
		free(buf);
	}
	free(fs);
	rm_root(root);
}

/* ---- PAM stacks and the policy ----------------------------------------------------------- */

Test(doctor, pam_stacks)
{
	struct nsess_findings *fs;

	fs = run_fix("pam", NULL, true, NSESS_DOCTOR_PAM);
	/* sshd: auth + session with join=setcred; commented lines ignored */
	expect_status(fs, "pam_service", "sshd: ", NSESS_OK);
	expect_has(find(fs, "pam_service", "sshd: ")->seen, "auth at sshd:4");
	expect_has(find(fs, "pam_service", "sshd: ")->seen, "session at sshd:6");
	cr_expect_null(strstr(find(fs, "pam_service", "sshd: ")->seen, "join=open"));
	/* join=open on sshd would cost the monitor its root */
	expect_status(fs, "pam_service", "sshd-open:", NSESS_FAIL);
	expect_has(find(fs, "pam_service", "sshd-open:")->fix, "join=setcred");
	/* setcred needs the auth stack */
	expect_status(fs, "pam_service", "sshd-noauth:", NSESS_FAIL);
	expect_has(find(fs, "pam_service", "sshd-noauth:")->fix, "auth optional pam_nsession.so");
	/* su through "session include", auto: fine; the full module path is recognised */
	expect_status(fs, "pam_service", "su: ", NSESS_OK);
	expect_has(find(fs, "pam_service", "su: ")->seen, "common-ns:1");
	/* login through @include */
	expect_status(fs, "pam_service", "login: ", NSESS_OK);
	/* runuser through substack, with join=setcred: wrong for a waiting caller */
	expect_status(fs, "pam_service", "runuser: ", NSESS_FAIL);
	expect_has(find(fs, "pam_service", "runuser: ")->seen, "ns-stack:1");
	/* continuation lines */
	expect_status(fs, "pam_service", "cont: ", NSESS_OK);
	/* module not where the line says */
	expect_status(fs, "pam_service", "missing: ", NSESS_FAIL);
	expect_status(fs, "pam_service", "missing-opt: ", NSESS_WARN);
	expect_has(find(fs, "pam_service", "missing-opt: ")->seen, "NOT sandboxed");
	/* engine= is an option of the module (the program is checked on the real machine only) */
	expect_status(fs, "pam_service", "engine-arg: ", NSESS_OK);
	expect_status(fs, "pam_service", "badopt: ", NSESS_FAIL);
	expect_has(find(fs, "pam_service", "badopt: ")->fix, "engine=/ABSOLUTE/PATH");
	expect_has(find(fs, "pam_service", "badopt: ")->seen, "foo=bar");
	expect_status(fs, "pam_service", "looper: ", NSESS_WARN);
	expect_status(fs, "pam_systemd", "gdm-ns", NSESS_WARN);
	expect_has(find(fs, "pam_systemd", "gdm-ns")->seen, "/run/user");
	/* included files are not services of their own; others without the module are quiet */
	cr_expect_null(find_sub(fs, "pam_service", "common-ns: "));
	cr_expect_null(find_sub(fs, "pam_service", "ns-stack: "));
	cr_expect_null(find_sub(fs, "pam_service", "other: "));
	expect_status(fs, "policy_file", "does not exist", NSESS_INFO);
	free(fs);
}

Test(doctor, pam_none_loads_the_module)
{
	struct nsess_findings *fs;
	char root[64];

	tmp_root(root, sizeof(root));
	mkdirs(root, "etc/pam.d");
	write_file(root, "etc/pam.d/su", "session required pam_unix.so\n# session required pam_nsession.so\n");
	fs = run_at(root, NULL, true, NSESS_DOCTOR_PAM, NULL);
	expect_status(fs, "pam_service", "no service", NSESS_INFO);
	free(fs);
	rm_root(root);
}

Test(doctor, policy_file_states)
{
	struct nsess_findings *fs;
	char tmp[64];

	fs = run_fix("badpolicy", "alice", true, NSESS_DOCTOR_PAM);
	expect_status(fs, "policy_file", NULL, NSESS_FAIL);
	expect_has(find(fs, "policy_file", NULL)->seen, "nsession.conf:1");
	cr_expect_null(find_sub(fs, "policy_user", NULL));
	free(fs);

	copy_fixture("ok", tmp, sizeof(tmp));
	fs = run_at(tmp, "carol", true, NSESS_DOCTOR_PAM, NULL);
	expect_status(fs, "policy_file", "parses", NSESS_OK);
	expect_has(find(fs, "policy_user", NULL)->seen, "fallback refuse");
	free(fs);
	rm_root(tmp);
}

/* ---- engine: ways out ----------------------------------------------------------------------- */

Test(doctor, escape_routes)
{
	struct nsess_findings *fs;
	char root[64], path[256];

	tmp_root(root, sizeof(root));
	mkdirs(root, "etc");
	mkdirs(root, "run/user/1000/systemd");
	mkdirs(root, "var/lib/systemd/linger");
	write_file(root, "etc/passwd", "alice:x:1000:1000::/home/alice:/bin/sh\n");
	write_file(root, "var/lib/systemd/linger/alice", "");
	/* a socket node: mknod S_IFSOCK works unprivileged */
	snprintf(path, sizeof(path), "%s/run/user/1000/bus", root);
	cr_assert_eq(mknod(path, S_IFSOCK | 0600, 0), 0, "mknod: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/run/user/1000/systemd/private", root);
	cr_assert_eq(mknod(path, S_IFSOCK | 0600, 0), 0);
	fs = run_at(root, "alice", true, NSESS_DOCTOR_ENGINE, NULL);
	expect_status(fs, "libslirp", NULL, NSESS_OK);
	expect_status(fs, "session_bus", "/run/user/1000/bus", NSESS_WARN);
	expect_has(find(fs, "session_bus", NULL)->seen, "share the host filesystem");
	expect_has(find(fs, "session_bus", NULL)->seen, "act outside the sandbox");
	expect_status(fs, "user_manager", "/run/user/1000/systemd/private", NSESS_WARN);
	expect_status(fs, "linger", NULL, NSESS_WARN);
	expect_has(find(fs, "linger", NULL)->fix, "loginctl disable-linger alice");
	cr_expect_null(find_sub(fs, "escape_routes", NULL));
	free(fs);
	rm_root(root);
}

/* ---- sessions --------------------------------------------------------------------------------- */

static void copy_sessions(char *root, size_t len)
{
	char dir[512];

	copy_fixture("sessions", root, len);
	snprintf(dir, sizeof(dir), "%s/run/nsession", root);
	cr_assert_eq(chmod(dir, 0700), 0);
}

Test(doctor, sessions_stale_entry)
{
	struct nsess_findings *fs;
	char root[64];

	copy_sessions(root, sizeof(root));
	fs = run_at(root, "alice", true, NSESS_DOCTOR_SESSIONS, NULL);
	expect_status(fs, "session_stale", "0000000000000002", NSESS_WARN);
	expect_has(find(fs, "session_stale", NULL)->seen, "holder process 999999 is gone");
	expect_has(find(fs, "session_stale", NULL)->fix, "rm -r /run/nsession/0000000000000002");
	expect_has(find(fs, "session_stale", NULL)->fix, "reclaimed at the next login");
	cr_expect_null(find_sub(fs, "session_stale", "0000000000000001"), "holder 4242 runs");
	expect_status(fs, "session_entry", "0000000000000003", NSESS_WARN);
	expect_status(fs, "sessions", "3 entries: 1 running, 1 stale, 1 other", NSESS_OK);
	cr_expect_null(find_sub(fs, "run_dir", NULL));
	free(fs);
	rm_root(root);
}

Test(doctor, sessions_dir_states)
{
	struct nsess_findings *fs;
	char root[64], dir[256];

	copy_sessions(root, sizeof(root));
	snprintf(dir, sizeof(dir), "%s/run/nsession", root);
	cr_assert_eq(chmod(dir, 0755), 0);
	fs = run_at(root, NULL, true, NSESS_DOCTOR_SESSIONS, NULL);
	expect_status(fs, "run_dir", "0755", NSESS_FAIL);
	expect_has(find(fs, "run_dir", NULL)->fix, "chmod 0700 /run/nsession");
	free(fs);
	rm_root(root);

	/* absent: nothing to see */
	fs = run_fix("ok", NULL, true, NSESS_DOCTOR_SESSIONS);
	expect_status(fs, "sessions", "does not exist", NSESS_OK);
	free(fs);

	/* a symlink in its place */
	tmp_root(root, sizeof(root));
	mkdirs(root, "run");
	snprintf(dir, sizeof(dir), "%s/run/nsession", root);
	cr_assert_eq(symlink("/tmp", dir), 0);
	fs = run_at(root, NULL, true, NSESS_DOCTOR_SESSIONS, NULL);
	expect_status(fs, "sessions", "symlink", NSESS_FAIL);
	free(fs);
	rm_root(root);
}

/* ---- rendering -------------------------------------------------------------------------------- */

Test(doctor, text_groups_areas_and_colours_only_on_request)
{
	struct nsess_findings *fs;
	char *buf = malloc(NSESS_DOCTOR_TEXT_MAX);
	int n;

	cr_assert_not_null(buf);
	fs = run_fix("ok", "alice", true, 0);
	n = nsess_doctor_to_text(fs, "alice", false, buf, NSESS_DOCTOR_TEXT_MAX);
	cr_assert_gt(n, 0);
	cr_expect_eq(n, (int)strlen(buf));
	expect_has(buf, "nsession doctor for user alice\n");
	expect_has(buf, "\nKernel, sysctls and process state\n  [ OK ] max_user_namespaces: ");
	expect_has(buf, "\nUser\n  [ OK ] user: alice");
	expect_has(buf, "\n  [FAIL] newuidmap: ");
	expect_has(buf, "\n      fix: apt-get install uidmap");
	expect_has(buf, " failed, ");
	cr_expect_null(strchr(buf, '\033'));
	expect_clean(buf, true);

	n = nsess_doctor_to_text(fs, "alice", true, buf, NSESS_DOCTOR_TEXT_MAX);
	expect_has(buf, "\033[1;31m[FAIL]\033[0m");

	/* short buffer: terminated, full length reported */
	n = nsess_doctor_to_text(fs, "alice", false, NULL, 0);
	cr_expect_gt(n, 0);
	cr_expect_eq(nsess_doctor_to_text(fs, "alice", false, buf, 10), n);
	cr_expect_eq(strlen(buf), 9);
	cr_expect_eq(nsess_doctor_to_text(NULL, NULL, false, buf, 10), -EINVAL);
	free(fs);
	free(buf);
}

Test(doctor, json_schema)
{
	struct nsess_findings *fs;
	char *buf = malloc(NSESS_DOCTOR_JSON_MAX);
	int n;

	cr_assert_not_null(buf);
	fs = run_fix("ok", "alice", true, 0);
	n = nsess_doctor_to_json(fs, "alice", true, buf, NSESS_DOCTOR_JSON_MAX);
	cr_assert_gt(n, 0);
	cr_assert_lt(n, NSESS_DOCTOR_JSON_MAX);
	cr_expect(json_valid(buf), "invalid JSON: %s", buf);
	cr_expect_eq(strncmp(buf, "{\"schema\":1,\"user\":\"alice\",\"as_root\":true,\"status\":\"fail\",\"counts\":{\"ok\":", 71), 0, "%s", buf);
	expect_has(buf, ",\"findings\":[{\"area\":\"kernel\",\"id\":\"max_user_namespaces\",\"status\":\"ok\",\"seen\":");
	expect_has(buf, "\"needs_root\":false}");
	expect_has(buf, "],\"dropped\":0}\n");
	expect_clean(buf, true);
	cr_expect_eq(strchr(buf, '\n'), buf + n - 1, "one line");
	free(fs);

	/* an empty list, no user */
	fs = calloc(1, sizeof(*fs));
	n = nsess_doctor_to_json(fs, NULL, false, buf, NSESS_DOCTOR_JSON_MAX);
	cr_expect_str_eq(buf, "{\"schema\":1,\"user\":null,\"as_root\":false,\"status\":\"ok\","
			      "\"counts\":{\"ok\":0,\"info\":0,\"warn\":0,\"fail\":0},"
			      "\"findings\":[],\"dropped\":0}\n");
	cr_expect_eq(n, (int)strlen(buf));
	cr_expect(json_valid(buf));
	free(fs);
	free(buf);
}

/* ---- the brief: one code path for PAM and `nsession run` ------------------------------------ */

Test(doctor, brief_render)
{
	struct nsess_findings fs;
	struct nsess_finding f;
	char buf[256];

	nsess_findings_init(&fs);
	cr_expect_eq(nsess_doctor_brief_render(&fs, buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "doctor: no problem found");
	nsess_finding_set(&f, "tun", NSESS_WARN, "0600", "chmod 0666 /dev/net/tun");
	nsess_findings_add(&fs, &f);
	cr_expect_eq(nsess_doctor_brief_render(&fs, buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf, "doctor: tun: chmod 0666 /dev/net/tun");
	nsess_finding_set(&f, "subuid_range", NSESS_FAIL, "no \033range", "");
	nsess_findings_add(&fs, &f);
	nsess_finding_set(&f, "newuidmap", NSESS_FAIL, "missing", "apt-get install uidmap");
	nsess_findings_add(&fs, &f);
	cr_expect_eq(nsess_doctor_brief_render(&fs, buf, sizeof(buf)), 0);
	/* failures only once something fails; seen when there is no fix; escaped */
	cr_expect_str_eq(buf, "doctor: subuid_range: no \\x1brange; newuidmap: apt-get install uidmap");
	cr_expect_eq(nsess_doctor_brief_render(&fs, buf, 40), -ENOSPC);
	cr_expect_eq(strlen(buf), 39);
	cr_expect_str_eq(buf + 36, "...");
	cr_expect_eq(nsess_doctor_brief_render(&fs, buf, 8), -EINVAL);
}

Test(doctor, brief_runs_the_setup_checks)
{
	char tmp[64];
	struct nsess_doctor_opts o = {
		.root = tmp,
		.user = "carol",
		.newuidmap = "/usr/bin/newuidmap",
		.newgidmap = "/usr/bin/newgidmap",
		.as_root = true,
	};
	char buf[2048];
	int r;

	copy_fixture("ok", tmp, sizeof(tmp));
	r = nsess_doctor_brief(&o, buf, sizeof(buf));
	rm_root(tmp);
	cr_expect_eq(r, NSESS_FAIL);
	expect_has(buf, "doctor: ");
	expect_has(buf, "subuid_range: delegate a range: usermod --add-subuids");
	expect_has(buf, "newuidmap: apt-get install uidmap");
	/* setup areas only: no sessions, no engine */
	cr_expect_null(strstr(buf, "libslirp"));
	expect_clean(buf, false);
	cr_expect_eq(nsess_doctor_brief(NULL, buf, sizeof(buf)), -EINVAL);
}
