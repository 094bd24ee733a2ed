/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy.c - the admin's policy file; see policy.h and nsession.conf(5).
 *
 * How this works: the parser reads bounded lines and turns each setting
 * into a typed record (key, parsed value, line, scope) appended to one
 * array in file order. A scope is 0 for "outside any section" or the
 * number of a [user]/[group] section; a section's settings are contiguous
 * because a section can be opened only once (a hash of kind+name catches a
 * second header for the same user or group while parsing, so the FIRST
 * error in the file is the one reported).
 *
 * Resolution replays records onto the built-in defaults: the scope-0
 * records, then those of the one section that applies. The only step that
 * can fail is adding a `publish` rule (a duplicate host port, more than
 * NSESS_PUBLISH_MAX rules), so after parsing, the parser replays every
 * combination a user can get (outside settings alone, and outside settings
 * plus each section) and reports such a conflict at its line. Resolution
 * therefore cannot fail on a file that parsed.
 *
 * Static helpers use the "policy_" prefix.
 */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "policy.h"

#define POLICY_NAME_MAX NSESS_POLICY_NAME_MAX /* [A-Za-z0-9._-], then an optional '$' */
#define POLICY_SHOW 160		/* escaped excerpt of a value in a message */
#define POLICY_PATH_SHOW 512	/* escaped path in messages */

enum policy_key {
	POLICY_SANDBOX,
	POLICY_NET,
	POLICY_LOOPBACK,
	POLICY_PUBLISH,
	POLICY_MTU,
	POLICY_IPV6,
	POLICY_MAP,
	POLICY_ON_FAILURE,
	POLICY_FALLBACK,
	POLICY_ENGINE_USER,
};

/* In the order the man page and the unknown-key message list them. */
static const char *const policy_key_names[] = {
	[POLICY_SANDBOX] = "sandbox",
	[POLICY_NET] = "net",
	[POLICY_LOOPBACK] = "allow_host_loopback",
	[POLICY_PUBLISH] = "publish",
	[POLICY_MTU] = "mtu",
	[POLICY_IPV6] = "ipv6",
	[POLICY_MAP] = "map",
	[POLICY_ON_FAILURE] = "on_failure",
	[POLICY_FALLBACK] = "fallback",
	[POLICY_ENGINE_USER] = "engine_user",
};

/* What to write instead, for "no value" messages. */
static const char *const policy_key_forms[] = {
	[POLICY_SANDBOX] = "sandbox = yes|no (default yes)",
	[POLICY_NET] = "net = slirp|none|host (default slirp)",
	[POLICY_LOOPBACK] = "allow_host_loopback = yes|no (default no)",
	[POLICY_PUBLISH] = "publish = [IP:]HOSTPORT:PORT[/udp|/tcp] or publish = none",
	[POLICY_MTU] = "mtu = 1280..65520 (default 65520)",
	[POLICY_IPV6] = "ipv6 = yes|no (default yes)",
	[POLICY_MAP] = "map = keep-id|root (default keep-id)",
	[POLICY_ON_FAILURE] = "on_failure = closed|open (default closed)",
	[POLICY_FALLBACK] = "fallback = single|refuse (default single)",
	[POLICY_ENGINE_USER] = "engine_user = ACCOUNT (default: the session user)",
};

enum policy_kind { POLICY_USER = 0, POLICY_GROUP = 1 };

struct policy_setting {
	enum policy_key key;
	unsigned int line;
	size_t scope;			/* 0: outside sections; n: sections[n - 1] */
	union {
		bool b;
		enum nsess_net_mode net;
		uint32_t mtu;
		enum nsess_layout layout;
		enum nsess_on_failure on_failure;
		enum nsess_fallback fallback;
		char account[POLICY_NAME_MAX + 2];
		struct {
			bool none;	/* `publish = none`: clear the list */
			struct nsess_publish rule;
		} publish;
	} v;
};

