/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * doctor.c - the checks behind `nsession doctor` and behind the one line of
 * fixes in the PAM module's and `nsession run`'s failure messages.
 *
 * How this works: a run first gathers (machine probes from sysinfo.c, the
 * subid files, the user, the pam.d stacks, the policy file) into a context,
 * then emits findings area by area, so a later area's data (the policy's
 * fallback) can shape an earlier area's verdict (a missing range). Every
 * file is read below opts->root with bounded reads that never follow a
 * symlink in the last component and never block on a FIFO; nothing is
 * written, no process is started, no helper is executed. Findings hold raw
 * text; the renderers here and in sysinfo.c escape on the way out.
 *
 * Things only root can see (other users' /run/user, /run/nsession, 0700
 * ssh-agent directories) become findings flagged needs_root rather than
 * errors.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <libslirp-version.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "doctor.h"
#include "enginexec.h"
#include "idmap.h"
#include "policy.h"
#include "session.h"
#include "state.h"
#include "subid.h"
#include "sysinfo.h"
#include "util.h"

#define DOCTOR_RUNDIR "/run/nsession"
#define DOCTOR_KEEPID_IDS 65536u
#define DOCTOR_PASSWD_MAX (4u * 1024 * 1024)
#define DOCTOR_PAM_FILE_MAX (64u * 1024)
#define DOCTOR_PAM_DEPTH_MAX 8
#define DOCTOR_PAM_SERVICES_MAX 96
#define DOCTOR_PAM_HITS_MAX 8
#define DOCTOR_PAM_INCLUDED_MAX 128
#define DOCTOR_POLICIES_MAX 4
#define DOCTOR_PROBLEMS_SHOWN 6
#define DOCTOR_STALE_SHOWN 8
#define DOCTOR_SESSION_FILE_MAX 4096
#define DOCTOR_DIR_SCAN_MAX 100000
#define DOCTOR_GNAME_MAX 64
/* the longest finding text a renderer escapes */
#define DOCTOR_FIELD_MAX \
	(NSESS_FINDING_SEEN_MAX > NSESS_FINDING_FIX_MAX ? NSESS_FINDING_SEEN_MAX : NSESS_FINDING_FIX_MAX)

/* ---- context ----------------------------------------------------------- */

enum { PT_AUTH, PT_ACCOUNT, PT_PASSWORD, PT_SESSION, PT_N };
static const char *const doctor_pam_types[PT_N] = { "auth", "account", "password", "session" };

struct doctor_pam_hit {
	int type;
	bool optional;			/* "-session": silently skipped when missing */
	char file[128];			/* pam.d name (or absolute path) of the line */
	unsigned int line;
	char module[192];
	char args[256];
};

struct doctor_pam_service {
	char name[128];
	struct doctor_pam_hit hit[DOCTOR_PAM_HITS_MAX];
	unsigned int n_hits;
	bool systemd;			/* pam_systemd.so in its session stack */
	char problem[256];		/* an include that could not be followed */
};

struct doctor {
	const struct nsess_doctor_opts *o;
	struct nsess_findings *fs;
	const char *root;
	bool real;
	unsigned int areas;
	const char *area;

	struct nsess_findings *probes;	/* sysinfo's findings */

	/* subid files */
	struct nsess_subid_file file[2];
	bool loaded[2];
	char load_err[2][1024];

	/* the user */
	bool have_user;
	struct nsess_user u;
	char gname[NSESS_GROUPS_MAX][DOCTOR_GNAME_MAX];
	size_t n_gname;
	char user_err[1024];
	struct nsess_ranges ranges[2];
	int range_r[2];
	const char *range_src[2];
	struct nsess_error range_e[2];
	bool nss_asked[2];
	int nss_r[2];
	struct nsess_ranges nss[2];

	/* pam.d */
	int pam_dir_err;
	struct doctor_pam_service *svc;
	size_t n_svc;
	char included[DOCTOR_PAM_INCLUDED_MAX][128];
	size_t n_included;

	/* policy */
	char policy_path[DOCTOR_POLICIES_MAX][256];
	size_t n_policy;
	bool have_policy;
	struct nsess_policy pol;
};

static void doctor_begin(struct nsess_finding *f, const char *id, int status)
{
	nsess_finding_set(f, id, status, NULL, NULL);
}

static void doctor_push(struct doctor *d, struct nsess_finding *f)
{
	snprintf(f->area, sizeof(f->area), "%s", d->area);
	nsess_findings_add(d->fs, f);
}

static const char *doctor_strerror(int err, char *buf, size_t len)
{
	if (err < 0)
		err = -err;
	return strerror_r(err, buf, len);
}

static bool doctor_is_real_root(const char *root)
{
	return !root || !root[0] || strcmp(root, "/") == 0;
}

