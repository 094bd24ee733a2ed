/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mounts.c - see mounts.h.
 *
 * How the generated files get over /etc: a tmpfs is created detached
 * (fsopen + fsmount, never attached to any path), the two files are written
 * through its root fd, then each is cloned as a read-only single-file mount
 * (open_tree OPEN_TREE_CLONE + mount_setattr) and moved over the target
 * (move_mount, following a symlinked /etc/resolv.conf to its target).
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>

#include "mounts.h"

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif

struct mounts_attr {
	uint64_t attr_set;
	uint64_t attr_clr;
	uint64_t propagation;
	uint64_t userns_fd;
};

static int mounts_write_file(int dirfd, const char *name, const char *text, size_t len)
{
	_cleanup_close_ int fd = -1;
	ssize_t n;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static int mounts_bind_ro(int dirfd, const char *name, const char *target)
{
	struct mounts_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
						MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC };
	_cleanup_close_ int t = -1;

	t = open_tree(dirfd, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (t < 0)
		return -errno;
	if (syscall(SYS_mount_setattr, t, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return -errno;
	if (move_mount(t, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS) < 0)
		return -errno;
	return 0;
}

int nsess_mounts_setup(const struct nsess_netplan *p,
		       void (*warn)(void *data, const char *line), void *warn_data,
		       struct nsess_error *e)
{
	_cleanup_close_ int fs = -1, root = -1;
	char text[1024], line[300];
	int n, r;

	/* nothing we mount may propagate back to the host */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return nsess_error_set(e, errno, "making / private in the session: %s",
				       strerror(errno));
	if (p->mode == NSESS_NET_HOST)
		return 0;

	fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		return nsess_error_set(e, errno, "creating a tmpfs for resolv.conf/hosts: %s",
				       strerror(errno));
	if (fsconfig(fs, FSCONFIG_SET_STRING, "size", "64k", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return nsess_error_set(e, errno, "configuring the tmpfs: %s", strerror(errno));
	root = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	if (root < 0)
		return nsess_error_set(e, errno, "mounting the tmpfs: %s", strerror(errno));

	if (p->mode == NSESS_NET_SLIRP) {
		n = nsess_netplan_resolv_conf(p, text, sizeof(text));
		if (n < 0)
			return nsess_error_set(e, -n, "generating resolv.conf: %s", strerror(-n));
		r = mounts_write_file(root, "resolv.conf", text, (size_t)n);
		if (r == 0)
			r = mounts_bind_ro(root, "resolv.conf", "/etc/resolv.conf");
		if (r < 0)
			return nsess_error_set(e, -r,
					       "replacing /etc/resolv.conf with the engine's DNS "
					       "forwarder: %s%s",
					       strerror(-r),
					       r == -ENOENT ? " (/etc/resolv.conf is a dangling symlink: "
							      "point it at an existing file)"
							    : "");
	}
	n = nsess_netplan_hosts(p, text, sizeof(text));
	if (n < 0)
		return nsess_error_set(e, -n, "generating hosts: %s", strerror(-n));
	r = mounts_write_file(root, "hosts", text, (size_t)n);
	if (r == 0)
		r = mounts_bind_ro(root, "hosts", "/etc/hosts");
	if (r < 0)
		return nsess_error_set(e, -r, "replacing /etc/hosts: %s", strerror(-r));

	/*
	 * A fresh sysfs belongs to the new network namespace, so
	 * /sys/class/net lists the session's interfaces. Not fatal: the
	 * network works without it, only tools that read /sys are confused.
	 */
	if (mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL) < 0 &&
	    warn) {
		snprintf(line, sizeof(line),
			 "could not remount /sys for the session (%s): /sys/class/net shows the "
			 "host's interfaces",
			 strerror(errno));
		warn(warn_data, line);
	}
	return 0;
}
