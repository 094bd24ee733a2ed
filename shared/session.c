/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * session.c - orchestration; see session.h.
 *
 * Rootless run, in order:
 *   parent                              child
 *   socketpair, signalfd, fork ------>  unshare(USER|NET|NS)
 *                           <---------  USERNS_READY
 *   compile the engine's seccomp;       TAP; lo/addresses/routes
 *   write maps (newuidmap and           (at the same time: the network
 *   newgidmap at once, fallback chain)   needs no map)
 *   MAPS_DONE "uid gid" -------------->  mounts
 *                           <---------  NET_READY + TAP fd
 *   exec nsession-engine (same pid):     switch to the inside ids, exec
 *   engine loop: TAP <-> libslirp,       (the close-on-exec socket reads
 *   signals forwarded, exec error or     EOF in the engine once exec worked)
 *   EOF read from the socket
 *   child exits: stop, reap, status
 *
 * Root session (run --user, PAM): the same child is a holder that does not
 * exec but waits for EOF on its socket; an engine process forked by root
 * drops to the user before it touches libslirp; the session process joins
 * the holder's namespaces.
 */
#include "config.h"

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "cmdwait.h"
#include "doctor.h"
#include "enginexec.h"
#include "fault.h"
#include "mounts.h"
#include "netconf.h"
#include "sandbox.h"
#include "session.h"
#include "sync.h"

int nsess_user_lookup(const char *name, uid_t uid, struct nsess_user *out, struct nsess_error *e)
{
	struct passwd pw, *res = NULL;
	_cleanup_free_ char *buf = NULL;
	gid_t groups[NSESS_GROUPS_MAX];
	int ngroups = NSESS_GROUPS_MAX, r;
	struct nsess_user u;
	char esc[80];

	buf = malloc(16384);
	if (!buf)
		return nsess_error_set(e, ENOMEM, "out of memory");
	if (name)
		r = getpwnam_r(name, &pw, buf, 16384, &res);
	else
		r = getpwuid_r(uid, &pw, buf, 16384, &res);
	if (r != 0 || !res) {
		if (name)
			return nsess_error_set(e, ENOENT, "unknown user '%s' (not in passwd or NSS)",
					       nsess_escape(name, (size_t)-1, esc, sizeof(esc)));
		return nsess_error_set(e, ENOENT, "uid %u has no passwd entry", (unsigned int)uid);
	}
	memset(&u, 0, sizeof(u));
	if (strlen(pw.pw_name) >= sizeof(u.name))
		return nsess_error_set(e, ENAMETOOLONG, "user name too long");
	strcpy(u.name, pw.pw_name);
	u.uid = pw.pw_uid;
	u.gid = pw.pw_gid;
	snprintf(u.home, sizeof(u.home), "%s", pw.pw_dir ? pw.pw_dir : "/");
	snprintf(u.shell, sizeof(u.shell), "%s", pw.pw_shell && *pw.pw_shell ? pw.pw_shell : "/bin/sh");
	/*
	 * The caller's own groups are its credentials: one syscall, where
	 * getgrouplist() walks every group source in nsswitch.conf (with
	 * "systemd" there that loads an NSS module and asks userdb, a
	 * measured 0.5-1 ms of a rootless run's startup).
	 */
	if (name)
		ngroups = getgrouplist(pw.pw_name, pw.pw_gid, groups, &ngroups);
	else
		ngroups = getgroups(NSESS_GROUPS_MAX, groups);
	if (ngroups < 0)
		return nsess_error_set(e, E2BIG, "user %s is in more than %d groups",
				       nsess_escape(pw.pw_name, (size_t)-1, esc, sizeof(esc)),
				       NSESS_GROUPS_MAX);
	/* as with getgrouplist(), the primary group comes first */
	u.groups[u.n_groups++] = pw.pw_gid;
	for (int i = 0; i < ngroups; i++)
		if (groups[i] != pw.pw_gid && u.n_groups < NSESS_GROUPS_MAX)
			u.groups[u.n_groups++] = groups[i];
	*out = u;
	return 0;
}

/*
 * A setup failure gets the fixes `nsession doctor` would give, from the same
 * checks (the id-map chain adds its own, so it is not asked twice).
 */
static void session_explain(struct nsess_error *e, const char *root, const char *user,
			    bool as_root)
{
	struct nsess_doctor_opts dop = {
		.root = root,
		.user = user,
		.as_root = as_root,
		.areas = NSESS_DOCTOR_KERNEL | NSESS_DOCTOR_TUN | NSESS_DOCTOR_HELPERS |
			 NSESS_DOCTOR_SUBID | NSESS_DOCTOR_USER,
	};
	char brief[600];
	size_t l = strlen(e->msg);

	if (strstr(e->msg, "doctor:") || l + 8 >= sizeof(e->msg))
		return;
	/* netconf.c explains /dev/net/tun itself, fix included */
	if (strstr(e->msg, "/dev/net/tun"))
		dop.areas &= ~(unsigned int)NSESS_DOCTOR_TUN;
	if (nsess_doctor_brief(&dop, brief, sizeof(brief)) >= NSESS_WARN)
		snprintf(e->msg + l, sizeof(e->msg) - l, "; %s", brief);
}

/* ---- the setup child (rootless child or root holder) ------------------- */

