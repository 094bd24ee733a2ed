/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * subid.c - strict parser for /etc/subuid and /etc/subgid; see subid.h.
 *
 * How this works: the loader opens "<root>/etc/subuid" without following a
 * symlink or blocking on a FIFO and hands the stream to the parser. The
 * parser reads bounded lines; a well-formed line becomes an entry, any other
 * line a problem that remembers whose line it was, so that a broken line
 * fails closed for its owner and only for its owner. A second pass sorts
 * the entries to report duplicates and overlaps. Lookup answers for one
 * user: the file as a whole first (cut short?), then the user's broken
 * lines, then the user's ranges, then collisions with other owners.
 *
 * Static helpers use the "sid_" prefix: "subid_" belongs to libsubid.
 */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "subid.h"

#define SID_FILE_MAX (16u * 1024u * 1024u)	/* bytes read before giving up */
#define SID_ID_LAST 4294967294ull		/* the last id a range may hold */
#define SID_SHOW 48				/* escaped excerpt in a message */
#define SID_FIX "fix the line to OWNER:START:COUNT"

struct sid_parser {
	struct nsess_subid_file *f;
	size_t cap;
};

static bool sid_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static char *sid_esc(const char *s, size_t len, char buf[SID_SHOW])
{
	return nsess_escape(s, len, buf, SID_SHOW);
}

static void sid_set_owner(char dst[NSESS_OWNER_MAX], const char *owner)
{
	size_t len = owner ? strnlen(owner, NSESS_OWNER_MAX - 1) : 0;

	memcpy(dst, owner ? owner : "", len);
	dst[len] = '\0';
}

/* The problem list, at its first use; false (and f->nomem) when out of memory. */
static bool sid_problems_alloc(struct nsess_subid_file *f)
{
	if (!f->problems)
		f->problems = calloc(NSESS_SUBID_PROBLEMS_MAX, sizeof(*f->problems));
	if (!f->problems)
		f->nomem = true;
	return f->problems != NULL;
}

/* Pick the slot for a new problem; NULL when it has to be dropped. */
static struct nsess_subid_problem *sid_problem_slot(struct nsess_subid_file *f, int severity,
						    const char *owner)
{
	size_t i;

	if (!sid_problems_alloc(f))
		return NULL;
	if (f->n_problems < NSESS_SUBID_PROBLEMS_MAX)
		return &f->problems[f->n_problems++];
	f->n_problems_dropped++;
	if (severity != NSESS_PROBLEM_ERROR)
		return NULL;
	/* an error decides lookups: it may push out a warning */
	for (i = 0; i < f->n_problems; i++)
		if (f->problems[i].severity == NSESS_PROBLEM_WARN)
			return &f->problems[i];
	/* an error nobody is blamed for cannot change any lookup */
	if (owner && owner[0])
		f->errors_dropped = true;
	return NULL;
}

static void sid_vproblem(struct nsess_subid_problem *p, const char *path, unsigned int line,
			 int severity, const char *owner, const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));

static void sid_vproblem(struct nsess_subid_problem *p, const char *path, unsigned int line,
			 int severity, const char *owner, const char *fmt, va_list ap)
{
	int n;

	memset(p, 0, sizeof(*p));
	p->line = line;
	p->severity = severity;
	sid_set_owner(p->owner, owner);
	n = snprintf(p->msg, sizeof(p->msg), "%s:%u: ", path, line);
	if (n > 0 && (size_t)n < sizeof(p->msg))
		vsnprintf(p->msg + n, sizeof(p->msg) - (size_t)n, fmt, ap);
}

