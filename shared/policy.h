/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy.h - the admin's policy file (default /etc/security/nsession.conf,
 * documented in nsession.conf(5)). Pure code: text in, a policy out.
 *
 * Format, line by line; '#' starts a comment, blank lines are ignored:
 *
 *   KEY = VALUE           settings before any section apply to everyone
 *   [user NAME]           a section: its settings apply to user NAME
 *   [group NAME]          ... to members of group NAME (primary or supplementary)
 *   [default]             back to settings for everyone
 *
 * Resolution for a user: the settings outside sections, in file order,
 * then those of the FIRST matching [user] section if there is one,
 * otherwise those of the FIRST matching [group] section (groups in file
 * order). Later lines of the same key override earlier ones, except
 * `publish`, which accumulates (and `publish = none` clears the list).
 *
 * Keys and values (defaults in brackets):
 *   sandbox = yes|no                  [yes] no: the module lets the login through untouched
 *   net = slirp|none|host             [slirp]
 *   allow_host_loopback = yes|no      [no]
 *   publish = [IP:]HOSTPORT:PORT[/udp|/tcp] | none   (repeatable; at most 32)
 *   mtu = 1280..65520                 [65520]
 *   ipv6 = yes|no                     [yes]
 *   map = keep-id|root                [keep-id]
 *   on_failure = closed|open          [closed] open: log, let the login in unsandboxed
 *   fallback = single|refuse          [single] no subordinate range: single-id map
 *                                      with a warning, or refuse the login
 *
 * Strict: unknown keys, bad values, a section header of any other shape,
 * a NUL byte, a line over 1024 bytes, a file over 1 MiB are errors with
 * "file:line: what; fix" messages. A file with errors gives no policy.
 */
#ifndef NSESS_POLICY_H
#define NSESS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "idmap.h"
#include "netplan.h"
#include "util.h"

#define NSESS_POLICY_PATH "/etc/security/nsession.conf"
#define NSESS_POLICY_LINE_MAX 1024
#define NSESS_POLICY_SIZE_MAX (1024 * 1024)

enum nsess_on_failure { NSESS_FAIL_CLOSED = 0, NSESS_FAIL_OPEN = 1 };
enum nsess_fallback { NSESS_FALLBACK_SINGLE = 0, NSESS_FALLBACK_REFUSE = 1 };

#define NSESS_POLICY_NAME_MAX 256	/* user, group and account names in the file */

/* What the policy gives one user. */
struct nsess_policy {
	bool sandbox;
	struct nsess_netplan net;	/* starts from nsess_netplan_defaults() */
	enum nsess_layout layout;
	enum nsess_on_failure on_failure;
	enum nsess_fallback fallback;
	/* the account the NAT engine runs as; "" for the session user */
	char engine_user[NSESS_POLICY_NAME_MAX + 2];
	char matched[300];		/* "[user alice] at FILE:LINE", "[group dev] ...", or "defaults" */
};

struct nsess_policy_file; /* opaque: the parsed file */

/**
 * nsess_policy_parse() - parse policy text
 * @f: stream (bounded by NSESS_POLICY_SIZE_MAX)
 * @path: name for messages
 * @out: the parsed file, written on success; free with nsess_policy_free()
 * @e: the FIRST error, "PATH:LINE: what is wrong; how to fix it" (untrusted
 *     text escaped)
 * Return: 0, -EINVAL (a syntax/value error), -EFBIG, -ENOMEM.
 */
int nsess_policy_parse(FILE *f, const char *path, struct nsess_policy_file **out,
		       struct nsess_error *e);

/**
 * nsess_policy_load() - open and parse a policy file
 * @path: absolute path; a missing file is NOT an error: it gives the
 *        built-in defaults (an empty policy)
 * @out, @e: as nsess_policy_parse()
 * Refuses (-EPERM) a file that is not a regular file, or that is writable by
 * group or others, or not owned by root (unless @path is under a test root
 * and the caller is not root): the policy decides who gets a sandbox.
 * Return: 0 or -errno.
 */
int nsess_policy_load(const char *path, struct nsess_policy_file **out, struct nsess_error *e);

void nsess_policy_free(struct nsess_policy_file *pf);

/**
 * nsess_policy_resolve() - what the policy gives a user
 * @pf: parsed file (NULL: built-in defaults)
 * @user: name
 * @groups: names of the user's groups (primary first); may be empty
 * @n_groups: how many
 * @out: written
 */
void nsess_policy_resolve(const struct nsess_policy_file *pf, const char *user,
			  const char *const *groups, size_t n_groups, struct nsess_policy *out);

/**
 * nsess_policy_describe() - one line saying what @p is, for logs and doctor
 * ("sandbox yes, net slirp, host loopback no, mtu 65520, ipv6 yes, map keep-id,
 *  on_failure closed, fallback single, 0 published ports (from [user alice] at ...)")
 * Return: bytes written or -ENOSPC.
 */
int nsess_policy_describe(const struct nsess_policy *p, char *buf, size_t len);

#endif
