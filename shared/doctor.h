/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * doctor.h - `nsession doctor`: every check an admin needs when a login or
 * `nsession run` fails, as findings (sysinfo.h's model), grouped by area.
 *
 * One code path: the CLI's `doctor` renders the whole list; the PAM module
 * and `nsession run` call nsess_doctor_brief() for the one line of fixes
 * they add to a failure message. Every file is read below a root directory,
 * so unit tests run all checks against fixture trees.
 */
#ifndef NSESS_DOCTOR_H
#define NSESS_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "subid.h"
#include "sysinfo.h"

/* Areas, as bits for nsess_doctor_opts.areas and as names in findings. */
enum {
	NSESS_DOCTOR_KERNEL = 1u << 0,	 /* "kernel": sysctls, namespaces, NoNewPrivs, seccomp, container */
	NSESS_DOCTOR_TUN = 1u << 1,	 /* "tun": /dev/net/tun */
	NSESS_DOCTOR_HELPERS = 1u << 2,	 /* "helpers": newuidmap, newgidmap */
	NSESS_DOCTOR_SUBID = 1u << 3,	 /* "subid": /etc/subuid, /etc/subgid as files */
	NSESS_DOCTOR_USER = 1u << 4,	 /* "user": the user's ranges and map layouts */
	NSESS_DOCTOR_PAM = 1u << 5,	 /* "pam": pam.d services, the policy file */
	NSESS_DOCTOR_ENGINE = 1u << 6,	 /* "engine": libslirp, ways out of a session */
	NSESS_DOCTOR_SESSIONS = 1u << 7, /* "sessions": /run/nsession */
	NSESS_DOCTOR_ALL = 0xffu,
	/* what decides whether a session can be set up (nsess_doctor_brief) */
	NSESS_DOCTOR_SETUP = NSESS_DOCTOR_KERNEL | NSESS_DOCTOR_TUN | NSESS_DOCTOR_HELPERS |
			     NSESS_DOCTOR_SUBID | NSESS_DOCTOR_USER | NSESS_DOCTOR_PAM,
};

/**
 * struct nsess_doctor_opts - what to check, where, for whom
 * @root: directory every file is read below; NULL or "/" for the machine
 * @user: user name to check (ranges, layouts, policy, escape routes); NULL
 *        for machine-wide checks only
 * @newuidmap: absolute helper path as the machine sees it (NULL: configured)
 * @newgidmap: likewise
 * @policy: policy file path below @root; NULL: the config= paths of the PAM
 *          lines that load pam_nsession, else NSESS_POLICY_PATH
 * @run_dir: session state directory below @root (NULL: /run/nsession)
 * @self_path: the nsession binary, for the AppArmor fix (NULL: default)
 * @as_root: judge for a root caller (PAM, `nsession run --user`); a caller
 *           that is not root also cannot read some things (other users'
 *           /run/user, /run/nsession), which the findings then say
 * @areas: bit set of NSESS_DOCTOR_*; 0 means all
 * @tun_st: tests: judge this instead of lstat(<root>/dev/net/tun)
 */
struct nsess_doctor_opts {
	const char *root;
	const char *user;
	const char *newuidmap;
	const char *newgidmap;
	const char *policy;
	const char *run_dir;
	const char *self_path;
	bool as_root;
	unsigned int areas;
	const struct stat *tun_st;
};

/**
 * nsess_doctor_run() - run every selected check
 * @o: options
 * @out: list to fill (emptied first); findings carry their area
 *
 * Findings come in area order: kernel, tun, helpers, subid, user, pam,
 * engine, sessions. Nothing is written anywhere; no process is started.
 *
 * Return: the worst status (NSESS_OK .. NSESS_FAIL), or -EINVAL.
 */
int nsess_doctor_run(const struct nsess_doctor_opts *o, struct nsess_findings *out);

/**
 * nsess_doctor_brief() - one line of what is wrong and how to fix it
 * @o: options; @o->areas 0 means NSESS_DOCTOR_SETUP here
 * @buf: output, printable ASCII, always NUL-terminated when @len > 0
 * @len: size of @buf (1024 is comfortable)
 *
 * Runs the checks and renders them with nsess_doctor_brief_render(): the
 * failing findings, else the warnings. For the PAM module's and `nsession
 * run`'s failure messages.
 *
 * Return: the worst status, or -errno (-ENOMEM, -EINVAL).
 */
int nsess_doctor_brief(const struct nsess_doctor_opts *o, char *buf, size_t len);

/**
 * nsess_doctor_brief_render() - the one-line form of a list (pure)
 * @fs: findings
 * @buf: output: "doctor: ID: FIX; ID: FIX" for every FAIL finding (the
 *       "seen" text when it has no fix), or, when nothing fails, for every
 *       WARN; "doctor: no problem found" when neither; escaped; cut with
 *       "..." when long
 * @len: size of @buf, at least 32
 *
 * Return: 0, -EINVAL, or -ENOSPC when the line was cut.
 */
int nsess_doctor_brief_render(const struct nsess_findings *fs, char *buf, size_t len);

/* Upper bounds of the renderings below, NUL included. */
#define NSESS_DOCTOR_TEXT_MAX (NSESS_FINDINGS_TEXT_MAX + 4096)
#define NSESS_DOCTOR_JSON_MAX (NSESS_FINDINGS_JSON_MAX + NSESS_FINDINGS_MAX * 64 + 4096)

/**
 * nsess_doctor_to_text() - the human report
 * @fs: findings from nsess_doctor_run()
 * @user: the checked user, for the heading (NULL: none)
 * @colour: wrap status labels in ANSI colours (only for a terminal)
 * @buf: output, always NUL-terminated when @len > 0
 * @len: NSESS_DOCTOR_TEXT_MAX always suffices
 *
 * An area heading, then one line per finding "  [FAIL] id: seen" and its
 * fix indented below; a closing count line. Every text is escaped.
 *
 * Return: the full length (>= @len: truncated), or -EINVAL.
 */
int nsess_doctor_to_text(const struct nsess_findings *fs, const char *user, bool colour,
			 char *buf, size_t len);

/**
 * nsess_doctor_to_json() - the report as one JSON document (schema in
 * nsession(1), JSON OUTPUT)
 * @fs: findings
 * @user: the checked user (NULL: JSON null)
 * @as_root: whether the checks ran as root
 * @buf: output, always NUL-terminated when @len > 0
 * @len: NSESS_DOCTOR_JSON_MAX always suffices
 *
 * Return: as nsess_doctor_to_text(); a truncated document is not valid JSON.
 */
int nsess_doctor_to_json(const struct nsess_findings *fs, const char *user, bool as_root,
			 char *buf, size_t len);

/**
 * nsess_doctor_pam_judge_join() - does a service's join choice fit it (pure)
 * @service: the pam.d file name ("sshd", "su", ...)
 * @join: the join= value of the line ("auto", "open", "setcred"); NULL or
 *        "" for no join= option (auto)
 * @type: "auth" or "session": which stack's line carries it
 *
 * Return: NSESS_OK, NSESS_WARN or NSESS_FAIL.
 */
int nsess_doctor_pam_judge_join(const char *service, const char *join, const char *type);

/**
 * nsess_doctor_free_range() - a suggestion for a new delegation (pure)
 * @used: ranges already taken (any order)
 * @n_used: how many
 * @ids: passwd/group ids the range must not contain (any order)
 * @n_ids: how many
 * @count: the size wanted (65536)
 *
 * Return: the lowest start >= 100000 such that start .. start+count-1
 * touches none of @used and contains none of @ids, or 0 when there is none.
 */
uint32_t nsess_doctor_free_range(const struct nsess_range *used, size_t n_used,
				 const uint32_t *ids, size_t n_ids, uint32_t count);

#endif