static void sid_problem(struct nsess_subid_file *f, unsigned int line, int severity,
			const char *owner, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void sid_problem(struct nsess_subid_file *f, unsigned int line, int severity,
			const char *owner, const char *fmt, ...)
{
	struct nsess_subid_problem *p = sid_problem_slot(f, severity, owner);
	va_list ap;

	if (!p)
		return;
	va_start(ap, fmt);
	sid_vproblem(p, f->path, line, severity, owner, fmt, ap);
	va_end(ap);
}

/* Parsing stops here; the reason must survive as the last problem. */
static void sid_truncate(struct nsess_subid_file *f, unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void sid_truncate(struct nsess_subid_file *f, unsigned int line, const char *fmt, ...)
{
	struct nsess_subid_problem *p;
	va_list ap;

	f->truncated = true;
	if (!sid_problems_alloc(f))
		return;
	if (f->n_problems == NSESS_SUBID_PROBLEMS_MAX) {
		f->n_problems_dropped++;
		f->n_problems--;
	}
	p = &f->problems[f->n_problems++];
	va_start(ap, fmt);
	sid_vproblem(p, f->path, line, NSESS_PROBLEM_ERROR, "", fmt, ap);
	va_end(ap);
}

/*
 * The owner a broken line most likely belongs to: the text before the first
 * ':' (or the first word when there is none), without blanks, a CR or a
 * leading '+'/'-', cut at a NUL byte. Generous on purpose: blaming a line on a user only makes
 * that user's login fail closed. "" when it cannot be told.
 */
static void sid_blame(const char *buf, size_t len, char owner[NSESS_OWNER_MAX])
{
	const char *colon = memchr(buf, ':', len), *nul;
	size_t a = 0, b = colon ? (size_t)(colon - buf) : len;

	nul = memchr(buf, '\0', b);
	if (nul)
		b = (size_t)(nul - buf);
	while (a < b && sid_is_blank(buf[a]))
		a++;
	if (!colon) {
		size_t w = a;

		while (w < b && !sid_is_blank(buf[w]) && buf[w] != '\r')
			w++;
		b = w;
	}
	while (b > a && (sid_is_blank(buf[b - 1]) || buf[b - 1] == '\r'))
		b--;
	/* NIS-style "+alice" / "-alice" still talks about alice */
	if (a < b && (buf[a] == '+' || buf[a] == '-'))
		a++;
	owner[0] = '\0';
	if (b - a >= NSESS_OWNER_MAX)
		return;
	memcpy(owner, buf + a, b - a);
	owner[b - a] = '\0';
}

/* Why @s is no valid START or COUNT, or NULL with the value in @v. */
static const char *sid_number(const char *s, uint32_t *v)
{
	size_t d = strspn(s, "0123456789");
	unsigned int u;

	if (!*s)
		return "is empty";
	if (*s == '-')
		return "is negative";
	if (*s == '+')
		return "has a leading '+'";
	if (sid_is_blank(*s))
		return "has leading spaces";
	if (d == 0)
		return "is not a decimal number";
	if (s[d] != '\0')
		return s[d + strspn(s + d, " \t")] == '\0' ? "has trailing spaces"
							    : "has trailing junk after the number";
	if (d > 1 && s[0] == '0')
		return "has leading zeros";
	if (nsess_parse_u32(s, &u) < 0)
		return "is larger than 4294967295";
	*v = u;
	return NULL;
}

/* Why @owner is no valid owner field, or NULL. */
static const char *sid_owner_problem(const char *owner)
{
	size_t len = strlen(owner), d = strspn(owner, "0123456789");
	const unsigned char *p;
	unsigned int v;

	if (len == 0)
		return "empty owner; put the user name or uid before the first ':'";
	if (len >= NSESS_OWNER_MAX)
		return "owner is longer than 255 bytes; write the user name or uid";
	for (p = (const unsigned char *)owner; *p; p++) {
		if (sid_is_blank((char)*p))
			return "owner contains spaces; remove them";
		if (*p < 0x20 || *p == 0x7f)
			return "owner contains control characters; write the plain user name or uid";
	}
	if (owner[0] == '+' || owner[0] == '-')
		return "owner starts with '+' or '-'; NIS-style entries are not supported here, "
		       "write the plain user name or uid";
	if (d == len) {
		if (len > 1 && owner[0] == '0')
			return "numeric owner has leading zeros; write the uid without them";
		if (nsess_parse_u32(owner, &v) < 0 || v == 4294967295u)
			return "numeric owner is not a valid uid (at most 4294967294)";
	}
	return NULL;
}

static int sid_add_entry(struct sid_parser *p, const char *owner, uint32_t start, uint32_t count,
			 unsigned int line)
{
	struct nsess_subid_file *f = p->f;
	struct nsess_subid_entry *n;

	if (f->n_entries == NSESS_SUBID_ENTRIES_MAX) {
		sid_truncate(f, line,
			     "more than %d entries; nsession stops reading and refuses every "
			     "lookup in this file: remove unused lines",
			     NSESS_SUBID_ENTRIES_MAX);
		return 1;
	}
	if (f->n_entries == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;

		if (cap > NSESS_SUBID_ENTRIES_MAX)
			cap = NSESS_SUBID_ENTRIES_MAX;
		n = realloc(f->entries, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		f->entries = n;
		p->cap = cap;
	}
	n = &f->entries[f->n_entries++];
	memset(n, 0, sizeof(*n));
	sid_set_owner(n->owner, owner);
	n->start = start;
	n->count = count;
	n->line = line;
	return 0;
}

/*
 * One line. Return: 0 go on, 1 stop reading (file refused), -ENOMEM.
 * @buf may hold NUL bytes; it is modified.
 */
static int sid_parse_line(struct sid_parser *p, char *buf, size_t len, bool overlong,
			  unsigned int ln)
{
	struct nsess_subid_file *f = p->f;
	char blame[NSESS_OWNER_MAX], ex[SID_SHOW], eo[SID_SHOW], ev[SID_SHOW];
	char *c1, *c2, *c3, *owner, *s_start, *s_count;
	const char *why;
	uint32_t start = 0, count = 0;
	uint64_t end;
	size_t i = 0;
	bool crlf = false;

	if (len && buf[len - 1] == '\r' && !overlong) {
		crlf = true;
		buf[--len] = '\0';
	}
	while (i < len && sid_is_blank(buf[i]))
		i++;
	if (i == len && !overlong) {
		if (crlf)
			sid_problem(f, ln, NSESS_PROBLEM_ERROR, "",
				    "file has DOS line endings (CR LF); convert it with "
				    "\"sed -i 's/\\r$//' %s\" or dos2unix",
				    f->path);
		return 0;
	}
	if (buf[i] == '#')
		return 0;

	sid_blame(buf, len, blame);
	/* the example in a fix hint names the line's own owner when it can */
	if (blame[0])
		sid_esc(blame, (size_t)-1, ex);
	else
		strcpy(ex, "alice");

	if (overlong)
		goto bad_long;
	if (memchr(buf, '\0', len)) {
		sid_problem(f, ln, NSESS_PROBLEM_ERROR, blame,
			    "line contains a NUL byte (the file is damaged or not text); rewrite "
			    "it as OWNER:START:COUNT (for example %s:100000:65536)",
			    ex);
		return 0;
	}
	if (crlf) {
		sid_problem(f, ln, NSESS_PROBLEM_ERROR, blame,
			    "file has DOS line endings (CR LF); convert it with "
			    "\"sed -i 's/\\r$//' %s\" or dos2unix",
			    f->path);
		return 0;
	}

	c1 = strchr(buf, ':');
	c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	c3 = c2 ? strchr(c2 + 1, ':') : NULL;
	if (!c2) {
		sid_problem(f, ln, NSESS_PROBLEM_ERROR, blame,
			    "'%s' is not OWNER:START:COUNT (fields are missing); %s (for example "
			    "%s:100000:65536)",
			    sid_esc(buf, len, ev), SID_FIX, ex);
		return 0;
	}
	if (c3) {
		sid_problem(f, ln, NSESS_PROBLEM_ERROR, blame,
			    "extra fields after COUNT ('%s'); %s with exactly three fields "
			    "(for example %s:100000:65536)",
			    sid_esc(c3, (size_t)-1, ev), SID_FIX, ex);
		return 0;
	}
	*c1 = '\0';
	*c2 = '\0';
	owner = buf;
	s_start = c1 + 1;
	s_count = c2 + 1;

	why = sid_owner_problem(owner);
	if (why && !owner[0]) {
		sid_problem(f, ln, NSESS_PROBLEM_ERROR, "", "%s (for example alice:100000:65536)",
			    why);
		return 0;
	}
	if (why) {
		sid_problem(f, ln, NSESS_PROBLEM_ERROR, blame,
			    "owner '%s': %s (for example %s:100000:65536)",
			    sid_esc(owner, (size_t)-1, ev), why, ex);
		return 0;
	}
	sid_esc(owner, (size_t)-1, eo);

	why = sid_number(s_start, &start);
	if (why) {
		sid_problem(f, ln, NSESS_PROBLEM_ERROR, owner,
			    "START '%s' for '%s' %s; %s with START a plain decimal number >= 1 "
			    "(for example %s:100000:65536)",
			    sid_esc(s_start, (size_t)-1, ev), eo, why, SID_FIX, eo);
		return 0;
	}
	if (start == 0) {
		sid_problem(f, ln, NSESS_PROBLEM_ERROR, owner,
			    "start 0 for '%s': a range must never contain id 0 (root); %s with "
			    "START >= 1 (for example %s:100000:65536)",
			    eo, SID_FIX, eo);
		return 0;
	}
	why = sid_number(s_count, &count);
	if (why) {
		sid_problem(f, ln, NSESS_PROBLEM_ERROR, owner,
			    "COUNT '%s' for '%s' %s; %s with COUNT a plain decimal number >= 1 "
			    "(for example %s:100000:65536)",
			    sid_esc(s_count, (size_t)-1, ev), eo, why, SID_FIX, eo);
		return 0;
	}
	if (count == 0) {
		sid_problem(f, ln, NSESS_PROBLEM_ERROR, owner,
			    "count 0 for '%s': a range needs at least one id; %s with COUNT >= 1 "
			    "(for example %s:100000:65536)",
			    eo, SID_FIX, eo);
		return 0;
	}
	end = (uint64_t)start + count - 1;
	if (end > SID_ID_LAST) {
		sid_problem(f, ln, NSESS_PROBLEM_ERROR, owner,
			    "range %u:%u for '%s' ends at %llu, %s; %s with START+COUNT-1 <= "
			    "4294967294 (for example %s:100000:65536)",
			    start, count, eo, (unsigned long long)end,
			    end > 4294967295ull ? "it wraps around past 4294967295"
						: "which is (uid_t)-1",
			    SID_FIX, eo);
		return 0;
	}
	return sid_add_entry(p, owner, start, count, ln);

bad_long:
	sid_problem(f, ln, NSESS_PROBLEM_ERROR, blame,
		    "line is longer than %d bytes; a line is OWNER:START:COUNT, shorten it "
		    "(for example %s:100000:65536)",
		    NSESS_SUBID_LINE_MAX, ex);
	return 0;
}

static uint64_t sid_end(const struct nsess_subid_entry *x)
{
	return (uint64_t)x->start + x->count - 1;
}

static int sid_cmp_entry(const void *a, const void *b)
{
	const struct nsess_subid_entry *x = *(const struct nsess_subid_entry *const *)a;
	const struct nsess_subid_entry *y = *(const struct nsess_subid_entry *const *)b;
	int r;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->count != y->count)
		return x->count < y->count ? -1 : 1;
	r = strcmp(x->owner, y->owner);
	if (r)
		return r;
	return (x->line > y->line) - (x->line < y->line);
}

/*
 * Duplicates and overlaps, in one sweep over the entries sorted by start.
 * Each entry that overlaps an earlier one overlaps the one reaching furthest
 * so far, so comparing with that one finds every overlapping entry.
 */
static int sid_check_overlaps(struct nsess_subid_file *f)
{
	const struct nsess_subid_entry **v, *act = NULL, *e, *prev;
	char a[SID_SHOW], b[SID_SHOW];
	uint64_t act_end = 0;
	size_t i;

	if (f->n_entries < 2)
		return 0;
	v = malloc(f->n_entries * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < f->n_entries; i++)
		v[i] = &f->entries[i];
	qsort(v, f->n_entries, sizeof(*v), sid_cmp_entry);
	for (i = 0; i < f->n_entries; i++) {
		e = v[i];
		prev = i ? v[i - 1] : NULL;
		sid_esc(e->owner, (size_t)-1, a);
		if (prev && prev->start == e->start && prev->count == e->count &&
		    strcmp(prev->owner, e->owner) == 0) {
			sid_problem(f, e->line, NSESS_PROBLEM_WARN, e->owner,
				    "duplicate of line %u ('%s:%u:%u'); delete one of the two lines",
				    prev->line, a, e->start, e->count);
			continue;
		}
		if (act && e->start <= act_end) {
			sid_esc(act->owner, (size_t)-1, b);
			if (strcmp(act->owner, e->owner) == 0)
				sid_problem(f, e->line, NSESS_PROBLEM_WARN, e->owner,
					    "range %u-%llu of '%s' overlaps line %u (range "
					    "%u-%llu of the same owner); the ranges are merged, "
					    "better write them as one line",
					    e->start, (unsigned long long)sid_end(e), a, act->line,
					    act->start, (unsigned long long)sid_end(act));
			else
				sid_problem(f, e->line, NSESS_PROBLEM_ERROR, "",
					    "range %u-%llu of '%s' overlaps line %u (range "
					    "%u-%llu of '%s'); owners must not share host ids: "
					    "give each owner its own range",
					    e->start, (unsigned long long)sid_end(e), a, act->line,
					    act->start, (unsigned long long)sid_end(act), b);
		}
		if (!act || sid_end(e) > act_end) {
			act = e;
			act_end = sid_end(e);
		}
	}
	free(v);
	return 0;
}

int nsess_subid_parse(FILE *fp, const char *path, struct nsess_subid_file *out)
{
	struct nsess_subid_file *f;
	struct sid_parser p = { 0 };
	char buf[NSESS_SUBID_LINE_MAX + 1];
	unsigned int ln = 0;
	size_t len, total = 0;
	bool overlong;
	int r;

	if (!fp || !out)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	p.f = f;
	snprintf(f->path, sizeof(f->path), "%s", path ? path : "(subid file)");
	f->present = true;

	for (;;) {
		r = nsess_read_line(fp, buf, sizeof(buf), &len, &overlong, &total, SID_FILE_MAX);
		if (r == -EFBIG) {
			sid_truncate(f, ln + 1,
				     "file is larger than 16 MiB; nsession stops reading and refuses "
				     "every lookup in this file: remove unused lines");
			break;
		}
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		ln++;
		r = sid_parse_line(&p, buf, len, overlong, ln);
		if (r < 0)
			goto fail;
		if (r > 0)
			break;
	}
	r = sid_check_overlaps(f);
	if (r < 0)
		goto fail;
	if (f->nomem) {
		r = -ENOMEM;
		goto fail;
	}
	*out = *f;
	free(f);
	return 0;
fail:
	free(f->entries);
	free(f->problems);
	free(f);
	return r;
}

void nsess_subid_file_free(struct nsess_subid_file *f)
{
	if (!f)
		return;
	free(f->entries);
	f->entries = NULL;
	f->n_entries = 0;
	free(f->problems);
	f->problems = NULL;
	f->n_problems = 0;
}

static int sid_join(const char *root, const char *rel, char *buf, size_t size)
{
	size_t rl = strlen(root);
	int n;

	n = snprintf(buf, size, "%s%s%s", root, rl && root[rl - 1] == '/' ? "" : "/", rel);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * Open a file we only read: never block on a FIFO or take it as a
 * controlling tty, close-on-exec. @st is filled even when the answer is
 * -EINVAL (not a regular file), so the caller can say what it was.
 */
static int sid_open(const char *path, bool nofollow, FILE **ret, struct stat *st)
{
	_cleanup_close_ int fd = -1;
	FILE *fp;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (nofollow ? O_NOFOLLOW : 0));
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0)
		return -errno;
	if (!S_ISREG(st->st_mode))
		return -EINVAL;
	fp = fdopen(fd, "re");
	if (!fp)
		return -errno;
	TAKE_FD(fd);
	*ret = fp;
	return 0;
}

int nsess_subid_load(const char *root, enum nsess_subid_kind kind,
		     struct nsess_subid_file *out, struct nsess_error *e)
{
	const char *rel = kind == NSESS_SUBGID ? "etc/subgid" : "etc/subuid";
	char path[sizeof(out->path)];
	struct stat st = { 0 };
	FILE *fp = NULL;
	int r;

	if (!root || !out)
		return nsess_error_set(e, EINVAL, "no root directory given for %s", rel);
	r = sid_join(root, rel, path, sizeof(path));
	if (r < 0)
		return nsess_error_set(e, -r, "root directory path is too long for %s", rel);

	r = sid_open(path, true, &fp, &st);
	if (r == -ENOENT) {
		memset(out, 0, sizeof(*out));
		snprintf(out->path, sizeof(out->path), "%s", path);
		out->present = false;
		return 0;
	}
	if (r == -ELOOP)
		return nsess_error_set(e, EINVAL,
				       "%s is a symbolic link; nsession does not follow links there: "
				       "replace it with a regular file owned by root",
				       path);
	if (r == -EINVAL)
		return nsess_error_set(e, EINVAL,
				       "%s is %s; nsession reads only a regular file there: replace "
				       "it with a regular file owned by root",
				       path, nsess_file_type_name(st.st_mode));
	if (r < 0)
		return nsess_error_set(e, -r, "cannot open %s: %s", path, strerror(-r));

	r = nsess_subid_parse(fp, path, out);
	fclose(fp);
	if (r == -ENOMEM)
		return nsess_error_set(e, ENOMEM, "out of memory while reading %s", path);
	if (r < 0)
		return nsess_error_set(e, -r, "cannot read %s: %s", path, strerror(-r));
	return 0;
}

static bool sid_is_uid(const char *owner, uid_t uid, bool lenient)
{
	unsigned int v;

	/* a broken line "01000:..." still belongs to uid 1000 */
	if (lenient)
		while (owner[0] == '0' && owner[1] >= '0' && owner[1] <= '9')
			owner++;
	return nsess_parse_u32(owner, &v) == 0 && v == (unsigned int)uid;
}

static bool sid_owned_by(const char *owner, const char *user, uid_t uid, bool lenient)
{
	if (!owner[0])
		return false;
	if (user && strcmp(owner, user) == 0)
		return true;
	return sid_is_uid(owner, uid, lenient);
}

static int sid_cmp_range(const void *a, const void *b)
{
	const struct nsess_range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (x->count > y->count) - (x->count < y->count);
}

size_t nsess_range_merge(struct nsess_range *r, size_t n)
{
	uint64_t end, e;
	size_t i, k = 0;

	if (!r || n == 0)
		return 0;
	qsort(r, n, sizeof(*r), sid_cmp_range);
	end = (uint64_t)r[0].start + r[0].count - 1;
	for (i = 1; i < n; i++) {
		e = (uint64_t)r[i].start + r[i].count - 1;
		if (r[i].start <= end + 1) {
			if (e > end) {
				end = e;
				r[k].count = (uint32_t)(end - r[k].start + 1);
			}
			continue;
		}
		r[++k] = r[i];
		end = e;
	}
	return k + 1;
}

/* The merged range in @m (sorted, disjoint) that shares an id with @x. */
static const struct nsess_range *sid_find_overlap(const struct nsess_range *m, size_t n,
						  const struct nsess_subid_entry *x)
{
	size_t lo = 0, hi = n;

	/* the last range starting at or before x's end */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m[mid].start <= sid_end(x))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	m += lo - 1;
	return (uint64_t)m->start + m->count - 1 >= x->start ? m : NULL;
}