struct session_setup {
	int sock;
	const struct nsess_netplan *plan;
	bool holder;	/* created by root: host kuid 0, unmapped inside */
	bool quiet_tap;	/* filter link-up chatter: the parent waits on the TAP */
	uint32_t inside_uid;
	uint32_t inside_gid;
};

static void session_warn_parent(void *data, const char *line)
{
	struct session_setup *st = data;

	nsess_sync_send(st->sock, NSESS_SYNC_WARNING, NSESS_STAGE_NONE, 0, -1, "%s", line);
}

/* In the child: MAPS_DONE and the inside ids it carries. */
static int session_wait_maps(struct session_setup *st)
{
	struct nsess_sync_msg m;
	unsigned int v;
	char *sp;
	int r;

	r = nsess_sync_recv(st->sock, 0, &m, NULL);
	if (r < 0)
		return r;
	if (m.type != NSESS_SYNC_MAPS_DONE)
		return -ECANCELED;
	sp = strchr(m.text, ' ');
	if (!sp)
		return -EBADMSG;
	*sp = '\0';
	if (nsess_parse_u32(m.text, &v) < 0)
		return -EBADMSG;
	st->inside_uid = v;
	if (nsess_parse_u32(sp + 1, &v) < 0)
		return -EBADMSG;
	st->inside_gid = v;
	return 0;
}

/* The TAP and the addresses; needs CAP_NET_ADMIN in the new namespaces, not the maps. */
static int session_setup_net(struct session_setup *st, int *tap, int *stage,
			     struct nsess_error *e)
{
	int r;

