/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sandbox.c - containment of the NAT engine (SECURITY-CHECKS invariant 5).
 *
 * libslirp parses every frame the session sends, so the process running it
 * is treated as the one most likely to be taken over. What is left to it:
 *
 *  - identity: the session user (or a configured unprivileged account),
 *    no supplementary groups, every capability set empty, the bounding set
 *    included (nsess_sandbox_drop_privileges(); root engine only: the
 *    rootless CLI is the user already and cannot touch its bounding set
 *    without CAP_SETPCAP, which it does not have);
 *  - NoNewPrivs and non-dumpable (nsess_sandbox_lock());
 *  - stdio on /dev/null for the forked engine (nsess_sandbox_stdio_null());
 *  - a seccomp allowlist (nsess_sandbox_seccomp()), loaded after the engine
 *    is created (hostfwd listeners bound, /dev/urandom read for glib's
 *    random generator) and right before the loop. The default action is
 *    SCMP_ACT_KILL_PROCESS, and so is the action for a foreign ABI (x32,
 *    i386 on x86_64): a compromised engine that tries anything else dies.
 *
 * The list was taken from strace of both engine kinds (root --user and
 * rootless) during TCP to a host loopback listener, UDP DNS forwarded to a
 * resolver on host loopback (IPv4 and IPv6 answers), an inbound --publish
 * connection and the exit path, then reasoned about against libslirp 4.7,
 * glib 2.74 and glibc 2.36. By group:
 *
 *  frames and the loop   read, write, readv, writev (the TAP, the lifeline,
 *                        the signalfd, stdio); poll, ppoll, and epoll_*
 *                        for a future epoll loop; close
 *  libslirp's sockets    socket (AF_INET/AF_INET6 only, see below),
 *                        connect, bind, listen, accept, accept4, shutdown,
 *                        getsockname, getpeername, setsockopt, getsockopt,
 *                        sendto, recvfrom, sendmsg, recvmsg (libslirp
 *                        polls MSG_ERRQUEUE of UDP sockets)
 *  fd flags              fcntl F_GETFL/F_SETFL/F_GETFD/F_SETFD only
 *                        (O_NONBLOCK on every new socket)
 *  ioctl                 FIONREAD (libslirp sizes a UDP datagram), FIONBIO,
 *                        SIOCGIFINDEX (if_nametoindex() for a scoped IPv6
 *                        nameserver "fe80::1%eth0" in resolv.conf)
 *  host DNS config       libslirp re-reads /etc/resolv.conf while it runs:
 *                        stat() it every second of DNS traffic, fopen() it
 *                        when it changed. openat is allowed read-only (any
 *                        write, create, O_PATH... flag kills); newfstatat,
 *                        fstat, statx, lseek for stdio. The process is the
 *                        user with no capabilities, so it can read nothing
 *                        the user could not.
 *  memory                brk, mmap/mprotect without PROT_EXEC (nothing new
 *                        becomes executable), munmap, mremap, madvise
 *  time                  clock_gettime, gettimeofday, clock_nanosleep,
 *                        nanosleep (normally the vDSO answers without a
 *                        syscall)
 *  process               futex (glib's one-time initialisers), getrandom
 *                        (glibc, glib), getpid, gettid, rt_sigreturn,
 *                        restart_syscall, exit, exit_group
 *  rootless parent only  waitid (P_PIDFD only) and pidfd_send_signal for
 *                        the command, getpgid/getpgrp (is it in the
 *                        terminal's foreground group?), rt_sigprocmask
 *                        (restoring the mask at the end)
 *
 * Deliberately absent: execve/execveat, clone/fork, ptrace, kill/tgkill,
 * open (only openat), any *xattr, chmod, unlink, mount, setns/unshare,
 * prctl, seccomp, bpf, io_uring, keyctl, perf_event_open, sendmmsg and
 * recvmmsg (libslirp does not batch). socket() for another family
 * (netlink, packet, AF_UNIX...) is refused with EAFNOSUPPORT rather than
 * killing: glibc's if_nametoindex() tries AF_UNIX first and falls back to
 * AF_INET, and a failed socket() is an error libslirp handles.
 *
 * abort() (a failed g_assert in libslirp) needs tgkill, which is absent:
 * the engine then dies of SIGSYS instead of SIGABRT, which is the same end.
 * --enable-asan builds also allow sigaltstack and sched_yield (the
 * sanitizer runtime's exit path) and run LeakSanitizer's check before the
 * filter is loaded (its exit-time check needs clone and ptrace); an ASan
 * report made under the filter is cut short by SIGSYS while symbolizing,
 * after its header line.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stddef.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <seccomp.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "sandbox.h"
#include "util.h"

/* the kernel's O_LARGEFILE: glibc's is 0 on 64-bit ABIs, the kernel may still see it */
#define SANDBOX_O_LARGEFILE 0100000
/* every capability number the kernel could know: the sets are 64 bits wide */
#define SANDBOX_CAP_MAX 64

/* ---- identity and capabilities ------------------------------------------ */

/* Needs CAP_SETPCAP: run while still root. Stops at the kernel's last cap. */
static int sandbox_bounding_drop(void)
{
	for (unsigned long c = 0; c < SANDBOX_CAP_MAX; c++) {
		int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);

		if (r < 0) {
			if (errno == EINVAL)
				return 0; /* past the kernel's last capability */
			return -errno;
		}
		if (r == 1 && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			return -errno;
	}
	return 0;
}

static int sandbox_caps_clear(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = { { 0 } };

	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	return 0;
}

/* Everything reads back empty, or the caller must stop. */
static int sandbox_caps_verify(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	for (size_t i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (d[i].effective || d[i].permitted || d[i].inheritable)
			return -EPERM;
	for (unsigned long c = 0; c < SANDBOX_CAP_MAX; c++) {
		int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);

		if (r < 0)
			break;
		if (r != 0)
			return -EPERM;
		r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0);
		if (r > 0)
			return -EPERM;
	}
	return 0;
}

int nsess_sandbox_drop_privileges(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	int r;

	/* the engine must never be host root, not even by a caller's mistake */
	if (uid == 0 || gid == 0 || uid == (uid_t)-1 || gid == (gid_t)-1)
		return -EINVAL;
	/*
	 * Bounding set first, while CAP_SETPCAP is still there: afterwards no
	 * execve of a file-capability binary could give anything back (and
	 * NoNewPrivs plus seccomp forbid execve anyway).
	 */
	r = sandbox_bounding_drop();
	if (r < 0)
		return r;
	/* no supplementary group: the engine needs none of the user's groups */
	if (setgroups(0, NULL) < 0)
		return -errno;
	if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return -errno;
	/*
	 * setresuid() from 0 clears permitted, effective and ambient unless a
	 * securebit says otherwise; inheritable always survives it. Clear all
	 * of them explicitly and read them back.
	 */
	r = sandbox_caps_clear();
	if (r < 0)
		return r;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return -errno;
	if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
		return -EPERM;
	if (getgroups(0, NULL) != 0)
		return -EPERM;
	return sandbox_caps_verify();
}

int nsess_sandbox_lock(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

int nsess_sandbox_stdio_null(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	for (int i = 0; i <= 2; i++) {
		if (fd != i && dup2(fd, i) < 0) {
			int r = -errno;

			if (fd > 2)
				close(fd);
			return r;
		}
	}
	if (fd > 2)
		close(fd);
	return 0;
}

/* ---- seccomp ------------------------------------------------------------- */

/* Allowed with any arguments, for every role. */
static const char *const sandbox_allow_common[] = {
	/* frames and the loop */
	"read", "write", "readv", "writev", "poll", "ppoll", "close",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	/* libslirp's sockets (socket() itself is filtered by family) */
	"connect", "bind", "listen", "accept", "accept4", "shutdown", "getsockname",
	"getpeername", "setsockopt", "getsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg",
	/* /etc/resolv.conf through stdio (openat is filtered by flags) */
	"newfstatat", "fstat", "statx", "lseek",
	/* memory (mmap and mprotect are filtered by protection) */
	"brk", "munmap", "mremap", "madvise",
	/* time */
	"clock_gettime", "gettimeofday", "clock_nanosleep", "nanosleep",
	/* process */
	"futex", "getrandom", "getpid", "gettid", "rt_sigreturn", "restart_syscall", "exit",
	"exit_group",
};

/* The rootless parent also waits for the command and forwards signals. */
static const char *const sandbox_allow_parent[] = {
	"pidfd_send_signal", "getpgid", "getpgrp", "rt_sigprocmask",
};

#if defined(__SANITIZE_ADDRESS__)
/* --enable-asan only: the sanitizer runtime's exit path and its reports */
static const char *const sandbox_allow_asan[] = {
	"sigaltstack", "sched_yield",
};
#endif

static int sandbox_allow_names(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		int r;

		/* not a syscall on this architecture (e.g. no epoll_wait on arm64) */
		if (nr == __NR_SCMP_ERROR || nr < 0)
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

static int sandbox_add_rules(scmp_filter_ctx ctx, enum nsess_sandbox_role role)
{
	const scmp_datum_t ro_extra = O_CLOEXEC | O_NOCTTY | SANDBOX_O_LARGEFILE;
	const scmp_datum_t fcntl_ok[] = { F_GETFL, F_SETFL, F_GETFD, F_SETFD };
	const scmp_datum_t ioctl_ok[] = { FIONREAD, FIONBIO, SIOCGIFINDEX };
	int r;

	r = sandbox_allow_names(ctx, sandbox_allow_common, NSESS_ARRAY_SIZE(sandbox_allow_common));
	if (r < 0)
		return r;
#if defined(__SANITIZE_ADDRESS__)
	r = sandbox_allow_names(ctx, sandbox_allow_asan, NSESS_ARRAY_SIZE(sandbox_allow_asan));
	if (r < 0)
		return r;
#endif
	if (role == NSESS_SANDBOX_ENGINE_PARENT) {
		r = sandbox_allow_names(ctx, sandbox_allow_parent,
					NSESS_ARRAY_SIZE(sandbox_allow_parent));
		if (r < 0)
			return r;
		/* only the pidfd form: no waiting for arbitrary children */
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(waitid), 1,
				     SCMP_A0(SCMP_CMP_EQ, P_PIDFD));
		if (r < 0)
			return r;
	}

	/* read-only opens: O_RDONLY is 0, so every other flag bit must be clear */
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
			     SCMP_A2(SCMP_CMP_MASKED_EQ, ~ro_extra, 0));
	if (r < 0)
		return r;

	/* no executable memory, new or changed */
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
			     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (r < 0)
		return r;
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
			     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (r < 0)
		return r;

	for (size_t i = 0; i < NSESS_ARRAY_SIZE(fcntl_ok); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				     SCMP_A1(SCMP_CMP_EQ, fcntl_ok[i]));
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < NSESS_ARRAY_SIZE(ioctl_ok); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_EQ, ioctl_ok[i]));
		if (r < 0)
			return r;
	}

	/*
	 * socket(): AF_INET and AF_INET6 are what NAT needs. Every other
	 * family fails with EAFNOSUPPORT (disjoint ranges: below AF_INET,
	 * between the two, above AF_INET6), so a netlink or AF_UNIX socket is
	 * impossible without killing a glibc fallback path.
	 */
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
			     SCMP_A0(SCMP_CMP_EQ, AF_INET));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_LT, AF_INET));
	for (scmp_datum_t af = AF_INET + 1; r == 0 && af < AF_INET6; af++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, af));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_GT, AF_INET6));
	return r;
}