int nsess_subid_lookup(const struct nsess_subid_file *f, const char *user, uid_t uid,
		       struct nsess_ranges *out, struct nsess_error *e)
{
	_cleanup_free_ struct nsess_range *m = NULL;
	const struct nsess_subid_entry *x, *mine = NULL;
	char eu[SID_SHOW], a[SID_SHOW], b[SID_SHOW];
	size_t i, j, n = 0;

	if (!f || !out)
		return nsess_error_set(e, EINVAL, "no subordinate id file to look in");
	sid_esc(user ? user : "", (size_t)-1, eu);

	if (f->truncated)
		return nsess_error_set(e, EINVAL, "%s",
				       f->n_problems ? f->problems[f->n_problems - 1].msg
						     : f->path);
	if (f->errors_dropped)
		return nsess_error_set(e, EINVAL,
				       "%s has more than %d malformed lines, so nsession cannot tell "
				       "whether one of them belongs to '%s'; fix the malformed lines",
				       f->path, NSESS_SUBID_PROBLEMS_MAX, eu);
	/* fail closed: a broken line of this user may have been meant to limit it */
	for (i = 0; i < f->n_problems; i++)
		if (f->problems[i].severity == NSESS_PROBLEM_ERROR &&
		    sid_owned_by(f->problems[i].owner, user, uid, true))
			return nsess_error_set(e, EINVAL, "%s", f->problems[i].msg);