	if (st->plan->mode == NSESS_NET_SLIRP) {
		*stage = NSESS_STAGE_TAP;
		r = nsess_fault_err("tap", NULL, e);
		if (r == 0)
			r = nsess_tap_create(st->plan->ifname, tap, e);
		if (r < 0)
			return r;
		/*
		 * A rootless parent starts the engine lazily, when the TAP has
		 * a frame for it; the filter, on before the link comes up, keeps
		 * the kernel's own chatter from counting. Best effort: without
		 * it the engine starts at that chatter, as it would in a root
		 * session, and the session is only slower to end.
		 */
		if (st->quiet_tap)
			(void)nsess_tap_quiet(*tap);
	}
	if (st->plan->mode != NSESS_NET_HOST) {
		*stage = NSESS_STAGE_NET;
		r = nsess_fault_err("net", NULL, e);
		if (r == 0)
			r = nsess_netconf_apply(st->plan, e);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Runs in the freshly forked child. Returns 0 with the namespaces set up and
 * the TAP fd handed over, or sends an ERROR and returns -errno.
 *
 * The TAP and the addresses are made while the parent writes the id maps
 * (newuidmap and newgidmap take a millisecond or two): right after unshare()
 * this process holds every capability in the new namespaces, and opening
 * /dev/net/tun is checked against its unchanged host ids. A failure there
 * is reported after MAPS_DONE, so the parent sees the same order of events
 * as when the steps ran one after the other. The mounts need the maps (a
 * file created on the tmpfs must have a mapped owner), so they come after.
 */
static int session_setup_child(struct session_setup *st)
{
	struct nsess_error e = { 0 };
	_cleanup_close_ int tap = -1;
	int flags = CLONE_NEWUSER | CLONE_NEWNS, r, net_r, net_stage = NSESS_STAGE_NONE;

	if (st->plan->mode != NSESS_NET_HOST)
		flags |= CLONE_NEWNET;
	r = nsess_fault_err("userns", NULL, &e);
	if (r == 0)
		r = nsess_unshare(flags, &e);
	if (r < 0)
		goto fail_userns;
	r = nsess_sync_send(st->sock, NSESS_SYNC_USERNS_READY, 0, 0, -1, NULL);
	if (r < 0)
		return r;
	net_r = session_setup_net(st, &tap, &net_stage, &e);
	r = session_wait_maps(st);
	if (r < 0)
		return r;
	if (net_r < 0) {
		nsess_sync_send(st->sock, NSESS_SYNC_ERROR, net_stage, -net_r, -1, "%s", e.msg);
		return net_r;
	}
	/*
	 * A holder made by root still has host uid 0, which the map leaves
	 * unmapped: it could not create a file on the tmpfs. The TAP was opened
	 * above while that uid still owned the 0600 /dev/net/tun; now become
	 * root inside (a delegated id, never host root) for the mounts.
	 */
	if (st->holder && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) &&
	    /* a single-id map has no inside 0: take the user's inside ids */
	    (setresgid(st->inside_gid, st->inside_gid, st->inside_gid) < 0 ||
	     setresuid(st->inside_uid, st->inside_uid, st->inside_uid) < 0)) {
		r = -errno;
		nsess_sync_send(st->sock, NSESS_SYNC_ERROR, NSESS_STAGE_SETID, -r, -1,
				"becoming root inside the new namespace: %s", strerror(-r));
		return r;
	}
	r = nsess_fault_err("mounts", NULL, &e);
	if (r == 0)
		r = nsess_mounts_setup(st->plan, session_warn_parent, st, &e);
	if (r < 0) {
		nsess_sync_send(st->sock, NSESS_SYNC_ERROR, NSESS_STAGE_MOUNTS, -r, -1, "%s", e.msg);
		return r;
	}
	return nsess_sync_send(st->sock, NSESS_SYNC_NET_READY, 0, 0, tap, NULL);

fail_userns:
	nsess_sync_send(st->sock, NSESS_SYNC_ERROR, NSESS_STAGE_USERNS, -r, -1, "%s", e.msg);
	return r;
}

/* A map as one log line: "uid_map: 0 300000 1002 / 1002 1002 1 / ..." */
static void session_log_map(const struct nsess_log *log, const char *what, const char *map)
{
	char line[1024];
	size_t o = 0;

	for (const char *p = map; *p && o + 4 < sizeof(line); p++) {
		if (*p == '\n') {
			if (p[1]) {
				memcpy(line + o, " / ", 3);
				o += 3;
			}
		} else {
			line[o++] = *p;
		}
	}
	line[o] = '\0';
	nsess_log(log, LOG_DEBUG, "%s: %s", what, line);
}

/* Parent side of the handshake up to NET_READY; logs warnings. */
static int session_drive_setup(int sock, const struct nsess_proc *child,
			       const struct nsess_map_request *mreq, struct nsess_map_report *rep,
			       bool want_tap, int *tap_out, int *userns_out,
			       const struct nsess_log *log, struct nsess_error *e)
{
	struct nsess_sync_msg m;
	int r, fd = -1;

	r = nsess_sync_expect(sock, child->pid, NSESS_SYNC_USERNS_READY, NULL, e);
	if (r < 0)
		return r;
	/*
	 * The namespace the child made, held now: it waits for its maps, so
	 * this is the one its command will start in, whatever that command
	 * unshares later. A failed session is swept by it.
	 */
	if (userns_out) {
		r = nsess_open_ns(child->procfd, "user");
		if (r < 0)
			return nsess_error_set(e, -r, "opening the session's user namespace: %s",
					       strerror(-r));
		*userns_out = r;
	}
	r = nsess_fault_err("maps", nsess_stage_name(NSESS_STAGE_MAPS), e);
	if (r == 0)
		r = nsess_maps_write(mreq, child, rep, e);
	if (r < 0)
		return r;
	if (rep->warning[0])
		nsess_log(log, LOG_WARNING, "%s", rep->warning);
	session_log_map(log, "uid_map", rep->uid_map);
	session_log_map(log, "gid_map", rep->gid_map);
	r = nsess_sync_send(sock, NSESS_SYNC_MAPS_DONE, 0, 0, -1, "%u %u", rep->inside_uid,
			    rep->inside_gid);
	if (r < 0)
		return nsess_error_set(e, -r, "talking to the setup process: %s", strerror(-r));
	for (;;) {
		r = nsess_sync_recv(sock, child->pid, &m, &fd);
		if (r == -EPIPE)
			return nsess_error_set(e, EPIPE, "the setup process died unexpectedly");
		if (r < 0)
			return nsess_error_set(e, -r, "reading from the setup process: %s", strerror(-r));
		if (m.type == NSESS_SYNC_WARNING) {
			nsess_log(log, LOG_WARNING, "%s", m.text);
			if (fd >= 0)
				close(fd);
			fd = -1;
			continue;
		}
		break;
	}
	if (m.type == NSESS_SYNC_ERROR) {
		if (fd >= 0)
			close(fd);
		return nsess_error_set(e, m.err ? m.err : EIO, "%s: %s", nsess_stage_name(m.stage),
				       m.text);
	}
	if (m.type != NSESS_SYNC_NET_READY) {
		if (fd >= 0)
			close(fd);
		return nsess_error_set(e, EPROTO, "protocol error from the setup process");
	}
	if (want_tap) {
		if (fd < 0)
			return nsess_error_set(e, EBADMSG, "the setup process sent no TAP device");
		r = nsess_tap_verify(fd, NULL);
		if (r < 0) {
			close(fd);
			return nsess_error_set(e, -r, "the fd received is not a TAP device");
		}
		*tap_out = fd;
	} else if (fd >= 0) {
		close(fd);
		return nsess_error_set(e, EBADMSG, "unexpected fd from the setup process");
	}
	return 0;
}

/*
 * In the child just before exec: the command dies with nsession (whose
 * engine is its network), and a failure is reported for the parent to
 * print. The parent-death signal is set here, after the id switch, because
 * changing ids clears it; getppid() closes the race with a parent that died
 * before the prctl.
 */
static void session_exec(int sock, pid_t parent, char *const argv[])
{
	char esc[200];
	int err;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
		_exit(125);
	if (nsess_fault("exec") < 0)
		errno = ENOENT; /* as if the command were not there */
	else
		execvp(argv[0], argv);
	err = errno;
	nsess_sync_send(sock, NSESS_SYNC_ERROR, NSESS_STAGE_EXEC, err, -1, "cannot run '%s': %s%s",
			nsess_escape(argv[0], (size_t)-1, esc, sizeof(esc)), strerror(err),
			err == ENOENT ? " (not found in PATH inside the session)" : "");
	_exit(err == ENOENT ? 127 : 126);
}

/* ---- rootless ------------------------------------------------------------ */

/* The engine's seccomp program for nsession-engine to load; NULL: it compiles its own. */
static struct nsess_bpf *session_engine_bpf(enum nsess_sandbox_role role)
{
	struct nsess_bpf *bpf = calloc(1, sizeof(*bpf));

