/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mounts.h - the session's mount namespace, set up by the process that
 * created it: / made rprivate, resolv.conf and hosts replaced read-only by
 * files generated from the network plan, /sys remounted so /sys/class/net
 * shows the session's own interfaces.
 */
#ifndef NSESS_MOUNTS_H
#define NSESS_MOUNTS_H

#include "log.h"
#include "netplan.h"
#include "util.h"

/**
 * nsess_mounts_setup() - set up the mount namespace we are in
 * @p: the network plan (its mode decides what is replaced)
 * @warn: receives one line per non-fatal problem (e.g. /sys could not be
 *        remounted); may be NULL
 * @warn_data: passed to @warn
 * @e: fatal problems
 *
 * The generated files live on a detached tmpfs (fsopen/fsmount): nothing is
 * written to any host directory, so nothing is left behind.
 *
 * Return: 0 or -errno.
 */
int nsess_mounts_setup(const struct nsess_netplan *p,
		       void (*warn)(void *data, const char *line), void *warn_data,
		       struct nsess_error *e);

#endif