	for (i = 0; i < f->n_entries; i++)
		if (sid_owned_by(f->entries[i].owner, user, uid, false))
			n++;
	if (n == 0) {
		if (!f->present)
			return nsess_error_set(e, ENOENT,
					       "%s does not exist, so '%s' has no subordinate ids; "
					       "add a line such as %s:100000:65536",
					       f->path, eu, user ? eu : "alice");
		return nsess_error_set(e, ENOENT,
				       "%s has no line for '%s' (uid %u); add one such as "
				       "%s:100000:65536",
				       f->path, eu, (unsigned int)uid, user ? eu : "alice");
	}
	m = malloc(n * sizeof(*m));
	if (!m)
		return nsess_error_set(e, ENOMEM, "out of memory looking up '%s' in %s", eu,
				       f->path);
	for (i = 0, j = 0; i < f->n_entries; i++) {
		x = &f->entries[i];
		if (sid_owned_by(x->owner, user, uid, false))
			m[j++] = (struct nsess_range){ .start = x->start, .count = x->count };
	}
	n = nsess_range_merge(m, n);

	/* another owner's range inside ours: both would own the same host ids */
	for (i = 0; i < f->n_entries; i++) {
		x = &f->entries[i];
		if (sid_owned_by(x->owner, user, uid, false) || !sid_find_overlap(m, n, x))
			continue;
		for (j = 0; j < f->n_entries; j++) {
			mine = &f->entries[j];
			if (sid_owned_by(mine->owner, user, uid, false) &&
			    mine->start <= sid_end(x) && sid_end(mine) >= x->start)
				break;
		}
		if (j == f->n_entries)
			continue; /* cannot happen: the merged ranges come from these */
		sid_esc(mine->owner, (size_t)-1, a);
		sid_esc(x->owner, (size_t)-1, b);
		return nsess_error_set(e, EEXIST,
				       "%s:%u: range %u-%llu of '%s' overlaps %s:%u (range %u-%llu "
				       "of '%s'); owners must not share host ids: give each owner "
				       "its own range",
				       f->path, mine->line, mine->start,
				       (unsigned long long)sid_end(mine), a, f->path, x->line,
				       x->start, (unsigned long long)sid_end(x), b);
	}

