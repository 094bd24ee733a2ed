/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mapwrite.c - the id-map fallback chain; see mapwrite.h.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "mapwrite.h"
#include "subid.h"
#include "doctor.h"
#include "sysinfo.h"

static int mapwrite_one_kind(const char *root, enum nsess_subid_kind kind, const char *user,
			     uint32_t id, struct nsess_ranges *out, struct nsess_error *e)
{
	struct nsess_subid_file f = { 0 };
	_cleanup_free_ uint32_t *ids = NULL;
	size_t n_ids = 0;
	int r;

	r = nsess_subid_load(root, kind, &f, e);
	if (r < 0)
		return r;
	r = nsess_subid_lookup(&f, user, (uid_t)id, out, e);
	nsess_subid_file_free(&f);
#ifdef HAVE_LIBSUBID
	/* only a "subid:" service in nsswitch.conf can know more than the file */
	if (r == -ENOENT) {
		struct nsess_error e2 = { 0 };
		char service[64];

		if (nsess_subid_nss_source(root, service, sizeof(service)) > 0 &&
		    nsess_subid_nss_lookup(user, kind, out, &e2) == 0)
			r = 0;
	}
#endif
	if (r == -ENOENT) {
		out->n = 0;
		return 0;
	}
	if (r < 0)
		return r;
	/* a delegation that contains another account's id would hand it over */
	r = nsess_passwd_ids(root, kind, &ids, &n_ids);
	if (r < 0)
		return nsess_error_set(e, -r, "reading %s%s: %s", root,
				       kind == NSESS_SUBUID ? "etc/passwd" : "etc/group", strerror(-r));
	return nsess_subid_check_ids(out, ids, n_ids, id, kind == NSESS_SUBUID ? "subuid" : "subgid",
				     e);
}

int nsess_user_ranges(const char *root, const char *user, uint32_t uid, uint32_t gid,
		      struct nsess_ranges *subuid, struct nsess_ranges *subgid,
		      struct nsess_error *e)
{
	struct nsess_ranges u = { 0 }, g = { 0 };
	int r;

	r = mapwrite_one_kind(root, NSESS_SUBUID, user, uid, &u, e);
	if (r < 0)
		return r;
	r = mapwrite_one_kind(root, NSESS_SUBGID, user, gid, &g, e);
	if (r < 0)
		return r;
	*subuid = u;
	*subgid = g;
	return 0;
}

