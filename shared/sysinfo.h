/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sysinfo.h - what this machine allows: the probes behind `nsession doctor`
 * and behind the one-line machine description in `nsession run`'s failure
 * message. One code path for both: every probe yields a finding, and the
 * summary line is assembled from the findings' short facts.
 *
 * Every probe reads below a root directory (normally "/"), so unit tests
 * point it at a fixture tree. Findings hold raw text; each renderer escapes
 * for its own medium (terminal text or JSON).
 */
#ifndef NSESS_SYSINFO_H
#define NSESS_SYSINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/*
 * Status of a finding, ordered by severity so that "worst" is a max().
 * The JSON names ("ok", "info", "warn", "fail") are part of the stable
 * schema; the numeric values are not.
 */
enum {
	NSESS_OK = 0,
	NSESS_INFO = 1,
	NSESS_WARN = 2,
	NSESS_FAIL = 3,
};

#define NSESS_FINDING_ID_MAX 32
#define NSESS_FINDING_SEEN_MAX 256
#define NSESS_FINDING_FIX_MAX 384
#define NSESS_FINDING_FACT_MAX 96
#define NSESS_FINDING_AREA_MAX 16
#define NSESS_FINDINGS_MAX 128

/**
 * struct nsess_finding - one observation about the machine
 * @id: stable machine-readable name ("max_user_namespaces", "tun", ...)
 * @status: NSESS_OK, NSESS_INFO, NSESS_WARN or NSESS_FAIL
 * @seen: what was observed, one sentence; raw text, may hold any byte but NUL
 * @fix: what an admin should do; empty when nothing is to be done
 * @fact: compact form for the one-line summary ("/dev/net/tun crw------- root");
 *        empty when the finding is not worth a place in that line
 * @area: the group a report shows the finding under ("kernel", "tun",
 *        "helpers", "subid", "user", "pam", "engine", "sessions"); empty
 *        for the machine probes here, `nsession doctor` fills it
 * @needs_root: the check could not be done completely without root (the
 *              finding then says what was left out)
 */
struct nsess_finding {
	char id[NSESS_FINDING_ID_MAX];
	int status;
	char seen[NSESS_FINDING_SEEN_MAX];
	char fix[NSESS_FINDING_FIX_MAX];
	char fact[NSESS_FINDING_FACT_MAX];
	char area[NSESS_FINDING_AREA_MAX];
	bool needs_root;
};

/**
 * struct nsess_findings - an ordered list of findings
 * @f: the findings, in probe order
 * @n: how many of @f are used
 * @dropped: findings that did not fit (reported by the renderers)
 */
struct nsess_findings {
	struct nsess_finding f[NSESS_FINDINGS_MAX];
	unsigned int n;
	unsigned int dropped;
};

/*
 * Upper bounds of the rendered forms of a full list, NUL included: text
 * escapes a byte to at most 4 characters, JSON to at most 6.
 */
#define NSESS_FINDING_TEXT_MAX \
	(16 + 4 * (NSESS_FINDING_ID_MAX + NSESS_FINDING_SEEN_MAX + NSESS_FINDING_FIX_MAX))
#define NSESS_FINDINGS_TEXT_MAX (64 + NSESS_FINDINGS_MAX * NSESS_FINDING_TEXT_MAX)
#define NSESS_FINDING_JSON_MAX \
	(64 + 6 * (NSESS_FINDING_ID_MAX + NSESS_FINDING_SEEN_MAX + NSESS_FINDING_FIX_MAX))
#define NSESS_FINDINGS_JSON_MAX (64 + NSESS_FINDINGS_MAX * NSESS_FINDING_JSON_MAX)