	if (n > NSESS_RANGES_MAX)
		return nsess_error_set(e, E2BIG,
				       "%s: '%s' has %zu separate ranges, more than %d; merge them "
				       "into fewer lines",
				       f->path, eu, n, NSESS_RANGES_MAX);
	memset(out, 0, sizeof(*out));
	memcpy(out->r, m, n * sizeof(*m));
	out->n = (unsigned int)n;
	return 0;
}

int nsess_subid_check_ids(const struct nsess_ranges *ranges, const uint32_t *ids, size_t n_ids,
			  uint32_t self, const char *what, struct nsess_error *e)
{
	bool gid = what && strcmp(what, "subgid") == 0;
	char ew[SID_SHOW];
	unsigned int i, n;
	uint64_t end;
	size_t j;

	if (!ranges)
		return 0;
	sid_esc(what ? what : "subordinate id", (size_t)-1, ew);
	n = ranges->n < NSESS_RANGES_MAX ? ranges->n : NSESS_RANGES_MAX;
	for (i = 0; i < n; i++) {
		const struct nsess_range *r = &ranges->r[i];

		if (r->count == 0)
			continue;
		end = (uint64_t)r->start + r->count - 1;
		/* the parser never lets these through; other sources may */
		if (r->start == 0 || end > SID_ID_LAST)
			return nsess_error_set(e, EEXIST,
					       "%s range %u-%llu contains %s; a range must stay within "
					       "1-4294967294: fix the delegation",
					       ew, r->start, (unsigned long long)end,
					       r->start == 0 ? "id 0 (root)" : "4294967295 ((uid_t)-1)");
		for (j = 0; ids && j < n_ids; j++) {
			if (ids[j] == self || ids[j] < r->start || ids[j] > end)
				continue;
			return nsess_error_set(e, EEXIST,
					       "%s range %u-%llu contains %s %u of another %s (in "
					       "/etc/%s); the session could act as it: move the "
					       "range out of the ids in /etc/%s",
					       ew, r->start, (unsigned long long)end,
					       gid ? "gid" : "uid", ids[j], gid ? "group" : "account",
					       gid ? "group" : "passwd", gid ? "group" : "passwd");
		}
	}
	return 0;
}