struct policy_section {
	enum policy_kind kind;
	char name[POLICY_NAME_MAX + 2];
	unsigned int line;
	size_t first;			/* its settings: settings[first .. first + n) */
	size_t n;
};

struct nsess_policy_file {
	char *path;			/* escaped, as shown in messages and `matched` */
	struct policy_setting *settings;
	size_t n_settings;
	size_t cap_settings;
	struct policy_section *sections;
	size_t n_sections;
	size_t cap_sections;
};

struct policy_parser {
	struct nsess_policy_file *pf;
	const char *path;		/* escaped */
	unsigned int line;
	size_t scope;
	size_t *hash;			/* section index + 1, 0 = free slot */
	size_t hash_cap;		/* a power of two */
	struct nsess_error *e;
};

/* ---- messages ------------------------------------------------------------ */

static char *policy_esc(const char *s, char buf[POLICY_SHOW])
{
	return nsess_escape(s, (size_t)-1, buf, POLICY_SHOW);
}

static int policy_fail(struct policy_parser *p, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record "PATH:LINE: <message>" and return -@err. */
static int policy_fail(struct policy_parser *p, int err, const char *fmt, ...)
{
	char msg[sizeof(p->e->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return nsess_error_set(p->e, err, "%s:%u: %s", p->path, p->line, msg);
}

static int policy_fail_at(struct policy_parser *p, unsigned int line, int err, const char *fmt,
			  ...) __attribute__((format(printf, 4, 5)));

static int policy_fail_at(struct policy_parser *p, unsigned int line, int err, const char *fmt,
			  ...)
{
	char msg[sizeof(p->e->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return nsess_error_set(p->e, err, "%s:%u: %s", p->path, line, msg);
}

/* ---- the policy a scope gives ---------------------------------------------- */

static void policy_defaults(struct nsess_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->sandbox = true;
	nsess_netplan_defaults(&p->net);
	p->layout = NSESS_LAYOUT_KEEP_ID;
	p->on_failure = NSESS_FAIL_CLOSED;
	p->fallback = NSESS_FALLBACK_SINGLE;
	snprintf(p->matched, sizeof(p->matched), "defaults");
}

/* Apply one record. Only `publish` can fail: -EEXIST or -E2BIG with @e set. */
static int policy_apply(const struct policy_setting *s, struct nsess_policy *p,
			struct nsess_error *e)
{
	switch (s->key) {
	case POLICY_SANDBOX:
		p->sandbox = s->v.b;
		break;
	case POLICY_NET:
		p->net.mode = s->v.net;
		break;
	case POLICY_LOOPBACK:
		p->net.allow_host_loopback = s->v.b;
		break;
	case POLICY_PUBLISH:
		if (s->v.publish.none) {
			p->net.n_publish = 0;
			break;
		}
		return nsess_netplan_add_publish(&p->net, &s->v.publish.rule, e);
	case POLICY_MTU:
		p->net.mtu = s->v.mtu;
		break;
	case POLICY_IPV6:
		p->net.ipv6 = s->v.b;
		break;
	case POLICY_MAP:
		p->layout = s->v.layout;
		break;
	case POLICY_ON_FAILURE:
		p->on_failure = s->v.on_failure;
		break;
	case POLICY_FALLBACK:
		p->fallback = s->v.fallback;
		break;
	case POLICY_ENGINE_USER:
		snprintf(p->engine_user, sizeof(p->engine_user), "%s", s->v.account);
		break;
	}
	return 0;
}

static void policy_apply_outside(const struct nsess_policy_file *pf, struct nsess_policy *p)
{
	size_t i;

	for (i = 0; i < pf->n_settings; i++)
		if (pf->settings[i].scope == 0)
			(void)policy_apply(&pf->settings[i], p, NULL);
}

static void policy_apply_section(const struct nsess_policy_file *pf,
				 const struct policy_section *sec, struct nsess_policy *p)
{
	size_t i;

	for (i = sec->first; i < sec->first + sec->n; i++)
		(void)policy_apply(&pf->settings[i], p, NULL);
}

static const char *policy_kind_name(enum policy_kind k)
{
	return k == POLICY_GROUP ? "group" : "user";
}

/* ---- storage ------------------------------------------------------------- */

static int policy_grow(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *a;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if (ncap > (size_t)-1 / size)
		return -ENOMEM;
	a = realloc(*arr, ncap * size);
	if (!a)
		return -ENOMEM;
	*arr = a;
	*cap = ncap;
	return 0;
}

static struct nsess_policy_file *policy_file_new(const char *path)
{
	struct nsess_policy_file *pf = calloc(1, sizeof(*pf));
	char esc[POLICY_PATH_SHOW];

	if (!pf)
		return NULL;
	pf->path = strdup(nsess_escape(path ? path : "", (size_t)-1, esc, sizeof(esc)));
	if (!pf->path) {
		free(pf);
		return NULL;
	}
	return pf;
}

void nsess_policy_free(struct nsess_policy_file *pf)
{
	if (!pf)
		return;
	free(pf->settings);
	free(pf->sections);
	free(pf->path);
	free(pf);
}

/* FNV-1a over the kind and the name. */
static size_t policy_hash_of(enum policy_kind kind, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const unsigned char *c;

	h = (h ^ (unsigned char)kind) * 0x100000001b3ull;
	for (c = (const unsigned char *)name; *c; c++)
		h = (h ^ *c) * 0x100000001b3ull;
	return (size_t)h;
}

/* The section of that kind and name parsed so far, or NULL. */
static const struct policy_section *policy_hash_find(const struct policy_parser *p,
						     enum policy_kind kind, const char *name)
{
	size_t mask = p->hash_cap - 1, i;

	if (!p->hash_cap)
		return NULL;
	for (i = policy_hash_of(kind, name) & mask; p->hash[i]; i = (i + 1) & mask) {
		const struct policy_section *s = &p->pf->sections[p->hash[i] - 1];

		if (s->kind == kind && strcmp(s->name, name) == 0)
			return s;
	}
	return NULL;
}

static void policy_hash_put(struct policy_parser *p, size_t idx)
{
	const struct policy_section *s = &p->pf->sections[idx];
	size_t mask = p->hash_cap - 1, i;

	for (i = policy_hash_of(s->kind, s->name) & mask; p->hash[i]; i = (i + 1) & mask)
		;
	p->hash[i] = idx + 1;
}

/* Room for one more section in the table, kept at most half full. */
static int policy_hash_reserve(struct policy_parser *p)
{
	size_t ncap, *old = p->hash, old_cap = p->hash_cap, i;

	if ((p->pf->n_sections + 1) * 2 <= p->hash_cap)
		return 0;
	ncap = p->hash_cap ? p->hash_cap * 2 : 64;
	p->hash = calloc(ncap, sizeof(*p->hash));
	if (!p->hash) {
		p->hash = old;
		return -ENOMEM;
	}
	p->hash_cap = ncap;
	for (i = 0; i < old_cap; i++)
		if (old[i])
			policy_hash_put(p, old[i] - 1);
	free(old);
	return 0;
}

/* ---- lines --------------------------------------------------------------- */

static bool policy_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* ---- values -------------------------------------------------------------- */

static int policy_yes_no(struct policy_parser *p, const char *key, const char *v, bool *out)
{
	char esc[POLICY_SHOW];

	if (strcmp(v, "yes") == 0) {
		*out = true;
		return 0;
	}
	if (strcmp(v, "no") == 0) {
		*out = false;
		return 0;
	}
	return policy_fail(p, EINVAL, "%s '%s' is not yes or no; write %s = yes or %s = no", key,
			   policy_esc(v, esc), key, key);
}

static bool policy_name_ok(const char *name);

static int policy_value(struct policy_parser *p, enum policy_key key, const char *v,
			struct policy_setting *s)
{
	struct nsess_error sub = { 0 };
	char esc[POLICY_SHOW];
	int r;

	switch (key) {
	case POLICY_SANDBOX:
	case POLICY_LOOPBACK:
	case POLICY_IPV6:
		return policy_yes_no(p, policy_key_names[key], v, &s->v.b);
	case POLICY_NET:
		if (nsess_net_mode_parse(v, &s->v.net, NULL) == 0)
			return 0;
		return policy_fail(p, EINVAL, "net '%s' is not a network mode; write net = slirp "
				   "(a private network with NAT, the default), net = none "
				   "(loopback only) or net = host (the host's network)",
				   policy_esc(v, esc));
	case POLICY_PUBLISH:
		if (strcmp(v, "none") == 0) {
			s->v.publish.none = true;
			return 0;
		}
		s->v.publish.none = false;
		r = nsess_publish_parse(v, &s->v.publish.rule, &sub);
		if (r < 0)
			return policy_fail(p, EINVAL, "%s; or write publish = none to clear the list",
					   sub.msg);
		return 0;
	case POLICY_MTU:
		if (nsess_mtu_parse(v, &s->v.mtu, NULL) == 0)
			return 0;
		return policy_fail(p, EINVAL, "mtu '%s' is not a number in %d..%d; write a "
				   "decimal number without leading zeros, e.g. mtu = 1500 (IPv6 "
				   "needs at least %d, libslirp allows at most %d)",
				   policy_esc(v, esc), NSESS_MTU_MIN, NSESS_MTU_MAX, NSESS_MTU_MIN,
				   NSESS_MTU_MAX);
	case POLICY_MAP:
		/* "single" is what the fallback does, not something to ask for */
		if (nsess_layout_parse(v, &s->v.layout) == 0 &&
		    (s->v.layout == NSESS_LAYOUT_KEEP_ID || s->v.layout == NSESS_LAYOUT_ROOT))
			return 0;
		return policy_fail(p, EINVAL, "map '%s' is not an id layout; write map = keep-id "
				   "(your own ids inside, the default) or map = root (you are root "
				   "inside)", policy_esc(v, esc));
	case POLICY_ON_FAILURE:
		if (strcmp(v, "closed") == 0) {
			s->v.on_failure = NSESS_FAIL_CLOSED;
			return 0;
		}
		if (strcmp(v, "open") == 0) {
			s->v.on_failure = NSESS_FAIL_OPEN;
			return 0;
		}
		return policy_fail(p, EINVAL, "on_failure '%s' is not closed or open; write "
				   "on_failure = closed (refuse the login, the default) or "
				   "on_failure = open (let it in without a sandbox)",
				   policy_esc(v, esc));
	case POLICY_FALLBACK:
		if (strcmp(v, "single") == 0) {
			s->v.fallback = NSESS_FALLBACK_SINGLE;
			return 0;
		}
		if (strcmp(v, "refuse") == 0) {
			s->v.fallback = NSESS_FALLBACK_REFUSE;
			return 0;
		}
		return policy_fail(p, EINVAL, "fallback '%s' is not single or refuse; write "
				   "fallback = single (map only the user's own ids, the default) or "
				   "fallback = refuse", policy_esc(v, esc));
	case POLICY_ENGINE_USER:
		/* the account itself is looked up when a session opens */
		if (!policy_name_ok(v))
			return policy_fail(p, EINVAL, "engine_user '%s' is not an account name; "
					   "write engine_user = NAME with 1..%d of A-Z a-z 0-9 . _ - "
					   "(e.g. a system account made by useradd --system "
					   "--no-create-home --shell /usr/sbin/nologin nsession-engine)",
					   policy_esc(v, esc), POLICY_NAME_MAX);
		if (strcmp(v, "root") == 0)
			return policy_fail(p, EINVAL, "engine_user = root: the engine never runs "
					   "as root; name an unprivileged account, or delete the "
					   "line to run it as the session user");
		snprintf(s->v.account, sizeof(s->v.account), "%s", v);
		return 0;
	}
	return policy_fail(p, EINVAL, "internal error: key %d has no parser", (int)key);
}

static void policy_valid_keys(char *buf, size_t len)
{
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < NSESS_ARRAY_SIZE(policy_key_names) && o < len; i++) {
		int n = snprintf(buf + o, len - o, "%s%s", i ? ", " : "", policy_key_names[i]);

		if (n < 0)
			break;
		o += (size_t)n;
	}
}

/* "KEY = VALUE", blanks around '=' optional; @s is trimmed and not empty. */
static int policy_setting_line(struct policy_parser *p, char *s)
{
	char esc[POLICY_SHOW], keys[256];
	struct nsess_policy_file *pf = p->pf;
	struct policy_setting set;
	size_t klen = strcspn(s, " \t="), i;
	char *eq = s + klen, *v;
	int r;

	while (policy_is_blank(*eq))
		eq++;
	if (*eq != '=')
		return policy_fail(p, EINVAL, "'%s' is neither KEY = VALUE nor a section header; "
				   "write a setting such as net = slirp, a header such as "
				   "[user NAME], or put '#' in front to make it a comment",
				   policy_esc(s, esc));
	if (klen == 0)
		return policy_fail(p, EINVAL, "'%s' has no key before '='; write KEY = VALUE",
				   policy_esc(s, esc));
	s[klen] = '\0';
	v = eq + 1;
	while (policy_is_blank(*v))
		v++;

	for (i = 0; i < NSESS_ARRAY_SIZE(policy_key_names); i++)
		if (strcmp(s, policy_key_names[i]) == 0)
			break;
	if (i == NSESS_ARRAY_SIZE(policy_key_names)) {
		size_t j;

		policy_valid_keys(keys, sizeof(keys));
		for (j = 0; j < NSESS_ARRAY_SIZE(policy_key_names); j++)
			if (strcasecmp(s, policy_key_names[j]) == 0)
				return policy_fail(p, EINVAL, "unknown key '%s' (keys are lower "
						   "case: write %s); valid keys: %s",
						   policy_esc(s, esc), policy_key_names[j], keys);
		return policy_fail(p, EINVAL, "unknown key '%s'; valid keys: %s",
				   policy_esc(s, esc), keys);
	}
	if (!*v)
		return policy_fail(p, EINVAL, "%s has no value; write %s, or delete the line to "
				   "keep the default", policy_key_names[i], policy_key_forms[i]);

	memset(&set, 0, sizeof(set));
	set.key = (enum policy_key)i;
	set.line = p->line;
	set.scope = p->scope;
	r = policy_value(p, set.key, v, &set);
	if (r < 0)
		return r;

	if (policy_grow((void **)&pf->settings, &pf->cap_settings, pf->n_settings,
			sizeof(*pf->settings)) < 0)
		return policy_fail(p, ENOMEM, "out of memory");
	pf->settings[pf->n_settings++] = set;
	if (p->scope)
		pf->sections[p->scope - 1].n++;
	return 0;
}

/* A user or group name: 1..256 of [A-Za-z0-9._-], then an optional '$'. */
static bool policy_name_ok(const char *name)
{
	size_t n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				"0123456789._-");

	if (n < 1 || n > POLICY_NAME_MAX)
		return false;
	if (name[n] == '$')
		n++;
	return name[n] == '\0';
}

/* "[user NAME]", "[group NAME]" or "[default]"; @s is trimmed. */
static int policy_header_line(struct policy_parser *p, char *s)
{
	static const char fix[] = "write [user NAME], [group NAME] or [default]";
	struct nsess_policy_file *pf = p->pf;
	const struct policy_section *dup;
	struct policy_section *sec;
	char esc[POLICY_SHOW];
	size_t len = strlen(s);
	enum policy_kind kind;
	const char *name;

	if (len < 2 || s[len - 1] != ']')
		return policy_fail(p, EINVAL, "section header '%s' does not end with ']'; %s",
				   policy_esc(s, esc), fix);
	s[len - 1] = '\0';
	if (strcmp(s + 1, "default") == 0) {
		p->scope = 0;
		return 0;
	}
	if (strncmp(s + 1, "user ", 5) == 0) {
		kind = POLICY_USER;
		name = s + 6;
	} else if (strncmp(s + 1, "group ", 6) == 0) {
		kind = POLICY_GROUP;
		name = s + 7;
	} else {
		s[len - 1] = ']';
		return policy_fail(p, EINVAL, "section header '%s' is not valid; %s (lower case, "
				   "one space before the name)", policy_esc(s, esc), fix);
	}
	if (!policy_name_ok(name))
		return policy_fail(p, EINVAL, "%s name '%s' in the section header is not valid; "
				   "a name is 1 to %d characters of A-Z a-z 0-9 . _ - and may end "
				   "in $: write [%s NAME] with one space before the name",
				   policy_kind_name(kind), policy_esc(name, esc), POLICY_NAME_MAX,
				   policy_kind_name(kind));

	dup = policy_hash_find(p, kind, name);
	if (dup)
		return policy_fail(p, EINVAL, "[%s %s] is already defined at line %u; merge the "
				   "two sections into one", policy_kind_name(kind), name,
				   dup->line);

	if (policy_hash_reserve(p) < 0 ||
	    policy_grow((void **)&pf->sections, &pf->cap_sections, pf->n_sections,
			sizeof(*pf->sections)) < 0)
		return policy_fail(p, ENOMEM, "out of memory");
	sec = &pf->sections[pf->n_sections];
	memset(sec, 0, sizeof(*sec));
	sec->kind = kind;
	snprintf(sec->name, sizeof(sec->name), "%s", name);
	sec->line = p->line;
	sec->first = pf->n_settings;
	policy_hash_put(p, pf->n_sections);
	pf->n_sections++;
	p->scope = pf->n_sections;
	return 0;
}

/* One raw line of @len bytes (newline dropped). */
static int policy_line(struct policy_parser *p, char *buf, size_t len, bool overlong)
{
	const char *nul;
	char *s, *end;

	if (overlong)
		return policy_fail(p, EINVAL, "line is longer than %d bytes; a policy line is a "
				   "short KEY = VALUE: check that %s is the file you meant",
				   NSESS_POLICY_LINE_MAX, p->path);
	nul = memchr(buf, '\0', len);
	if (nul)
		return policy_fail(p, EINVAL, "NUL byte at column %zu; the file is not plain "
				   "text: check that %s is the file you meant and rewrite it",
				   (size_t)(nul - buf) + 1, p->path);
	if (len && buf[len - 1] == '\r')
		return policy_fail(p, EINVAL, "line ends with a carriage return (DOS line "
				   "endings); convert with dos2unix %s", p->path);

	/* a '#' anywhere starts a comment: no valid value contains one */
	end = strchr(buf, '#');
	if (end)
		*end = '\0';
	else
		end = buf + len;
	while (end > buf && policy_is_blank(end[-1]))
		*--end = '\0';
	for (s = buf; policy_is_blank(*s); s++)
		;
	if (!*s)
		return 0;
	if (*s == '[')
		return policy_header_line(p, s);
	return policy_setting_line(p, s);
}

/* ---- replay every combination a user can get ----------------------------- */

static int policy_check_publish(struct policy_parser *p)
{
	const struct nsess_policy_file *pf = p->pf;
	struct nsess_policy outside, pol;
	struct nsess_error sub = { 0 };
	size_t i, j;
	int r;

	policy_defaults(&outside);
	for (i = 0; i < pf->n_settings; i++) {
		const struct policy_setting *s = &pf->settings[i];

		if (s->scope != 0)
			continue;
		r = policy_apply(s, &outside, &sub);
		if (r < 0)
			return policy_fail_at(p, s->line, EINVAL, "%s; %s", sub.msg,
					      r == -EEXIST ? "remove one of the two rules"
							   : "publish fewer ports");
	}
	for (i = 0; i < pf->n_sections; i++) {
		const struct policy_section *sec = &pf->sections[i];

		pol = outside;
		for (j = sec->first; j < sec->first + sec->n; j++) {
			r = policy_apply(&pf->settings[j], &pol, &sub);
			if (r < 0)
				return policy_fail_at(p, pf->settings[j].line, EINVAL,
						      "%s (in [%s %s], on top of %u rule%s "
						      "published outside sections); remove the "
						      "duplicate or write publish = none first in "
						      "the section to start a new list",
						      sub.msg, policy_kind_name(sec->kind),
						      sec->name, outside.net.n_publish,
						      outside.net.n_publish == 1 ? "" : "s");
		}
	}
	return 0;
}

/* ---- the interface ------------------------------------------------------- */

int nsess_policy_parse(FILE *f, const char *path, struct nsess_policy_file **out,
		       struct nsess_error *e)
{
	struct nsess_policy_file *pf;
	struct policy_parser p;
	char buf[NSESS_POLICY_LINE_MAX + 1];
	size_t len, total = 0;
	bool overlong;
	int r;

	if (!f || !out)
		return nsess_error_set(e, EINVAL, "no policy stream given");
	pf = policy_file_new(path);
	if (!pf)
		return nsess_error_set(e, ENOMEM, "out of memory reading the policy file");

	memset(&p, 0, sizeof(p));
	p.pf = pf;
	p.path = pf->path;
	p.e = e;
	for (;;) {
		p.line++;
		r = nsess_read_line(f, buf, sizeof(buf), &len, &overlong, &total, NSESS_POLICY_SIZE_MAX);
		if (r == 0)
			break;
		if (r == -EFBIG) {
			r = policy_fail(&p, EFBIG, "file is larger than 1 MiB (%d bytes); a policy "
					"file is a few lines: check that %s is the file you meant",
					NSESS_POLICY_SIZE_MAX, p.path);
			goto fail;
		}
		if (r < 0) {
			r = policy_fail(&p, -r, "cannot read the file: %s", strerror(-r));
			goto fail;
		}
		r = policy_line(&p, buf, len, overlong);
		if (r < 0)
			goto fail;
	}
	r = policy_check_publish(&p);
	if (r < 0)
		goto fail;
	free(p.hash);
	*out = pf;
	return 0;
fail:
	free(p.hash);
	nsess_policy_free(pf);
	return r;
}

int nsess_policy_load(const char *path, struct nsess_policy_file **out, struct nsess_error *e)
{
	_cleanup_close_ int fd = -1;
	struct nsess_policy_file *pf;
	char esc[POLICY_PATH_SHOW];
	struct stat st;
	uid_t euid;
	FILE *f;
	int r;

	if (!path || !out)
		return nsess_error_set(e, EINVAL, "no policy file given");
	nsess_escape(path, (size_t)-1, esc, sizeof(esc));
	if (path[0] != '/')
		return nsess_error_set(e, EINVAL, "policy file '%s' is not an absolute path; give "
				       "the full path, e.g. %s", esc, NSESS_POLICY_PATH);

	/* never follow a link, never block on a FIFO, never leak into a session */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 && errno == ENOENT) {
		pf = policy_file_new(path);
		if (!pf)
			return nsess_error_set(e, ENOMEM, "out of memory reading %s", esc);
		*out = pf;
		return 0;
	}
	if (fd < 0 && errno == ELOOP)
		return nsess_error_set(e, EPERM, "%s is a symbolic link; nsession does not follow "
				       "links for its policy: replace it with a regular file owned "
				       "by root", esc);
	if (fd < 0)
		return nsess_error_set(e, errno, "cannot open %s: %s; make it a regular file "
				       "readable by root", esc, strerror(errno));
	if (fstat(fd, &st) < 0)
		return nsess_error_set(e, errno, "cannot stat %s: %s", esc, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return nsess_error_set(e, EPERM, "%s is %s; the policy must be a regular file: "
				       "replace it with a regular file owned by root", esc,
				       nsess_file_type_name(st.st_mode));
	/*
	 * The policy decides who gets a sandbox, so whoever can write it can
	 * switch the sandbox off. Root-owned only; a test run as a user may
	 * use its own files, which gives it nothing it did not have.
	 */
	euid = geteuid();
	if (st.st_uid != 0 && (euid == 0 || st.st_uid != euid))
		return nsess_error_set(e, EPERM, "%s is owned by uid %u, not root; whoever can "
				       "write the policy decides who gets a sandbox: chown root %s",
				       esc, (unsigned int)st.st_uid, esc);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return nsess_error_set(e, EPERM, "%s is writable by %s (mode %04o); whoever can "
				       "write the policy decides who gets a sandbox: chmod go-w %s",
				       esc, (st.st_mode & S_IWGRP) ? "its group" : "others",
				       (unsigned int)(st.st_mode & 07777), esc);

	f = fdopen(fd, "re");
	if (!f)
		return nsess_error_set(e, errno, "cannot read %s: %s", esc, strerror(errno));
	TAKE_FD(fd);
	r = nsess_policy_parse(f, path, out, e);
	fclose(f);
	return r;
}

static bool policy_in(const char *name, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; list && i < n; i++)
		if (list[i] && strcmp(list[i], name) == 0)
			return true;
	return false;
}

void nsess_policy_resolve(const struct nsess_policy_file *pf, const char *user,
			  const char *const *groups, size_t n_groups, struct nsess_policy *out)
{
	const struct policy_section *sec = NULL;
	struct nsess_policy p;
	size_t i;

	policy_defaults(&p);
	if (!pf) {
		*out = p;
		return;
	}
	policy_apply_outside(pf, &p);
	for (i = 0; user && !sec && i < pf->n_sections; i++)
		if (pf->sections[i].kind == POLICY_USER && strcmp(pf->sections[i].name, user) == 0)
			sec = &pf->sections[i];
	for (i = 0; !sec && i < pf->n_sections; i++)
		if (pf->sections[i].kind == POLICY_GROUP &&
		    policy_in(pf->sections[i].name, groups, n_groups))
			sec = &pf->sections[i];
	if (sec) {
		policy_apply_section(pf, sec, &p);
		snprintf(p.matched, sizeof(p.matched), "[%s %s] at %s:%u",
			 policy_kind_name(sec->kind), sec->name, pf->path, sec->line);
	}
	*out = p;
}

int nsess_policy_describe(const struct nsess_policy *p, char *buf, size_t len)
{
	char tmp[sizeof(p->matched) + sizeof(p->engine_user) + 256];
	int n;

	if (!p || !buf)
		return -EINVAL;
	n = snprintf(tmp, sizeof(tmp),
		     "sandbox %s, net %s, host loopback %s, mtu %u, ipv6 %s, map %s, "
		     "on_failure %s, fallback %s, %u published port%s%s%s (from %s)",
		     p->sandbox ? "yes" : "no", nsess_net_mode_name(p->net.mode),
		     p->net.allow_host_loopback ? "yes" : "no", (unsigned int)p->net.mtu,
		     p->net.ipv6 ? "yes" : "no", nsess_layout_name(p->layout),
		     p->on_failure == NSESS_FAIL_OPEN ? "open" : "closed",
		     p->fallback == NSESS_FALLBACK_REFUSE ? "refuse" : "single",
		     p->net.n_publish, p->net.n_publish == 1 ? "" : "s",
		     p->engine_user[0] ? ", engine as " : "", p->engine_user, p->matched);
	if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof(tmp))
		return -ENOSPC;
	memcpy(buf, tmp, (size_t)n + 1);
	return n;
}