/* The allowlist for @role, ready to load or export; NULL with *err set. */
static scmp_filter_ctx sandbox_build(enum nsess_sandbox_role role, int *err)
{
	scmp_filter_ctx ctx;
	int r;

	if (role != NSESS_SANDBOX_ENGINE && role != NSESS_SANDBOX_ENGINE_PARENT) {
		*err = -EINVAL;
		return NULL;
	}
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		*err = -ENOMEM;
		return NULL;
	}
	/* a syscall through another ABI (int 0x80, x32) is not a way around the list */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
	if (r == 0)
		r = sandbox_add_rules(ctx, role);
	if (r < 0) {
		seccomp_release(ctx);
		*err = r;
		return NULL;
	}
	return ctx;
}

/*
 * --enable-asan only: LeakSanitizer's exit-time check needs clone and
 * ptrace, which the list refuses. Run it now instead (it runs once per
 * process, so exit skips it); leaks made inside the loop go unseen.
 */
static void sandbox_before_filter(void)
{
#if defined(__SANITIZE_ADDRESS__)
	__lsan_do_leak_check();
#endif
}

int nsess_sandbox_seccomp(enum nsess_sandbox_role role)
{
	scmp_filter_ctx ctx;
	int r = 0;

	sandbox_before_filter();
	ctx = sandbox_build(role, &r);
	if (!ctx)
		return r;
	r = seccomp_load(ctx);
	seccomp_release(ctx);
	/* libseccomp returns -errno, and -ECANCELED for a kernel refusal */
	return r < 0 ? r : 0;
}