static int sid_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The third ':'-separated field of a passwd or group line, as a number. */
static int sid_third_field(const char *line, size_t len, uint32_t *id)
{
	const char *p = line, *end = line + len, *c;
	char num[16];
	unsigned int v;
	int field;

	for (field = 0; field < 2; field++) {
		c = memchr(p, ':', (size_t)(end - p));
		if (!c)
			return -EINVAL;
		p = c + 1;
	}
	c = memchr(p, ':', (size_t)(end - p));
	if (!c || (size_t)(c - p) >= sizeof(num))
		return -EINVAL;
	memcpy(num, p, (size_t)(c - p));
	num[c - p] = '\0';
	if (nsess_parse_u32(num, &v) < 0)
		return -EINVAL;
	*id = v;
	return 0;
}

int nsess_passwd_ids(const char *root, enum nsess_subid_kind kind, uint32_t **out, size_t *n_out)
{
	const char *rel = kind == NSESS_SUBGID ? "etc/group" : "etc/passwd";
	_cleanup_free_ uint32_t *ids = NULL;
	_cleanup_free_ char *line = NULL;
	size_t n = 0, cap = 0, lcap = 0, total = 0, i, k;
	char path[4096];
	struct stat st;
	FILE *fp = NULL;
	ssize_t len;
	uint32_t id;
	int r;

	if (!root || !out || !n_out)
		return -EINVAL;
	r = sid_join(root, rel, path, sizeof(path));
	if (r < 0)
		return r;
	/* passwd and group may legitimately be symlinks; FIFOs still refused */
	r = sid_open(path, false, &fp, &st);
	if (r == -ENOENT) {
		*out = NULL;
		*n_out = 0;
		return 0;
	}
	if (r < 0)
		return r;

	r = 0;
	while ((len = getline(&line, &lcap, fp)) >= 0) {
		total += (size_t)len;
		if (total > SID_FILE_MAX) {
			r = -EFBIG;
			break;
		}
		if (len && line[len - 1] == '\n')
			len--;
		if (memchr(line, '\0', (size_t)len) || sid_third_field(line, (size_t)len, &id) < 0)
			continue; /* malformed lines carry no id we could trust */
		if (n == cap) {
			uint32_t *t;

			cap = cap ? cap * 2 : 64;
			t = realloc(ids, cap * sizeof(*t));
			if (!t) {
				r = -ENOMEM;
				break;
			}
			ids = t;
		}
		ids[n++] = id;
	}
	if (r == 0 && ferror(fp))
		r = -EIO;
	fclose(fp);
	if (r < 0)
		return r;

	if (n > 1) {
		qsort(ids, n, sizeof(*ids), sid_cmp_u32);
		for (i = 1, k = 1; i < n; i++)
			if (ids[i] != ids[k - 1])
				ids[k++] = ids[i];
		n = k;
	}
	*out = TAKE_PTR(ids);
	*n_out = n;
	return 0;
}

