/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * idmap.c - plan, validate and render user namespace id maps.
 *
 * How this works: a plan walks the inside ids upwards from 0. At each step
 * the next inside id is either one of the ids the layout keeps (it maps to
 * itself) or it takes the next free id of the delegated ranges (the "pool"),
 * consumed range by range, in order. The walk stops when the inside size or
 * the pool runs out; kept ids the walk did not reach still get their identity
 * line. Lines are produced in inside order, and a line that continues the
 * previous one on both sides is merged into it, so adjacent identity ids (and
 * host-adjacent ranges consumed without interruption) become one line.
 *
 * Every plan then goes through nsess_map_validate() before it is returned:
 * the map writer only ever sees maps that do not contain host id 0, do not
 * overlap on either side, do not wrap and fit the kernel's 340 lines.
 *
 * Pure code: no syscalls, no logging; errors come back in a struct
 * nsess_error.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"

/* (uint32_t)-1 is "no id" to the kernel; the largest id a map may use. */
#define IDMAP_ID_MAX 4294967294u
/* NGROUPS_MAX on Linux: nobody legitimately has more. */
#define IDMAP_GROUPS_MAX 65536u

/* The delegated ranges, consumed in order. */
struct idmap_pool {
	const struct nsess_ranges *r;
	unsigned int i;	/* current range */
	uint32_t used;	/* ids already taken from it */
};

/* How many ids are left in the current range (skips used-up ones); 0 = dry. */
static uint32_t idmap_pool_avail(struct idmap_pool *p)
{
	while (p->i < p->r->n && p->used >= p->r->r[p->i].count) {
		p->i++;
		p->used = 0;
	}
	if (p->i >= p->r->n)
		return 0;
	return p->r->r[p->i].count - p->used;
}

/* The next free host id; only valid after idmap_pool_avail() said > 0. */
static uint32_t idmap_pool_next(const struct idmap_pool *p)
{
	return p->r->r[p->i].start + p->used;
}

static void idmap_pool_take(struct idmap_pool *p, uint32_t n)
{
	p->used += n;
}

/*
 * Append a line, merging it into the previous one when it continues it on
 * both sides (same mapping, one line fewer for the kernel's budget).
 *
 * Return: 0, or -ERANGE when a 341st line would be needed.
 */
static int idmap_emit(struct nsess_map *m, uint32_t inside, uint32_t outside, uint32_t count)
{
	struct nsess_map_line *last;

	if (count == 0)
		return 0;
	if (m->n > 0) {
		last = &m->l[m->n - 1];
		if ((uint64_t)last->inside + last->count == inside &&
		    (uint64_t)last->outside + last->count == outside &&
		    (uint64_t)last->count + count <= UINT32_MAX) {
			last->count += count;
			return 0;
		}
	}
	if (m->n >= NSESS_MAP_LINES_MAX)
		return -ERANGE;
	m->l[m->n].inside = inside;
	m->l[m->n].outside = outside;
	m->l[m->n].count = count;
	m->n++;
	return 0;
}

/*
 * Walk inside ids [@from, @size): an id listed in @kept (sorted, unique, all
 * >= @from) maps to itself, any other takes the next id of @r. Stops when the
 * inside size or the pool runs out; kept ids not reached by then get their
 * identity line afterwards (still in inside order, since @kept is sorted).
 */
