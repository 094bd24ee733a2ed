/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guard.h - which frames from the session the engine refuses to carry
 * (shared/SECURITY-CHECKS.md, invariant 6).
 *
 * libslirp connects wherever a frame says: a frame from the session to
 * 127.0.0.1, ::1, ::ffff:127.0.0.1 or 169.254.169.254 becomes a host socket
 * to that address, so the host's loopback services and the cloud's metadata
 * service would be one hand-made frame away (root inside a rootless session
 * has CAP_NET_RAW over the session's network and can write any frame to
 * tap0). libslirp's disable_host_loopback only covers the gateway address.
 *
 * So every frame read from the TAP is judged here first, before tcpfast.c
 * or libslirp see it. Unless the plan allows host loopback, a frame whose
 * destination is
 *   IPv4: 0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16 (link-local, metadata),
 *         224.0.0.0/24 (link-local multicast);
 *   IPv6: ::/96 (::, ::1, IPv4-compatible), ::ffff:0:0/96 (IPv4-mapped:
 *         a host socket to it is an IPv4 socket), fe80::/10 other than
 *         ICMPv6 (neighbour discovery stays), ff02::/16 other than ICMPv6,
 *         fd00:ec2::/64 (the metadata, DNS and time services of AWS);
 * is refused, whatever its source address, protocol or fragment offset.
 * Destinations in the session's own networks always pass: they are
 * libslirp's (gateway, DNS forwarder) and it judges them itself.
 *
 * A refused unicast packet that deserves an answer (the first fragment of
 * TCP, UDP, an echo request or anything else but an ICMP error) is
 * answered with ICMP "administratively prohibited" from the gateway, so a
 * connect() inside fails at once (EHOSTUNREACH/EACCES) instead of timing
 * out; the rest is dropped.
 *
 * Pure functions over a frame: unit-tested with hand-made frames.
 */
#ifndef NSESS_GUARD_H
#define NSESS_GUARD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netplan.h"

struct nsess_guard {
	bool allow_host_loopback;	/* then everything passes */
	uint32_t net4, mask4, gw4;	/* network byte order */
	bool ipv6;
	struct in6_addr net6, gw6;
	uint8_t prefix6;
};

enum nsess_guard_verdict {
	NSESS_GUARD_PASS,	/* on to tcpfast.c and libslirp */
	NSESS_GUARD_DROP,	/* refused, silently */
	NSESS_GUARD_REJECT,	/* refused, answer with nsess_guard_answer() */
};

/** nsess_guard_init() - the guard of a plan (copies what it needs) */
void nsess_guard_init(struct nsess_guard *g, const struct nsess_netplan *plan);

/**
 * nsess_guard_check() - judge one Ethernet frame from the session
 * @g: from nsess_guard_init()
 * @f: the frame, starting at the Ethernet header
 * @len: its length
 * @dst: if not NULL and the frame is refused, the destination address as
 *	text (INET6_ADDRSTRLEN bytes), for the log
 *
 * Frames too short to judge (and anything that is not IPv4 or IPv6) pass:
 * libslirp drops what it cannot parse, and ARP must reach it.
 */
enum nsess_guard_verdict nsess_guard_check(const struct nsess_guard *g, const uint8_t *f,
					   size_t len, char *dst);

/**
 * nsess_guard_answer() - the ICMP refusal of a frame judged REJECT
 * @g: from nsess_guard_init()
 * @f, @len: the refused frame
 * @out: where the answer frame is written
 * @cap: room at @out (the answer is at most 14 + 40 + 8 + 1232 bytes)
 *
 * IPv4: ICMP type 3 code 13, quoting the IP header and 8 bytes; IPv6:
 * ICMPv6 type 1 code 1, quoting as much as fits in 1280 bytes. From the
 * gateway's address, Ethernet addresses swapped.
 *
 * Return: the answer's length, or 0 when none is due (too short, no room).
 */
size_t nsess_guard_answer(const struct nsess_guard *g, const uint8_t *f, size_t len,
			  uint8_t *out, size_t cap);

#endif