int nsess_subid_nss_source(const char *root, char *out, size_t outlen)
{
	_cleanup_free_ char *line = NULL;
	size_t lcap = 0;
	char path[4096];
	struct stat st;
	FILE *fp = NULL;
	ssize_t len;
	int r, found = 0;

	if (!root || !out || outlen == 0)
		return -EINVAL;
	out[0] = '\0';
	r = sid_join(root, "etc/nsswitch.conf", path, sizeof(path));
	if (r < 0)
		return r;
	/* often a symlink into a configuration package: follow it, refuse FIFOs */
	r = sid_open(path, false, &fp, &st);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	while (!found && (len = getline(&line, &lcap, fp)) >= 0) {
		char *p = line, *hash = memchr(line, '#', (size_t)len), *w;
		size_t n;

		if (hash)
			*hash = '\0';
		while (sid_is_blank(*p))
			p++;
		if (strncmp(p, "subid", 5) != 0)
			continue;
		p += 5;
		while (sid_is_blank(*p))
			p++;
		if (*p != ':')
			continue;
		p++;
		while (sid_is_blank(*p))
			p++;
		/* the first service word; "[NOTFOUND=return]" and the like are actions */
		w = p;
		n = strcspn(w, " \t\r\n[");
		if (n == 0)
			continue;
		/* libsubid with "files" reads the same /etc/subuid nsession just read */
		if (n == 5 && strncmp(w, "files", 5) == 0)
			break;
		if (n >= outlen) {
			r = -ENAMETOOLONG;
			break;
		}
		memcpy(out, w, n);
		out[n] = '\0';
		found = 1;
	}
	fclose(fp);
	return r < 0 ? r : found;
}

uint64_t nsess_ranges_total(const struct nsess_ranges *r)
{
	uint64_t sum = 0;
	unsigned int i, n;

	if (!r)
		return 0;
	n = r->n < NSESS_RANGES_MAX ? r->n : NSESS_RANGES_MAX;
	for (i = 0; i < n; i++) {
		if (sum > UINT64_MAX - r->r[i].count)
			return UINT64_MAX;
		sum += r->r[i].count;
	}
	return sum;
}