/* <root><path> for a path as the machine sees it. */
static int doctor_path(const struct doctor *d, const char *path, char *out, size_t len)
{
	int n;

	if (!path || path[0] != '/')
		return -EINVAL;
	n = snprintf(out, len, "%s%s", d->real ? "" : d->root, path);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int doctor_lstat(const struct doctor *d, const char *path, struct stat *st)
{
	char full[PATH_MAX];
	int r;

	r = doctor_path(d, path, full, sizeof(full));
	if (r < 0)
		return r;
	return lstat(full, st) < 0 ? -errno : 0;
}

/*
 * Read a whole small file below the root into a malloc'd NUL-terminated
 * buffer. A NUL byte inside the data is refused (-EINVAL): none of the files
 * read this way may hold one.
 */
static int doctor_slurp(const struct doctor *d, const char *path, size_t max, char **out,
			size_t *len)
{
	_cleanup_free_ char *buf = NULL;
	size_t got = 0;
	int r;

	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	r = nsess_sysinfo_read_file(d->real ? NULL : d->root, path, buf, max, &got);
	if (r < 0)
		return r;
	if (memchr(buf, '\0', got))
		return -EINVAL;
	buf[got] = '\0';
	*out = TAKE_PTR(buf);
	if (len)
		*len = got;
	return 0;
}

/*
 * The subid parser's messages are escaped already ("\xNN"); undo that so
 * the renderers, which escape everything, do not show "\x5cxNN".
 */
static void doctor_unescape(char *s)
{
	static const char hex[] = "0123456789abcdef";
	char *r = s, *w = s;

	while (*r) {
		const char *h1, *h2;

		if (r[0] == '\\' && r[1] == 'x' && r[2] && r[3] && (h1 = strchr(hex, r[2])) &&
		    (h2 = strchr(hex, r[3])) && (h1 != hex || h2 != hex)) {
			*w++ = (char)(((h1 - hex) << 4) | (h2 - hex));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

/* ---- pure helpers -------------------------------------------------------- */

static int doctor_cmp_range(const void *a, const void *b)
{
	const struct nsess_range *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

uint32_t nsess_doctor_free_range(const struct nsess_range *used, size_t n_used,
				 const uint32_t *ids, size_t n_ids, uint32_t count)
{
	uint64_t cand = 100000, end;
	bool moved = true;
	size_t i;
	unsigned int rounds = 0;

	if (count == 0)
		return 0;
	/* each round moves past at least one obstacle, so n_used+n_ids+1 rounds suffice */
	while (moved && rounds++ <= n_used + n_ids + 1) {
		moved = false;
		end = cand + count - 1;
		if (end > 4294967294ULL)
			return 0;
		for (i = 0; i < n_used; i++) {
			uint64_t us = used[i].start, ue;

			if (!used[i].count)
				continue;
			ue = us + used[i].count - 1;
			if (us <= end && ue >= cand) {
				cand = ue + 1;
				moved = true;
				break;
			}
		}
		if (moved)
			continue;
		for (i = 0; i < n_ids; i++) {
			if (ids[i] >= cand && ids[i] <= end) {
				cand = (uint64_t)ids[i] + 1;
				moved = true;
				break;
			}
		}
	}
	if (moved || cand + count - 1 > 4294967294ULL)
		return 0;
	return (uint32_t)cand;
}

static bool doctor_name_has(const char *service, const char *word)
{
	return strstr(service, word) != NULL;
}

/* su, su-l, login, runuser, runuser-l: the caller waits for the shell */
static bool doctor_is_login_like(const char *service)
{
	static const char *const names[] = { "su", "su-l", "login", "runuser", "runuser-l",
					     "sudo-i" };
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(names); i++)
		if (strcmp(service, names[i]) == 0)
			return true;
	return false;
}

int nsess_doctor_pam_judge_join(const char *service, const char *join, const char *type)
{
	bool sshd = service && doctor_name_has(service, "sshd");
	const char *eff;

	(void)type;
	if (!service)
		return NSESS_FAIL;
	if (!join || !join[0] || strcmp(join, "auto") == 0)
		eff = sshd ? "setcred" : "open";
	else if (strcmp(join, "open") == 0 || strcmp(join, "setcred") == 0)
		eff = join;
	else
		return NSESS_FAIL;
	if (sshd)
		return strcmp(eff, "open") == 0 ? NSESS_FAIL : NSESS_OK;
	if (strcmp(eff, "open") == 0)
		return NSESS_OK;
	return doctor_is_login_like(service) ? NSESS_FAIL : NSESS_WARN;
}

/* ---- machine probes ------------------------------------------------------ */

static unsigned int doctor_probe_area(const char *id, const char **name)
{
	if (strcmp(id, "tun") == 0) {
		*name = "tun";
		return NSESS_DOCTOR_TUN;
	}
	if (strcmp(id, "newuidmap") == 0 || strcmp(id, "newgidmap") == 0) {
		*name = "helpers";
		return NSESS_DOCTOR_HELPERS;
	}
	*name = "kernel";
	return NSESS_DOCTOR_KERNEL;
}

static void doctor_gather_probes(struct doctor *d)
{
	const struct nsess_doctor_opts *o = d->o;
	struct nsess_sysinfo_opts so = {
		.root = d->real ? NULL : d->root,
		.newuidmap = o->newuidmap,
		.newgidmap = o->newgidmap,
		.self_path = o->self_path,
		.as_root = o->as_root,
	};
	unsigned int i;

	nsess_sysinfo_probe_all(&so, d->probes);
	if (!o->tun_st)
		return;
	for (i = 0; i < d->probes->n; i++)
		if (strcmp(d->probes->f[i].id, "tun") == 0)
			nsess_sysinfo_judge_tun(o->tun_st, 0, o->as_root, &d->probes->f[i]);
}

static const struct nsess_finding *doctor_probe(const struct doctor *d, const char *id)
{
	unsigned int i;

	for (i = 0; i < d->probes->n; i++)
		if (strcmp(d->probes->f[i].id, id) == 0)
			return &d->probes->f[i];
	return NULL;
}

static void doctor_emit_probes(struct doctor *d, unsigned int area)
{
	unsigned int i;

	for (i = 0; i < d->probes->n; i++) {
		struct nsess_finding f = d->probes->f[i];
		const char *name;

		if (doctor_probe_area(f.id, &name) != area)
			continue;
		d->area = name;
		doctor_push(d, &f);
	}
}

/* ---- subid files --------------------------------------------------------- */

static const char *doctor_kind_name(int kind)
{
	return kind == NSESS_SUBGID ? "subgid" : "subuid";
}

static void doctor_gather_subid(struct doctor *d)
{
	int kind;

	for (kind = 0; kind < 2; kind++) {
		struct nsess_error e = { 0 };

		if (nsess_subid_load(d->real ? "/" : d->root, (enum nsess_subid_kind)kind,
				     &d->file[kind], &e) == 0)
			d->loaded[kind] = true;
		else
			snprintf(d->load_err[kind], sizeof(d->load_err[kind]), "%s", e.msg);
	}
}

static void doctor_emit_subid(struct doctor *d)
{
	struct nsess_finding f;
	int kind;

	d->area = "subid";
	for (kind = 0; kind < 2; kind++) {
		const char *what = doctor_kind_name(kind);
		const struct nsess_subid_file *sf = &d->file[kind];
		char id[NSESS_FINDING_ID_MAX], line_id[NSESS_FINDING_ID_MAX], path[64];
		size_t i, n_err = 0, n_warn = 0, shown = 0;
		struct stat st;

		snprintf(id, sizeof(id), "%s_file", what);
		snprintf(line_id, sizeof(line_id), "%s_line", what);
		snprintf(path, sizeof(path), "/etc/%s", what);
		if (!d->loaded[kind]) {
			doctor_begin(&f, id, NSESS_FAIL);
			nsess_finding_seenf(&f, "%s", d->load_err[kind]);
			doctor_unescape(f.seen);
			nsess_finding_fixf(&f, "mv %s %s.bad; create %s again as a regular file (touch %s; chmod 0644 %s) and add the delegations back (usermod --add-subuids/--add-subgids)",
				   path, path, path, path, path);
			doctor_push(d, &f);
			continue;
		}
		if (!sf->present) {
			doctor_begin(&f, id, NSESS_INFO);
			nsess_finding_seenf(&f, "%s does not exist: no user has subordinate %sids in it", path,
				    kind == NSESS_SUBGID ? "g" : "u");
			doctor_push(d, &f);
			continue;
		}
		for (i = 0; i < sf->n_problems; i++) {
			const struct nsess_subid_problem *p = &sf->problems[i];

			if (p->severity == NSESS_PROBLEM_ERROR)
				n_err++;
			else
				n_warn++;
			if (shown >= DOCTOR_PROBLEMS_SHOWN)
				continue;
			shown++;
			doctor_begin(&f, line_id, p->severity == NSESS_PROBLEM_ERROR ? NSESS_FAIL
										     : NSESS_WARN);
			/* p->msg names file:line and the fix */
			nsess_finding_seenf(&f, "%s", p->msg);
			doctor_unescape(f.seen);
			if (p->severity == NSESS_PROBLEM_ERROR)
				nsess_finding_fixf(&f, "correct or remove line %u of %s: until then the logins of its owner fail closed",
					   p->line, path);
			else
				nsess_finding_fixf(&f, "remove the repeated line %u of %s", p->line, path);
			doctor_push(d, &f);
		}
		if (sf->n_problems > shown || sf->n_problems_dropped) {
			doctor_begin(&f, line_id, n_err ? NSESS_FAIL : NSESS_WARN);
			nsess_finding_seenf(&f, "%s has %zu more problem lines not shown here", path,
				    sf->n_problems - shown + sf->n_problems_dropped);
			nsess_finding_fixf(&f, "fix the lines above, then run nsession doctor again");
			doctor_push(d, &f);
		}
		if (sf->truncated || sf->errors_dropped) {
			doctor_begin(&f, id, NSESS_FAIL);
			nsess_finding_seenf(&f, "%s could not be checked completely (%s): every lookup in it fails closed",
				    path, sf->truncated ? "parsing stopped early" : "too many malformed lines");
			nsess_finding_fixf(&f, "shrink %s to well-formed OWNER:START:COUNT lines", path);
			doctor_push(d, &f);
		}
		if (doctor_lstat(d, path, &st) == 0 &&
		    ((st.st_mode & (S_IWGRP | S_IWOTH)) || (d->real && st.st_uid != 0))) {
			doctor_begin(&f, id, NSESS_FAIL);
			nsess_finding_seenf(&f, "%s is %s (mode %04o, owner uid %u): whoever can write it can delegate any ids",
				    path, st.st_uid != 0 ? "not owned by root" : "writable by group or others",
				    (unsigned int)(st.st_mode & 07777), (unsigned int)st.st_uid);
			nsess_finding_fixf(&f, "chown root:root %s; chmod 0644 %s", path, path);
			doctor_push(d, &f);
		} else if (!n_err && !sf->truncated && !sf->errors_dropped) {
			doctor_begin(&f, id, NSESS_OK);
			nsess_finding_seenf(&f, "%s: %zu entries%s", path, sf->n_entries,
				    n_warn ? ", repeated lines only (see above)" : ", all well-formed");
			doctor_push(d, &f);
		}
	}
}

/* ---- the user ------------------------------------------------------------ */

/* The n-th ':' field of a line, copied; -EINVAL when there are fewer. */
static int doctor_field(const char *line, size_t len, unsigned int n, char *out, size_t olen)
{
	const char *p = line, *end = line + len, *c;
	unsigned int i;
	size_t fl;

	for (i = 0; i < n; i++) {
		c = memchr(p, ':', (size_t)(end - p));
		if (!c)
			return -EINVAL;
		p = c + 1;
	}
	c = memchr(p, ':', (size_t)(end - p));
	fl = c ? (size_t)(c - p) : (size_t)(end - p);
	if (fl >= olen)
		return -ENAMETOOLONG;
	memcpy(out, p, fl);
	out[fl] = '\0';
	return 0;
}

static bool doctor_member(const char *list, const char *name)
{
	size_t nl = strlen(name);
	const char *p = list;

	while (*p) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);

		if (l == nl && memcmp(p, name, nl) == 0)
			return true;
		if (!c)
			break;
		p = c + 1;
	}
	return false;
}

/* A user from <root>/etc/passwd and <root>/etc/group (test roots). */
static int doctor_files_user(struct doctor *d, const char *name)
{
	_cleanup_free_ char *pw = NULL, *gr = NULL;
	char field[256];
	unsigned int v;
	const char *p;
	bool found = false;
	int r;

	r = doctor_slurp(d, "/etc/passwd", DOCTOR_PASSWD_MAX, &pw, NULL);
	if (r < 0) {
		snprintf(d->user_err, sizeof(d->user_err), "cannot read %s/etc/passwd: %s", d->root,
			 doctor_strerror(r, field, sizeof(field)));
		return r;
	}
	for (p = pw; *p && !found;) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);

		if (doctor_field(p, l, 0, field, sizeof(field)) == 0 && strcmp(field, name) == 0) {
			memset(&d->u, 0, sizeof(d->u));
			snprintf(d->u.name, sizeof(d->u.name), "%s", name);
			if (doctor_field(p, l, 2, field, sizeof(field)) < 0 ||
			    nsess_parse_u32(field, &v) < 0)
				break;
			d->u.uid = v;
			if (doctor_field(p, l, 3, field, sizeof(field)) < 0 ||
			    nsess_parse_u32(field, &v) < 0)
				break;
			d->u.gid = v;
			found = true;
		}
		p = nl ? nl + 1 : p + l;
	}
	if (!found) {
		snprintf(d->user_err, sizeof(d->user_err), "unknown user '%s' (not in %s/etc/passwd)",
			 name, d->root);
		return -ENOENT;
	}
	d->u.groups[d->u.n_groups++] = d->u.gid;
	d->n_gname = 0;
	if (doctor_slurp(d, "/etc/group", DOCTOR_PASSWD_MAX, &gr, NULL) < 0)
		return 0;
	for (p = gr; *p;) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		char gname[DOCTOR_GNAME_MAX], members[1024];

		if (doctor_field(p, l, 0, gname, sizeof(gname)) == 0 &&
		    doctor_field(p, l, 2, field, sizeof(field)) == 0 &&
		    nsess_parse_u32(field, &v) == 0) {
			bool primary = v == d->u.gid;

			if (doctor_field(p, l, 3, members, sizeof(members)) < 0)
				members[0] = '\0';
			if (primary || doctor_member(members, name)) {
				if (!primary && d->u.n_groups < NSESS_GROUPS_MAX)
					d->u.groups[d->u.n_groups++] = v;
				if (d->n_gname < NSESS_GROUPS_MAX) {
					/* primary group first, as the policy expects */
					if (primary && d->n_gname) {
						memmove(d->gname[1], d->gname[0],
							d->n_gname * sizeof(d->gname[0]));
						snprintf(d->gname[0], DOCTOR_GNAME_MAX, "%s", gname);
					} else {
						snprintf(d->gname[d->n_gname], DOCTOR_GNAME_MAX, "%s",
							 gname);
					}
					d->n_gname++;
				}
			}
		}
		p = nl ? nl + 1 : p + l;
	}
	return 0;
}

static void doctor_nss_group_names(struct doctor *d)
{
	char buf[8192];
	size_t i;

	d->n_gname = 0;
	for (i = 0; i < d->u.n_groups && d->n_gname < NSESS_GROUPS_MAX; i++) {
		struct group gr, *res = NULL;

		if (getgrgid_r((gid_t)d->u.groups[i], &gr, buf, sizeof(buf), &res) != 0 || !res)
			continue;
		snprintf(d->gname[d->n_gname], DOCTOR_GNAME_MAX, "%s", res->gr_name);
		/* primary group first */
		if (d->u.groups[i] == d->u.gid && d->n_gname) {
			char t[DOCTOR_GNAME_MAX];

			memcpy(t, d->gname[d->n_gname], sizeof(t));
			memmove(d->gname[1], d->gname[0], d->n_gname * sizeof(d->gname[0]));
			memcpy(d->gname[0], t, sizeof(t));
		}
		d->n_gname++;
	}
}

