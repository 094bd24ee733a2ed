/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engine.h - the userspace NAT engine: libslirp between a TAP fd and the
 * host's sockets. The only file that talks to libslirp.
 *
 * The event loop is also the CLI's main loop: front ends add their own
 * fds (a pidfd, a signalfd, the sync socket, a lifeline) with callbacks, and
 * a callback stops the loop by calling nsess_engine_stop().
 */
#ifndef NSESS_ENGINE_H
#define NSESS_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"
#include "netplan.h"
#include "util.h"

struct nsess_engine;

/* Called when @fd has one of the requested poll @events (POLLIN...) in @revents. */
typedef void (*nsess_engine_fd_cb)(struct nsess_engine *eng, int fd, short revents, void *data);

/**
 * nsess_engine_new() - set up libslirp for a plan
 * @plan: validated plan (mode SLIRP); copied
 * @tap_fd: the TAP queue; ownership passes to the engine (closed by free)
 *          even on failure; switched to O_NONBLOCK
 * @log: where guest errors and failures go (may be NULL)
 * @out: the engine, written on success
 * @e: why not (e.g. a --publish port already in use on the host)
 *
 * Publishes the plan's ports with slirp_add_hostfwd().
 * Return: 0 or -errno.
 */
int nsess_engine_new(const struct nsess_netplan *plan, int tap_fd, const struct nsess_log *log,
		     struct nsess_engine **out, struct nsess_error *e);

/**
 * nsess_engine_watch() - add an extra fd to the loop
 * @events: POLLIN and/or POLLOUT; POLLHUP/POLLERR are always reported
 *
 * May be called from a callback; the new fd is polled from the next round.
 * The callback must unwatch an fd it closes (POLLNVAL would repeat).
 * Return: 0, -EINVAL (bad fd or no callback), -EEXIST (already watched),
 * or -E2BIG past 16 watched fds.
 */
int nsess_engine_watch(struct nsess_engine *eng, int fd, short events, nsess_engine_fd_cb cb,
		       void *data);

/** nsess_engine_unwatch() - remove an fd added with nsess_engine_watch() */
void nsess_engine_unwatch(struct nsess_engine *eng, int fd);

/**
 * nsess_engine_run() - move packets until nsess_engine_stop() is called
 * Return: 0 when stopped, -errno when the loop itself failed (TAP gone...).
 */
int nsess_engine_run(struct nsess_engine *eng);

/**
 * nsess_engine_stop() - make nsess_engine_run() return 0 after the current
 * round; call it from a callback (or the loop's own thread), not from
 * another thread
 */
void nsess_engine_stop(struct nsess_engine *eng);

/** nsess_engine_free() - slirp_cleanup, close the TAP fd; NULL is fine */
void nsess_engine_free(struct nsess_engine *eng);

/**
 * nsess_engine_tap_vnet_len() - the virtio-net header in front of each
 * frame of a TAP queue
 * @fd: the queue (anything else, a socketpair in tests say, has no header)
 *
 * nsess_tap_create() asks for one (IFF_VNET_HDR, vnet.h). Here rather than
 * in netconf.c, which would bring libnl into nsession-engine.
 *
 * Return: its size in bytes (NSESS_VNET_HDR_LEN..NSESS_VNET_HDR_MAX), 0
 * when frames come bare, -EPROTO for a size outside that range, or -errno.
 */
int nsess_engine_tap_vnet_len(int fd);

/* Counters, for tests and benchmarks. */
struct nsess_engine_stats {
	uint64_t frames_in;	/* TAP -> libslirp */
	uint64_t frames_out;	/* libslirp -> TAP */
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t wakeups;	/* poll() returns */
	uint64_t frames_dropped; /* frames to the TAP it refused (EAGAIN, EIO) */
	uint64_t frames_refused; /* frames from the session guard.h refused */
	uint64_t frames_malformed; /* frames from the TAP whose virtio-net header was unusable */
	uint64_t frames_finished; /* ... whose checksum it completed for libslirp (vnet.h) */
	uint64_t frames_segmented; /* ... GSO frames it cut into segments for libslirp */
	uint64_t tcp_flows;	/* TCP connections on the engine's own path (tcpfast.h) */
	uint64_t tcp_retransmits; /* ... and its rewinds after a loss */
	uint64_t tcp_gso_frames; /* ... and its frames that carried several segments (vnet.h) */
	uint64_t tcp_stash_peak; /* ... the most flows holding unsent session data at once */
	uint64_t tcp_stash_refused; /* ... segments cut short because all such stashes were held */
};
void nsess_engine_get_stats(const struct nsess_engine *eng, struct nsess_engine_stats *out);

/**
 * nsess_engine_version() - libslirp's version string at run time
 */
const char *nsess_engine_version(void);

#ifdef NSESS_ENGINE_INTERNAL
/*
 * For engine.c and its unit test only: keeps libslirp.h out of every other
 * file that includes engine.h.
 */
#include <slirp/libslirp.h>

/**
 * nsess_engine_build_config() - the libslirp configuration of a plan (pure)
 * @plan: the session's network plan (mode SLIRP)
 * @out: written on success; holds no pointers into @plan
 * @e: names the field libslirp would refuse
 *
 * Protocol emulation is always off, DHCP is off (the session is configured
 * statically, so the DHCP server would only be more parser exposed to the
 * session), the DNS forwarder is on, host loopback follows the plan.
 *
 * Return: 0 or -EINVAL.
 */
int nsess_engine_build_config(const struct nsess_netplan *plan, SlirpConfig *out,
			      struct nsess_error *e);
#endif

#endif
