/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pam_nsession - put a login session into fresh user, network and mount
 * namespaces. A thin front end: options and PAM items in, the core's
 * session create/join/destroy, PAM codes and syslog lines out.
 *
 * Who does what (shared/DESIGN.md section 1):
 *  - open_session (sshd's privileged monitor; su's or login's own process)
 *    creates the session: a holder owning the namespaces and an engine
 *    running as the user, recorded under /run/nsession and in pam data.
 *  - join=open (su, runuser, login): open_session also moves the calling
 *    process in; its child's own setgid/initgroups/setuid then finish.
 *  - join=setcred (sshd): the post-auth child joins in pam_setcred
 *    (the module is listed in the auth stack too) and becomes root
 *    inside, so sshd's switch to the user drops every capability.
 *  - close_session in the opener tears down; any other process holding a
 *    forked copy of the handle only drops its copies of the fds.
 */
#include "config.h"

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define PAM_SM_SESSION
#define PAM_SM_AUTH
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "fault.h"
#include "log.h"
#include "mapwrite.h"
#include "policy.h"
#include "session.h"
#include "state.h"

#define PAM_NSESS_DATA "pam_nsession"

enum pam_nsess_join { JOIN_AUTO, JOIN_OPEN, JOIN_SETCRED };

struct pam_nsess_args {
	bool debug;
	const char *config;
	const char *engine;	/* engine=: nsession-engine elsewhere than installed */
	enum pam_nsess_join join;
};

struct pam_nsess_data {
	pid_t opener;
	bool join_setcred;
	bool joined;
	bool closed;
	int rootfd;
	char name[NSESS_STATE_NAME_LEN + 1];
	struct nsess_session s;
};

static void pam_nsess_emit(void *data, int prio, const char *line)
{
	pam_syslog((pam_handle_t *)data, prio, "%s", line);
}

static void pam_nsess_log_init(struct nsess_log *log, pam_handle_t *pamh, bool debug)
{
	log->emit = pam_nsess_emit;
	log->data = pamh;
	log->max_prio = debug ? LOG_DEBUG : LOG_INFO;
}

static int pam_nsess_parse_args(pam_handle_t *pamh, int argc, const char **argv,
				struct pam_nsess_args *a)
{
	char esc[200];

	memset(a, 0, sizeof(*a));
	a->config = NSESS_POLICY_PATH;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "debug") == 0) {
			a->debug = true;
		} else if (strncmp(argv[i], "config=", 7) == 0 && argv[i][7] == '/') {
			a->config = argv[i] + 7;
		} else if (strncmp(argv[i], "engine=", 7) == 0 && argv[i][7] == '/') {
			a->engine = argv[i] + 7;
		} else if (strcmp(argv[i], "join=auto") == 0) {
			a->join = JOIN_AUTO;
		} else if (strcmp(argv[i], "join=open") == 0) {
			a->join = JOIN_OPEN;
		} else if (strcmp(argv[i], "join=setcred") == 0) {
			a->join = JOIN_SETCRED;
		} else {
			pam_syslog(pamh, LOG_ERR,
				   "unknown or malformed option '%s'; valid: debug, config=/ABSOLUTE/PATH, "
				   "engine=/ABSOLUTE/PATH, join=auto|open|setcred (see pam_nsession(8))",
				   nsess_escape(argv[i], (size_t)-1, esc, sizeof(esc)));
			return -EINVAL;
		}
	}
	return 0;
}

static bool pam_nsess_join_setcred(pam_handle_t *pamh, const struct pam_nsess_args *a)
{
	const void *svc = NULL;

	if (a->join != JOIN_AUTO)
		return a->join == JOIN_SETCRED;
	/* sshd's monitor must stay in the host: its post-auth child joins */
	if (pam_get_item(pamh, PAM_SERVICE, &svc) == PAM_SUCCESS && svc &&
	    strstr((const char *)svc, "sshd"))
		return true;
	return false;
}