static int idmap_fill(struct nsess_map *m, uint32_t from, uint32_t size, const uint32_t *kept,
		      size_t n_kept, const struct nsess_ranges *r)
{
	struct idmap_pool p = { .r = r };
	uint64_t c = from;
	size_t k = 0;
	int rc;

	while (c < size) {
		uint32_t avail = idmap_pool_avail(&p);
		uint64_t stop = size;
		uint32_t n;

		if (avail == 0)
			break;
		if (k < n_kept && kept[k] == c) {
			rc = idmap_emit(m, (uint32_t)c, (uint32_t)c, 1);
			if (rc < 0)
				return rc;
			c++;
			k++;
			continue;
		}
		if (k < n_kept && kept[k] < stop)
			stop = kept[k];
		n = stop - c < avail ? (uint32_t)(stop - c) : avail;
		rc = idmap_emit(m, (uint32_t)c, idmap_pool_next(&p), n);
		if (rc < 0)
			return rc;
		idmap_pool_take(&p, n);
		c += n;
	}
	for (; k < n_kept; k++) {
		rc = idmap_emit(m, kept[k], kept[k], 1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * A layout that fills from delegated ranges needs at least one, and each
 * must be a sane block of host ids. The subid parser already refuses bad
 * lines; checking again here keeps this file safe on its own (a range from
 * libsubid or a caller's bug must not turn into a map of host root).
 */
static int idmap_check_ranges(const struct nsess_ranges *r, const char *what, const char *idname,
			      uint32_t id, const char *layout, struct nsess_error *e)
{
	uint64_t total = 0;
	unsigned int i;

	/* summed here: the planner needs only the struct, not subid.c */
	for (i = 0; r && i < r->n && i < NSESS_RANGES_MAX; i++)
		total += r->r[i].count;
	if (!r || r->n == 0 || total == 0)
		return nsess_error_set(e, EINVAL,
				       "no %s range is delegated to %s %u, and the %s layout needs "
				       "one: delegate one with 'usermod --add-%ss 100000-165535 USER' "
				       "(or a line 'USER:100000:65536' in /etc/%s), or use the "
				       "'single' layout",
				       what, idname, id, layout, what, what);
	if (r->n > NSESS_RANGES_MAX)
		return nsess_error_set(e, EINVAL, "%s %u has %u %s ranges, more than the %u supported",
				       idname, id, r->n, what, NSESS_RANGES_MAX);
	for (i = 0; i < r->n; i++) {
		uint64_t end = (uint64_t)r->r[i].start + r->r[i].count - 1;

		if (r->r[i].count == 0)
			continue;
		if (r->r[i].start == 0)
			return nsess_error_set(e, EPERM,
					       "%s range %u:%u of %s %u contains host id 0; nsession "
					       "never maps host root: fix the line in /etc/%s",
					       what, r->r[i].start, r->r[i].count, idname, id, what);
		if (end > IDMAP_ID_MAX)
			return nsess_error_set(e, EINVAL,
					       "%s range %u:%u of %s %u ends past %u (or wraps): fix the "
					       "line in /etc/%s",
					       what, r->r[i].start, r->r[i].count, idname, id,
					       IDMAP_ID_MAX, what);
	}
	return 0;
}

static int idmap_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The gids keep-id maps to themselves: the primary gid and every
 * supplementary gid, sorted and unique. Group 0 is dropped (host gid 0 is
 * never mapped), which leaves a supplementary group unmapped: @dropped says
 * so and the caller must deny setgroups.
 */
static int idmap_kept_gids(const struct nsess_idmap_req *req, uint32_t **out, size_t *n_out,
			   bool *dropped, struct nsess_error *e)
{
	uint32_t *v;
	size_t i, n = 0, u = 0;

	if (req->n_groups > IDMAP_GROUPS_MAX)
		return nsess_error_set(e, EINVAL,
				       "uid %u has %zu supplementary groups, more than the kernel's "
				       "%u", req->uid, req->n_groups, IDMAP_GROUPS_MAX);
	if (req->n_groups > 0 && !req->groups)
		return nsess_error_set(e, EINVAL, "the request lists %zu groups but no group array",
				       req->n_groups);
	v = malloc((req->n_groups + 1) * sizeof(*v));
	if (!v)
		return nsess_error_set(e, ENOMEM, "out of memory planning the gid map");
	*dropped = false;
	v[n++] = req->gid;
	for (i = 0; i < req->n_groups; i++) {
		if (req->groups[i] == 0) {
			*dropped = true;
			continue;
		}
		v[n++] = req->groups[i];
	}
	qsort(v, n, sizeof(*v), idmap_cmp_u32);
	for (i = 0; i < n; i++)
		if (u == 0 || v[u - 1] != v[i])
			v[u++] = v[i];
	*out = v;
	*n_out = u;
	return 0;
}

static int idmap_too_many_lines(struct nsess_error *e, const char *what, const char *layout,
				size_t n_groups, const struct nsess_ranges *r)
{
	bool keep = strcmp(layout, "keep-id") == 0;

	return nsess_error_set(e, ERANGE,
			       "the %s layout would need more than %u %s map lines (the kernel's "
			       "limit) for %zu supplementary groups and %u sub%s ranges: use %s"
			       "fewer and larger sub%s ranges%s",
			       layout, NSESS_MAP_LINES_MAX, what, n_groups, r->n, what,
			       keep ? "fewer supplementary groups, " : "", what,
			       keep ? ", or the 'root' layout" : "");
}

static int idmap_plan_keep_id(const struct nsess_idmap_req *req, uint32_t size,
			      struct nsess_idmap_plan *p, struct nsess_error *e)
{
	_cleanup_free_ uint32_t *gids = NULL;
	size_t n_gids = 0;
	bool dropped = false;
	int rc;

	rc = idmap_check_ranges(req->subuid, "subuid", "uid", req->uid, "keep-id", e);
	if (rc < 0)
		return rc;
	rc = idmap_check_ranges(req->subgid, "subgid", "uid", req->uid, "keep-id", e);
	if (rc < 0)
		return rc;
	rc = idmap_kept_gids(req, &gids, &n_gids, &dropped, e);
	if (rc < 0)
		return rc;

	rc = idmap_fill(&p->uid, 0, size, &req->uid, 1, req->subuid);
	if (rc == -ERANGE)
		return idmap_too_many_lines(e, "uid", "keep-id", req->n_groups, req->subuid);
	if (rc < 0)
		return rc;
	rc = idmap_fill(&p->gid, 0, size, gids, n_gids, req->subgid);
	if (rc == -ERANGE)
		return idmap_too_many_lines(e, "gid", "keep-id", req->n_groups, req->subgid);
	if (rc < 0)
		return rc;

	/* every supplementary gid is mapped unless group 0 had to be dropped */
	p->setgroups_deny = dropped;
	p->inside_uid = req->uid;
	p->inside_gid = req->gid;
	return 0;
}

static int idmap_plan_root(const struct nsess_idmap_req *req, uint32_t size,
			   struct nsess_idmap_plan *p, struct nsess_error *e)
{
	size_t i;
	int rc;

	rc = idmap_check_ranges(req->subuid, "subuid", "uid", req->uid, "root", e);
	if (rc < 0)
		return rc;
	rc = idmap_check_ranges(req->subgid, "subgid", "uid", req->uid, "root", e);
	if (rc < 0)
		return rc;
	if (req->n_groups > 0 && !req->groups)
		return nsess_error_set(e, EINVAL, "the request lists %zu groups but no group array",
				       req->n_groups);

	rc = idmap_emit(&p->uid, 0, req->uid, 1);
	if (rc == 0)
		rc = idmap_fill(&p->uid, 1, size, NULL, 0, req->subuid);
	if (rc == -ERANGE)
		return idmap_too_many_lines(e, "uid", "root", req->n_groups, req->subuid);
	if (rc < 0)
		return rc;
	rc = idmap_emit(&p->gid, 0, req->gid, 1);
	if (rc == 0)
		rc = idmap_fill(&p->gid, 1, size, NULL, 0, req->subgid);
	if (rc == -ERANGE)
		return idmap_too_many_lines(e, "gid", "root", req->n_groups, req->subgid);
	if (rc < 0)
		return rc;

	/* only the primary gid is mapped as itself; any other group is not */
	p->setgroups_deny = false;
	for (i = 0; i < req->n_groups; i++)
		if (req->groups[i] != req->gid)
			p->setgroups_deny = true;
	p->inside_uid = 0;
	p->inside_gid = 0;
	return 0;
}

static int idmap_plan_single(const struct nsess_idmap_req *req, struct nsess_idmap_plan *p)
{
	/* cannot fail: the map is empty and one line always fits */
	(void)idmap_emit(&p->uid, req->single_inside_uid, req->uid, 1);
	(void)idmap_emit(&p->gid, req->single_inside_gid, req->gid, 1);
	p->setgroups_deny = true;
	p->inside_uid = req->single_inside_uid;
	p->inside_gid = req->single_inside_gid;
	return 0;
}

int nsess_idmap_plan(const struct nsess_idmap_req *req, struct nsess_idmap_plan *out,
		     struct nsess_error *e)
{
	struct nsess_idmap_plan p;
	const char *name;
	uint32_t size;
	int rc;

	if (!req || !out)
		return nsess_error_set(e, EINVAL, "no id map request to plan");
	name = nsess_layout_name(req->layout);
	if (!name)
		return nsess_error_set(e, EINVAL,
				       "unknown id map layout %d (expected keep-id, root or single)",
				       (int)req->layout);
	if (req->uid == 0)
		return nsess_error_set(e, EPERM,
				       "uid 0 (root) cannot be mapped: nsession never maps host root; "
				       "exclude root from pam_nsession");
	if (req->gid == 0)
		return nsess_error_set(e, EPERM,
				       "uid %u has primary gid 0, which cannot be mapped: nsession "
				       "never maps host group 0; give the user another primary group",
				       req->uid);

	memset(&p, 0, sizeof(p));
	p.layout = req->layout;
	size = req->size ? req->size : NSESS_INSIDE_SIZE;

	switch (req->layout) {
	case NSESS_LAYOUT_KEEP_ID:
		rc = idmap_plan_keep_id(req, size, &p, e);
		break;
	case NSESS_LAYOUT_ROOT:
		rc = idmap_plan_root(req, size, &p, e);
		break;
	case NSESS_LAYOUT_SINGLE:
		rc = idmap_plan_single(req, &p);
		break;
	default:
		rc = nsess_error_set(e, EINVAL, "unknown id map layout %d", (int)req->layout);
		break;
	}
	if (rc < 0)
		return rc;

	rc = nsess_map_validate(&p.uid, "uid", e);
	if (rc < 0)
		return rc;
	rc = nsess_map_validate(&p.gid, "gid", e);
	if (rc < 0)
		return rc;

	*out = p;
	return 0;
}

static void idmap_line_str(const struct nsess_map_line *l, char *buf, size_t len)
{
	snprintf(buf, len, "%u %u %u", l->inside, l->outside, l->count);
}

/* Do [a, a+na) and [b, b+nb) share an id? (64-bit: no wrap) */
static bool idmap_overlap(uint32_t a, uint32_t na, uint32_t b, uint32_t nb)
{
	return (uint64_t)a < (uint64_t)b + nb && (uint64_t)b < (uint64_t)a + na;
}

int nsess_map_validate(const struct nsess_map *m, const char *what, struct nsess_error *e)
{
	char s[40], t[40];
	unsigned int i, j;

	if (!what)
		what = "id";
	if (!m || m->n == 0)
		return nsess_error_set(e, EINVAL, "the %s map has no lines", what);
	if (m->n > NSESS_MAP_LINES_MAX)
		return nsess_error_set(e, ERANGE,
				       "the %s map has %u lines; the kernel accepts at most %u", what,
				       m->n, NSESS_MAP_LINES_MAX);

	for (i = 0; i < m->n; i++) {
		const struct nsess_map_line *l = &m->l[i];
		uint64_t in_end = (uint64_t)l->inside + l->count - 1;
		uint64_t out_end = (uint64_t)l->outside + l->count - 1;

		idmap_line_str(l, s, sizeof(s));
		if (l->count == 0)
			return nsess_error_set(e, EINVAL, "%s map line %u '%s': the count is 0",
					       what, i + 1, s);
		/* a line that wraps past 4294967295 would come round to 0 */
		if (l->outside == 0 || out_end > UINT32_MAX)
			return nsess_error_set(e, EPERM,
					       "%s map line %u '%s': it contains host id 0; nsession "
					       "never maps host root",
					       what, i + 1, s);
		if (in_end > IDMAP_ID_MAX)
			return nsess_error_set(e, EINVAL,
					       "%s map line %u '%s': inside ids %u..%llu pass %u (or "
					       "wrap)",
					       what, i + 1, s, l->inside, (unsigned long long)in_end,
					       IDMAP_ID_MAX);
		if (out_end > IDMAP_ID_MAX)
			return nsess_error_set(e, EINVAL,
					       "%s map line %u '%s': host ids %u..%llu pass %u", what,
					       i + 1, s, l->outside, (unsigned long long)out_end,
					       IDMAP_ID_MAX);
		for (j = 0; j < i; j++) {
			const struct nsess_map_line *o = &m->l[j];

			idmap_line_str(o, t, sizeof(t));
			if (idmap_overlap(l->inside, l->count, o->inside, o->count))
				return nsess_error_set(e, EINVAL,
						       "%s map line %u '%s': its inside ids overlap "
						       "line %u '%s'",
						       what, i + 1, s, j + 1, t);
			if (idmap_overlap(l->outside, l->count, o->outside, o->count))
				return nsess_error_set(e, EINVAL,
						       "%s map line %u '%s': its host ids overlap line "
						       "%u '%s', so a host id would be mapped twice "
						       "(does a /etc/sub%s range contain one of the "
						       "user's own ids?)",
						       what, i + 1, s, j + 1, t, what);
		}
	}
	return 0;
}

int nsess_map_render(const struct nsess_map *m, char *buf, size_t len)
{
	char line[40];
	size_t need = 0, off = 0;
	unsigned int i;
	int n;

	if (!m || !buf || m->n > NSESS_MAP_LINES_MAX)
		return -EINVAL;
	/* measure first so @buf is untouched when it is too small */
	for (i = 0; i < m->n; i++) {
		n = snprintf(line, sizeof(line), "%u %u %u\n", m->l[i].inside, m->l[i].outside,
			     m->l[i].count);
		need += (size_t)n;
	}
	if (need + 1 > len)
		return -ENOSPC;
	for (i = 0; i < m->n; i++) {
		n = snprintf(buf + off, len - off, "%u %u %u\n", m->l[i].inside,
			     m->l[i].outside, m->l[i].count);
		off += (size_t)n;
	}
	buf[off] = '\0';
	return (int)off;
}

/* Copy @s into @store at *@off; the caller has checked that it fits. */
static char *idmap_store_put(char *store, size_t *off, const char *s)
{
	char *p = store + *off;
	size_t n = strlen(s) + 1;

	memcpy(p, s, n);
	*off += n;
	return p;
}

int nsess_map_helper_argv(const struct nsess_map *m, const char *helper, pid_t pid,
			  struct nsess_map_argv *out)
{
	char num[16], pidstr[24];
	size_t need, off = 0;
	unsigned int i, a = 0;

	/* helpers run by absolute path only, never looked up in PATH */
	if (!m || !out || !helper || helper[0] != '/' || pid <= 0 || m->n == 0 ||
	    m->n > NSESS_MAP_LINES_MAX)
		return -EINVAL;

	snprintf(pidstr, sizeof(pidstr), "%ld", (long)pid);
	need = strlen(helper) + 1 + strlen(pidstr) + 1;
	for (i = 0; i < m->n; i++) {
		need += (size_t)snprintf(num, sizeof(num), "%u", m->l[i].inside) + 1;
		need += (size_t)snprintf(num, sizeof(num), "%u", m->l[i].outside) + 1;
		need += (size_t)snprintf(num, sizeof(num), "%u", m->l[i].count) + 1;
	}
	if (need > sizeof(out->store))
		return -ENOSPC;

	out->argv[a++] = idmap_store_put(out->store, &off, helper);
	out->argv[a++] = idmap_store_put(out->store, &off, pidstr);
	for (i = 0; i < m->n; i++) {
		snprintf(num, sizeof(num), "%u", m->l[i].inside);
		out->argv[a++] = idmap_store_put(out->store, &off, num);
		snprintf(num, sizeof(num), "%u", m->l[i].outside);
		out->argv[a++] = idmap_store_put(out->store, &off, num);
		snprintf(num, sizeof(num), "%u", m->l[i].count);
		out->argv[a++] = idmap_store_put(out->store, &off, num);
	}
	out->argv[a] = NULL;
	return 0;
}

static const char *const idmap_layout_names[] = {
	[NSESS_LAYOUT_KEEP_ID] = "keep-id",
	[NSESS_LAYOUT_ROOT] = "root",
	[NSESS_LAYOUT_SINGLE] = "single",
};

const char *nsess_layout_name(enum nsess_layout l)
{
	if ((unsigned int)l >= NSESS_ARRAY_SIZE(idmap_layout_names))
		return NULL;
	return idmap_layout_names[l];
}

int nsess_layout_parse(const char *s, enum nsess_layout *out)
{
	unsigned int i;

	if (!s || !out)
		return -EINVAL;
	for (i = 0; i < NSESS_ARRAY_SIZE(idmap_layout_names); i++) {
		if (strcmp(s, idmap_layout_names[i]) == 0) {
			*out = (enum nsess_layout)i;
			return 0;
		}
	}
	return -EINVAL;
}
