/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tcpfast.h - the engine's own path for TCP connections the session opens
 * to IPv4 and IPv6 hosts, beside libslirp.
 *
 * libslirp's TCP has no window scaling, so a bulk flow through it can have
 * at most 64 KiB in flight and its speed is that window divided by the
 * round trip. This path terminates the session's TCP itself and splices it
 * onto a host socket: data to the session is peeked from the host socket
 * (it stays in the kernel until the session acknowledges it, so there is
 * no retransmission buffer here) and data from the session is written to
 * the host socket as it arrives. Windows are scaled both ways.
 *
 * Only what it is sure about is taken: a SYN from the session's own IPv4
 * or IPv6 address to a host outside the session's network (or to the
 * gateway, meaning host loopback, when the plan allows that); for IPv6
 * only with TCP right behind the fixed header, not to ::/8, multicast or
 * link-local addresses. Frames to loopback,
 * link-local and metadata addresses are refused by guard.c before they get
 * here. Everything else, and every frame of a flow it did not take, goes to
 * libslirp as before.
 *
 * Driven by engine.c: _input() for each TAP frame, _flush() after a batch,
 * _fill()/_poll() around poll(), _timeout_ms()/_timers() for retransmission.
 */
#ifndef NSESS_TCPFAST_H
#define NSESS_TCPFAST_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netplan.h"

struct nsess_tcpfast;

/* Written by the path; the engine adds them to its own counters. */
struct nsess_tcpfast_stats {
	uint64_t flows;		/* connections taken */
	uint64_t frames_out;
	uint64_t bytes_out;
	uint64_t frames_dropped;	/* writes the TAP refused */
	uint64_t retransmits;	/* rewinds after a timeout or three duplicate ACKs */
	uint64_t gso_frames;	/* frames that carried more than one of the session's segments */
	/*
	 * Stashes: session data a flow acknowledged but its host socket did
	 * not take yet, up to the flow's window (1 MiB) each.
	 */
	uint64_t stashes;	/* flows holding one now */
	uint64_t stash_peak;	/* the most at once */
	uint64_t stash_reclaimed;	/* drained stashes taken back for another flow */
	uint64_t stash_refused;	/* segments cut short: every stash held data */
};

/**
 * nsess_tcpfast_new() - a path for @plan's addresses, writing to @tap_fd
 * @tap_fd: not owned; must outlive the path
 * @vnet_len: the size of the virtio-net header the TAP wants before each
 *	frame (0: none; else NSESS_VNET_HDR_LEN..NSESS_VNET_HDR_MAX). With a
 *	header, the path leaves its TCP checksums to the session's kernel
 *	(vnet.h), and frames handed to _input() start after the header.
 * Return: the path, or NULL when out of memory or @vnet_len is out of range.
 */
struct nsess_tcpfast *nsess_tcpfast_new(const struct nsess_netplan *plan, int tap_fd,
					size_t vnet_len);

/** nsess_tcpfast_free() - close every flow's host socket; NULL is fine */
void nsess_tcpfast_free(struct nsess_tcpfast *tf);

/**
 * nsess_tcpfast_input() - offer one Ethernet frame read from the TAP
 * Return: true when the frame was this path's (consumed), false when it
 * is libslirp's.
 */
bool nsess_tcpfast_input(struct nsess_tcpfast *tf, const uint8_t *frame, size_t len);

/** nsess_tcpfast_flush() - after a batch of input: send data and pending ACKs */
void nsess_tcpfast_flush(struct nsess_tcpfast *tf);

/** nsess_tcpfast_count() - pollfd slots _fill() will write */
size_t nsess_tcpfast_count(const struct nsess_tcpfast *tf);

/**
 * nsess_tcpfast_fill() - write _count() pollfds from @p (unwanted ones
 * have fd -1); @base is their index in the array _poll() will get
 */
void nsess_tcpfast_fill(struct nsess_tcpfast *tf, struct pollfd *p, size_t base);

/** nsess_tcpfast_poll() - act on the revents of the slots _fill() wrote */
void nsess_tcpfast_poll(struct nsess_tcpfast *tf, const struct pollfd *pfds, size_t n);

/** nsess_tcpfast_timeout_ms() - until the nearest retransmission; -1 if none */
int64_t nsess_tcpfast_timeout_ms(const struct nsess_tcpfast *tf);

/** nsess_tcpfast_timers() - retransmit what timed out */
void nsess_tcpfast_timers(struct nsess_tcpfast *tf);

void nsess_tcpfast_get_stats(const struct nsess_tcpfast *tf, struct nsess_tcpfast_stats *out);

/**
 * nsess_tcpfast_set_stash_max() - how many flows may hold a stash at once
 * (64 unless set: 64 MiB). A flow that needs one when all hold data
 * acknowledges only what its host socket took; its session resends the
 * rest, while the flow's window stays closed until its host socket has room.
 * A flow keeps a drained stash until another flow needs it.
 */
void nsess_tcpfast_set_stash_max(struct nsess_tcpfast *tf, size_t flows);

#endif