static void doctor_gather_user(struct doctor *d)
{
	int kind;

	if (!d->o->user)
		return;
	if (d->real) {
		struct nsess_error e = { 0 };

		if (nsess_user_lookup(d->o->user, 0, &d->u, &e) < 0) {
			snprintf(d->user_err, sizeof(d->user_err), "%s", e.msg);
			return;
		}
		doctor_nss_group_names(d);
	} else if (doctor_files_user(d, d->o->user) < 0) {
		return;
	}
	d->have_user = true;

	for (kind = 0; kind < 2; kind++) {
		uint32_t self = kind == NSESS_SUBGID ? d->u.gid : d->u.uid;
		struct nsess_error *e = &d->range_e[kind];
		_cleanup_free_ uint32_t *ids = NULL;
		size_t n_ids = 0;
		int r;

		d->range_src[kind] = d->file[kind].path[0] ? d->file[kind].path : "";
		if (!d->loaded[kind]) {
			d->range_r[kind] = nsess_error_set(e, EINVAL, "%s", d->load_err[kind]);
			continue;
		}
		r = nsess_subid_lookup(&d->file[kind], d->u.name, (uid_t)self, &d->ranges[kind], e);
#ifdef HAVE_LIBSUBID
		/*
		 * Asked only when the file itself was safe to read: libsubid
		 * without a subid: NSS module reads /etc/subuid itself, and would
		 * block on a FIFO there.
		 */
		if (d->real) {
			struct nsess_error ne = { 0 };

			d->nss_asked[kind] = true;
			d->nss_r[kind] = nsess_subid_nss_lookup(d->u.name, (enum nsess_subid_kind)kind,
								&d->nss[kind], &ne);
			if (r == -ENOENT && d->nss_r[kind] == 0) {
				d->ranges[kind] = d->nss[kind];
				d->range_src[kind] = "libsubid (NSS)";
				r = 0;
			}
		}
#endif
		if (r == 0 && nsess_passwd_ids(d->real ? "/" : d->root, (enum nsess_subid_kind)kind,
					       &ids, &n_ids) == 0)
			r = nsess_subid_check_ids(&d->ranges[kind], ids, n_ids, self,
						  doctor_kind_name(kind), e);
		d->range_r[kind] = r;
	}
}

static void doctor_ranges_str(const struct nsess_ranges *r, char *buf, size_t len)
{
	size_t o = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < r->n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%" PRIu32 "-%" PRIu64, i ? "," : "",
				      r->r[i].start, (uint64_t)r->r[i].start + r->r[i].count - 1);
}

/* A range nobody uses yet, for the fix text; 0 when none was found. */
static uint32_t doctor_suggest(const struct doctor *d)
{
	_cleanup_free_ struct nsess_range *used = NULL;
	_cleanup_free_ uint32_t *uids = NULL, *gids = NULL, *all = NULL;
	size_t n = 0, nu = 0, ng = 0, i;
	int kind;

	used = calloc(d->file[0].n_entries + d->file[1].n_entries + 1, sizeof(*used));
	if (!used)
		return 0;
	for (kind = 0; kind < 2; kind++)
		for (i = 0; d->loaded[kind] && i < d->file[kind].n_entries; i++)
			used[n++] = (struct nsess_range){ d->file[kind].entries[i].start,
							  d->file[kind].entries[i].count };
	qsort(used, n, sizeof(*used), doctor_cmp_range);
	nsess_passwd_ids(d->real ? "/" : d->root, NSESS_SUBUID, &uids, &nu);
	nsess_passwd_ids(d->real ? "/" : d->root, NSESS_SUBGID, &gids, &ng);
	all = calloc(nu + ng + 1, sizeof(*all));
	if (!all)
		return 0;
	if (nu)
		memcpy(all, uids, nu * sizeof(*all));
	if (ng)
		memcpy(all + nu, gids, ng * sizeof(*all));
	return nsess_doctor_free_range(used, n, all, nu + ng, DOCTOR_KEEPID_IDS);
}

/* @kinds: bit 0 subuid, bit 1 subgid */
static void doctor_add_fix(const struct doctor *d, struct nsess_finding *f, const char *verb,
			   unsigned int kinds)
{
	uint32_t s = doctor_suggest(d);
	uint64_t e = (uint64_t)s + DOCTOR_KEEPID_IDS - 1;
	char opt[160] = "";
	size_t o = 0;

	if (!s) {
		nsess_finding_fixf(f, "%s: add a line %s:START:65536 to%s%s with a range no other owner or account uses",
			   verb, d->u.name, kinds & 1 ? " /etc/subuid" : "",
			   kinds & 2 ? (kinds & 1 ? " and /etc/subgid" : " /etc/subgid") : "");
		return;
	}
	if (kinds & 1)
		o += (size_t)snprintf(opt + o, sizeof(opt) - o, " --add-subuids %" PRIu32 "-%" PRIu64, s, e);
	if ((kinds & 2) && o < sizeof(opt))
		snprintf(opt + o, sizeof(opt) - o, " --add-subgids %" PRIu32 "-%" PRIu64, s, e);
	nsess_finding_fixf(f, "%s: usermod%s %s (a range no other owner or account uses)", verb, opt, d->u.name);
}

static bool doctor_fallback_refuses(const struct doctor *d)
{
	return d->have_policy && d->pol.fallback == NSESS_FALLBACK_REFUSE;
}

static bool doctor_helpers_ok(const struct doctor *d, char *why, size_t len)
{
	const struct nsess_finding *u = doctor_probe(d, "newuidmap");
	const struct nsess_finding *g = doctor_probe(d, "newgidmap");

	if (u && u->status == NSESS_FAIL) {
		snprintf(why, len, "%s", u->seen);
		return false;
	}
	if (g && g->status == NSESS_FAIL) {
		snprintf(why, len, "%s", g->seen);
		return false;
	}
	return true;
}

static void doctor_emit_user(struct doctor *d)
{
	struct nsess_finding f;
	bool have[2] = { false, false };
	char rs[2][160];
	int kind;

	d->area = "user";
	if (!d->o->user)
		return;
	if (!d->have_user) {
		doctor_begin(&f, "user", NSESS_FAIL);
		nsess_finding_seenf(&f, "%s", d->user_err);
		nsess_finding_fixf(&f, "check the name (getent passwd %s); logins of unknown users never reach nsession",
			   d->o->user);
		doctor_push(d, &f);
		return;
	}
	doctor_begin(&f, "user", NSESS_OK);
	{
		char gl[200];
		size_t o = 0, i;

		gl[0] = '\0';
		for (i = 0; i < d->u.n_groups && o < sizeof(gl); i++)
			o += (size_t)snprintf(gl + o, sizeof(gl) - o, "%s%" PRIu32, i ? "," : "",
					      d->u.groups[i]);
		nsess_finding_seenf(&f, "%s: uid %" PRIu32 ", gid %" PRIu32 ", groups %s", d->u.name, d->u.uid,
			    d->u.gid, gl);
	}
	doctor_push(d, &f);

	for (kind = 0; kind < 2; kind++) {
		const char *what = doctor_kind_name(kind);
		char id[NSESS_FINDING_ID_MAX];
		int r = d->range_r[kind];

		snprintf(id, sizeof(id), "%s_range", what);
		rs[kind][0] = '\0';
		if (r == 0) {
			uint64_t total = nsess_ranges_total(&d->ranges[kind]);

			have[kind] = true;
			doctor_ranges_str(&d->ranges[kind], rs[kind], sizeof(rs[kind]));
			if (total < DOCTOR_KEEPID_IDS) {
				doctor_begin(&f, id, NSESS_WARN);
				nsess_finding_seenf(&f, "%s %s: %s (%" PRIu64 " ids, from %s): fewer than the 65536 the keep-id layout fills; the inside ids past them stay unmapped",
					    d->u.name, what, rs[kind], total, d->range_src[kind]);
				doctor_add_fix(d, &f, "give a full range", kind == NSESS_SUBGID ? 2 : 1);
			} else {
				doctor_begin(&f, id, NSESS_OK);
				nsess_finding_seenf(&f, "%s %s: %s (%" PRIu64 " ids, from %s)", d->u.name, what,
					    rs[kind], total, d->range_src[kind]);
			}
		} else if (r == -ENOENT) {
			bool refuse = doctor_fallback_refuses(d);

			doctor_begin(&f, id, refuse ? NSESS_FAIL : NSESS_WARN);
			nsess_finding_seenf(&f, "%s has no %s range (%s%s): %s", d->u.name, what,
				    d->range_e[kind].msg,
#ifdef HAVE_LIBSUBID
				    d->real ? "; libsubid has none either" : "",
#else
				    "",
#endif
				    refuse ? "the policy (fallback = refuse) refuses the login"
					   : "sessions fall back to a single-id map");
			doctor_add_fix(d, &f, "delegate a range", kind == NSESS_SUBGID ? 2 : 1);
		} else {
			doctor_begin(&f, id, NSESS_FAIL);
			nsess_finding_seenf(&f, "%s (logins of %s fail closed)", d->range_e[kind].msg, d->u.name);
			doctor_unescape(f.seen);
			if (r == -EEXIST)
				doctor_add_fix(d, &f, "remove the colliding range, then give a free one",
					       kind == NSESS_SUBGID ? 2 : 1);
			else
				nsess_finding_fixf(&f, "fix the line named above in /etc/%s (or remove it and delegate anew with usermod --add-%ss)",
					   what, what);
		}
		doctor_push(d, &f);
	}

#ifdef HAVE_LIBSUBID
	if (d->real) {
		char a[160] = "none", b[160] = "none";

		if (d->nss_asked[0] && d->nss_r[0] == 0)
			doctor_ranges_str(&d->nss[0], a, sizeof(a));
		if (d->nss_asked[1] && d->nss_r[1] == 0)
			doctor_ranges_str(&d->nss[1], b, sizeof(b));
		doctor_begin(&f, "subid_nss", NSESS_INFO);
		if (!d->nss_asked[0] && !d->nss_asked[1])
			nsess_finding_seenf(&f, "libsubid was not asked: the subid files could not be read safely");
		else
			nsess_finding_seenf(&f, "libsubid (the subid: line of nsswitch.conf, else the files) gives %s subuid %s, subgid %s",
				    d->u.name, a, b);
		doctor_push(d, &f);
	} else {
		doctor_begin(&f, "subid_nss", NSESS_INFO);
		nsess_finding_seenf(&f, "libsubid was not asked: it knows only the real machine, not the test root %s",
			    d->root);
		doctor_push(d, &f);
	}
#else
	doctor_begin(&f, "subid_nss", NSESS_INFO);
	nsess_finding_seenf(&f, "built without libsubid: only /etc/subuid and /etc/subgid are read");
	doctor_push(d, &f);
#endif

	/* `nsession run` as the user: the helpers with the ranges, else one id */
	{
		char why[NSESS_FINDING_SEEN_MAX];
		bool helpers = doctor_helpers_ok(d, why, sizeof(why));

		if (have[0] && have[1] && helpers) {
			doctor_begin(&f, "rootless_map", NSESS_OK);
			nsess_finding_seenf(&f, "nsession run as %s: newuidmap/newgidmap write the full map (--map=root: inside 0 is %s, 1.. the ranges; --map=keep-id: own uid and primary gid kept; supplementary groups stay unmapped, newgidmap refuses identity lines for them)",
				    d->u.name, d->u.name);
		} else {
			doctor_begin(&f, "rootless_map", NSESS_WARN);
			nsess_finding_seenf(&f, "nsession run as %s falls back to a single-id map (own uid and gid only, setgroups deny): %s",
				    d->u.name,
				    !helpers ? why
					     : !have[0] ? "no usable subuid range" : "no usable subgid range");
			if (!helpers)
				nsess_finding_fixf(&f, "see the newuidmap/newgidmap findings above");
			else
				doctor_add_fix(d, &f, "delegate ranges", 3);
		}
		doctor_push(d, &f);
	}

	/* a PAM login (root writes the maps): keep-id with all groups */
	{
		enum nsess_layout layout = d->have_policy ? d->pol.layout : NSESS_LAYOUT_KEEP_ID;
		struct nsess_idmap_plan *plan = NULL;
		struct nsess_idmap_req req = {
			.layout = layout,
			.uid = d->u.uid,
			.gid = d->u.gid,
			.groups = d->u.groups,
			.n_groups = d->u.n_groups,
			.subuid = &d->ranges[0],
			.subgid = &d->ranges[1],
		};
		struct nsess_error e = { 0 };
		int r;

		if (d->have_policy && !d->pol.sandbox) {
			doctor_begin(&f, "login_map", NSESS_INFO);
			nsess_finding_seenf(&f, "the policy gives %s no sandbox (sandbox = no): pam_nsession lets the login through untouched",
				    d->u.name);
		} else if (!have[0] || !have[1]) {
			bool bad = (d->range_r[0] != 0 && d->range_r[0] != -ENOENT) ||
				   (d->range_r[1] != 0 && d->range_r[1] != -ENOENT);

			if (bad) {
				doctor_begin(&f, "login_map", NSESS_FAIL);
				nsess_finding_seenf(&f, "PAM login of %s fails closed: a subordinate id line of theirs is broken or collides (see above)",
					    d->u.name);
				nsess_finding_fixf(&f, "fix the %s_range finding above", d->range_r[0] ? "subuid" : "subgid");
			} else if (doctor_fallback_refuses(d)) {
				doctor_begin(&f, "login_map", NSESS_FAIL);
				nsess_finding_seenf(&f, "PAM login of %s is refused: no subordinate range and the policy says fallback = refuse",
					    d->u.name);
				doctor_add_fix(d, &f, "delegate ranges", 3);
			} else {
				doctor_begin(&f, "login_map", NSESS_WARN);
				nsess_finding_seenf(&f, "PAM login of %s gets a single-id map (own uid and gid, setgroups deny; files of other ids show as nobody), the policy's fallback = single",
					    d->u.name);
				doctor_add_fix(d, &f, "for the keep-id layout with all groups, delegate ranges", 3);
			}
		} else {
			plan = calloc(1, sizeof(*plan));
			r = plan ? nsess_idmap_plan(&req, plan, &e) : -ENOMEM;
			if (r < 0) {
				doctor_begin(&f, "login_map", NSESS_FAIL);
				nsess_finding_seenf(&f, "PAM login of %s: the %s map cannot be planned: %s", d->u.name,
					    nsess_layout_name(layout), e.msg);
				nsess_finding_fixf(&f, "fix the ranges or the groups named above");
			} else {
				doctor_begin(&f, "login_map", NSESS_OK);
				nsess_finding_seenf(&f, "PAM login of %s: %s layout, uid_map %u lines, gid_map %u lines, %zu groups%s",
					    d->u.name, nsess_layout_name(layout), plan->uid.n, plan->gid.n,
					    d->u.n_groups,
					    plan->setgroups_deny ? ", setgroups deny (a group is not mapped)"
								 : " all kept, setgroups allow");
			}
			free(plan);
		}
		doctor_push(d, &f);
	}
}