/**
 * struct nsess_sysinfo_opts - where and for whom to probe
 * @root: directory the machine's files are read below; NULL or "/" for the
 *        real machine, a fixture tree in tests
 * @newuidmap: absolute path of newuidmap as the machine sees it; NULL for
 *             the configured NSESS_NEWUIDMAP
 * @newgidmap: likewise for newgidmap (NULL: NSESS_NEWGIDMAP)
 * @self_path: path of the nsession binary, named in the AppArmor fix; NULL
 *             for "/usr/bin/nsession"
 * @as_root: judge for a root caller (PAM, `nsession run` as root). Things only
 *           unprivileged callers need (an open /dev/net/tun, unprivileged
 *           user namespaces) are then a warning rather than a failure.
 */
struct nsess_sysinfo_opts {
	const char *root;
	const char *newuidmap;
	const char *newgidmap;
	const char *self_path;
	bool as_root;
};

/*
 * struct nsess_out - an snprintf-like sink for the renderers: @pos counts
 * every byte asked for, only what fits is stored, and @buf stays
 * NUL-terminated. nsess_out_result() is the snprintf-style return value
 * (-EOVERFLOW past INT_MAX); nsess_out_put_json_str() writes a quoted,
 * escaped JSON string.
 */
struct nsess_out {
	char *buf;
	size_t len;
	size_t pos;
};

void nsess_out_put(struct nsess_out *o, const char *s);
int nsess_out_result(const struct nsess_out *o);
void nsess_out_put_json_str(struct nsess_out *o, const char *s);

/**
 * nsess_finding_seenf() / nsess_finding_fixf() - printf into a finding's
 * "seen" or "fix" text (cut to fit; escaping happens when rendered)
 */