	if (bpf && nsess_sandbox_seccomp_export(role, bpf) < 0) {
		free(bpf);
		bpf = NULL;
	}
	return bpf;
}

static int session_run_rootless(const struct nsess_run_opts *o, const struct nsess_log *log,
				int *exit_code)
{
	struct nsess_proc child = NSESS_PROC_INIT;
	struct nsess_map_report *rep = NULL;
	struct nsess_bpf *bpf = NULL;
	struct nsess_error e = { 0 };
	struct nsess_user u = { .name = "" };
	struct nsess_map_request mreq;
	sigset_t oldmask;
	char prog[PATH_MAX];
	bool explain = false;
	pid_t parent;
	int sv[2] = { -1, -1 }, sigfd = -1, tap = -1, userns = -1, r;

	r = nsess_sync_pair(sv);
	if (r < 0) {
		nsess_error_set(&e, -r, "socketpair: %s", strerror(-r));
		goto fail;
	}
	r = nsess_cmdwait_signals_block(&oldmask, &sigfd);
	if (r < 0) {
		nsess_error_set(&e, -r, "signalfd: %s", strerror(-r));
		goto fail;
	}
	parent = getpid();
	r = nsess_fault("fork");
	if (r == 0)
		r = nsess_fork(&child);
	if (r < 0) {
		nsess_error_set(&e, -r, "fork: %s", strerror(-r));
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		goto fail;
	}
	if (r == 0) {
		struct session_setup st = { .sock = sv[1], .plan = &o->net,
					    .quiet_tap = o->net.n_publish == 0 };

		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		close(sv[0]);
		close(sigfd);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (session_setup_child(&st) < 0)
			_exit(125);
		if (st.inside_gid != 0 && setresgid(st.inside_gid, st.inside_gid, st.inside_gid) < 0) {
			nsess_sync_send(sv[1], NSESS_SYNC_ERROR, NSESS_STAGE_SETID, errno, -1,
					"setresgid(%u): %s", st.inside_gid, strerror(errno));
			_exit(125);
		}
		if (st.inside_uid != 0 && setresuid(st.inside_uid, st.inside_uid, st.inside_uid) < 0) {
			nsess_sync_send(sv[1], NSESS_SYNC_ERROR, NSESS_STAGE_SETID, errno, -1,
					"setresuid(%u): %s", st.inside_uid, strerror(errno));
			_exit(125);
		}
		session_exec(sv[1], parent, o->argv);
	}
	close(sv[1]);
	sv[1] = -1;

	/*
	 * Looked up while the child forks and unshares (a fork, its first
	 * page faults and a new user namespace take about a millisecond and
	 * a half here, the lookups half of one): the child waits for MAPS_DONE
	 * before it runs anything, so a failure here still ends the session
	 * before the command starts.
	 *
	 * The engine is looked for before the command can start: one whose
	 * engine turned out to be missing later would have run (and left its
	 * own children) in a session that fails.
	 */
	r = nsess_user_lookup(NULL, getuid(), &u, &e);
	if (r < 0)
		goto fail_child;
	if (o->net.mode == NSESS_NET_SLIRP) {
		r = nsess_engine_program_path(prog, sizeof(prog));
		if (r < 0) {
			nsess_error_set(&e, -r, "%s: nsession-engine is not installed (%s); "
					"reinstall nsession, or run with --net=none",
					nsess_stage_name(NSESS_STAGE_ENGINE), NSESS_ENGINE_PROGRAM);
			goto fail_child;
		}
	}
	/* from here a failure is the machine's: doctor's summary goes with it */
	explain = true;
	rep = calloc(1, sizeof(*rep));
	if (!rep) {
		r = nsess_error_set(&e, ENOMEM, "out of memory");
		goto fail_child;
	}
	/*
	 * The engine's seccomp program, compiled in this process so that
	 * nsession-engine only loads it: libseccomp's heap then dies with
	 * this image at the exec instead of staying dirty in every idle
	 * engine (about 50 KiB of PSS each, measured at 100 sessions). With
	 * --publish the engine starts at once, so the program is compiled now,
	 * while the child unshares (a quarter of a millisecond of CPU and some
	 * 25 page faults); a lazily started engine gets it compiled right
	 * before its exec, so a command that never uses the network does not
	 * pay for it. Without it the engine compiles its own.
	 */
	if (o->net.mode == NSESS_NET_SLIRP && o->net.n_publish > 0)
		bpf = session_engine_bpf(NSESS_SANDBOX_ENGINE_PARENT);
	mreq = (struct nsess_map_request){
		.root = o->root,
		.user = u.name,
		.uid = u.uid,
		.gid = u.gid,
		.layout = o->layout,
		.privileged = false,
		.newuidmap = o->newuidmap,
		.newgidmap = o->newgidmap,
	};
	r = session_drive_setup(sv[0], &child, &mreq, rep, o->net.mode == NSESS_NET_SLIRP, &tap,
				&userns, log, &e);
	if (r < 0)
		goto fail_child;
	/*
	 * Wait for the command here first: with no engine at all (--net=none,
	 * --net=host), and in a session with a network until it has its first
	 * frame or NSESS_ENGINE_IDLE_MS have passed. A command that ends
	 * sooner (ip route, true, a build step that never connects) never pays
	 * for starting the engine; one that runs longer gets it after the
	 * timer, and a first packet waits for it once (frames queue in the
	 * TAP meanwhile). Published ports need the engine's listeners from
	 * the start, so with --publish it starts at once.
	 */
	{
		bool lazy = o->net.mode == NSESS_NET_SLIRP && o->net.n_publish == 0;
		struct nsess_cmdwait w = { .cmd = &child, .sigfd = sigfd, .sync = sv[0], .log = log,
					   .tap = lazy ? tap : -1, .idle_ms = NSESS_ENGINE_IDLE_MS };

		if (o->net.mode != NSESS_NET_SLIRP || lazy) {
			r = nsess_cmdwait_loop(&w);
			sv[0] = w.sync; /* -1 once the exec status was read */
			if (r < 0) {
				nsess_error_set(&e, -r, "waiting for the command failed: %s",
						strerror(-r));
				goto fail_child;
			}
		}
		if (o->net.mode == NSESS_NET_SLIRP && (!lazy || w.net_wanted)) {
			struct nsess_engine_handoff h = {
				.plan = &o->net,
				.tap = tap,
				.cmd_pid = child.pid,
				.cmd_pidfd = child.pidfd,
				.userns = userns,
				.sync = sv[0],
				.sigfd = sigfd,
				.verbose = log && log->max_prio >= LOG_DEBUG,
			};

			if (lazy)
				nsess_log(log, LOG_DEBUG, "starting the network engine: %s", w.net_why);
			if (!bpf)
				bpf = session_engine_bpf(NSESS_SANDBOX_ENGINE_PARENT);
			h.bpf = bpf;
			/*
			 * This process becomes the engine; the call returns only
			 * when nsession-engine could not be started, and then the
			 * session cannot have its network: fail closed.
			 */
			r = nsess_engine_exec(prog, &h, &e);
			goto fail_child;
		}
		if (o->net.mode == NSESS_NET_SLIRP)
			nsess_log(log, LOG_DEBUG, "the command ended before its session used the "
				  "network: no engine was started");
		*exit_code = nsess_cmdwait_finish(&w, log);
		sv[0] = -1;
	}
	if (tap >= 0)
		close(tap);
	if (userns >= 0)
		close(userns);
	nsess_proc_close(&child);
	close(sigfd);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	free(rep);
	free(bpf);
	return 0;

fail_child:
	/* the command may have started, and started others: none may stay */
	nsess_cmdwait_kill_session(&child, userns, log);
	if (userns >= 0)
		close(userns);
	nsess_proc_close(&child);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	if (explain)
		session_explain(&e, o->root, u.name, false);
fail:
	nsess_log(log, LOG_ERR, "%s", e.msg);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (sigfd >= 0)
		close(sigfd);
	if (tap >= 0)
		close(tap);
	free(rep);
	free(bpf);
	return r < 0 ? r : -EIO;
}

/* ---- root: create, join, switch ----------------------------------------- */

void nsess_session_close_fds(struct nsess_session *s)
{
	int *fds[] = { &s->holder_sock, &s->lifeline, &s->ns_user, &s->ns_mnt, &s->ns_net };

	for (size_t i = 0; i < NSESS_ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	nsess_proc_close(&s->holder);
	nsess_proc_close(&s->engine);
}

/* Wait up to @ms for @p to exit, then SIGKILL it; always reaps. */
static void session_reap(struct nsess_proc *p, int ms)
{
	struct pollfd pf = { .fd = p->pidfd, .events = POLLIN };

	if (p->pidfd < 0)
		return;
	if (poll(&pf, 1, ms) <= 0)
		nsess_proc_kill(p, SIGKILL);
	nsess_proc_wait(p, NULL);
	nsess_proc_close(p);
}

bool nsess_session_engine_ended(const struct nsess_session *s, char *why, size_t len)
{
	siginfo_t si;

	if (s->engine.pidfd < 0)
		return false;
	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)P_PIDFD, (id_t)s->engine.pidfd, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
	    si.si_pid == 0)
		return false;
	/* in waitpid() form, as nsess_proc_wait() gives it */
	nsess_wait_status_text(si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8
							: si.si_status & 0x7f,
			       why, len);
	return true;
}