/* ---- PAM ------------------------------------------------------------------- */

/* Next token of a pam.d line; "[...]" is one token (control or argument). */
static const char *doctor_token(const char *p, char *out, size_t olen)
{
	size_t n = 0;

	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	if (!*p)
		return NULL;
	if (*p == '[') {
		while (*p && *p != ']') {
			if (*p == '\\' && p[1] == ']')
				p++;
			if (n + 1 < olen)
				out[n++] = *p;
			p++;
		}
		if (*p == ']') {
			if (n + 1 < olen)
				out[n++] = ']';
			p++;
		}
	} else {
		while (*p && *p != ' ' && *p != '\t' && *p != '\r') {
			if (n + 1 < olen)
				out[n++] = *p;
			p++;
		}
	}
	out[n] = '\0';
	return p;
}

static const char *doctor_basename(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static void doctor_note_included(struct doctor *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->n_included; i++)
		if (strcmp(d->included[i], name) == 0)
			return;
	if (d->n_included < DOCTOR_PAM_INCLUDED_MAX)
		snprintf(d->included[d->n_included++], sizeof(d->included[0]), "%s", name);
}

static int doctor_pam_file(struct doctor *d, struct doctor_pam_service *s, const char *name,
			   int filter, unsigned int depth);

static void doctor_pam_line(struct doctor *d, struct doctor_pam_service *s, const char *name,
			    unsigned int lineno, const char *line, int filter, unsigned int depth)
{
	char tok[256], control[256], module[256];
	const char *p = line;
	bool optional = false;
	int type;

	p = doctor_token(p, tok, sizeof(tok));
	if (!p)
		return;
	if (strcmp(tok, "@include") == 0) {
		if (doctor_token(p, module, sizeof(module))) {
			doctor_note_included(d, module);
			doctor_pam_file(d, s, module, filter, depth + 1);
		}
		return;
	}
	if (tok[0] == '-') {
		optional = true;
		memmove(tok, tok + 1, strlen(tok));
	}
	for (type = 0; type < PT_N; type++)
		if (strcasecmp(tok, doctor_pam_types[type]) == 0)
			break;
	if (type == PT_N || (filter >= 0 && type != filter))
		return;
	p = doctor_token(p, control, sizeof(control));
	if (!p)
		return;
	p = doctor_token(p, module, sizeof(module));
	if (!p)
		return;
	if (strcmp(control, "include") == 0 || strcmp(control, "substack") == 0) {
		doctor_note_included(d, module);
		doctor_pam_file(d, s, module, type, depth + 1);
		return;
	}
	if (type == PT_SESSION && strcmp(doctor_basename(module), "pam_systemd.so") == 0)
		s->systemd = true;
	if (strcmp(doctor_basename(module), "pam_nsession.so") != 0)
		return;
	if (s->n_hits < DOCTOR_PAM_HITS_MAX) {
		struct doctor_pam_hit *h = &s->hit[s->n_hits++];
		size_t o = 0;

		memset(h, 0, sizeof(*h));
		h->type = type;
		h->optional = optional;
		snprintf(h->file, sizeof(h->file), "%s", name);
		h->line = lineno;
		snprintf(h->module, sizeof(h->module), "%s", module);
		while ((p = doctor_token(p, tok, sizeof(tok))) != NULL && o < sizeof(h->args))
			o += (size_t)snprintf(h->args + o, sizeof(h->args) - o, "%s%s", o ? " " : "",
					      tok);
	}
}

/*
 * Read one pam.d file (a service, or an included one, only its @filter type
 * when >= 0) and record where pam_nsession.so is loaded. Line handling
 * follows Linux-PAM: text after '#' is a comment, a backslash before the
 * newline continues the line.
 */
static int doctor_pam_file(struct doctor *d, struct doctor_pam_service *s, const char *name,
			   int filter, unsigned int depth)
{
	_cleanup_free_ char *buf = NULL;
	char path[PATH_MAX], err[128];
	unsigned int lineno = 1, start;
	char *p, *q;
	int r;

	if (depth > DOCTOR_PAM_DEPTH_MAX) {
		snprintf(s->problem, sizeof(s->problem), "includes nested deeper than %d (a loop?) at %s",
			 DOCTOR_PAM_DEPTH_MAX, name);
		return -ELOOP;
	}
	if (name[0] == '/') {
		snprintf(path, sizeof(path), "%s", name);
	} else if (!name[0] || strchr(name, '/') || strcmp(name, ".") == 0 ||
		   strcmp(name, "..") == 0) {
		snprintf(s->problem, sizeof(s->problem), "cannot follow include '%s'", name);
		return -EINVAL;
	} else {
		snprintf(path, sizeof(path), "/etc/pam.d/%s", name);
	}
	r = doctor_slurp(d, path, DOCTOR_PAM_FILE_MAX, &buf, NULL);
	if (r == -ENOENT && name[0] != '/') {
		/* the vendor directory, where Linux-PAM looks next */
		snprintf(path, sizeof(path), "/usr/lib/pam.d/%s", name);
		r = doctor_slurp(d, path, DOCTOR_PAM_FILE_MAX, &buf, NULL);
	}
	if (r < 0) {
		if (depth > 0 && !s->problem[0])
			snprintf(s->problem, sizeof(s->problem), "cannot read included %s: %s", name,
				 r == -EBADF ? "not a regular file"
				 : r == -ELOOP ? "a symlink, not followed"
				 : r == -EINVAL ? "it holds a NUL byte"
						: doctor_strerror(r, err, sizeof(err)));
		return r;
	}
	for (p = buf; *p;) {
		start = lineno;
		/* assemble one logical line in place */
		for (q = p; *q && *q != '\n'; q++) {
			if (*q == '\\' && q[1] == '\n') {
				q[0] = ' ';
				q[1] = ' ';
				lineno++;
				q++;
			}
		}
		if (*q == '\n') {
			*q = '\0';
			q++;
			lineno++;
		}
		{
			char *hash = strchr(p, '#');

			if (hash)
				*hash = '\0';
		}
		doctor_pam_line(d, s, name, start, p, filter, depth);
		p = q;
	}
	return 0;
}

static int doctor_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool doctor_service_name_ok(const char *n)
{
	size_t l = strlen(n);

	if (n[0] == '.' || l == 0 || n[l - 1] == '~')
		return false;
	return !strstr(n, ".dpkg-") && !strstr(n, ".rpmsave") && !strstr(n, ".rpmnew") &&
	       !strstr(n, ".ucf-");
}