void nsess_finding_seenf(struct nsess_finding *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void nsess_finding_fixf(struct nsess_finding *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * nsess_findings_init() - empty a list
 * @fs: list to reset
 */
void nsess_findings_init(struct nsess_findings *fs);

/**
 * nsess_finding_set() - fill a finding from plain strings
 * @f: finding to fill (all fields are overwritten)
 * @id: stable id; truncated to NSESS_FINDING_ID_MAX - 1 bytes
 * @status: NSESS_OK .. NSESS_FAIL
 * @seen: observation (NULL = empty); truncated to fit
 * @fix: remedy (NULL = empty); truncated to fit
 *
 * The strings are copied as they are; escaping happens when rendering.
 */
void nsess_finding_set(struct nsess_finding *f, const char *id, int status,
		       const char *seen, const char *fix);

/**
 * nsess_findings_add() - append a copy of a finding
 * @fs: list
 * @f: finding to copy
 *
 * Return: 0, -EINVAL for a status out of range, or -ENOSPC when the list is
 * full (the finding is counted in @fs->dropped).
 */
int nsess_findings_add(struct nsess_findings *fs, const struct nsess_finding *f);

/**
 * nsess_findings_worst() - the most severe status in a list
 * @fs: list
 *
 * Return: NSESS_OK for an empty list, else the maximum status; NSESS_FAIL
 * when findings were dropped (something went unreported).
 */
int nsess_findings_worst(const struct nsess_findings *fs);

/**
 * nsess_finding_status_name() - the JSON name of a status
 * @status: NSESS_OK .. NSESS_FAIL
 *
 * Return: "ok", "info", "warn", "fail", or "unknown".
 */
const char *nsess_finding_status_name(int status);

/**
 * nsess_findings_to_text() - render findings for a terminal
 * @fs: list
 * @buf: output, always NUL-terminated when @len > 0
 * @len: size of @buf; NSESS_FINDINGS_TEXT_MAX always suffices
 *
 * One line per finding, "[FAIL] id: seen", followed by "    fix: ..." when
 * there is a fix. Labels are "[ OK ]", "[INFO]", "[WARN]", "[FAIL]". All
 * text goes through nsess_escape(), so file contents cannot reach the
 * terminal as control sequences.
 *
 * Return: the length of the complete rendering (like snprintf(): a value
 * >= @len means the output was truncated), or -EINVAL.
 */
int nsess_findings_to_text(const struct nsess_findings *fs, char *buf, size_t len);

/**
 * nsess_findings_to_json() - render findings as one JSON document
 * @fs: list
 * @buf: output, always NUL-terminated when @len > 0
 * @len: size of @buf; NSESS_FINDINGS_JSON_MAX always suffices
 *
 * Schema: {"findings":[{"id":"..","status":"ok|info|warn|fail","seen":"..",
 * "fix":".."}],"dropped":N}, no whitespace, followed by a newline. Strings
 * are escaped by nsess_sysinfo_json_escape().
 *
 * Return: as nsess_findings_to_text(); a truncated document is not valid JSON.
 */
int nsess_findings_to_json(const struct nsess_findings *fs, char *buf, size_t len);

/**
 * nsess_sysinfo_json_escape() - escape bytes for a JSON string body
 * @in: NUL-terminated input (any bytes)
 * @out: output buffer, always NUL-terminated when @outlen > 0
 * @outlen: size of @out; 6 * strlen(@in) + 1 always suffices
 *
 * '"' and '\\' get a backslash; \b \f \n \r \t their short forms; other bytes
 * below 0x20 and every byte >= 0x7f become \u00XX (bytes >= 0x80 are read as
 * Latin-1), so the output is plain ASCII and always valid JSON whatever the
 * input's encoding. Output is never cut inside an escape.
 *
 * Return: the length of the complete escaping (>= @outlen: truncated).
 */
size_t nsess_sysinfo_json_escape(const char *in, char *out, size_t outlen);

/**
 * nsess_sysinfo_read_u32() - strict, bounded read of a one-number file
 * @root: root directory (NULL or "/" for the real machine)
 * @path: absolute path below @root, e.g. "/proc/sys/user/max_user_namespaces"
 * @out: the value, written only on success
 * @raw: if not NULL, receives the file's first bytes (up to @rawlen - 1, NULs
 *       shown as '?') whenever the file could be read, for error messages
 * @rawlen: size of @raw
 *
 * The file must be a regular file (no symlink as last component, no FIFO)
 * holding decimal digits and at most one trailing newline, 64 bytes at most.
 *
 * Return: 0; -ENOENT absent; -EINVAL junk (including values above
 * 4294967295); -EFBIG longer than 64 bytes; -ENAMETOOLONG; -ELOOP a symlink;
 * -EBADF not a regular file (FIFO, directory, device); other -errno from
 * open/read.
 */
int nsess_sysinfo_read_u32(const char *root, const char *path, unsigned int *out,
			   char *raw, size_t rawlen);

/**
 * nsess_sysinfo_read_file() - bounded read of a small regular file below a root
 * @root: root directory (NULL or "/" for the real machine)
 * @path: absolute path below @root
 * @buf: receives at most @len bytes; no NUL is added (the data may hold NULs)
 * @len: size of @buf
 * @got: the number of bytes read (also set for -EFBIG)
 *
 * Opens with O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC, so a symlink in the last
 * component or a FIFO never blocks or redirects the read.
 *
 * Return: 0; -EFBIG when the file holds more than @len bytes (the first
 * @len are in @buf); -ELOOP a symlink; -EBADF not a regular file;
 * -ENAMETOOLONG; other -errno from open/read.
 */
int nsess_sysinfo_read_file(const char *root, const char *path, char *buf, size_t len,
			    size_t *got);

/**
 * nsess_sysinfo_judge_tun() - judge /dev/net/tun from its lstat() result
 * @st: the lstat() result, or NULL when lstat failed
 * @err: positive errno of the failed lstat() (ignored when @st is set)
 * @as_root: the caller is root (root opens a 0600 node; users cannot)
 * @out: the finding (id "tun")
 *
 * Missing: FAIL (modprobe tun). Not a character device or not 10:200: FAIL.
 * Not read-write for others: WARN for root, FAIL for unprivileged callers.
 * Read-write for others (0666, the usual udev mode): OK. Pure function.
 */
void nsess_sysinfo_judge_tun(const struct stat *st, int err, bool as_root,
			     struct nsess_finding *out);

/**
 * nsess_sysinfo_probe_tun() - lstat <root>/dev/net/tun and judge it
 * @o: options (NULL: real machine, unprivileged judgement)
 * @out: the finding
 *
 * Return: 0, or -ENAMETOOLONG (the finding then says so).
 */
int nsess_sysinfo_probe_tun(const struct nsess_sysinfo_opts *o, struct nsess_finding *out);

/* Which helper nsess_sysinfo_judge_helper() judges. */
enum {
	NSESS_HELPER_UID = 0,	/* newuidmap, needs CAP_SETUID */
	NSESS_HELPER_GID = 1,	/* newgidmap, needs CAP_SETGID */
};

/**
 * nsess_sysinfo_judge_helper() - judge newuidmap/newgidmap from its metadata
 * @which: NSESS_HELPER_UID or NSESS_HELPER_GID
 * @path: the helper's path as the machine sees it (named in the messages)
 * @st: its lstat() result, or NULL when lstat failed
 * @err: positive errno of the failed lstat() (ignored when @st is set)
 * @has_cap: 1 when the file capabilities hold cap_setuid (uid) / cap_setgid
 *           (gid) in the permitted set, 0 when not, -errno when unreadable
 * @out: the finding (id "newuidmap" or "newgidmap")
 *
 * OK needs: a regular file, owned by root, not writable by group or others,
 * executable by others, and setuid or the capability. Pure function.
 */
void nsess_sysinfo_judge_helper(int which, const char *path, const struct stat *st,
				int err, int has_cap, struct nsess_finding *out);

/**
 * nsess_sysinfo_probe_helper() - inspect a helper below the root and judge it
 * @o: options (root, helper paths)
 * @which: NSESS_HELPER_UID or NSESS_HELPER_GID
 * @out: the finding
 *
 * lstat()s the path (a symlink is judged as it is: not a regular file), opens
 * a regular file with O_NOFOLLOW|O_NONBLOCK, checks it is the same inode and
 * reads its file capabilities with libcap from the fd.
 *
 * Return: 0, or -errno when the probe itself could not run (the finding then
 * says so).
 */
int nsess_sysinfo_probe_helper(const struct nsess_sysinfo_opts *o, int which,
			       struct nsess_finding *out);

/**
 * nsess_sysinfo_probe_all() - run every probe, in a fixed order
 * @o: options (NULL: the real machine, unprivileged judgement, configured
 *     helper paths)
 * @fs: list the findings are appended to
 *
 * Order and ids: max_user_namespaces, unprivileged_userns_clone,
 * apparmor_userns, max_net_namespaces, max_mnt_namespaces, ns_user, ns_net,
 * ns_mnt, newuidmap, newgidmap, tun, no_new_privs, seccomp, container.
 *
 * Return: 0, or -ENOSPC when @fs filled up.
 */
int nsess_sysinfo_probe_all(const struct nsess_sysinfo_opts *o, struct nsess_findings *fs);

/**
 * nsess_sysinfo_summary() - one compact line describing the machine
 * @o: options, as for nsess_sysinfo_probe_all()
 * @buf: output, always NUL-terminated when @len > 0; escaped, printable ASCII
 * @len: size of @buf (512 is comfortable)
 *
 * "machine: user.max_user_namespaces=96365, kernel.unprivileged_userns_clone
 * absent, ..., /usr/bin/newgidmap setuid root", made of the probes' facts;
 * uneventful facts (namespaces present, no container, seccomp off) are left
 * out. Ends with "..." when cut.
 *
 * Return: 0, -EINVAL (@buf NULL or @len < 4), -ENOMEM, or -ENOSPC when the
 * line was cut.
 */
int nsess_sysinfo_summary(const struct nsess_sysinfo_opts *o, char *buf, size_t len);

#endif