/* The kernel wants the whole map in one write(). */
static int mapwrite_direct(int procfd, const char *file, const char *text)
{
	_cleanup_close_ int fd = -1;
	size_t len = strlen(text);
	ssize_t n;

	fd = openat(procfd, file, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

struct mapwrite_state {
	bool uid_done;
	bool gid_done;
	bool setgroups_done;
};

static void mapwrite_helper_failed(struct nsess_map_attempt *a, const char *helper,
				   const char *out, int r)
{
	char esc[300];

	snprintf(a->msg, sizeof(a->msg), "%s: %s", helper,
		 out[0] ? nsess_escape(out, (size_t)-1, esc, sizeof(esc)) : strerror(-r));
}

static void mapwrite_uid_done(const struct nsess_idmap_plan *plan, const char *text,
			      struct mapwrite_state *st, struct nsess_map_report *rep)
{
	st->uid_done = true;
	rep->single_uid = plan->layout == NSESS_LAYOUT_SINGLE;
	rep->inside_uid = plan->inside_uid;
	snprintf(rep->uid_map, sizeof(rep->uid_map), "%s", text);
}

static void mapwrite_gid_done(const struct nsess_idmap_plan *plan, const char *text,
			      struct mapwrite_state *st, struct nsess_map_report *rep)
{
	st->gid_done = true;
	rep->single_gid = plan->layout == NSESS_LAYOUT_SINGLE;
	rep->inside_gid = plan->inside_gid;
	rep->setgroups_deny = plan->setgroups_deny || st->setgroups_done;
	snprintf(rep->gid_map, sizeof(rep->gid_map), "%s", text);
}

/* newgidmap leaves setgroups alone for a full map; close it when the plan says so */
static void mapwrite_helper_setgroups(const struct nsess_proc *target,
				      const struct nsess_idmap_plan *plan, struct mapwrite_state *st)
{
	if (plan->setgroups_deny && !st->setgroups_done &&
	    mapwrite_direct(target->procfd, "setgroups", "deny") == 0)
		st->setgroups_done = true;
}

/*
 * Helpers get the child's pid (they are given nothing else). What is still
 * missing of the two maps is written at the same time: newuidmap and
 * newgidmap write different files and are independent, and each costs a
 * spawn, a setuid exec and its reading of the subid files (about 5 ms each,
 * measured), which were a visible part of a session's startup in a row.
 */
static int mapwrite_helpers(const struct nsess_map_request *req, const struct nsess_proc *target,
			    const struct nsess_idmap_plan *plan, struct mapwrite_state *st,
			    struct nsess_map_report *rep, struct nsess_map_attempt *a)
{
	char utext[4096], gtext[4096], uout[512] = "", gout[512] = "";
	struct nsess_helper hu, hg;
	struct nsess_map_argv *av;
	int ru = 0, rg = 0;
	bool su = false, sg = false;

	if ((!st->uid_done && nsess_map_render(&plan->uid, utext, sizeof(utext)) < 0) ||
	    (!st->gid_done && nsess_map_render(&plan->gid, gtext, sizeof(gtext)) < 0))
		return -ENOSPC;
	/* large (about 12 KiB each): keep them off the stack of a PAM host */
	av = calloc(2, sizeof(*av));
	if (!av)
		return -ENOMEM;
	if (!st->uid_done) {
		ru = nsess_map_helper_argv(&plan->uid, req->newuidmap, target->pid, &av[0]);
		if (ru == 0)
			ru = nsess_helper_start(av[0].argv, &hu);
		su = ru == 0;
	}
	if (!st->gid_done) {
		rg = nsess_map_helper_argv(&plan->gid, req->newgidmap, target->pid, &av[1]);
		if (rg == 0)
			rg = nsess_helper_start(av[1].argv, &hg);
		sg = rg == 0;
	}
	if (su)
		ru = nsess_helper_finish(&hu, uout, sizeof(uout));
	if (sg)
		rg = nsess_helper_finish(&hg, gout, sizeof(gout));
	free(av);

	/* each map that worked stays written, whatever happened to the other */
	if (!st->uid_done && ru == 0)
		mapwrite_uid_done(plan, utext, st, rep);
	if (!st->gid_done && rg == 0) {
		mapwrite_helper_setgroups(target, plan, st);
		mapwrite_gid_done(plan, gtext, st, rep);
	}
	if (ru < 0) {
		mapwrite_helper_failed(a, req->newuidmap, uout, ru);
		return ru;
	}
	if (rg < 0) {
		mapwrite_helper_failed(a, req->newgidmap, gout, rg);
		return rg;
	}
	return 0;
}

/*
 * One attempt: write what is still missing of @plan, directly through the
 * child's O_PATH procfd or through the helpers.
 */
static int mapwrite_attempt(const struct nsess_map_request *req, const struct nsess_proc *target,
			    const struct nsess_idmap_plan *plan, bool direct,
			    struct mapwrite_state *st, struct nsess_map_report *rep,
			    struct nsess_map_attempt *a)
{
	char text[4096];
	int r;

	a->tried = true;
	if (!direct)
		return mapwrite_helpers(req, target, plan, st, rep, a);
	if (!st->uid_done) {
		if (nsess_map_render(&plan->uid, text, sizeof(text)) < 0)
			return -ENOSPC;
		r = mapwrite_direct(target->procfd, "uid_map", text);
		if (r < 0) {
			snprintf(a->msg, sizeof(a->msg), "writing uid_map: %s", strerror(-r));
			return r;
		}
		mapwrite_uid_done(plan, text, st, rep);
	}
	if (!st->gid_done) {
		if (nsess_map_render(&plan->gid, text, sizeof(text)) < 0)
			return -ENOSPC;
		/*
		 * Our own "deny" matters for a root writer, which the kernel
		 * does not hold to it: a map that leaves a supplementary group
		 * out must not let the session drop that group with setgroups.
		 */
		if (plan->setgroups_deny && !st->setgroups_done) {
			r = mapwrite_direct(target->procfd, "setgroups", "deny");
			if (r < 0) {
				snprintf(a->msg, sizeof(a->msg), "writing setgroups: %s",
					 strerror(-r));
				return r;
			}
			st->setgroups_done = true;
		}
		r = mapwrite_direct(target->procfd, "gid_map", text);
		if (r < 0) {
			snprintf(a->msg, sizeof(a->msg), "writing gid_map: %s", strerror(-r));
			return r;
		}
		mapwrite_gid_done(plan, text, st, rep);
	}
	return 0;
}

static void mapwrite_explain(const struct nsess_map_request *req, const struct nsess_map_report *rep,
			     struct nsess_error *e)
{
	struct nsess_sysinfo_opts so = {
		.root = req->root,
		.newuidmap = req->newuidmap,
		.newgidmap = req->newgidmap,
		.as_root = req->privileged,
	};
	char machine[600], user[80];
	size_t o = 0;
	char *b = e->msg;
	size_t len = sizeof(e->msg);

	nsess_escape(req->user, (size_t)-1, user, sizeof(user));
	o += (size_t)snprintf(b + o, len - o, "cannot write id maps for %s (uid %u); tried:", user,
			      req->uid);
	for (unsigned int i = 0; i < rep->n && o < len; i++)
		o += (size_t)snprintf(b + o, len - o, " (%u) %s: %s;", i + 1, rep->a[i].name,
				      rep->a[i].tried ? rep->a[i].msg : "skipped");
	if (o < len && nsess_sysinfo_summary(&so, machine, sizeof(machine)) > 0)
		o += (size_t)snprintf(b + o, len - o, " %s;", machine);
	if (o < len) {
		/* the fixes come from the same checks `nsession doctor` runs */
		struct nsess_doctor_opts dop = {
			.root = req->root,
			.user = req->user,
			.newuidmap = req->newuidmap,
			.newgidmap = req->newgidmap,
			.as_root = req->privileged,
			.areas = NSESS_DOCTOR_KERNEL | NSESS_DOCTOR_TUN | NSESS_DOCTOR_HELPERS |
				 NSESS_DOCTOR_SUBID | NSESS_DOCTOR_USER,
		};
		char brief[700];

		if (nsess_doctor_brief(&dop, brief, sizeof(brief)) >= 0)
			snprintf(b + o, len - o, " %s", brief);
		else
			snprintf(b + o, len - o, " run 'nsession doctor --user %s'", user);
	}
}

int nsess_maps_write(const struct nsess_map_request *req, const struct nsess_proc *target,
		     struct nsess_map_report *rep, struct nsess_error *e)
{
	struct nsess_ranges subuid = { 0 }, subgid = { 0 };
	struct nsess_idmap_plan *full = NULL, *single = NULL;
	struct nsess_error pe = { 0 };
	struct mapwrite_state st = { 0 };
	struct nsess_idmap_req ir = { 0 };
	bool have_full = false;
	int r, last = -EPERM;

	memset(rep, 0, sizeof(*rep));
	r = nsess_user_ranges(req->root, req->user, req->uid, req->gid, &subuid, &subgid, e);
	if (r < 0)
		return r;

	full = calloc(1, sizeof(*full));
	single = calloc(1, sizeof(*single));
	if (!full || !single) {
		r = nsess_error_set(e, ENOMEM, "out of memory");
		goto out;
	}

	ir.layout = req->layout;
	ir.uid = req->uid;
	ir.gid = req->gid;
	/*
	 * newgidmap refuses identity lines for supplementary groups, so only a
	 * root writer keeps them (measured, DESIGN.md section 3).
	 */
	if (req->privileged) {
		ir.groups = req->groups;
		ir.n_groups = req->n_groups;
	}
	ir.subuid = &subuid;
	ir.subgid = &subgid;
	if (subuid.n && subgid.n) {
		r = nsess_idmap_plan(&ir, full, &pe);
		if (r < 0) {
			/* a plan that cannot be made from valid input is a refusal, not a fallback */
			r = nsess_error_set(e, -r, "%s", pe.msg);
			goto out;
		}
		have_full = true;
	}

	ir.layout = NSESS_LAYOUT_SINGLE;
	ir.single_inside_uid = req->layout == NSESS_LAYOUT_KEEP_ID ? req->uid : 0;
	ir.single_inside_gid = req->layout == NSESS_LAYOUT_KEEP_ID ? req->gid : 0;
	r = nsess_idmap_plan(&ir, single, &pe);
	if (r < 0) {
		r = nsess_error_set(e, -r, "%s", pe.msg);
		goto out;
	}

	rep->n = NSESS_MAP_ATTEMPTS;
	rep->a[0].name = "direct full map";
	rep->a[1].name = "newuidmap/newgidmap full map";
	rep->a[2].name = "direct single-id map";
	rep->a[3].name = "newuidmap/newgidmap single-id map";

	if (!have_full) {
		snprintf(rep->a[0].msg, sizeof(rep->a[0].msg), "no %s range for the user",
			 subuid.n ? "subgid" : "subuid");
		snprintf(rep->a[1].msg, sizeof(rep->a[1].msg), "%s", rep->a[0].msg);
		rep->a[0].tried = rep->a[1].tried = true;
		rep->a[0].err = rep->a[1].err = ENOENT;
	} else if (!req->privileged) {
		rep->a[0].tried = true;
		rep->a[0].err = EPERM;
		snprintf(rep->a[0].msg, sizeof(rep->a[0].msg),
			 "needs root (CAP_SETUID/CAP_SETGID over the parent namespace)");
		r = mapwrite_attempt(req, target, full, false, &st, rep, &rep->a[1]);
		rep->a[1].err = -r;
		if (r == 0)
			goto done;
		last = r;
	} else {
		r = mapwrite_attempt(req, target, full, true, &st, rep, &rep->a[0]);
		rep->a[0].err = -r;
		if (r == 0)
			goto done;
		last = r;
		r = mapwrite_attempt(req, target, full, false, &st, rep, &rep->a[1]);
		rep->a[1].err = -r;
		if (r == 0)
			goto done;
	}

	r = mapwrite_attempt(req, target, single, true, &st, rep, &rep->a[2]);
	rep->a[2].err = -r;
	if (r < 0) {
		last = r;
		r = mapwrite_attempt(req, target, single, false, &st, rep, &rep->a[3]);
		rep->a[3].err = -r;
		if (r < 0) {
			mapwrite_explain(req, rep, e);
			r = last < 0 ? last : -EPERM;
			e->err = -r;
			goto out;
		}
	}
	{
		char user[80];

		nsess_escape(req->user, (size_t)-1, user, sizeof(user));
		if (!have_full)
			snprintf(rep->warning, sizeof(rep->warning),
				 "no %s range for %s in %setc/%s: only your own uid and gid are "
				 "mapped (single-id map); for a full map add a line like "
				 "'%s:100000:65536' to /etc/subuid and /etc/subgid (usermod "
				 "--add-subuids 100000-165535 --add-subgids 100000-165535 %s)",
				 subuid.n ? "subgid" : "subuid", user, req->root,
				 subuid.n ? "subgid" : "subuid", user, user);
		else
			snprintf(rep->warning, sizeof(rep->warning),
				 "the full id map could not be written (%s); running with a "
				 "single-id map; run 'nsession doctor --user %s' to see why",
				 rep->a[1].tried ? rep->a[1].msg : rep->a[0].msg, user);
	}
done:
	r = 0;
out:
	free(full);
	free(single);
	return r;
}