static void doctor_gather_pam(struct doctor *d)
{
	char full[PATH_MAX];
	char *names[DOCTOR_PAM_SERVICES_MAX];
	size_t n = 0, i, scanned = 0;
	struct dirent *de;
	DIR *dir;
	int fd, r;

	r = doctor_path(d, "/etc/pam.d", full, sizeof(full));
	if (r < 0) {
		d->pam_dir_err = r;
		return;
	}
	fd = open(full, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		d->pam_dir_err = -errno;
		return;
	}
	dir = fdopendir(fd);
	if (!dir) {
		d->pam_dir_err = -errno;
		close(fd);
		return;
	}
	while ((de = readdir(dir)) != NULL && n < DOCTOR_PAM_SERVICES_MAX &&
	       scanned++ < DOCTOR_DIR_SCAN_MAX) {
		if (!doctor_service_name_ok(de->d_name) || strlen(de->d_name) >= 128)
			continue;
		names[n] = strdup(de->d_name);
		if (names[n])
			n++;
	}
	closedir(dir);
	qsort(names, n, sizeof(names[0]), doctor_cmp_str);
	d->svc = calloc(n ? n : 1, sizeof(*d->svc));
	for (i = 0; i < n; i++) {
		if (d->svc) {
			struct doctor_pam_service *s = &d->svc[d->n_svc];

			snprintf(s->name, sizeof(s->name), "%s", names[i]);
			/* a file that cannot be read (symlink, FIFO) loads nothing we can see */
			if (doctor_pam_file(d, s, names[i], -1, 0) == 0)
				d->n_svc++;
			else
				memset(s, 0, sizeof(*s));
		}
		free(names[i]);
	}
}

static bool doctor_is_included(const struct doctor *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->n_included; i++)
		if (strcmp(d->included[i], name) == 0)
			return true;
	return false;
}

/* Is the module's file there? Bare names are searched where distributions keep modules. */
static bool doctor_module_found(const struct doctor *d, const char *module)
{
	static const char *const dirs[] = {
		"/lib/security",	    "/lib64/security",
		"/usr/lib/security",	    "/usr/lib64/security",
		"/lib/x86_64-linux-gnu/security", "/usr/lib/x86_64-linux-gnu/security",
		"/lib/aarch64-linux-gnu/security", "/usr/lib/aarch64-linux-gnu/security",
		"/usr/local/lib/security",
	};
	char path[PATH_MAX];
	struct stat st;
	size_t i;

	if (module[0] == '/')
		return doctor_lstat(d, module, &st) == 0 && !S_ISDIR(st.st_mode);
	if (strchr(module, '/'))
		return false;
	for (i = 0; i < NSESS_ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], module);
		if (doctor_lstat(d, path, &st) == 0 && !S_ISDIR(st.st_mode))
			return true;
	}
	return false;
}

/*
 * The join=, config= and engine= options of a line (@engine may be NULL);
 * -EINVAL with @bad for anything else.
 */
static int doctor_pam_args(const char *args, char *join, size_t jlen, char *config, size_t clen,
			   char *engine, size_t elen, char *bad, size_t blen)
{
	char tok[256];
	const char *p = args;

	join[0] = config[0] = bad[0] = '\0';
	if (engine)
		engine[0] = '\0';
	while ((p = doctor_token(p, tok, sizeof(tok))) != NULL) {
		if (strcmp(tok, "debug") == 0)
			continue;
		if (strncmp(tok, "config=", 7) == 0 && tok[7] == '/') {
			snprintf(config, clen, "%s", tok + 7);
			continue;
		}
		if (strncmp(tok, "engine=", 7) == 0 && tok[7] == '/') {
			if (engine)
				snprintf(engine, elen, "%s", tok + 7);
			continue;
		}
		if (strcmp(tok, "join=auto") == 0 || strcmp(tok, "join=open") == 0 ||
		    strcmp(tok, "join=setcred") == 0) {
			snprintf(join, jlen, "%s", tok + 5);
			continue;
		}
		snprintf(bad, blen, "%s", tok);
		return -EINVAL;
	}
	return 0;
}

static void doctor_add_policy_path(struct doctor *d, const char *path)
{
	size_t i;

	for (i = 0; i < d->n_policy; i++)
		if (strcmp(d->policy_path[i], path) == 0)
			return;
	if (d->n_policy < DOCTOR_POLICIES_MAX)
		snprintf(d->policy_path[d->n_policy++], sizeof(d->policy_path[0]), "%s", path);
}

/* Which policy files matter: --policy, else the modules' config=, else the default. */
static void doctor_gather_policy_paths(struct doctor *d)
{
	char join[16], config[256], bad[256];
	size_t i;
	unsigned int k;
	bool default_used = false;

	if (d->o->policy) {
		doctor_add_policy_path(d, d->o->policy);
		return;
	}
	for (i = 0; i < d->n_svc; i++)
		for (k = 0; k < d->svc[i].n_hits; k++) {
			doctor_pam_args(d->svc[i].hit[k].args, join, sizeof(join), config,
					sizeof(config), NULL, 0, bad, sizeof(bad));
			if (config[0])
				doctor_add_policy_path(d, config);
			else
				default_used = true;
		}
	if (default_used || d->n_policy == 0)
		doctor_add_policy_path(d, NSESS_POLICY_PATH);
}

struct doctor_verdict {
	int status;
	char why[320];
	char fix[384];
};

static void doctor_verdict(struct doctor_verdict *v, int status, const char *why, const char *fix)
{
	if (status <= v->status)
		return;
	v->status = status;
	snprintf(v->why, sizeof(v->why), "%s", why);
	snprintf(v->fix, sizeof(v->fix), "%s", fix);
}

static void doctor_judge_service(struct doctor *d, const struct doctor_pam_service *s,
				 struct nsess_finding *f)
{
	struct doctor_verdict v = { .status = NSESS_OK };
	bool sshd = doctor_name_has(s->name, "sshd");
	bool in[PT_N] = { false };
	char lines[NSESS_FINDING_SEEN_MAX], why[320], fix[384];
	size_t o = 0;
	unsigned int k;

	lines[0] = '\0';
	for (k = 0; k < s->n_hits; k++) {
		const struct doctor_pam_hit *h = &s->hit[k];
		char join[16], config[256], engine[256], bad[256];
		struct nsess_error ee = { 0 };
		int js;

		in[h->type] = true;
		if (o < sizeof(lines))
			o += (size_t)snprintf(lines + o, sizeof(lines) - o, "%s%s%s at %s:%u%s%s",
					      o ? "; " : "", h->optional ? "-" : "",
					      doctor_pam_types[h->type], h->file, h->line,
					      h->args[0] ? " " : "", h->args);
		if (doctor_pam_args(h->args, join, sizeof(join), config, sizeof(config), engine,
				    sizeof(engine), bad, sizeof(bad)) < 0) {
			snprintf(why, sizeof(why), "unknown option '%s' at %s:%u: the module refuses the whole stack (PAM_SERVICE_ERR)",
				 bad, h->file, h->line);
			snprintf(fix, sizeof(fix), "valid options are debug, config=/ABSOLUTE/PATH, engine=/ABSOLUTE/PATH, join=auto|open|setcred: correct %s:%u (pam_nsession(8))",
				 h->file, h->line);
			doctor_verdict(&v, NSESS_FAIL, why, fix);
		}
		/* the engine program the module would start, checked as the module checks it */
		if (engine[0] && d->real && nsess_engine_program_check(engine, &ee) < 0) {
			snprintf(why, sizeof(why), "engine= at %s:%u: %s: every session with a network fails",
				 h->file, h->line, ee.msg);
			snprintf(fix, sizeof(fix), "point engine= at %s:%u to a root-owned nsession-engine, or drop it to use %s",
				 h->file, h->line, NSESS_ENGINE_PROGRAM);
			doctor_verdict(&v, NSESS_FAIL, why, fix);
		}
		if (!doctor_module_found(d, h->module)) {
			snprintf(why, sizeof(why), "module %s not found at %s:%u%s", h->module, h->file,
				 h->line,
				 h->optional ? ": the '-' makes PAM skip it silently, so logins are NOT sandboxed"
					     : ": PAM fails the stack");
			snprintf(fix, sizeof(fix), "install nsession's PAM module (make install puts pam_nsession.so into LIBDIR/security) or give the full path at %s:%u",
				 h->file, h->line);
			doctor_verdict(&v, h->optional ? NSESS_WARN : NSESS_FAIL, why, fix);
		}
		if (h->type != PT_AUTH && h->type != PT_SESSION)
			continue;
		js = nsess_doctor_pam_judge_join(s->name, join, doctor_pam_types[h->type]);
		if (js == NSESS_OK)
			continue;
		if (sshd) {
			snprintf(why, sizeof(why), "join=open at %s:%u: sshd's monitor would enter the namespaces and lose host root (pty allocation and lastlog fail)",
				 h->file, h->line);
			snprintf(fix, sizeof(fix), "use join=setcred (or join=auto, or no join= at all) at %s:%u, and keep the module in the auth stack too",
				 h->file, h->line);
		} else if (js == NSESS_FAIL) {
			snprintf(why, sizeof(why), "join=setcred at %s:%u: %s calls pam_setcred before pam_open_session, so the session would never be joined",
				 h->file, h->line, s->name);
			snprintf(fix, sizeof(fix), "use join=open (or join=auto) at %s:%u", h->file, h->line);
		} else {
			snprintf(why, sizeof(why), "join=setcred at %s:%u: joined only if %s calls pam_setcred after pam_open_session in the process that starts the shell",
				 h->file, h->line, s->name);
			snprintf(fix, sizeof(fix), "use join=open unless %s is known to behave like sshd", s->name);
		}
		doctor_verdict(&v, js, why, fix);
	}
	if (!in[PT_SESSION]) {
		snprintf(why, sizeof(why), "pam_nsession.so is not in %s's session stack: no session is ever created",
			 s->name);
		snprintf(fix, sizeof(fix), "add 'session required pam_nsession.so%s' to /etc/pam.d/%s",
			 sshd ? " join=setcred" : "", s->name);
		doctor_verdict(&v, sshd ? NSESS_FAIL : NSESS_WARN, why, fix);
	}
	if (sshd && !in[PT_AUTH]) {
		snprintf(why, sizeof(why), "pam_nsession.so is missing from %s's auth stack: sshd's post-auth child joins in pam_setcred, which only calls the auth stack's modules",
			 s->name);
		snprintf(fix, sizeof(fix), "add 'auth optional pam_nsession.so join=setcred' to /etc/pam.d/%s",
			 s->name);
		doctor_verdict(&v, NSESS_FAIL, why, fix);
	}
	if (s->problem[0]) {
		snprintf(why, sizeof(why), "%s", s->problem);
		snprintf(fix, sizeof(fix), "check the include lines of /etc/pam.d/%s", s->name);
		doctor_verdict(&v, NSESS_WARN, why, fix);
	}
	doctor_begin(f, "pam_service", v.status);
	if (v.status == NSESS_OK)
		nsess_finding_seenf(f, "%s: %s (join %s fits)", s->name, lines, sshd ? "setcred" : "open");
	else
		nsess_finding_seenf(f, "%s: %s; %s", s->name, v.why, lines);
	if (v.fix[0])
		nsess_finding_fixf(f, "%s", v.fix);
}

