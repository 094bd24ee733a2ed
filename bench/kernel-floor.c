/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kernel-floor.c - the least a tool can spend to start a command the way the
 * single-id row of startup.sh does, for the bench only (never installed).
 *
 *   kernel-floor [-4] -- COMMAND [ARG...]
 *
 * One process, no helper, no engine, nothing that waits: unshare the user,
 * network and mount namespaces, write the caller's own single-id maps, then
 * with nsession's own code (shared/netconf.c, shared/mounts.c) make the TAP,
 * configure it as a session is configured (addresses, neighbours, routes,
 * v4 and v6) and put resolv.conf/hosts in place, then exec COMMAND. The TAP
 * fd is close-on-exec, so the command starts with a configured network that
 * nothing carries: the kernel's part of a session and nothing else.
 * With -4: IPv4 only and no mounts, i.e. just enough for `ip route show
 * default` to print a route.
 *
 * A row that runs this beside `nsession run` shows how much of nsession's
 * time is the kernel's, which no process model can take away.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mounts.h"
#include "netconf.h"
#include "netplan.h"
#include "util.h"

static int floor_write(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		r = errno ? -errno : -EIO;
	close(fd);
	return r;
}

static int floor_die(const char *what, int err, const struct nsess_error *e)
{
	fprintf(stderr, "kernel-floor: %s: %s\n", what, e && e->msg[0] ? e->msg : strerror(err));
	return 125;
}

int main(int argc, char **argv)
{
	struct nsess_netplan plan;
	struct nsess_error e = { 0 };
	bool v4_only = false;
	uid_t uid = getuid(); /* after unshare() it reads as the overflow id */
	gid_t gid = getgid();
	char map[64];
	int argi = 1, tap = -1, r;

	if (argi < argc && strcmp(argv[argi], "-4") == 0) {
		v4_only = true;
		argi++;
	}
	if (argi < argc && strcmp(argv[argi], "--") == 0)
		argi++;
	if (argi >= argc) {
		fprintf(stderr, "usage: kernel-floor [-4] -- COMMAND [ARG...]\n");
		return 2;
	}
	nsess_netplan_defaults(&plan);
	if (v4_only)
		plan.ipv6 = false;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS) < 0)
		return floor_die("unshare", errno, NULL);
	/* what `unshare -r` writes: the caller's own ids as root, nothing else */
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned int)uid);
	r = floor_write("/proc/self/uid_map", map);
	if (r == 0)
		r = floor_write("/proc/self/setgroups", "deny");
	if (r == 0) {
		snprintf(map, sizeof(map), "0 %u 1\n", (unsigned int)gid);
		r = floor_write("/proc/self/gid_map", map);
	}
	if (r < 0)
		return floor_die("writing the id maps", -r, NULL);

	r = nsess_tap_create(plan.ifname, &tap, &e);
	if (r < 0)
		return floor_die("TAP", -r, &e);
	(void)nsess_tap_quiet(tap); /* as a session does before the link comes up */
	r = nsess_netconf_apply(&plan, &e);
	if (r < 0)
		return floor_die("network", -r, &e);
	if (!v4_only) {
		r = nsess_mounts_setup(&plan, NULL, NULL, &e);
		if (r < 0)
			return floor_die("mounts", -r, &e);
	}
	execvp(argv[argi], argv + argi);
	r = errno;
	fprintf(stderr, "kernel-floor: cannot run '%s': %s\n", argv[argi], strerror(r));
	return r == ENOENT ? 127 : 126;
}
