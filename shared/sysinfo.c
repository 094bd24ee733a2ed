/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sysinfo.c - probes of what this machine allows, as findings.
 *
 * How this works: every probe reads a few small files below a root
 * directory (sysctls under proc/sys, proc/self/status, proc/1/environ, the
 * helpers' inodes, /dev/net/tun) and turns what it saw into one finding:
 * a status, a sentence, a fix, and a compact fact for the one-line summary
 * that `nsession run` prints when no id map could be written. The judgement
 * of inode metadata (tun, newuidmap/newgidmap) is a pure function of a
 * struct stat so tests cover every state without setuid files in git; the
 * wrappers only lstat/open/read. Reads are bounded, never follow a symlink
 * in the last component and never block on a FIFO. Findings keep raw text;
 * the text and JSON renderers and the summary escape on the way out.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sysinfo.h"
#include "util.h"

#define SYSINFO_DEFAULT_SELF "/usr/bin/nsession"
#define SYSINFO_U32_MAX_BYTES 64
#define SYSINFO_STATUS_MAX (64 * 1024)
#define SYSINFO_ENVIRON_MAX (64 * 1024)
/* the longest text field a renderer escapes */
#define SYSINFO_FIELD_MAX \
	(NSESS_FINDING_SEEN_MAX > NSESS_FINDING_FIX_MAX ? NSESS_FINDING_SEEN_MAX : NSESS_FINDING_FIX_MAX)

/* ---- findings ------------------------------------------------------------ */

void nsess_findings_init(struct nsess_findings *fs)
{
	memset(fs, 0, sizeof(*fs));
}

void nsess_finding_set(struct nsess_finding *f, const char *id, int status,
		       const char *seen, const char *fix)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->id, sizeof(f->id), "%s", id ? id : "");
	f->status = status;
	snprintf(f->seen, sizeof(f->seen), "%s", seen ? seen : "");
	snprintf(f->fix, sizeof(f->fix), "%s", fix ? fix : "");
}

int nsess_findings_add(struct nsess_findings *fs, const struct nsess_finding *f)
{
	struct nsess_finding *d;

	if (!fs || !f || f->status < NSESS_OK || f->status > NSESS_FAIL)
		return -EINVAL;
	if (fs->n >= NSESS_FINDINGS_MAX) {
		fs->dropped++;
		return -ENOSPC;
	}
	d = &fs->f[fs->n++];
	*d = *f;
	/* a caller may have filled the arrays by hand: terminate them */
	d->id[sizeof(d->id) - 1] = '\0';
	d->seen[sizeof(d->seen) - 1] = '\0';
	d->fix[sizeof(d->fix) - 1] = '\0';
	d->fact[sizeof(d->fact) - 1] = '\0';
	d->area[sizeof(d->area) - 1] = '\0';
	return 0;
}

int nsess_findings_worst(const struct nsess_findings *fs)
{
	int worst = NSESS_OK;
	unsigned int i;

	if (fs->dropped)
		return NSESS_FAIL;
	for (i = 0; i < fs->n && i < NSESS_FINDINGS_MAX; i++)
		if (fs->f[i].status > worst)
			worst = fs->f[i].status;
	return worst;
}

const char *nsess_finding_status_name(int status)
{
	switch (status) {
	case NSESS_OK:
		return "ok";
	case NSESS_INFO:
		return "info";
	case NSESS_WARN:
		return "warn";
	case NSESS_FAIL:
		return "fail";
	}
	return "unknown";
}

static const char *sysinfo_status_label(int status)
{
	switch (status) {
	case NSESS_OK:
		return "[ OK ]";
	case NSESS_INFO:
		return "[INFO]";
	case NSESS_WARN:
		return "[WARN]";
	case NSESS_FAIL:
		return "[FAIL]";
	}
	return "[????]";
}