void nsess_session_destroy(struct nsess_session *s)
{
	/* EOF on both lifelines: the engine and the holder exit on their own */
	if (s->lifeline >= 0)
		close(s->lifeline);
	s->lifeline = -1;
	if (s->holder_sock >= 0)
		close(s->holder_sock);
	s->holder_sock = -1;
	session_reap(&s->engine, 2000);
	session_reap(&s->holder, 2000);
	nsess_session_close_fds(s);
}

/*
 * The engine's child of a root-made session: becomes nsession-engine
 * --session at the engine's ids, never as root. Its stdio is /dev/null;
 * @ready_w gets the reason when it cannot start (else the program says
 * when it runs, see engineprog.c).
 */
static void session_engine_child(const char *prog, const struct nsess_netplan *plan,
				 const struct nsess_bpf *bpf, int tap, int lifeline_r,
				 int holder_pidfd, int ready_w, uid_t uid, gid_t gid, bool verbose)
{
	struct nsess_engine_handoff h = {
		.plan = plan,
		.bpf = bpf,
		.tap = tap,
		.session = true,
		.lifeline = lifeline_r,
		.holder_pidfd = holder_pidfd,
		.ready = ready_w,
		.verbose = verbose,
	};
	struct nsess_error e = { 0 };
	ssize_t n;

	setsid();
	/* every capability for good, then the engine's ids; see sandbox.c */
	if (nsess_sandbox_stdio_null() < 0 || nsess_sandbox_drop_privileges(uid, gid) < 0 ||
	    nsess_sandbox_lock() < 0)
		nsess_error_set(&e, EPERM, "dropping privileges failed");
	else
		nsess_engine_exec(prog, &h, &e);
	n = write(ready_w, e.msg, strlen(e.msg)); /* best effort: EOF says enough */
	_exit(n < 0 ? 126 : 125);
}

