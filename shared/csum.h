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

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* Store the checksum of the sum @acc at @at (two bytes, any alignment). */
static inline void nsess_csum_store(uint8_t *at, uint64_t acc)
{
	uint16_t c = (uint16_t)~nsess_csum_fold(acc);

	memcpy(at, &c, 2);
}

#endif