/* Only this process's copies go; the opener alone ends the session. */
static void pam_nsess_drop_copies(struct pam_nsess_data *d)
{
	nsess_session_close_fds(&d->s);
	if (d->rootfd >= 0)
		close(d->rootfd);
	d->rootfd = -1;
}

static void pam_nsess_teardown(pam_handle_t *pamh, struct pam_nsess_data *d)
{
	struct sigaction sa = { .sa_handler = SIG_DFL }, old;
	char why[96];

	if (d->closed)
		return;
	d->closed = true;
	/*
	 * Nothing watches the engine during the session (a PAM module only
	 * runs when called): one that died left the session without a
	 * network, and this is where the admin can learn it.
	 */
	if (pamh && nsess_session_engine_ended(&d->s, why, sizeof(why)))
		pam_syslog(pamh, LOG_WARNING,
			   "session %s: the network engine (pid %d) had ended before the session "
			   "closed (%s), so the session had no network from then on",
			   d->name, (int)d->s.engine.pid, why);
	/* our children must be reapable whatever the host did with SIGCHLD */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, &old);
	nsess_session_destroy(&d->s);
	sigaction(SIGCHLD, &old, NULL);
	if (d->rootfd >= 0) {
		nsess_state_remove(d->rootfd, d->name);
		close(d->rootfd);
		d->rootfd = -1;
	}
}

static void pam_nsess_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	struct pam_nsess_data *d = data;

	if (!d)
		return;
	/* pam_end() in the opener without close_session: still end it */
	if (d->opener == getpid())
		pam_nsess_teardown(pamh, d);
	else
		pam_nsess_drop_copies(d);
	free(d);
}

/* Group names of the user, for [group NAME] policy sections. */
#define NSESS_GROUP_NAME_MAX 258

static size_t pam_nsess_group_names(const struct nsess_user *u, char names[][NSESS_GROUP_NAME_MAX],
				    size_t max)
{
	char buf[4096];
	size_t n = 0;

	for (size_t i = 0; i < u->n_groups && n < max; i++) {
		struct group gr, *res = NULL;

		if (getgrgid_r(u->groups[i], &gr, buf, sizeof(buf), &res) == 0 && res &&
		    strlen(gr.gr_name) < NSESS_GROUP_NAME_MAX)
			strcpy(names[n++], gr.gr_name);
	}
	return n;
}

