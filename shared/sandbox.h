/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sandbox.h - containment of the NAT engine (SECURITY-CHECKS invariant 5):
 * no privileges, NoNewPrivs, non-dumpable, a seccomp allowlist.
 */
#ifndef NSESS_SANDBOX_H
#define NSESS_SANDBOX_H

#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>

/* Which process a seccomp allowlist is for. */
enum nsess_sandbox_role {
	/* the engine process forked by root: TAP <-> libslirp and nothing else */
	NSESS_SANDBOX_ENGINE,
	/*
	 * the rootless CLI parent: the same loop, plus waiting for the
	 * command (waitid on a pidfd) and forwarding signals to it
	 * (pidfd_send_signal, after comparing process groups)
	 */
	NSESS_SANDBOX_ENGINE_PARENT,
};

/**
 * nsess_sandbox_drop_privileges() - become @uid/@gid with no privilege left
 * @uid: the session user (or a configured unprivileged account); never 0
 * @gid: its primary group; never 0
 *
 * Must be called as host root (it needs CAP_SETPCAP, CAP_SETGID,
 * CAP_SETUID). Empties the bounding set, drops every supplementary group,
 * sets all three uids and gids, then empties the permitted, effective,
 * inheritable and ambient sets and checks that every set reads back empty.
 *
 * Return: 0, -EINVAL for id 0, or -errno (EPERM when something could not be
 * dropped: the caller must not go on).
 */
int nsess_sandbox_drop_privileges(uid_t uid, gid_t gid);

/**
 * nsess_sandbox_lock() - PR_SET_NO_NEW_PRIVS and PR_SET_DUMPABLE 0
 *
 * Non-dumpable keeps other processes of the same user from ptrace-attaching
 * to the engine or reading its memory through /proc, and makes its /proc
 * files root-owned. Works without privilege.
 * Return: 0 or -errno.
 */
int nsess_sandbox_lock(void);

/**
 * nsess_sandbox_stdio_null() - point fds 0, 1 and 2 at /dev/null
 *
 * A forked engine has no use for the terminal (or the PAM host's stdio) it
 * inherited; libslirp's glib messages then go nowhere.
 * Return: 0 or -errno.
 */
int nsess_sandbox_stdio_null(void);

/**
 * nsess_sandbox_seccomp() - load the allowlist for @role into this process
 * @role: see enum nsess_sandbox_role
 *
 * Any syscall not on the list kills the whole process with SIGSYS; so does
 * a syscall made with a foreign ABI (x32, i386). socket() for an address
 * family other than AF_INET/AF_INET6 fails with EAFNOSUPPORT instead. Load
 * it after everything that opens files or sets up the engine, right before
 * the loop. Sets NoNewPrivs if not set yet. Irreversible; inherited by any
 * child (which the allowlist keeps the process from creating anyway).
 *
 * Return: 0 or -errno (-EINVAL for an unknown role).
 */
int nsess_sandbox_seccomp(enum nsess_sandbox_role role);

/* A compiled allowlist: classic BPF, as the kernel takes it. */
#define NSESS_BPF_INSNS_MAX 1024
struct nsess_bpf {
	uint32_t n;			/* instructions; 0: none */
	struct sock_filter insn[NSESS_BPF_INSNS_MAX];
};

/**
 * nsess_sandbox_seccomp_export() - the allowlist of @role, compiled
 * @out: the program nsess_sandbox_seccomp() would load (n = 0 on failure)
 *
 * Compiling takes libseccomp a quarter of a millisecond here; a process
 * that is idle anyway (nsession, while the session is set up) can do it
 * for the engine, which then only loads the result.
 * Return: 0 or -errno.
 */
int nsess_sandbox_seccomp_export(enum nsess_sandbox_role role, struct nsess_bpf *out);

/**
 * nsess_sandbox_seccomp_load() - load a program from nsess_sandbox_seccomp_export()
 * Sets NoNewPrivs first; otherwise as nsess_sandbox_seccomp().
 * Return: 0, -EINVAL for an empty or oversized program, or -errno.
 */
int nsess_sandbox_seccomp_load(const struct nsess_bpf *b);

#endif
