/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * checksum.h - the Internet checksum for the test tiers (unit, ns, fuzz),
 * written the textbook way (16 bits at a time, no tricks) so that it
 * checks the optimised code in shared/ rather than sharing it:
 * nsess_test_fold(nsess_test_sum16(0, hdr, len)) is 0xffff for a header
 * whose checksum is right. No Criterion here: the fuzz targets use it too.
 */
#ifndef NSESS_TEST_CHECKSUM_H
#define NSESS_TEST_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t nsess_test_sum16(uint32_t acc, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		acc += (uint32_t)p[len - 1] << 8;
	return acc;
}

static inline uint16_t nsess_test_fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

#endif