/* A failure on the open path: refuse, or let in unsandboxed when the admin said so. */
static int pam_nsess_fail(pam_handle_t *pamh, const struct nsess_policy *p, const char *user,
			  const char *what)
{
	char esc[80];

	nsess_escape(user, (size_t)-1, esc, sizeof(esc));
	if (p && p->on_failure == NSESS_FAIL_OPEN) {
		pam_syslog(pamh, LOG_WARNING,
			   "session for %s NOT sandboxed (policy on_failure = open): %s", esc, what);
		return PAM_IGNORE;
	}
	pam_syslog(pamh, LOG_ERR, "refusing the session of %s: %s", esc, what);
	return PAM_SESSION_ERR;
}

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct nsess_run_opts ro = {
		.root = "/",
		.newuidmap = NSESS_NEWUIDMAP,
		.newgidmap = NSESS_NEWGIDMAP,
	};
	struct nsess_policy_file *pf = NULL;
	struct sigaction sa = { .sa_handler = SIG_DFL }, old;
	struct nsess_state_info info = { 0 };
	struct pam_nsess_data *d = NULL;
	struct nsess_error e = { 0 };
	struct nsess_policy pol;
	struct pam_nsess_args a;
	struct nsess_user *u = NULL;
	struct nsess_log log;
	const void *existing = NULL;
	const char *name = NULL;
	char (*groups)[NSESS_GROUP_NAME_MAX] = NULL;
	const char *gptr[NSESS_GROUPS_MAX];
	size_t ng;
	int r, ret;

	if (pam_nsess_parse_args(pamh, argc, argv, &a) < 0)
		return PAM_SERVICE_ERR;
	pam_nsess_log_init(&log, pamh, a.debug);
	if (pam_get_data(pamh, PAM_NSESS_DATA, &existing) == PAM_SUCCESS && existing)
		return PAM_SUCCESS; /* opened already through this handle */
	if (pam_get_user(pamh, &name, NULL) != PAM_SUCCESS || !name || !*name) {
		pam_syslog(pamh, LOG_ERR, "cannot determine the user name");
		return PAM_SESSION_ERR;
	}

	u = calloc(1, sizeof(*u));
	if (!u)
		return pam_nsess_fail(pamh, NULL, name, "out of memory");
	r = nsess_user_lookup(name, 0, u, &e);
	if (r < 0) {
		free(u);
		return pam_nsess_fail(pamh, NULL, name, e.msg);
	}
	/*
	 * Root is never sandboxed (host root cannot be mapped into a
	 * session), so decide that before the policy is read: a broken policy
	 * file must not lock root out too.
	 */
	if (u->uid == 0) {
		nsess_log(&log, LOG_DEBUG, "%s: no sandbox (root)", name);
		free(u);
		return PAM_IGNORE;
	}
	r = nsess_policy_load(a.config, &pf, &e);
	if (r < 0) {
		free(u);
		return pam_nsess_fail(pamh, NULL, name, e.msg);
	}
	groups = calloc(NSESS_GROUPS_MAX, sizeof(*groups));
	if (!groups) {
		nsess_policy_free(pf);
		free(u);
		return pam_nsess_fail(pamh, NULL, name, "out of memory");
	}
	ng = pam_nsess_group_names(u, groups, NSESS_GROUPS_MAX);
	for (size_t i = 0; i < ng; i++)
		gptr[i] = groups[i];
	nsess_policy_resolve(pf, u->name, gptr, ng, &pol);
	nsess_policy_free(pf);
	free(groups);
	if (a.debug) {
		char desc[1024];

		if (nsess_policy_describe(&pol, desc, sizeof(desc)) > 0)
			nsess_log(&log, LOG_DEBUG, "policy for %s: %s", name, desc);
	}
	if (!pol.sandbox) {
		nsess_log(&log, LOG_DEBUG, "%s: no sandbox (policy sandbox = no)", name);
		free(u);
		return PAM_IGNORE;
	}
	r = nsess_threads();
	if (r != 1) {
		free(u);
		return pam_nsess_fail(pamh, &pol, name,
				      "the PAM host is multithreaded; a user namespace cannot be "
				      "created from it (use pam_nsession with sshd, login, su, runuser)");
	}
	if (pol.fallback == NSESS_FALLBACK_REFUSE) {
		struct nsess_ranges su, sg;

		r = nsess_user_ranges("/", u->name, u->uid, u->gid, &su, &sg, &e);
		if (r == 0 && (!su.n || !sg.n)) {
			r = nsess_error_set(&e, ENOENT,
					    "no %s range for this user and policy fallback = refuse; add "
					    "one (usermod --add-subuids 100000-165535 --add-subgids "
					    "100000-165535 USER)",
					    !su.n ? "subuid" : "subgid");
		}
		if (r < 0) {
			free(u);
			return pam_nsess_fail(pamh, &pol, name, e.msg);
		}
	}

	d = calloc(1, sizeof(*d));
	if (!d) {
		free(u);
		return pam_nsess_fail(pamh, &pol, name, "out of memory");
	}
	d->rootfd = -1;
	d->opener = getpid();
	d->join_setcred = pam_nsess_join_setcred(pamh, &a);
	ro.net = pol.net;
	ro.engine_user = pol.engine_user;
	ro.engine_program = a.engine;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, &old);
	r = nsess_session_create(&d->s, u, &pol.net, pol.layout, &ro, &log, &e);
	sigaction(SIGCHLD, &old, NULL);
	if (r < 0) {
		ret = pam_nsess_fail(pamh, &pol, name, e.msg);
		free(d);
		free(u);
		return ret;
	}

	r = nsess_state_open_root(NSESS_RUNDIR, &d->rootfd, &e);
	if (r == 0) {
		/* records left by a host that died without close_session */
		int gone = nsess_state_reclaim(d->rootfd);

		if (gone > 0)
			nsess_log(&log, LOG_INFO, "reclaimed %d stale session record(s) under %s", gone,
				  NSESS_RUNDIR);
		snprintf(info.user, sizeof(info.user), "%s", u->name);
		info.uid = u->uid;
		info.holder_pid = d->s.holder.pid;
		info.engine_pid = d->s.engine.pid;
		info.opener_pid = d->opener;
		info.started = (int64_t)time(NULL);
		r = nsess_fault_err("state", "creating the session record", &e);
		if (r == 0)
			r = nsess_state_create(d->rootfd, &info, d->name, &e);
	}
	if (r < 0)
		goto fail;

	if (!d->join_setcred) {
		/* su/login-like: this process is the shell's parent; no inside-root step */
		r = nsess_session_join(&d->s, false, &e);
		if (r < 0)
			goto fail;
		d->joined = true;
	}
	r = pam_set_data(pamh, PAM_NSESS_DATA, d, pam_nsess_cleanup);
	if (r != PAM_SUCCESS) {
		nsess_error_set(&e, ENOMEM, "pam_set_data: %s", pam_strerror(pamh, r));
		goto fail;
	}
	{
		char esc[80];

		nsess_log(&log, LOG_INFO,
			  "session %s for %s: user+net+mnt namespaces (holder %d, engine %d, join %s, "
			  "net %s)",
			  d->name, nsess_escape(u->name, (size_t)-1, esc, sizeof(esc)),
			  (int)d->s.holder.pid, (int)d->s.engine.pid,
			  d->join_setcred ? "setcred" : "open", nsess_net_mode_name(pol.net.mode));
	}
	free(u);
	return PAM_SUCCESS;

