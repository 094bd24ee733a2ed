/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * csum.h - the Internet checksum (RFC 1071) for the engine's hot paths:
 * tcpfast.c's frames to the session and vnet.c's finishing of checksums
 * the session's kernel left to the engine.
 *
 * 32-bit native-order words are summed into four 64-bit accumulators (no
 * carry handling, and the compiler can vectorise it). The one's complement
 * sum does not depend on byte order, so the folded value, stored in native
 * order with memcpy(), has the right bytes on the wire. Pure code.
 */
#ifndef NSESS_CSUM_H
#define NSESS_CSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wire.h"

/* Add @len bytes at @p to the running sum @acc (start with 0). */
static inline uint64_t nsess_csum_add(uint64_t acc, const uint8_t *p, size_t len)
{
	uint64_t a0 = acc, a1 = 0, a2 = 0, a3 = 0;

	while (len >= 16) {
		uint32_t w[4];

		memcpy(w, p, 16);
		a0 += w[0];
		a1 += w[1];
		a2 += w[2];
		a3 += w[3];
		p += 16;
		len -= 16;
	}
	while (len >= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		a0 += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;

		memcpy(&w, p, 2);
		a1 += w;
		p += 2;
		len -= 2;
	}
	if (len) {
		uint16_t w = 0;

		memcpy(&w, p, 1);
		a2 += w;
	}
	/* each is below 2^63 for any frame; fold the carries of the sum once */
	return (a0 & 0xffffffffu) + (a0 >> 32) + (a1 & 0xffffffffu) + (a1 >> 32) +
	       (a2 & 0xffffffffu) + (a2 >> 32) + (a3 & 0xffffffffu) + (a3 >> 32);
}

/* The running sum folded to 16 bits, not complemented (native order). */
static inline uint16_t nsess_csum_fold(uint64_t acc)
{
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffu) + (acc >> 16);
	acc = (acc & 0xffffu) + (acc >> 16);
	acc = (acc & 0xffffu) + (acc >> 16);
	return (uint16_t)acc;
}

/*
 * The TCP/UDP pseudo-header sum for the IPv4 (@v6 false) or IPv6 header at
 * @ip, whose addresses are already in place, and @l4len bytes of protocol
 * @proto after it. Every piece has an even length, so the pieces add up to
 * the sum of the pseudo header laid out in one piece.
 */
static inline uint64_t nsess_csum_pseudo(const uint8_t *ip, bool v6, uint8_t proto, size_t l4len)
{
	uint8_t tail[8] = { 0 };

	if (v6) {
		/* both addresses, the length in 32 bits, 3 zero bytes, the protocol */
		wire_wr32(tail, (uint32_t)l4len);
		tail[7] = proto;
		return nsess_csum_add(nsess_csum_add(0, ip + 8, 32), tail, 8);
	}
	/* both addresses, a zero byte, the protocol, the length in 16 bits */
	tail[1] = proto;
	wire_wr16(tail + 2, (uint16_t)l4len);
	return nsess_csum_add(nsess_csum_add(0, ip + 12, 8), tail, 4);
}

/* Store the checksum of the sum @acc at @at (two bytes, any alignment). */
static inline void nsess_csum_store(uint8_t *at, uint64_t acc)
{
	uint16_t c = (uint16_t)~nsess_csum_fold(acc);

	memcpy(at, &c, 2);
}

#endif