static void sysinfo_vfmt(char *dst, size_t len, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void sysinfo_vfmt(char *dst, size_t len, const char *fmt, va_list ap)
{
	vsnprintf(dst, len, fmt, ap);
}

void nsess_finding_seenf(struct nsess_finding *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sysinfo_vfmt(f->seen, sizeof(f->seen), fmt, ap);
	va_end(ap);
}

void nsess_finding_fixf(struct nsess_finding *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sysinfo_vfmt(f->fix, sizeof(f->fix), fmt, ap);
	va_end(ap);
}

static void sysinfo_fact(struct nsess_finding *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sysinfo_fact(struct nsess_finding *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sysinfo_vfmt(f->fact, sizeof(f->fact), fmt, ap);
	va_end(ap);
}

/* Start a finding: id and status, everything else empty. */
static void sysinfo_begin(struct nsess_finding *f, const char *id, int status)
{
	nsess_finding_set(f, id, status, NULL, NULL);
}

static const char *sysinfo_strerror(int err, char *buf, size_t len)
{
	if (err < 0)
		err = -err;
	/* GNU strerror_r: returns a pointer, maybe not into buf */
	return strerror_r(err, buf, len);
}

/* Like sysinfo_strerror(), in the words of nsess_sysinfo_read_file()'s refusals. */
static const char *sysinfo_read_strerror(int err, char *buf, size_t len)
{
	if (err == -EBADF)
		return "not a regular file";
	if (err == -ELOOP)
		return "a symlink, not followed";
	return sysinfo_strerror(err, buf, len);
}

/* ---- rendering ----------------------------------------------------------- */

void nsess_out_put(struct nsess_out *o, const char *s)
{
	size_t n = strlen(s);

	if (o->len && o->pos < o->len - 1) {
		size_t room = o->len - 1 - o->pos;
		size_t c = n < room ? n : room;

		memcpy(o->buf + o->pos, s, c);
		o->buf[o->pos + c] = '\0';
	}
	o->pos += n;
}

int nsess_out_result(const struct nsess_out *o)
{
	if (o->pos > INT_MAX)
		return -EOVERFLOW;
	return (int)o->pos;
}

size_t nsess_sysinfo_json_escape(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, total = 0;
	bool full = false;
	const unsigned char *p;

	for (p = (const unsigned char *)in; p && *p; p++) {
		char e[8];
		size_t elen;

		switch (*p) {
		case '"':
			memcpy(e, "\\\"", 2);
			elen = 2;
			break;
		case '\\':
			memcpy(e, "\\\\", 2);
			elen = 2;
			break;
		case '\b':
			memcpy(e, "\\b", 2);
			elen = 2;
			break;
		case '\f':
			memcpy(e, "\\f", 2);
			elen = 2;
			break;
		case '\n':
			memcpy(e, "\\n", 2);
			elen = 2;
			break;
		case '\r':
			memcpy(e, "\\r", 2);
			elen = 2;
			break;
		case '\t':
			memcpy(e, "\\t", 2);
			elen = 2;
			break;
		default:
			if (*p >= 0x20 && *p < 0x7f) {
				e[0] = (char)*p;
				elen = 1;
			} else {
				memcpy(e, "\\u00", 4);
				e[4] = hex[*p >> 4];
				e[5] = hex[*p & 15];
				elen = 6;
			}
			break;
		}
		/* never cut an escape: once one does not fit, stop storing */
		if (!full && outlen && o + elen < outlen) {
			memcpy(out + o, e, elen);
			o += elen;
		} else {
			full = true;
		}
		total += elen;
	}
	if (outlen)
		out[o] = '\0';
	return total;
}

int nsess_findings_to_text(const struct nsess_findings *fs, char *buf, size_t len)
{
	char esc[4 * SYSINFO_FIELD_MAX + 8];
	struct nsess_out o = { buf, len, 0 };
	unsigned int i;

	if (!fs || (!buf && len))
		return -EINVAL;
	if (len)
		buf[0] = '\0';
	for (i = 0; i < fs->n && i < NSESS_FINDINGS_MAX; i++) {
		const struct nsess_finding *f = &fs->f[i];

		nsess_out_put(&o, sysinfo_status_label(f->status));
		nsess_out_put(&o, " ");
		nsess_out_put(&o, nsess_escape(f->id, (size_t)-1, esc, sizeof(esc)));
		nsess_out_put(&o, ": ");
		nsess_out_put(&o, nsess_escape(f->seen, (size_t)-1, esc, sizeof(esc)));
		nsess_out_put(&o, "\n");
		if (f->fix[0]) {
			nsess_out_put(&o, "    fix: ");
			nsess_out_put(&o, nsess_escape(f->fix, (size_t)-1, esc, sizeof(esc)));
			nsess_out_put(&o, "\n");
		}
	}
	if (fs->dropped) {
		snprintf(esc, sizeof(esc),
			 "[FAIL] findings: %u more findings did not fit the list\n",
			 fs->dropped);
		nsess_out_put(&o, esc);
	}
	return nsess_out_result(&o);
}

void nsess_out_put_json_str(struct nsess_out *o, const char *s)
{
	char esc[6 * SYSINFO_FIELD_MAX + 8];

	nsess_out_put(o, "\"");
	nsess_sysinfo_json_escape(s, esc, sizeof(esc));
	nsess_out_put(o, esc);
	nsess_out_put(o, "\"");
}

int nsess_findings_to_json(const struct nsess_findings *fs, char *buf, size_t len)
{
	struct nsess_out o = { buf, len, 0 };
	char num[32];
	unsigned int i;

	if (!fs || (!buf && len))
		return -EINVAL;
	if (len)
		buf[0] = '\0';
	nsess_out_put(&o, "{\"findings\":[");
	for (i = 0; i < fs->n && i < NSESS_FINDINGS_MAX; i++) {
		const struct nsess_finding *f = &fs->f[i];

		nsess_out_put(&o, i ? ",{\"id\":" : "{\"id\":");
		nsess_out_put_json_str(&o, f->id);
		nsess_out_put(&o, ",\"status\":");
		nsess_out_put_json_str(&o, nsess_finding_status_name(f->status));
		nsess_out_put(&o, ",\"seen\":");
		nsess_out_put_json_str(&o, f->seen);
		nsess_out_put(&o, ",\"fix\":");
		nsess_out_put_json_str(&o, f->fix);
		nsess_out_put(&o, "}");
	}
	snprintf(num, sizeof(num), "],\"dropped\":%u}\n", fs->dropped);
	nsess_out_put(&o, num);
	return nsess_out_result(&o);
}

/* ---- bounded reads below a root ------------------------------------------ */

static bool sysinfo_is_real_root(const char *root)
{
	return !root || !root[0] || strcmp(root, "/") == 0;
}

/* <root><path>; @path is absolute as the machine sees it. */
static int sysinfo_path(const char *root, const char *path, char *out, size_t len)
{
	int n;

	if (!path || path[0] != '/')
		return -EINVAL;
	if (sysinfo_is_real_root(root))
		n = snprintf(out, len, "%s", path);
	else
		n = snprintf(out, len, "%s%s", root, path);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * Read at most @len bytes of a regular file. *@got receives the count;
 * -EFBIG means the file held more than @len bytes (the first @len are in
 * @buf). No NUL is added: the data may contain NULs.
 */
int nsess_sysinfo_read_file(const char *root, const char *path, char *buf, size_t len,
			    size_t *got)
{
	char full[PATH_MAX];
	_cleanup_close_ int fd = -1;
	struct stat st;
	size_t pos = 0;
	int r;

	*got = 0;
	r = sysinfo_path(root, path, full, sizeof(full));
	if (r < 0)
		return r;
	/* O_NONBLOCK: a FIFO planted in a fixture (or /etc) must not hang us */
	fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADF;
	while (pos < len) {
		ssize_t k = read(fd, buf + pos, len - pos);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		pos += (size_t)k;
	}
	*got = pos;
	if (pos == len) {
		char extra;
		ssize_t k;

		do
			k = read(fd, &extra, 1);
		while (k < 0 && errno == EINTR);
		if (k > 0)
			return -EFBIG;
	}
	return 0;
}

int nsess_sysinfo_read_u32(const char *root, const char *path, unsigned int *out,
			   char *raw, size_t rawlen)
{
	char buf[SYSINFO_U32_MAX_BYTES + 1];
	size_t got, i;
	int r;

	if (raw && rawlen)
		raw[0] = '\0';
	r = nsess_sysinfo_read_file(root, path, buf, SYSINFO_U32_MAX_BYTES, &got);
	if (raw && rawlen && (r == 0 || r == -EFBIG)) {
		size_t c = got < rawlen - 1 ? got : rawlen - 1;

		for (i = 0; i < c; i++)
			raw[i] = buf[i] ? buf[i] : '?';
		raw[c] = '\0';
	}
	if (r < 0)
		return r;
	/* the kernel writes "N\n"; accept "N" too, nothing else */
	if (got && buf[got - 1] == '\n')
		got--;
	if (memchr(buf, '\0', got))
		return -EINVAL;
	buf[got] = '\0';
	{
		unsigned int v;

		r = nsess_parse_u32(buf, &v);
		if (r == -ERANGE)
			return -EINVAL;
		if (r < 0)
			return r;
		*out = v;
	}
	return 0;
}

static int sysinfo_lstat(const char *root, const char *path, struct stat *st)
{
	char full[PATH_MAX];
	int r;

	r = sysinfo_path(root, path, full, sizeof(full));
	if (r < 0)
		return r;
	if (lstat(full, st) < 0)
		return -errno;
	return 0;
}

/* ---- sysctls ---------------------------------------------------------------- */

/*
 * Read a sysctl by its dotted name. 0: *@v set. -ENOENT: absent, @f
 * untouched. Anything else: @f filled with a WARN and the error returned.
 */
static int sysinfo_sysctl(const struct nsess_sysinfo_opts *o, const char *id,
			  const char *name, unsigned int *v, struct nsess_finding *f)
{
	char path[128], raw[40], err[128];
	size_t i;
	int r;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	for (i = strlen("/proc/sys/"); path[i]; i++)
		if (path[i] == '.')
			path[i] = '/';
	r = nsess_sysinfo_read_u32(o->root, path, v, raw, sizeof(raw));
	if (r == 0 || r == -ENOENT)
		return r;
	i = strlen(raw);
	if (i && raw[i - 1] == '\n')
		raw[i - 1] = '\0';
	sysinfo_begin(f, id, NSESS_WARN);
	if (r == -EINVAL || r == -EFBIG)
		nsess_finding_seenf(f, "%s: unreadable value \"%s\"%s in %s", name, raw,
			     r == -EFBIG ? "... (too long)" : "", path);
	else
		nsess_finding_seenf(f, "%s: cannot read %s: %s", name, path,
			     sysinfo_read_strerror(r, err, sizeof(err)));
	nsess_finding_fixf(f, "check %s by hand: the kernel writes a decimal number there", path);
	sysinfo_fact(f, "%s=?", name);
	return r;
}

static void sysinfo_persist_fix(struct nsess_finding *f, const char *name, const char *val)
{
	nsess_finding_fixf(f, "sysctl -w %s=%s; make it last: echo %s=%s > /etc/sysctl.d/90-nsession.conf",
		    name, val, name, val);
}

static void sysinfo_probe_max_userns(const struct nsess_sysinfo_opts *o, struct nsess_finding *f)
{
	static const char name[] = "user.max_user_namespaces";
	unsigned int v;
	int r;

	r = sysinfo_sysctl(o, "max_user_namespaces", name, &v, f);
	if (r == -ENOENT) {
		sysinfo_begin(f, "max_user_namespaces", NSESS_FAIL);
		nsess_finding_seenf(f, "%s is absent: the kernel has no user namespaces (CONFIG_USER_NS) or /proc is not mounted",
			     name);
		nsess_finding_fixf(f, "boot a kernel built with CONFIG_USER_NS=y and mount proc on /proc");
		sysinfo_fact(f, "%s absent", name);
		return;
	}
	if (r < 0)
		return;
	if (v == 0) {
		sysinfo_begin(f, "max_user_namespaces", NSESS_FAIL);
		nsess_finding_seenf(f, "%s=0: nobody, not even root, may create a user namespace", name);
		sysinfo_persist_fix(f, name, "15000");
	} else {
		sysinfo_begin(f, "max_user_namespaces", NSESS_OK);
		nsess_finding_seenf(f, "%s=%u", name, v);
	}
	sysinfo_fact(f, "%s=%u", name, v);
}

static void sysinfo_probe_userns_clone(const struct nsess_sysinfo_opts *o, struct nsess_finding *f)
{
	static const char name[] = "kernel.unprivileged_userns_clone";
	unsigned int v;
	int r;

	r = sysinfo_sysctl(o, "unprivileged_userns_clone", name, &v, f);
	if (r == -ENOENT) {
		sysinfo_begin(f, "unprivileged_userns_clone", NSESS_OK);
		nsess_finding_seenf(f, "%s is absent (no such switch in this kernel)", name);
		return;
	}
	if (r < 0)
		return;
	if (v != 0) {
		sysinfo_begin(f, "unprivileged_userns_clone", NSESS_OK);
		nsess_finding_seenf(f, "%s=%u", name, v);
	} else {
		sysinfo_begin(f, "unprivileged_userns_clone", o->as_root ? NSESS_WARN : NSESS_FAIL);
		nsess_finding_seenf(f, "%s=0: only privileged processes may create user namespaces%s", name,
			     o->as_root ? " (root is fine; `nsession run` by users fails)" : "");
		sysinfo_persist_fix(f, name, "1");
	}
	sysinfo_fact(f, "%s=%u", name, v);
}

static void sysinfo_probe_apparmor(const struct nsess_sysinfo_opts *o, struct nsess_finding *f)
{
	static const char name[] = "kernel.apparmor_restrict_unprivileged_userns";
	const char *self = o->self_path ? o->self_path : SYSINFO_DEFAULT_SELF;
	unsigned int v;
	int r;

	r = sysinfo_sysctl(o, "apparmor_userns", name, &v, f);
	if (r == -ENOENT) {
		sysinfo_begin(f, "apparmor_userns", NSESS_OK);
		nsess_finding_seenf(f, "%s is absent (AppArmor does not restrict user namespaces)", name);
		sysinfo_fact(f, "%s absent", name);
		return;
	}
	if (r < 0)
		return;
	if (v == 0) {
		sysinfo_begin(f, "apparmor_userns", NSESS_OK);
		nsess_finding_seenf(f, "%s=0", name);
	} else {
		sysinfo_begin(f, "apparmor_userns", o->as_root ? NSESS_WARN : NSESS_FAIL);
		nsess_finding_seenf(f, "%s=%u: AppArmor strips capabilities in user namespaces made by unprivileged programs without a profile allowing it%s",
			     name, v,
			     o->as_root ? " (root is fine; `nsession run` by users fails)" : "");
		nsess_finding_fixf(f, "write /etc/apparmor.d/nsession: 'abi <abi/4.0>, include <tunables/global> profile nsession %s flags=(unconfined) { userns, }' and run apparmor_parser -r /etc/apparmor.d/nsession; or sysctl -w %s=0",
			    self, name);
	}
	sysinfo_fact(f, "%s=%u", name, v);
}

static void sysinfo_probe_max_ns(const struct nsess_sysinfo_opts *o, const char *id,
				 const char *name, const char *what, struct nsess_finding *f)
{
	unsigned int v;
	int r;

	r = sysinfo_sysctl(o, id, name, &v, f);
	if (r == -ENOENT) {
		sysinfo_begin(f, id, NSESS_INFO);
		nsess_finding_seenf(f, "%s is absent (kernel before 4.9: no per-user limit)", name);
		return;
	}
	if (r < 0)
		return;
	if (v == 0) {
		sysinfo_begin(f, id, NSESS_FAIL);
		nsess_finding_seenf(f, "%s=0: no %s namespace can be created", name, what);
		sysinfo_persist_fix(f, name, "15000");
		sysinfo_fact(f, "%s=0", name);
	} else {
		sysinfo_begin(f, id, NSESS_OK);
		nsess_finding_seenf(f, "%s=%u", name, v);
	}
}

/* ---- namespace files ------------------------------------------------------- */

static void sysinfo_probe_ns(const struct nsess_sysinfo_opts *o, const char *ns,
			     const char *config, struct nsess_finding *f)
{
	char id[NSESS_FINDING_ID_MAX], path[64], err[128];
	struct stat st;
	int r;

	snprintf(id, sizeof(id), "ns_%s", ns);
	snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	/* these are magic links: lstat, never follow */
	r = sysinfo_lstat(o->root, path, &st);
	if (r == 0) {
		sysinfo_begin(f, id, NSESS_OK);
		nsess_finding_seenf(f, "%s is present", path);
	} else if (r == -ENOENT) {
		sysinfo_begin(f, id, NSESS_FAIL);
		nsess_finding_seenf(f, "%s is missing: the kernel has no %s namespaces", path, ns);
		nsess_finding_fixf(f, "boot a kernel built with %s", config);
		sysinfo_fact(f, "no %s", path);
	} else {
		sysinfo_begin(f, id, NSESS_WARN);
		nsess_finding_seenf(f, "cannot check %s: %s", path, sysinfo_strerror(r, err, sizeof(err)));
		sysinfo_fact(f, "%s unreadable", path);
	}
}

/* ---- /dev/net/tun -------------------------------------------------------- */

static void sysinfo_mode_str(mode_t mode, char out[11])
{
	static const char rwx[] = "rwxrwxrwx";
	int i;

	if (S_ISCHR(mode))
		out[0] = 'c';
	else if (S_ISBLK(mode))
		out[0] = 'b';
	else if (S_ISDIR(mode))
		out[0] = 'd';
	else if (S_ISLNK(mode))
		out[0] = 'l';
	else if (S_ISFIFO(mode))
		out[0] = 'p';
	else if (S_ISSOCK(mode))
		out[0] = 's';
	else
		out[0] = '-';
	for (i = 0; i < 9; i++)
		out[1 + i] = (mode & (0400u >> i)) ? rwx[i] : '-';
	if (mode & S_ISUID)
		out[3] = (mode & S_IXUSR) ? 's' : 'S';
	if (mode & S_ISGID)
		out[6] = (mode & S_IXGRP) ? 's' : 'S';
	if (mode & S_ISVTX)
		out[9] = (mode & S_IXOTH) ? 't' : 'T';
	out[10] = '\0';
}

static void sysinfo_owner_str(uid_t uid, char *out, size_t len)
{
	if (uid == 0)
		snprintf(out, len, "root");
	else
		snprintf(out, len, "uid %u", (unsigned int)uid);
}

void nsess_sysinfo_judge_tun(const struct stat *st, int err, bool as_root,
			     struct nsess_finding *f)
{
	static const char path[] = "/dev/net/tun";
	char mode[11], owner[32], e[128];

	if (!st) {
		if (err == ENOENT || err == ENOTDIR) {
			sysinfo_begin(f, "tun", NSESS_FAIL);
			nsess_finding_seenf(f, "%s is missing: no TAP device can be created", path);
			nsess_finding_fixf(f, "modprobe tun (make it last: echo tun > /etc/modules-load.d/tun.conf); if the node is still missing: mkdir -p /dev/net && mknod -m 0666 %s c 10 200; in a container pass it in (--device %s)",
				    path, path);
			sysinfo_fact(f, "%s missing", path);
		} else {
			sysinfo_begin(f, "tun", NSESS_WARN);
			nsess_finding_seenf(f, "cannot inspect %s: %s", path,
				     sysinfo_strerror(err, e, sizeof(e)));
			sysinfo_fact(f, "%s unreadable", path);
		}
		return;
	}
	sysinfo_mode_str(st->st_mode, mode);
	sysinfo_owner_str(st->st_uid, owner, sizeof(owner));
	if (!S_ISCHR(st->st_mode)) {
		sysinfo_begin(f, "tun", NSESS_FAIL);
		nsess_finding_seenf(f, "%s is not a character device (%s)", path, mode);
		nsess_finding_fixf(f, "move it away and recreate the node: mknod -m 0666 %s c 10 200", path);
		sysinfo_fact(f, "%s not a char device", path);
		return;
	}
	if (major(st->st_rdev) != 10 || minor(st->st_rdev) != 200) {
		sysinfo_begin(f, "tun", NSESS_FAIL);
		nsess_finding_seenf(f, "%s is character device %u:%u, not the tun device 10:200", path,
			     major(st->st_rdev), minor(st->st_rdev));
		nsess_finding_fixf(f, "move it away and recreate the node: mknod -m 0666 %s c 10 200", path);
		sysinfo_fact(f, "%s is %u:%u", path, major(st->st_rdev), minor(st->st_rdev));
		return;
	}
	/*
	 * 0666 is safe and usual: TUNSETIFF still needs CAP_NET_ADMIN over the
	 * network namespace. A user cannot open a 0600 node even as root of
	 * their own user namespace (the inode's owner is unmapped there).
	 */
	if ((st->st_mode & (S_IROTH | S_IWOTH)) == (S_IROTH | S_IWOTH)) {
		sysinfo_begin(f, "tun", NSESS_OK);
		nsess_finding_seenf(f, "%s is %s %s: any user may open it", path, mode, owner);
		sysinfo_fact(f, "%s %s %s", path, mode, owner);
		return;
	}
	sysinfo_begin(f, "tun", as_root ? NSESS_WARN : NSESS_FAIL);
	nsess_finding_seenf(f, "%s is %s %s: only %s may open it%s", path, mode, owner,
		     st->st_uid == 0 ? "root" : "its owner",
		     as_root ? " (root is fine; `nsession run` by users fails)" : "");
	nsess_finding_fixf(f, "chmod 0666 %s; make it last with a udev rule: KERNEL==\"tun\", MODE=\"0666\" in /etc/udev/rules.d/60-nsession-tun.rules",
		    path);
	sysinfo_fact(f, "%s %s %s", path, mode, owner);
}

int nsess_sysinfo_probe_tun(const struct nsess_sysinfo_opts *o, struct nsess_finding *f)
{
	const struct nsess_sysinfo_opts none = { 0 };
	struct stat st;
	int r;

	if (!o)
		o = &none;
	r = sysinfo_lstat(o->root, "/dev/net/tun", &st);
	if (r == -ENAMETOOLONG || r == -EINVAL) {
		sysinfo_begin(f, "tun", NSESS_WARN);
		nsess_finding_seenf(f, "cannot inspect /dev/net/tun: the root directory's path is too long");
		return r;
	}
	nsess_sysinfo_judge_tun(r == 0 ? &st : NULL, -r, o->as_root, f);
	return 0;
}

/* ---- newuidmap / newgidmap ------------------------------------------------- */

void nsess_sysinfo_judge_helper(int which, const char *path, const struct stat *st,
				int err, int has_cap, struct nsess_finding *f)
{
	const bool uid = which == NSESS_HELPER_UID;
	const char *id = uid ? "newuidmap" : "newgidmap";
	const char *cap = uid ? "cap_setuid" : "cap_setgid";
	char mode[11], e[128];
	unsigned int perm;

	if (!path)
		path = "(none)";
	if (!st) {
		if (err == ENOENT || err == ENOTDIR) {
			sysinfo_begin(f, id, NSESS_FAIL);
			nsess_finding_seenf(f, "%s is missing: no subordinate id ranges can be mapped", path);
			nsess_finding_fixf(f, "apt-get install uidmap (Fedora: dnf install shadow-utils), or build with --with-%s=PATH pointing at it",
				    id);
			sysinfo_fact(f, "%s missing", path);
		} else {
			sysinfo_begin(f, id, NSESS_FAIL);
			nsess_finding_seenf(f, "cannot inspect %s: %s", path,
				     sysinfo_strerror(err, e, sizeof(e)));
			nsess_finding_fixf(f, "make %s and its directories readable (ls -ld each component)", path);
			sysinfo_fact(f, "%s unreadable", path);
		}
		return;
	}
	sysinfo_mode_str(st->st_mode, mode);
	perm = (unsigned int)(st->st_mode & 07777);
	if (S_ISLNK(st->st_mode)) {
		sysinfo_begin(f, id, NSESS_WARN);
		nsess_finding_seenf(f, "%s is a symlink; nsession judges the file itself, not what a link points to",
			     path);
		nsess_finding_fixf(f, "build with --with-%s= set to the real file (readlink -f %s)", id, path);
		sysinfo_fact(f, "%s symlink", path);
		return;
	}
	if (!S_ISREG(st->st_mode)) {
		sysinfo_begin(f, id, NSESS_FAIL);
		nsess_finding_seenf(f, "%s is not a regular file (%s)", path, mode);
		nsess_finding_fixf(f, "reinstall it: apt-get install --reinstall uidmap");
		sysinfo_fact(f, "%s not a file", path);
		return;
	}
	if (st->st_uid != 0) {
		sysinfo_begin(f, id, NSESS_FAIL);
		nsess_finding_seenf(f, "%s is owned by uid %u, not root: its owner could change a privileged helper",
			     path, (unsigned int)st->st_uid);
		nsess_finding_fixf(f, "chown root:root %s (or reinstall: apt-get install --reinstall uidmap)", path);
		sysinfo_fact(f, "%s owner uid %u", path, (unsigned int)st->st_uid);
		return;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		sysinfo_begin(f, id, NSESS_FAIL);
		nsess_finding_seenf(f, "%s is writable by group or others (%s): anyone could replace a privileged helper",
			     path, mode);
		nsess_finding_fixf(f, "chmod go-w %s, then check it was not tampered with (apt-get install --reinstall uidmap)",
			    path);
		sysinfo_fact(f, "%s mode %04o", path, perm);
		return;
	}
	if (!(st->st_mode & S_IXOTH)) {
		sysinfo_begin(f, id, NSESS_FAIL);
		nsess_finding_seenf(f, "%s is not executable by other users (%s)", path, mode);
		nsess_finding_fixf(f, "chmod 4755 %s", path);
		sysinfo_fact(f, "%s mode %04o", path, perm);
		return;
	}
	if (st->st_mode & S_ISUID) {
		sysinfo_begin(f, id, NSESS_OK);
		nsess_finding_seenf(f, "%s is setuid root (%s)", path, mode);
		sysinfo_fact(f, "%s setuid root", path);
		return;
	}
	if (has_cap > 0) {
		sysinfo_begin(f, id, NSESS_OK);
		nsess_finding_seenf(f, "%s has %s in its file capabilities (%s, owner root)", path, cap, mode);
		sysinfo_fact(f, "%s %s", path, cap);
		return;
	}
	sysinfo_begin(f, id, NSESS_FAIL);
	if (has_cap < 0)
		nsess_finding_seenf(f, "%s is not setuid and its file capabilities could not be read (%s)",
			     path, sysinfo_strerror(has_cap, e, sizeof(e)));
	else
		nsess_finding_seenf(f, "%s is neither setuid nor has %s in its file capabilities (%s)",
			     path, cap, mode);
	nsess_finding_fixf(f, "chmod u+s %s, or setcap %s+ep %s", path, cap, path);
	sysinfo_fact(f, "%s no setuid/%s", path, cap);
}

/*
 * Does the file behind @fd carry the capability in its permitted set?
 * 1 yes, 0 no (no capability xattr at all counts as no), -errno unreadable.
 */
static int sysinfo_fd_has_cap(int fd, cap_value_t value)
{
	cap_flag_value_t v = CAP_CLEAR;
	cap_t caps;
	int r;

	caps = cap_get_fd(fd);
	if (!caps) {
		if (errno == ENODATA || errno == ENOTSUP)
			return 0;
		return -errno;
	}
	r = cap_get_flag(caps, value, CAP_PERMITTED, &v) < 0 ? -errno : 0;
	cap_free(caps);
	if (r < 0)
		return r;
	return v == CAP_SET ? 1 : 0;
}

int nsess_sysinfo_probe_helper(const struct nsess_sysinfo_opts *o, int which,
			       struct nsess_finding *f)
{
	const struct nsess_sysinfo_opts none = { 0 };
	const bool uid = which == NSESS_HELPER_UID;
	const char *id = uid ? "newuidmap" : "newgidmap";
	const char *path;
	char full[PATH_MAX];
	_cleanup_close_ int fd = -1;
	struct stat st, fst;
	int has_cap = 0, r;

	if (!o)
		o = &none;
	if (which != NSESS_HELPER_UID && which != NSESS_HELPER_GID)
		return -EINVAL;
	path = uid ? (o->newuidmap ? o->newuidmap : NSESS_NEWUIDMAP)
		   : (o->newgidmap ? o->newgidmap : NSESS_NEWGIDMAP);
	if (path[0] != '/') {
		sysinfo_begin(f, id, NSESS_FAIL);
		nsess_finding_seenf(f, "the configured %s path \"%s\" is not absolute", id, path);
		nsess_finding_fixf(f, "configure an absolute path (--with-%s=/usr/bin/%s)", id, id);
		sysinfo_fact(f, "%s path not absolute", id);
		return -EINVAL;
	}
	r = sysinfo_path(o->root, path, full, sizeof(full));
	if (r < 0) {
		sysinfo_begin(f, id, NSESS_FAIL);
		nsess_finding_seenf(f, "cannot inspect %s: path too long", path);
		sysinfo_fact(f, "%s unreadable", path);
		return r;
	}
	if (lstat(full, &st) < 0) {
		nsess_sysinfo_judge_helper(which, path, NULL, errno, 0, f);
		return 0;
	}
	if (S_ISREG(st.st_mode) && !(st.st_mode & S_ISUID)) {
		/*
		 * Only a non-setuid regular file needs its capabilities read;
		 * open it without following links or blocking, and make sure
		 * it is still the inode lstat() judged.
		 */
		fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
		if (fd < 0)
			has_cap = -errno;
		else if (fstat(fd, &fst) < 0)
			has_cap = -errno;
		else if (fst.st_dev != st.st_dev || fst.st_ino != st.st_ino)
			has_cap = -ESTALE;
		else
			has_cap = sysinfo_fd_has_cap(fd, uid ? CAP_SETUID : CAP_SETGID);
	}
	nsess_sysinfo_judge_helper(which, path, &st, 0, has_cap, f);
	return 0;
}

/* ---- process state: NoNewPrivs, Seccomp ------------------------------------ */

/*
 * Find "Key:\t<u32>\n" in a status file. 0: found; -ENOENT: no such line;
 * -EINVAL: the line is there but its value is not a number.
 */
static int sysinfo_status_field(const char *data, size_t len, const char *key, unsigned int *v)
{
	size_t klen = strlen(key), pos = 0;

	while (pos < len) {
		const char *line = data + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - line) : len - pos;

		pos += llen + 1;
		if (llen > klen && memcmp(line, key, klen) == 0 && line[klen] == ':') {
			char num[16];
			size_t i = klen + 1, n;

			while (i < llen && (line[i] == '\t' || line[i] == ' '))
				i++;
			n = llen - i;
			if (n == 0 || n >= sizeof(num) || memchr(line + i, '\0', n))
				return -EINVAL;
			memcpy(num, line + i, n);
			num[n] = '\0';
			return nsess_parse_u32(num, v) < 0 ? -EINVAL : 0;
		}
	}
	return -ENOENT;
}

static void sysinfo_probe_status(const struct nsess_sysinfo_opts *o, struct nsess_finding *nnp,
				 struct nsess_finding *sec)
{
	static const char path[] = "/proc/self/status";
	_cleanup_free_ char *data = NULL;
	char err[128];
	unsigned int v;
	size_t got;
	int r;

	data = malloc(SYSINFO_STATUS_MAX);
	if (!data) {
		r = -ENOMEM;
	} else {
		r = nsess_sysinfo_read_file(o->root, path, data, SYSINFO_STATUS_MAX, &got);
		/* the two lines sit early in the file: a long tail does not matter */
		if (r == -EFBIG)
			r = 0;
	}
	if (r < 0) {
		sysinfo_begin(nnp, "no_new_privs", NSESS_WARN);
		nsess_finding_seenf(nnp, "cannot read %s: %s", path,
			     sysinfo_read_strerror(r, err, sizeof(err)));
		sysinfo_begin(sec, "seccomp", NSESS_WARN);
		nsess_finding_seenf(sec, "cannot read %s: %s", path,
			     sysinfo_read_strerror(r, err, sizeof(err)));
		return;
	}

	r = sysinfo_status_field(data, got, "NoNewPrivs", &v);
	if (r == -ENOENT) {
		sysinfo_begin(nnp, "no_new_privs", NSESS_INFO);
		nsess_finding_seenf(nnp, "%s has no NoNewPrivs line (kernel before 4.10)", path);
	} else if (r < 0) {
		sysinfo_begin(nnp, "no_new_privs", NSESS_WARN);
		nsess_finding_seenf(nnp, "%s: unreadable NoNewPrivs value", path);
		sysinfo_fact(nnp, "NoNewPrivs=?");
	} else if (v == 0) {
		sysinfo_begin(nnp, "no_new_privs", NSESS_OK);
		nsess_finding_seenf(nnp, "NoNewPrivs=0");
	} else {
		/* root writes its maps directly and needs no setuid helper */
		sysinfo_begin(nnp, "no_new_privs", o->as_root ? NSESS_INFO : NSESS_WARN);
		nsess_finding_seenf(nnp, "NoNewPrivs=%u: this process cannot gain privileges, so setuid or file capabilities of newuidmap/newgidmap have no effect; only the direct and uid-only maps remain",
			     v);
		nsess_finding_fixf(nnp, "run nsession from a context without no_new_privs (systemd: NoNewPrivileges=no; docker/podman: without --security-opt no-new-privileges; it is inherited from the parent)");
		sysinfo_fact(nnp, "NoNewPrivs=%u", v);
	}

	r = sysinfo_status_field(data, got, "Seccomp", &v);
	if (r == -ENOENT) {
		sysinfo_begin(sec, "seccomp", NSESS_INFO);
		nsess_finding_seenf(sec, "%s has no Seccomp line (kernel without CONFIG_SECCOMP)", path);
	} else if (r < 0) {
		sysinfo_begin(sec, "seccomp", NSESS_WARN);
		nsess_finding_seenf(sec, "%s: unreadable Seccomp value", path);
		sysinfo_fact(sec, "Seccomp=?");
	} else if (v == 0) {
		sysinfo_begin(sec, "seccomp", NSESS_OK);
		nsess_finding_seenf(sec, "Seccomp=0 (no filter)");
	} else {
		sysinfo_begin(sec, "seccomp", NSESS_WARN);
		nsess_finding_seenf(sec, "Seccomp=%u: a seccomp %s is active; container runtimes' default filters refuse unshare/clone with namespace flags",
			     v, v == 1 ? "strict mode" : "filter");
		nsess_finding_fixf(sec, "if creating namespaces fails with EPERM, allow unshare/clone with namespace flags (docker: --security-opt seccomp=unconfined or a custom profile; systemd: RestrictNamespaces=no)");
		sysinfo_fact(sec, "Seccomp=%u", v);
	}
}

/* ---- container ----------------------------------------------------------- */

static void sysinfo_hint(char *hints, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void sysinfo_hint(char *hints, size_t len, const char *fmt, ...)
{
	size_t used = strlen(hints);
	va_list ap;

	if (used + 2 >= len)
		return;
	if (used) {
		memcpy(hints + used, ", ", 3);
		used += 2;
		if (used + 1 >= len)
			return;
	}
	va_start(ap, fmt);
	sysinfo_vfmt(hints + used, len - used, fmt, ap);
	va_end(ap);
}

/* A printable, bounded copy of a container type: "podman", "docker", ... */
static void sysinfo_copy_value(char *dst, size_t dlen, const char *src, size_t slen)
{
	size_t i, n = slen < dlen - 1 ? slen : dlen - 1;

	for (i = 0; i < n; i++)
		dst[i] = src[i] ? src[i] : '?';
	dst[n] = '\0';
}

static void sysinfo_probe_container(const struct nsess_sysinfo_opts *o, struct nsess_finding *f)
{
	static const char *const cgroup_marks[] = {
		"/docker-", "/docker/", "kubepods", "/lxc", "libpod-", "/containerd",
	};
	_cleanup_free_ char *data = NULL;
	char hints[160] = "", kind[40] = "";
	struct stat st;
	size_t got, pos, i;
	int r;

	data = malloc(SYSINFO_ENVIRON_MAX);
	if (data) {
		/* pid 1's environment: unreadable for non-root, which is fine */
		r = nsess_sysinfo_read_file(o->root, "/proc/1/environ", data, SYSINFO_ENVIRON_MAX, &got);
		if (r == 0 || r == -EFBIG) {
			for (pos = 0; pos < got;) {
				const char *e = data + pos;
				const char *z = memchr(e, '\0', got - pos);
				size_t elen = z ? (size_t)(z - e) : got - pos;

				if (elen >= 10 && memcmp(e, "container=", 10) == 0) {
					sysinfo_copy_value(kind, sizeof(kind), e + 10, elen - 10);
					sysinfo_hint(hints, sizeof(hints), "container=%s", kind);
					break;
				}
				pos += elen + 1;
			}
		}
		r = nsess_sysinfo_read_file(o->root, "/run/systemd/container", data, 64, &got);
		if (r == 0 || r == -EFBIG) {
			char v[40];

			if (got && data[got - 1] == '\n')
				got--;
			sysinfo_copy_value(v, sizeof(v), data, got);
			if (!kind[0])
				snprintf(kind, sizeof(kind), "%s", v);
			sysinfo_hint(hints, sizeof(hints), "/run/systemd/container=%s", v);
		}
		r = nsess_sysinfo_read_file(o->root, "/proc/self/cgroup", data, 4096, &got);
		if (r == 0 || r == -EFBIG) {
			data[got < 4096 ? got : 4095] = '\0';
			for (i = 0; i < NSESS_ARRAY_SIZE(cgroup_marks); i++) {
				if (strstr(data, cgroup_marks[i])) {
					sysinfo_hint(hints, sizeof(hints), "cgroup %s", cgroup_marks[i]);
					break;
				}
			}
		}
	}
	if (sysinfo_lstat(o->root, "/.dockerenv", &st) == 0) {
		sysinfo_hint(hints, sizeof(hints), "/.dockerenv");
		if (!kind[0])
			snprintf(kind, sizeof(kind), "docker");
	}
	if (sysinfo_lstat(o->root, "/run/.containerenv", &st) == 0) {
		sysinfo_hint(hints, sizeof(hints), "/run/.containerenv");
		if (!kind[0])
			snprintf(kind, sizeof(kind), "podman");
	}

	if (!hints[0]) {
		sysinfo_begin(f, "container", NSESS_OK);
		nsess_finding_seenf(f, "no container detected");
		return;
	}
	sysinfo_begin(f, "container", NSESS_INFO);
	nsess_finding_seenf(f, "inside a container (%s)", hints);
	nsess_finding_fixf(f, "the outer runtime must allow nested user namespaces and pass /dev/net/tun in (podman run --device /dev/net/tun; docker run --device /dev/net/tun --security-opt seccomp=unconfined --security-opt apparmor=unconfined)");
	sysinfo_fact(f, "container %s", kind[0] ? kind : "(unknown)");
}

/* ---- everything ------------------------------------------------------------ */

int nsess_sysinfo_probe_all(const struct nsess_sysinfo_opts *o, struct nsess_findings *fs)
{
	const struct nsess_sysinfo_opts none = { 0 };
	struct nsess_finding f, g;
	int r = 0;

#define SYSINFO_ADD(fin)                                     \
	do {                                                 \
		if (nsess_findings_add(fs, (fin)) == -ENOSPC) \
			r = -ENOSPC;                         \
	} while (0)

	if (!fs)
		return -EINVAL;
	if (!o)
		o = &none;
	sysinfo_probe_max_userns(o, &f);
	SYSINFO_ADD(&f);
	sysinfo_probe_userns_clone(o, &f);
	SYSINFO_ADD(&f);
	sysinfo_probe_apparmor(o, &f);
	SYSINFO_ADD(&f);
	sysinfo_probe_max_ns(o, "max_net_namespaces", "user.max_net_namespaces", "network", &f);
	SYSINFO_ADD(&f);
	sysinfo_probe_max_ns(o, "max_mnt_namespaces", "user.max_mnt_namespaces", "mount", &f);
	SYSINFO_ADD(&f);
	sysinfo_probe_ns(o, "user", "CONFIG_USER_NS=y", &f);
	SYSINFO_ADD(&f);
	sysinfo_probe_ns(o, "net", "CONFIG_NET_NS=y", &f);
	SYSINFO_ADD(&f);
	sysinfo_probe_ns(o, "mnt", "namespace files in /proc (Linux 3.8 or later)", &f);
	SYSINFO_ADD(&f);
	nsess_sysinfo_probe_helper(o, NSESS_HELPER_UID, &f);
	SYSINFO_ADD(&f);
	nsess_sysinfo_probe_helper(o, NSESS_HELPER_GID, &f);
	SYSINFO_ADD(&f);
	nsess_sysinfo_probe_tun(o, &f);
	SYSINFO_ADD(&f);
	sysinfo_probe_status(o, &f, &g);
	SYSINFO_ADD(&f);
	SYSINFO_ADD(&g);
	sysinfo_probe_container(o, &f);
	SYSINFO_ADD(&f);
#undef SYSINFO_ADD
	return r;
}

int nsess_sysinfo_summary(const struct nsess_sysinfo_opts *o, char *buf, size_t len)
{
	_cleanup_free_ struct nsess_findings *fs = NULL;
	struct nsess_out out = { buf, len, 0 };
	char esc[4 * NSESS_FINDING_FACT_MAX + 8];
	unsigned int i, n = 0;

	if (!buf || len < 4)
		return -EINVAL;
	buf[0] = '\0';
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	nsess_sysinfo_probe_all(o, fs);
	nsess_out_put(&out, "machine:");
	for (i = 0; i < fs->n; i++) {
		if (!fs->f[i].fact[0])
			continue;
		nsess_out_put(&out, n++ ? ", " : " ");
		nsess_out_put(&out, nsess_escape(fs->f[i].fact, (size_t)-1, esc, sizeof(esc)));
	}
	if (out.pos >= len) {
		memcpy(buf + len - 4, "...", 4);
		return -ENOSPC;
	}
	return 0;
}
