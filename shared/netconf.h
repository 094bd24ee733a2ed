/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * netconf.h - configure the network of the namespace we are in.
 *
 * The only file that talks to libnl-route-3 (and the TUN driver); libnl's
 * -NLE_* codes are turned into -errno here. Called by the process that
 * created the network namespace, before any untrusted code runs in it.
 */
#ifndef NSESS_NETCONF_H
#define NSESS_NETCONF_H

#include "netplan.h"
#include "util.h"

/**
 * nsess_tap_create() - create the TAP device of a plan in the current netns
 * @ifname: e.g. "tap0"
 * @fd_out: the queue fd, O_CLOEXEC and O_NONBLOCK, written on success
 * @e: on EACCES/EPERM says that /dev/net/tun must be mode 0666 (or the
 *     process root) and how to set it; on ENOENT that the tun module is needed
 *
 * Return: 0 or -errno.
 */
int nsess_tap_create(const char *ifname, int *fd_out, struct nsess_error *e);

/**
 * nsess_tap_verify() - is @fd a TAP queue (not TUN, not a file)?
 * @fd: the fd to check
 * @ifname_out: the interface name, IFNAMSIZ bytes, written on success (may be NULL)
 *
 * Return: 0, -ENOTTY (not a tun/tap fd), -EPROTOTYPE (a TUN, not a TAP).
 */
int nsess_tap_verify(int fd, char *ifname_out);

/**
 * nsess_tap_quiet() - drop the kernel's link-up chatter at the TAP
 * @fd: a TAP queue
 *
 * Attaches a socket filter to the TAP (TUNATTACHFILTER) that drops what the
 * kernel sends on its own when the link comes up (MLD reports and done
 * messages, IGMP reports, duplicate address detection from ::): none of it
 * needs an answer, and libslirp gives none. Every other frame is queued
 * whole. A TAP that becomes readable then means the session sent something
 * the engine must see, which is what a lazy engine start waits for. Call it
 * before the link comes up; the filter stays for the TAP's life.
 *
 * Return: 0 or -errno.
 */
int nsess_tap_quiet(int fd);

/**
 * nsess_netconf_apply() - bring the plan up in the current netns
 * @p: a validated plan
 * @e: which step failed, with the libnl/errno text
 *
 * Steps, in order: lo up; for SLIRP: the TAP's MTU and up; IPv4 address;
 * IPv6 address (no DAD, so it is usable at once); the prefix routes with
 * the metrics of nsess_netplan_route_metrics() (the addresses are flagged
 * IFA_F_NOPREFIXROUTE; ours replace a kernel's own); static neighbour
 * entries for the gateway and DNS addresses (libslirp's MACs); default
 * routes via the gateways, with the same metrics. For NONE: lo only. For
 * HOST: nothing.
 * The TAP must already exist (nsess_tap_create()).
 *
 * Return: 0 or -errno.
 */
int nsess_netconf_apply(const struct nsess_netplan *p, struct nsess_error *e);

#endif