static void doctor_gather_policy(struct doctor *d)
{
	char full[PATH_MAX];
	struct nsess_policy_file *pf = NULL;
	struct nsess_error e = { 0 };
	const char *gptr[NSESS_GROUPS_MAX];
	size_t i;

	if (!d->n_policy || doctor_path(d, d->policy_path[0], full, sizeof(full)) < 0)
		return;
	if (nsess_policy_load(full, &pf, &e) < 0)
		return;
	for (i = 0; i < d->n_gname; i++)
		gptr[i] = d->gname[i];
	if (d->have_user) {
		nsess_policy_resolve(pf, d->u.name, gptr, d->n_gname, &d->pol);
		d->have_policy = true;
	}
	nsess_policy_free(pf);
}

static void doctor_emit_pam(struct doctor *d)
{
	struct nsess_finding f;
	char err[128];
	size_t i, shown = 0;

	d->area = "pam";
	if (d->pam_dir_err) {
		doctor_begin(&f, "pam_d", d->pam_dir_err == -ENOENT ? NSESS_INFO : NSESS_WARN);
		nsess_finding_seenf(&f, "cannot read /etc/pam.d: %s", doctor_strerror(d->pam_dir_err, err, sizeof(err)));
		doctor_push(d, &f);
	}
	for (i = 0; i < d->n_svc; i++) {
		const struct doctor_pam_service *s = &d->svc[i];

		if (!s->n_hits || doctor_is_included(d, s->name))
			continue;
		shown++;
		doctor_judge_service(d, s, &f);
		doctor_push(d, &f);
		if (s->systemd) {
			doctor_begin(&f, "pam_systemd", NSESS_WARN);
			nsess_finding_seenf(&f, "%s also runs pam_systemd.so: systemd --user and the session bus run outside the session; a process inside reaches them via /run/user/UID (the host filesystem is shared) and can start commands outside (systemd-run --user)",
				    s->name);
			nsess_finding_fixf(&f, "if sandboxed users must not get out, drop pam_systemd.so from /etc/pam.d/%s's session stack (loses XDG_RUNTIME_DIR and loginctl tracking); nsession does not yet hide /run/user",
				   s->name);
			doctor_push(d, &f);
		}
	}
	if (!shown && !d->pam_dir_err) {
		doctor_begin(&f, "pam_service", NSESS_INFO);
		nsess_finding_seenf(&f, "no service in /etc/pam.d loads pam_nsession.so: logins are not sandboxed");
		nsess_finding_fixf(&f, "to sandbox logins add 'session required pam_nsession.so' to /etc/pam.d/su and /etc/pam.d/login; for sshd also 'auth optional pam_nsession.so' (pam_nsession(8))");
		doctor_push(d, &f);
	}

	for (i = 0; i < d->n_policy; i++) {
		struct nsess_policy_file *pf = NULL;
		struct nsess_error e = { 0 };
		char full[PATH_MAX];
		struct stat st;
		int r;

		if (doctor_path(d, d->policy_path[i], full, sizeof(full)) < 0)
			continue;
		r = nsess_policy_load(full, &pf, &e);
		if (r < 0) {
			doctor_begin(&f, "policy_file", NSESS_FAIL);
			nsess_finding_seenf(&f, "%s", e.msg);
			nsess_finding_fixf(&f, "correct %s as the message says (nsession.conf(5)); until then every login through pam_nsession with this file fails",
				   d->policy_path[i]);
		} else if (doctor_lstat(d, d->policy_path[i], &st) == -ENOENT) {
			doctor_begin(&f, "policy_file", NSESS_INFO);
			nsess_finding_seenf(&f, "%s does not exist: the built-in defaults apply (sandbox yes, net slirp, map keep-id, on_failure closed, fallback single)",
				    d->policy_path[i]);
		} else {
			doctor_begin(&f, "policy_file", NSESS_OK);
			nsess_finding_seenf(&f, "%s parses", d->policy_path[i]);
		}
		doctor_push(d, &f);
		if (r == 0 && d->have_user) {
			const char *gptr[NSESS_GROUPS_MAX];
			struct nsess_policy pol;
			char desc[1024];
			size_t g;

			for (g = 0; g < d->n_gname; g++)
				gptr[g] = d->gname[g];
			nsess_policy_resolve(pf, d->u.name, gptr, d->n_gname, &pol);
			if (nsess_policy_describe(&pol, desc, sizeof(desc)) < 0)
				snprintf(desc, sizeof(desc), "(description too long)");
			doctor_begin(&f, "policy_user", NSESS_INFO);
			nsess_finding_seenf(&f, "for %s: %s", d->u.name, desc);
			if (pol.on_failure == NSESS_FAIL_OPEN)
				nsess_finding_fixf(&f, "note: on_failure = open lets %s in unsandboxed when setup fails",
					   d->u.name);
			doctor_push(d, &f);
		}
		nsess_policy_free(pf);
	}
}

/* ---- engine: libslirp and the ways out of a session --------------------------- */