/* Wait for the engine's word (see session_engine_child); 0 once it runs. */
static int session_engine_ready(int ready_r, struct nsess_error *e)
{
	char buf[sizeof(e->msg)];
	ssize_t n;

	do
		n = read(ready_r, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	if (n == 1 && buf[0] == '\0') {
		/* and EOF: the engine has closed its end, so it holds only its working fds */
		do
			n = read(ready_r, buf, sizeof(buf) - 1);
		while (n < 0 && errno == EINTR);
		return 0;
	}
	if (n <= 0)
		return nsess_error_set(e, EIO, "%s: the engine process exited during startup",
				       nsess_stage_name(NSESS_STAGE_ENGINE));
	buf[n] = '\0';
	return nsess_error_set(e, EIO, "%s: %s", nsess_stage_name(NSESS_STAGE_ENGINE), buf);
}

/*
 * The ids the engine runs as: the session user's, or those of the account
 * @name (policy engine_user, nsession run --engine-user). A separate account
 * keeps a taken-over engine away from the user's own files and processes.
 * Never an id 0: the engine must stay unprivileged.
 */
static int session_engine_ids(const char *name, const struct nsess_user *u, uid_t *uid,
			      gid_t *gid, struct nsess_error *e)
{
	struct nsess_error sub = { 0 };
	struct nsess_user acct;
	char esc[80];
	int r;

	if (!name || !*name) {
		*uid = u->uid;
		*gid = u->gid;
		return 0;
	}
	r = nsess_user_lookup(name, 0, &acct, &sub);
	if (r < 0)
		return nsess_error_set(e, -r, "engine account: %s; create it (useradd --system "
				       "--no-create-home --shell /usr/sbin/nologin %s) or remove "
				       "engine_user", sub.msg,
				       nsess_escape(name, (size_t)-1, esc, sizeof(esc)));
	if (acct.uid == 0 || acct.gid == 0)
		return nsess_error_set(e, EPERM, "engine account '%s' has uid %u, gid %u: the "
				       "engine never runs with id 0; name an unprivileged account",
				       nsess_escape(name, (size_t)-1, esc, sizeof(esc)), acct.uid,
				       acct.gid);
	*uid = acct.uid;
	*gid = acct.gid;
	return 0;
}

int nsess_session_create(struct nsess_session *s, const struct nsess_user *u,
			 const struct nsess_netplan *plan, enum nsess_layout layout,
			 const struct nsess_run_opts *o, const struct nsess_log *log,
			 struct nsess_error *e)
{
	struct nsess_map_request mreq;
	int sv[2] = { -1, -1 }, life[2] = { -1, -1 }, ready[2] = { -1, -1 }, tap = -1, r;
	struct nsess_bpf *bpf = NULL;
	char prog[PATH_MAX] = "";
	uid_t euid = (uid_t)-1; /* refused by nsess_sandbox_drop_privileges() */
	gid_t egid = (gid_t)-1;

	memset(s, 0, sizeof(*s));
	s->holder = (struct nsess_proc)NSESS_PROC_INIT;
	s->engine = (struct nsess_proc)NSESS_PROC_INIT;
	s->holder_sock = s->lifeline = s->ns_user = s->ns_mnt = s->ns_net = -1;
	s->has_net = plan->mode != NSESS_NET_HOST;

	if (u->uid == 0)
		return nsess_error_set(e, EPERM,
				       "nsession never maps host root into a session: name an "
				       "unprivileged user");
	r = session_engine_ids(o->engine_user, u, &euid, &egid, e);
	if (r < 0)
		return r;
	/* the engine program, before anything is made */
	if (plan->mode == NSESS_NET_SLIRP) {
		if (o->engine_program) {
			r = nsess_engine_program_check(o->engine_program, e);
			if (r < 0)
				return r;
			snprintf(prog, sizeof(prog), "%s", o->engine_program);
		} else if (nsess_engine_program_path(prog, sizeof(prog)) < 0) {
			return nsess_error_set(e, ENOENT, "%s: nsession-engine is not installed (%s): "
					       "reinstall nsession, or give the session no network "
					       "(net = none)", nsess_stage_name(NSESS_STAGE_ENGINE),
					       NSESS_ENGINE_PROGRAM);
		}
	}
	r = nsess_sync_pair(sv);
	if (r < 0)
		return nsess_error_set(e, -r, "socketpair: %s", strerror(-r));
	r = nsess_fork(&s->holder);
	if (r < 0) {
		close(sv[0]);
		close(sv[1]);
		return nsess_error_set(e, -r, "fork: %s", strerror(-r));
	}
	if (r == 0) {
		struct session_setup st = { .sock = sv[1], .plan = plan, .holder = true };
		char c;

		close(sv[0]);
		setsid();
		if (session_setup_child(&st) < 0)
			_exit(125);
		/* hold the namespaces until the owner closes its end */
		while (read(sv[1], &c, 1) > 0 || errno == EINTR)
			;
		_exit(0);
	}
	close(sv[1]);
	s->holder_sock = sv[0];
	/*
	 * The engine's seccomp program, compiled while the holder unshares;
	 * nsession-engine then only loads it (without it, it compiles its own).
	 */
	if (plan->mode == NSESS_NET_SLIRP)
		bpf = session_engine_bpf(NSESS_SANDBOX_ENGINE);

	mreq = (struct nsess_map_request){
		.root = o->root,
		.user = u->name,
		.uid = u->uid,
		.gid = u->gid,
		.groups = u->groups,
		.n_groups = u->n_groups,
		.layout = layout,
		.privileged = true,
		.newuidmap = o->newuidmap,
		.newgidmap = o->newgidmap,
	};
	r = session_drive_setup(s->holder_sock, &s->holder, &mreq, &s->maps,
				plan->mode == NSESS_NET_SLIRP, &tap, NULL, log, e);
	if (r < 0)
		goto fail;

	/* the groups the session may keep: those the gid map covers identically */
	for (size_t i = 0; i < u->n_groups; i++) {
		if (u->groups[i] == 0)
			continue;
		if (s->maps.single_gid && u->groups[i] != u->gid)
			continue;
		if (s->maps.setgroups_deny && u->groups[i] != u->gid)
			continue;
		s->groups_mapped[s->n_groups_mapped++] = u->groups[i];
	}

	r = nsess_open_ns(s->holder.procfd, "user");
	if (r < 0)
		goto fail_ns;
	s->ns_user = r;
	r = nsess_open_ns(s->holder.procfd, "mnt");
	if (r < 0)
		goto fail_ns;
	s->ns_mnt = r;
	if (s->has_net) {
		r = nsess_open_ns(s->holder.procfd, "net");
		if (r < 0)
			goto fail_ns;
		s->ns_net = r;
	}

	if (plan->mode == NSESS_NET_SLIRP) {
		if (pipe2(life, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0) {
			r = nsess_error_set(e, errno, "pipe: %s", strerror(errno));
			goto fail;
		}
		r = nsess_fork(&s->engine);
		if (r < 0) {
			nsess_error_set(e, -r, "fork: %s", strerror(-r));
			goto fail;
		}
		if (r == 0) {
			int keep[] = { tap, life[0], s->holder.pidfd, ready[1] };

			nsess_close_all_but(keep, NSESS_ARRAY_SIZE(keep));
			session_engine_child(prog, plan, bpf, tap, life[0], s->holder.pidfd,
					     ready[1], euid, egid, log && log->max_prio >= LOG_DEBUG);
		}
		close(life[0]);
		life[0] = -1;
		s->lifeline = life[1];
		life[1] = -1;
		close(tap);
		tap = -1;
		close(ready[1]);
		ready[1] = -1;
		r = session_engine_ready(ready[0], e);
		close(ready[0]);
		ready[0] = -1;
		if (r < 0)
			goto fail;
	}
	free(bpf);
	return 0;

fail_ns:
	nsess_error_set(e, -r, "opening the session's namespaces: %s", strerror(-r));
fail:
	session_explain(e, o->root, u->name, true);
	if (tap >= 0)
		close(tap);
	if (life[0] >= 0)
		close(life[0]);
	if (life[1] >= 0)
		close(life[1]);
	for (int i = 0; i < 2; i++)
		if (ready[i] >= 0)
			close(ready[i]);
	free(bpf);
	nsess_proc_kill(&s->holder, SIGKILL);
	nsess_session_destroy(s);
	return r < 0 ? r : -EIO;
}

/* Empty every capability set of this process (bounding and ambient first). */
static void session_drop_all_caps(void)
{
	cap_t none;

	for (int c = 0; c <= CAP_LAST_CAP; c++)
		prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	none = cap_init();
	if (none) {
		cap_set_proc(none);
		cap_free(none);
	}
}

int nsess_session_join(const struct nsess_session *s, bool inside_root, struct nsess_error *e)
{
	/* decided before joining: nothing may fail half-way for want of a plan */
	uint32_t gid = s->maps.single_gid ? s->maps.inside_gid : 0;
	uint32_t uid = s->maps.single_uid ? s->maps.inside_uid : 0;
	int r;

	r = nsess_fault_err("join", NULL, e);
	if (r == 0)
		r = nsess_setns(s->ns_user, s->ns_mnt, s->ns_net, e);
	if (r < 0)
		return r;
	if (!inside_root)
		return 0;
	/*
	 * Host uid 0 is unmapped in the session, so the caller's later
	 * setuid(user) would not drop capabilities (sshd's "was able to restore
	 * old [e]uid" trap). As inside root (a delegated id) it will. A
	 * single-id map has no inside root: then take the user's own ids and
	 * drop every capability here.
	 */
	if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
		r = -errno;
		/* joined but not switched: never carry capabilities on from here */
		session_drop_all_caps();
		return nsess_error_set(e, -r, "switching to uid %u gid %u inside the session: %s "
				       "(all capabilities dropped)", uid, gid, strerror(-r));
	}
	if (uid != 0)
		session_drop_all_caps();
	return 0;
}

static void session_become_user(const struct nsess_session *s, const struct nsess_user *u, int sock)
{
	gid_t groups[NSESS_GROUPS_MAX];
	struct nsess_error e = { 0 };

	for (size_t i = 0; i < s->n_groups_mapped; i++)
		groups[i] = s->groups_mapped[i];
	/* while still root in the host: supplementary groups we must not carry in */
	if (setgroups(s->n_groups_mapped, groups) < 0) {
		nsess_sync_send(sock, NSESS_SYNC_ERROR, NSESS_STAGE_SETID, errno, -1,
				"setgroups: %s", strerror(errno));
		_exit(125);
	}
	if (nsess_session_join(s, true, &e) < 0) {
		nsess_sync_send(sock, NSESS_SYNC_ERROR, NSESS_STAGE_JOIN, e.err, -1, "%s", e.msg);
		_exit(125);
	}
	if (setresgid(u->gid, u->gid, u->gid) < 0 || setresuid(u->uid, u->uid, u->uid) < 0) {
		nsess_sync_send(sock, NSESS_SYNC_ERROR, NSESS_STAGE_SETID, errno, -1,
				"switching to uid %u gid %u inside the session: %s", u->uid, u->gid,
				strerror(errno));
		_exit(125);
	}
	setenv("HOME", u->home, 1);
	setenv("USER", u->name, 1);
	setenv("LOGNAME", u->name, 1);
	setenv("SHELL", u->shell, 1);
	if (chdir(".") < 0 || access(".", X_OK) < 0) {
		if (chdir(u->home) < 0 && chdir("/") < 0)
			_exit(125);
	}
}

static int session_run_as_user(const struct nsess_run_opts *o, const struct nsess_log *log,
			       int *exit_code)
{
	struct nsess_session s;
	struct nsess_proc cmd = NSESS_PROC_INIT;
	struct nsess_error e = { 0 };
	struct nsess_user u;
	struct nsess_cmdwait w;
	sigset_t oldmask;
	pid_t parent;
	int sv[2] = { -1, -1 }, sigfd = -1, r;

	r = nsess_user_lookup(o->user, 0, &u, &e);
	if (r < 0) {
		nsess_log(log, LOG_ERR, "%s", e.msg);
		return r;
	}
	r = nsess_session_create(&s, &u, &o->net, o->layout, o, log, &e);
	if (r < 0) {
		nsess_log(log, LOG_ERR, "%s", e.msg);
		return r;
	}
	r = nsess_sync_pair(sv);
	if (r == 0)
		r = nsess_cmdwait_signals_block(&oldmask, &sigfd);
	if (r < 0) {
		nsess_log(log, LOG_ERR, "setting up: %s", strerror(-r));
		goto out;
	}
	parent = getpid();
	r = nsess_fault("fork");
	if (r == 0)
		r = nsess_fork(&cmd);
	if (r < 0) {
		nsess_log(log, LOG_ERR, "fork: %s", strerror(-r));
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		goto out;
	}
	if (r == 0) {
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		close(sv[0]);
		close(sigfd);
		session_become_user(&s, &u, sv[1]);
		nsess_session_close_fds(&s);
		/* nothing of root's may reach the user's command */
		nsess_close_inherited(3);
		session_exec(sv[1], parent, o->argv);
	}
	close(sv[1]);
	sv[1] = -1;
	w = (struct nsess_cmdwait){ .cmd = &cmd, .sigfd = sigfd, .sync = sv[0], .log = log,
				   .engine_proc = &s.engine, .tap = -1 };
	sv[0] = -1;
	r = nsess_cmdwait_loop(&w);
	*exit_code = nsess_cmdwait_finish(&w, log);
	nsess_proc_close(&cmd);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	r = 0;
out:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (sigfd >= 0)
		close(sigfd);
	nsess_session_destroy(&s);
	return r;
}

int nsess_run(const struct nsess_run_opts *o, const struct nsess_log *log, int *exit_code)
{
	struct nsess_error e = { 0 };
	int r;

	r = nsess_netplan_validate(&o->net, &e);
	if (r < 0) {
		nsess_log(log, LOG_ERR, "%s", e.msg);
		return r;
	}
	r = nsess_threads();
	if (r > 1) {
		nsess_log(log, LOG_ERR,
			  "refusing to run from a multithreaded process (%d threads): a user "
			  "namespace cannot be created there",
			  r);
		return -EINVAL;
	}
	if (o->user)
		return session_run_as_user(o, log, exit_code);
	if (geteuid() == 0) {
		nsess_log(log, LOG_ERR,
			  "as root, name the user to run as with --user NAME: nsession never maps "
			  "host root into a session");
		return -EPERM;
	}
	return session_run_rootless(o, log, exit_code);
}