fail:
	pam_nsess_teardown(NULL, d); /* the failure itself is logged below */
	ret = pam_nsess_fail(pamh, &pol, name, e.msg);
	free(d);
	free(u);
	return ret;
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const void *data = NULL;
	struct pam_nsess_data *d;

	if (pam_get_data(pamh, PAM_NSESS_DATA, &data) != PAM_SUCCESS || !data)
		return PAM_SUCCESS; /* nothing opened here, or closed already */
	d = (struct pam_nsess_data *)data;
	if (d->opener != getpid()) {
		pam_nsess_drop_copies(d);
		return PAM_SUCCESS;
	}
	pam_nsess_teardown(pamh, d);
	return PAM_SUCCESS;
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	/* listed in the auth stack only so that pam_setcred reaches us */
	return PAM_IGNORE;
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct nsess_error e = { 0 };
	const void *data = NULL;
	struct pam_nsess_data *d;
	struct pam_nsess_args a;

	if (pam_nsess_parse_args(pamh, argc, argv, &a) < 0)
		return PAM_SERVICE_ERR;
	if (!(flags & (PAM_ESTABLISH_CRED | PAM_REINITIALIZE_CRED)))
		return PAM_IGNORE;
	if (pam_get_data(pamh, PAM_NSESS_DATA, &data) != PAM_SUCCESS || !data)
		return PAM_IGNORE; /* before open_session (sshd's monitor), or no sandbox */
	d = (struct pam_nsess_data *)data;
	if (!d->join_setcred || d->joined || d->closed || d->opener == getpid())
		return PAM_IGNORE;
	/*
	 * sshd's post-auth child, still root: join, become root inside (a
	 * delegated id) so that sshd's own switch to the user drops every
	 * capability, and drop the handle's fds (the opener keeps its own).
	 */
	if (nsess_session_join(&d->s, true, &e) < 0) {
		pam_syslog(pamh, LOG_ERR, "refusing the session: joining it failed: %s", e.msg);
		return PAM_CRED_ERR;
	}
	d->joined = true;
	pam_nsess_drop_copies(d);
	if (a.debug)
		pam_syslog(pamh, LOG_DEBUG, "joined session %s in pid %d", d->name, (int)getpid());
	return PAM_SUCCESS;
}