int nsess_sandbox_seccomp_export(enum nsess_sandbox_role role, struct nsess_bpf *out)
{
	scmp_filter_ctx ctx;
	size_t got = 0;
	int p[2], r = 0;

	out->n = 0;
	ctx = sandbox_build(role, &r);
	if (!ctx)
		return r;
	if (pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		seccomp_release(ctx);
		return r;
	}
	/* a few hundred instructions: far below the pipe's capacity */
	r = seccomp_export_bpf(ctx, p[1]);
	seccomp_release(ctx);
	close(p[1]);
	while (r == 0) {
		ssize_t n = read(p[0], (char *)out->insn + got, sizeof(out->insn) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -errno;
		else if (n == 0)
			break;
		else if ((got += (size_t)n) == sizeof(out->insn))
			r = -E2BIG;
	}
	close(p[0]);
	if (r == 0 && (got == 0 || got % sizeof(out->insn[0]) != 0))
		r = -EPROTO;
	if (r < 0)
		return r;
	out->n = (uint32_t)(got / sizeof(out->insn[0]));
	return 0;
}

int nsess_sandbox_seccomp_load(const struct nsess_bpf *b)
{
	struct sock_fprog prog;

	if (b->n == 0 || b->n > NSESS_BPF_INSNS_MAX)
		return -EINVAL;
	sandbox_before_filter();
	/* as libseccomp does for SCMP_FLTATR_CTL_NNP */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	prog.len = (unsigned short)b->n;
	prog.filter = (struct sock_filter *)b->insn;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return -errno;
	return 0;
}