static void doctor_escape(struct doctor *d, const char *id, const char *path, const char *what,
			  const char *how, unsigned int *found)
{
	struct nsess_finding f;
	struct stat st;

	if (doctor_lstat(d, path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return;
	(*found)++;
	doctor_begin(&f, id, NSESS_WARN);
	nsess_finding_seenf(&f, "%s listens on %s: sessions share the host filesystem, so a process inside can connect to it (only abstract sockets stay out of reach); %s",
		    what, path, how);
	nsess_finding_fixf(&f, "stop it for sandboxed users (systemctl stop user@%" PRIu32 ".service; loginctl disable-linger %s; no pam_systemd.so / ssh-agent in their login services), or accept it: nsession does not yet hide these paths inside sessions",
		   d->u.uid, d->u.name);
	doctor_push(d, &f);
}

static void doctor_emit_engine(struct doctor *d)
{
	struct nsess_finding f;
	char path[PATH_MAX], err[128], out[512] = "", ver[64] = "", slirp[64] = "";
	unsigned int found = 0;
	struct stat st;
	int r = -ENOENT;

	d->area = "engine";
	/*
	 * Every session with a network runs its engine in nsession-engine
	 * (nsession and the PAM module do not link libslirp): on the real
	 * machine, ask the program itself which build and libslirp it is.
	 */
	if (d->real) {
		r = nsess_engine_program_path(path, sizeof(path));
		if (r == 0) {
			char *argv[] = { path, (char *)"--version", NULL };

			r = nsess_run_helper(argv, out, sizeof(out));
			if (r == 0 && sscanf(out, "nsession-engine %63s libslirp %63s", ver, slirp) != 2)
				r = -EPROTO;
		}
		if (r == 0 && strcmp(ver, PACKAGE_VERSION) == 0) {
			doctor_begin(&f, "engine_program", NSESS_OK);
			nsess_finding_seenf(&f, "sessions run their network engine in %s (nsession-engine %s)",
				    path, ver);
		} else if (r == 0) {
			doctor_begin(&f, "engine_program", NSESS_FAIL);
			nsess_finding_seenf(&f, "%s is nsession-engine %s, not of this nsession (%s): sessions with a network fail to start",
				    path, ver, PACKAGE_VERSION);
			nsess_finding_fixf(&f, "install nsession and nsession-engine from the same build (make install)");
		} else if (r == -ENOENT) {
			doctor_begin(&f, "engine_program", NSESS_FAIL);
			nsess_finding_seenf(&f, "nsession-engine is not installed (%s): sessions with a network (the default) cannot start; --net=none and --net=host still work",
				    NSESS_ENGINE_PROGRAM);
			nsess_finding_fixf(&f, "reinstall nsession: make install puts nsession-engine in %s",
				   NSESS_ENGINE_PROGRAM);
		} else {
			doctor_begin(&f, "engine_program", NSESS_FAIL);
			nsess_finding_seenf(&f, "%s --version failed (%s)%s%s: sessions with a network cannot start",
				    path, strerror(-r), out[0] ? ": " : "", out);
			nsess_finding_fixf(&f, "reinstall nsession (make install); the program must run for every user");
		}
		doctor_push(d, &f);
	}
	doctor_begin(&f, "libslirp", NSESS_OK);
	if (d->real && r == 0)
		nsess_finding_seenf(&f, "libslirp %s (what nsession-engine runs with); protocol emulation off, host loopback off by default",
			    slirp);
	else
		nsess_finding_seenf(&f, "libslirp %s (built against); protocol emulation off, host loopback off by default",
			    SLIRP_VERSION_STRING);
	doctor_push(d, &f);
	if (!d->have_user)
		return;

	snprintf(path, sizeof(path), "/run/user/%" PRIu32, d->u.uid);
	r = doctor_lstat(d, path, &st);
	if (r == 0) {
		char sub[PATH_MAX];
		static const struct {
			const char *id, *rel, *what, *how;
		} socks[] = {
			{ "user_manager", "systemd/private", "the user's systemd manager",
			  "it starts units outside the sandbox (systemd-run --user)" },
			{ "session_bus", "bus", "the user's D-Bus session bus",
			  "services behind it act outside the sandbox" },
			{ "ssh_agent", "openssh_agent", "an ssh-agent", "it lends the user's ssh keys" },
			{ "ssh_agent", "ssh-agent.socket", "an ssh-agent", "it lends the user's ssh keys" },
			{ "ssh_agent", "keyring/ssh", "gnome-keyring's ssh-agent", "it lends the user's ssh keys" },
			{ "ssh_agent", "gnupg/S.gpg-agent.ssh", "gpg-agent's ssh-agent", "it lends the user's ssh keys" },
		};
		size_t i;
		DIR *dir;
		int fd;

		/* 0700 and owned by the user: others need root to look in */
		if (doctor_path(d, path, sub, sizeof(sub)) == 0 &&
		    (fd = open(sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			close(fd);
			for (i = 0; i < NSESS_ARRAY_SIZE(socks); i++) {
				snprintf(sub, sizeof(sub), "%s/%s", path, socks[i].rel);
				doctor_escape(d, socks[i].id, sub, socks[i].what, socks[i].how, &found);
			}
		} else {
			doctor_begin(&f, "escape_routes", NSESS_INFO);
			f.needs_root = true;
			nsess_finding_seenf(&f, "cannot look into %s (%s): its sockets (user manager, session bus, agents) were not checked",
				    path, doctor_strerror(errno, err, sizeof(err)));
			nsess_finding_fixf(&f, "run nsession doctor as root or as %s", d->u.name);
			doctor_push(d, &f);
			found++;
		}
		/* ssh-agent's default: /tmp/ssh-XXXXXX/agent.PID, a 0700 directory */
		if (doctor_path(d, "/tmp", sub, sizeof(sub)) == 0 && (dir = opendir(sub)) != NULL) {
			struct dirent *de;
			unsigned int scanned = 0;

			while ((de = readdir(dir)) != NULL && scanned++ < DOCTOR_DIR_SCAN_MAX) {
				char dpath[PATH_MAX];
				struct dirent *ae;
				DIR *ad;

				if (strncmp(de->d_name, "ssh-", 4) != 0 || strlen(de->d_name) > 64)
					continue;
				snprintf(dpath, sizeof(dpath), "/tmp/%s", de->d_name);
				if (doctor_lstat(d, dpath, &st) < 0 || !S_ISDIR(st.st_mode) ||
				    st.st_uid != d->u.uid)
					continue;
				if (doctor_path(d, dpath, sub, sizeof(sub)) < 0)
					continue;
				ad = opendir(sub);
				if (!ad) {
					doctor_begin(&f, "ssh_agent", NSESS_INFO);
					f.needs_root = true;
					nsess_finding_seenf(&f, "%s (owned by %s) may hold an ssh-agent socket but cannot be read (%s)",
						    dpath, d->u.name, doctor_strerror(errno, err, sizeof(err)));
					nsess_finding_fixf(&f, "run nsession doctor as root or as %s", d->u.name);
					doctor_push(d, &f);
					found++;
					continue;
				}
				while ((ae = readdir(ad)) != NULL) {
					char apath[PATH_MAX];

					if (strncmp(ae->d_name, "agent.", 6) != 0 || strlen(ae->d_name) > 64)
						continue;
					snprintf(apath, sizeof(apath), "%s/%s", dpath, ae->d_name);
					doctor_escape(d, "ssh_agent", apath, "an ssh-agent",
						      "it lends the user's ssh keys", &found);
				}
				closedir(ad);
			}
			closedir(dir);
		}
	}
	snprintf(path, sizeof(path), "/var/lib/systemd/linger/%s", d->u.name);
	if (doctor_lstat(d, path, &st) == 0) {
		doctor_begin(&f, "linger", NSESS_WARN);
		nsess_finding_seenf(&f, "lingering is on for %s (%s): their systemd --user manager runs outside any session, and sessions can reach it through /run/user/%" PRIu32 "/bus",
			    d->u.name, path, d->u.uid);
		nsess_finding_fixf(&f, "loginctl disable-linger %s", d->u.name);
		doctor_push(d, &f);
		found++;
	}
	if (!found) {
		doctor_begin(&f, "escape_routes", NSESS_OK);
		nsess_finding_seenf(&f, "no user manager, session bus or ssh-agent socket of %s was found under /run/user/%" PRIu32 " or /tmp right now (they appear while %s is logged in through pam_systemd or runs an agent)",
			    d->u.name, d->u.uid, d->u.name);
		doctor_push(d, &f);
	}
}

/* ---- sessions under /run/nsession ------------------------------------------------ */

static bool doctor_session_name_ok(const char *n)
{
	size_t i;

	if (nsess_state_name_valid(n))
		return true;
	for (i = 0; n[i]; i++)
		if (n[i] < '0' || n[i] > '9')
			return false;
	return i > 0 && i <= 20;
}

/* the same liveness rule the PAM module reclaims records by */
static bool doctor_pid_alive(const struct doctor *d, pid_t pid, int64_t started)
{
	return nsess_state_pid_alive(d->real ? "" : d->root, pid, started);
}

/* Read <dirfd>/<name>/session; 0 with @info, or -errno. */
static int doctor_read_session(int dfd, const char *name, struct nsess_state_info *info)
{
	_cleanup_close_ int sfd = -1, ffd = -1;
	char buf[DOCTOR_SESSION_FILE_MAX + 1];
	size_t got = 0;
	struct stat st;

	sfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return -errno;
	ffd = openat(sfd, "session", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (ffd < 0)
		return -errno;
	if (fstat(ffd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADF;
	while (got < DOCTOR_SESSION_FILE_MAX) {
		ssize_t k = read(ffd, buf + got, DOCTOR_SESSION_FILE_MAX - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	if (got == DOCTOR_SESSION_FILE_MAX)
		return -EFBIG;
	if (memchr(buf, '\0', got))
		return -EINVAL;
	buf[got] = '\0';
	return nsess_state_parse(buf, info);
}

static void doctor_emit_sessions(struct doctor *d)
{
	const char *rundir = d->o->run_dir ? d->o->run_dir : DOCTOR_RUNDIR;
	unsigned int total = 0, live = 0, stale = 0, odd = 0, shown = 0, mine = 0, scanned = 0;
	char full[PATH_MAX], err[128];
	_cleanup_close_ int dfd = -1;
	struct nsess_finding f;
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int fd;

	d->area = "sessions";
	if (doctor_path(d, rundir, full, sizeof(full)) < 0)
		return;
	dfd = open(full, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		int e = errno;

		if (e == ENOENT) {
			doctor_begin(&f, "sessions", NSESS_OK);
			nsess_finding_seenf(&f, "%s does not exist: no session was opened since boot", rundir);
		} else if (e == EACCES) {
			doctor_begin(&f, "sessions", NSESS_INFO);
			f.needs_root = true;
			nsess_finding_seenf(&f, "cannot read %s (root-owned, mode 0700): sessions not checked", rundir);
			nsess_finding_fixf(&f, "run nsession doctor as root to list sessions and stale entries");
		} else if (e == ELOOP || e == ENOTDIR) {
			doctor_begin(&f, "sessions", NSESS_FAIL);
			nsess_finding_seenf(&f, "%s is a symlink or not a directory: pam_nsession refuses to keep state there",
				    rundir);
			nsess_finding_fixf(&f, "remove it (rm %s); pam_nsession creates the directory again, root-owned and 0700",
				   rundir);
		} else {
			doctor_begin(&f, "sessions", NSESS_WARN);
			nsess_finding_seenf(&f, "cannot open %s: %s", rundir, doctor_strerror(e, err, sizeof(err)));
		}
		doctor_push(d, &f);
		return;
	}
	if (fstat(dfd, &st) == 0 && ((st.st_mode & 07777) != 0700 || (d->real && st.st_uid != 0))) {
		doctor_begin(&f, "run_dir", NSESS_FAIL);
		nsess_finding_seenf(&f, "%s has mode %04o, owner uid %u: it must be root-owned and 0700, or anyone could read or plant session records",
			    rundir, (unsigned int)(st.st_mode & 07777), (unsigned int)st.st_uid);
		nsess_finding_fixf(&f, "chown root:root %s; chmod 0700 %s (pam_nsession refuses it until then)",
			   rundir, rundir);
		doctor_push(d, &f);
	}
	fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(dir)) != NULL && scanned++ < DOCTOR_DIR_SCAN_MAX) {
		struct nsess_state_info info;
		int r;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		total++;
		if (!doctor_session_name_ok(de->d_name)) {
			odd++;
			if (shown++ < DOCTOR_STALE_SHOWN) {
				doctor_begin(&f, "session_entry", NSESS_WARN);
				nsess_finding_seenf(&f, "%s/%s is not a session record (names are numbers)", rundir,
					    de->d_name);
				nsess_finding_fixf(&f, "find out who put it there, then remove it");
				doctor_push(d, &f);
			}
			continue;
		}
		r = doctor_read_session(dfd, de->d_name, &info);
		if (r < 0) {
			odd++;
			if (shown++ < DOCTOR_STALE_SHOWN) {
				doctor_begin(&f, "session_entry", NSESS_WARN);
				nsess_finding_seenf(&f, "%s/%s: no readable session file (%s): being created, or left over",
					    rundir, de->d_name,
					    r == -EINVAL ? "malformed"
					    : r == -ELOOP ? "a symlink"
					    : r == -EBADF ? "not a regular file"
							  : doctor_strerror(r, err, sizeof(err)));
				nsess_finding_fixf(&f, "if no login is in progress: rm -r %s/%s", rundir, de->d_name);
				doctor_push(d, &f);
			}
			continue;
		}
		if (d->have_user && info.uid == d->u.uid)
			mine++;
		if (doctor_pid_alive(d, info.holder_pid, info.started)) {
			live++;
			continue;
		}
		stale++;
		if (shown++ < DOCTOR_STALE_SHOWN) {
			char when[64] = "?";
			struct tm tm;
			time_t t = (time_t)info.started;

			if (gmtime_r(&t, &tm))
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
			doctor_begin(&f, "session_stale", NSESS_WARN);
			nsess_finding_seenf(&f, "%s/%s: session of %s (uid %" PRIu32 ") started %s; its holder process %d is gone%s",
				    rundir, de->d_name, info.user, info.uid, when, (int)info.holder_pid,
				    doctor_pid_alive(d, info.engine_pid, info.started) ? ", but its engine still runs"
									 : "");
			if (doctor_pid_alive(d, info.engine_pid, info.started))
				nsess_finding_fixf(&f, "kill %d; rm -r %s/%s (or it is reclaimed at the next login)",
					   (int)info.engine_pid, rundir, de->d_name);
			else
				nsess_finding_fixf(&f, "rm -r %s/%s (or it is reclaimed at the next login)", rundir,
					   de->d_name);
			doctor_push(d, &f);
		}
	}
	closedir(dir);
	if (shown > DOCTOR_STALE_SHOWN) {
		doctor_begin(&f, "session_stale", NSESS_WARN);
		nsess_finding_seenf(&f, "%u more stale or odd entries in %s not shown", shown - DOCTOR_STALE_SHOWN,
			    rundir);
		nsess_finding_fixf(&f, "remove the stale entries (their holder processes are gone)");
		doctor_push(d, &f);
	}
	doctor_begin(&f, "sessions", NSESS_OK);
	if (d->have_user)
		nsess_finding_seenf(&f, "%s: %u entries: %u running (%u of %s), %u stale, %u other", rundir, total,
			    live, mine, d->u.name, stale, odd);
	else
		nsess_finding_seenf(&f, "%s: %u entries: %u running, %u stale, %u other", rundir, total, live,
			    stale, odd);
	doctor_push(d, &f);
}

/* ---- the run ---------------------------------------------------------------------- */

int nsess_doctor_run(const struct nsess_doctor_opts *o, struct nsess_findings *out)
{
	struct doctor *d;
	int kind, worst;

	if (!o || !out)
		return -EINVAL;
	nsess_findings_init(out);
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->probes = calloc(1, sizeof(*d->probes));
	if (!d->probes) {
		free(d);
		return -ENOMEM;
	}
	d->o = o;
	d->fs = out;
	d->real = doctor_is_real_root(o->root);
	d->root = d->real ? "/" : o->root;
	d->areas = o->areas ? o->areas : NSESS_DOCTOR_ALL;

	/* gather: later areas' data shapes earlier verdicts */
	doctor_gather_probes(d);
	doctor_gather_subid(d);
	doctor_gather_user(d);
	if (d->areas & (NSESS_DOCTOR_PAM | NSESS_DOCTOR_USER)) {
		doctor_gather_pam(d);
		doctor_gather_policy_paths(d);
		doctor_gather_policy(d);
	}

	if (d->areas & NSESS_DOCTOR_KERNEL)
		doctor_emit_probes(d, NSESS_DOCTOR_KERNEL);
	if (d->areas & NSESS_DOCTOR_TUN)
		doctor_emit_probes(d, NSESS_DOCTOR_TUN);
	if (d->areas & NSESS_DOCTOR_HELPERS)
		doctor_emit_probes(d, NSESS_DOCTOR_HELPERS);
	if (d->areas & NSESS_DOCTOR_SUBID)
		doctor_emit_subid(d);
	if (d->areas & NSESS_DOCTOR_USER)
		doctor_emit_user(d);
	if (d->areas & NSESS_DOCTOR_PAM)
		doctor_emit_pam(d);
	if (d->areas & NSESS_DOCTOR_ENGINE)
		doctor_emit_engine(d);
	if (d->areas & NSESS_DOCTOR_SESSIONS)
		doctor_emit_sessions(d);

	for (kind = 0; kind < 2; kind++)
		nsess_subid_file_free(&d->file[kind]);
	free(d->svc);
	free(d->probes);
	free(d);
	worst = nsess_findings_worst(out);
	return worst;
}

/* ---- rendering ---------------------------------------------------------------------- */

static const char *doctor_area_title(const char *area)
{
	static const struct {
		const char *area, *title;
	} t[] = {
		{ "kernel", "Kernel, sysctls and process state" },
		{ "tun", "/dev/net/tun" },
		{ "helpers", "newuidmap / newgidmap" },
		{ "subid", "Subordinate id files" },
		{ "user", "User" },
		{ "pam", "PAM services and policy" },
		{ "engine", "Engine and ways out of a session" },
		{ "sessions", "Sessions (/run/nsession)" },
	};
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(t); i++)
		if (strcmp(t[i].area, area) == 0)
			return t[i].title;
	return area;
}

static const char *doctor_label(int status, bool colour)
{
	switch (status) {
	case NSESS_OK:
		return colour ? "\033[32m[ OK ]\033[0m" : "[ OK ]";
	case NSESS_INFO:
		return colour ? "\033[36m[INFO]\033[0m" : "[INFO]";
	case NSESS_WARN:
		return colour ? "\033[1;33m[WARN]\033[0m" : "[WARN]";
	case NSESS_FAIL:
		return colour ? "\033[1;31m[FAIL]\033[0m" : "[FAIL]";
	}
	return "[????]";
}

static void doctor_counts(const struct nsess_findings *fs, unsigned int c[4])
{
	unsigned int i;

	c[0] = c[1] = c[2] = c[3] = 0;
	for (i = 0; i < fs->n && i < NSESS_FINDINGS_MAX; i++)
		if (fs->f[i].status >= NSESS_OK && fs->f[i].status <= NSESS_FAIL)
			c[fs->f[i].status]++;
}

int nsess_doctor_to_text(const struct nsess_findings *fs, const char *user, bool colour,
			 char *buf, size_t len)
{
	char esc[4 * DOCTOR_FIELD_MAX + 8], line[256];
	struct nsess_out o = { buf, len, 0 };
	const char *area = NULL;
	unsigned int i, c[4];

	if (!fs || (!buf && len))
		return -EINVAL;
	if (len)
		buf[0] = '\0';
	nsess_out_put(&o, "nsession doctor");
	if (user) {
		nsess_out_put(&o, " for user ");
		nsess_out_put(&o, nsess_escape(user, (size_t)-1, esc, sizeof(esc)));
	}
	nsess_out_put(&o, "\n");
	for (i = 0; i < fs->n && i < NSESS_FINDINGS_MAX; i++) {
		const struct nsess_finding *f = &fs->f[i];

		if (!area || strcmp(area, f->area) != 0) {
			area = f->area;
			nsess_out_put(&o, "\n");
			nsess_out_put(&o, colour ? "\033[1m" : "");
			nsess_out_put(&o, nsess_escape(doctor_area_title(area), (size_t)-1, esc, sizeof(esc)));
			nsess_out_put(&o, colour ? "\033[0m\n" : "\n");
		}
		nsess_out_put(&o, "  ");
		nsess_out_put(&o, doctor_label(f->status, colour));
		nsess_out_put(&o, " ");
		nsess_out_put(&o, nsess_escape(f->id, (size_t)-1, esc, sizeof(esc)));
		nsess_out_put(&o, ": ");
		nsess_out_put(&o, nsess_escape(f->seen, (size_t)-1, esc, sizeof(esc)));
		if (f->needs_root)
			nsess_out_put(&o, " [needs root]");
		nsess_out_put(&o, "\n");
		if (f->fix[0]) {
			nsess_out_put(&o, "      fix: ");
			nsess_out_put(&o, nsess_escape(f->fix, (size_t)-1, esc, sizeof(esc)));
			nsess_out_put(&o, "\n");
		}
	}
	if (fs->dropped) {
		snprintf(line, sizeof(line), "  [FAIL] findings: %u more findings did not fit the list\n",
			 fs->dropped);
		nsess_out_put(&o, line);
	}
	doctor_counts(fs, c);
	snprintf(line, sizeof(line), "\n%u failed, %u warnings, %u notes, %u ok\n",
		 c[NSESS_FAIL] + fs->dropped, c[NSESS_WARN], c[NSESS_INFO], c[NSESS_OK]);
	nsess_out_put(&o, line);
	return nsess_out_result(&o);
}

int nsess_doctor_to_json(const struct nsess_findings *fs, const char *user, bool as_root,
			 char *buf, size_t len)
{
	struct nsess_out o = { buf, len, 0 };
	char num[160];
	unsigned int i, c[4];
	int worst;

	if (!fs || (!buf && len))
		return -EINVAL;
	if (len)
		buf[0] = '\0';
	worst = nsess_findings_worst(fs);
	doctor_counts(fs, c);
	nsess_out_put(&o, "{\"schema\":1,\"user\":");
	if (user)
		nsess_out_put_json_str(&o, user);
	else
		nsess_out_put(&o, "null");
	nsess_out_put(&o, as_root ? ",\"as_root\":true,\"status\":" : ",\"as_root\":false,\"status\":");
	nsess_out_put_json_str(&o, nsess_finding_status_name(worst));
	snprintf(num, sizeof(num), ",\"counts\":{\"ok\":%u,\"info\":%u,\"warn\":%u,\"fail\":%u}",
		 c[NSESS_OK], c[NSESS_INFO], c[NSESS_WARN], c[NSESS_FAIL]);
	nsess_out_put(&o, num);
	nsess_out_put(&o, ",\"findings\":[");
	for (i = 0; i < fs->n && i < NSESS_FINDINGS_MAX; i++) {
		const struct nsess_finding *f = &fs->f[i];

		nsess_out_put(&o, i ? ",{\"area\":" : "{\"area\":");
		nsess_out_put_json_str(&o, f->area);
		nsess_out_put(&o, ",\"id\":");
		nsess_out_put_json_str(&o, f->id);
		nsess_out_put(&o, ",\"status\":");
		nsess_out_put_json_str(&o, nsess_finding_status_name(f->status));
		nsess_out_put(&o, ",\"seen\":");
		nsess_out_put_json_str(&o, f->seen);
		nsess_out_put(&o, ",\"fix\":");
		nsess_out_put_json_str(&o, f->fix);
		nsess_out_put(&o, f->needs_root ? ",\"needs_root\":true}" : ",\"needs_root\":false}");
	}
	snprintf(num, sizeof(num), "],\"dropped\":%u}\n", fs->dropped);
	nsess_out_put(&o, num);
	return nsess_out_result(&o);
}

int nsess_doctor_brief_render(const struct nsess_findings *fs, char *buf, size_t len)
{
	char esc[4 * DOCTOR_FIELD_MAX + 8];
	struct nsess_out o = { buf, len, 0 };
	int want = NSESS_FAIL;
	unsigned int i, n = 0;

	if (!fs || !buf || len < 32)
		return -EINVAL;
	buf[0] = '\0';
	if (nsess_findings_worst(fs) < NSESS_FAIL || (fs->dropped && !fs->n))
		want = NSESS_WARN;
	nsess_out_put(&o, "doctor:");
	for (i = 0; i < fs->n && i < NSESS_FINDINGS_MAX; i++) {
		const struct nsess_finding *f = &fs->f[i];

		if (f->status != want)
			continue;
		nsess_out_put(&o, n++ ? "; " : " ");
		nsess_out_put(&o, nsess_escape(f->id, (size_t)-1, esc, sizeof(esc)));
		nsess_out_put(&o, ": ");
		nsess_out_put(&o, nsess_escape(f->fix[0] ? f->fix : f->seen, (size_t)-1, esc, sizeof(esc)));
	}
	if (!n)
		nsess_out_put(&o, " no problem found");
	if (o.pos >= len) {
		memcpy(buf + len - 4, "...", 4);
		return -ENOSPC;
	}
	return 0;
}

int nsess_doctor_brief(const struct nsess_doctor_opts *o, char *buf, size_t len)
{
	struct nsess_doctor_opts oo;
	struct nsess_findings *fs;
	int worst, r;

	if (!o || !buf || len < 32)
		return -EINVAL;
	oo = *o;
	if (!oo.areas)
		oo.areas = NSESS_DOCTOR_SETUP;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	worst = nsess_doctor_run(&oo, fs);
	if (worst >= 0) {
		r = nsess_doctor_brief_render(fs, buf, len);
		if (r < 0 && r != -ENOSPC)
			worst = r;
	}
	free(fs);
	return worst;
}
