/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_guard.c - libFuzzer target for the engine's frame guard
 * (shared/guard.c), which judges every frame the session writes to its
 * TAP before tcpfast.c and libslirp see it.
 *
 * The input is one Ethernet frame. Besides memory errors, the target
 * aborts when the frame breaks what guard.h promises:
 * - the verdict is the same with and without the address text, and with
 *   allow_host_loopback every frame passes;
 * - an IPv4 or IPv6 frame to a refused range (re-derived here from the
 *   list in guard.h, not from guard.c) outside the session's networks is
 *   never passed, and one to any other IPv4 address, or to an IPv6
 *   address outside the refused, link-local and link-local multicast
 *   ranges, is never refused;
 * - the address text of a refused frame is its destination, spelled so
 *   that inet_pton() reads it back;
 * - an answer (REJECT only) is an ICMP or ICMPv6 "administratively
 *   prohibited" from the gateway to the sender, Ethernet addresses
 *   swapped, at most 14 + 1280 bytes, with right lengths and checksums;
 *   given one byte less room than it needs, nsess_guard_answer() writes
 *   nothing and returns 0 (the buffers are exactly as large as promised,
 *   so AddressSanitizer sees any write past them).
 * Built by scripts/fuzz; see tests/fuzz/README.md.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../checksum.h"
#include "guard.h"
#include "netplan.h"

#define ANSWER_MAX (14 + 1280)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* guard.h's IPv4 list: 0/8, 127/8, 169.254/16, 224.0.0/24 */
static bool listed4(const uint8_t *d)
{
	return d[0] == 0 || d[0] == 127 || (d[0] == 169 && d[1] == 254) ||
	       (d[0] == 224 && d[1] == 0 && d[2] == 0);
}

static bool in_net4(const struct nsess_netplan *p, const uint8_t *d)
{
	uint32_t a, mask = p->prefix4 ? ~(uint32_t)0 << (32 - p->prefix4) : 0;

	memcpy(&a, d, 4);
	return (ntohl(a) & mask) == (ntohl(p->net4.s_addr) & mask);
}

/* guard.h's IPv6 list, without the link-local ranges: ::/96, ::ffff:0:0/96, fd00:ec2::/64 */
static bool listed6(const uint8_t *d)
{
	static const uint8_t zero[12], mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t aws[8] = { 0xfd, 0x00, 0x0e, 0xc2 };

	return memcmp(d, zero, 12) == 0 || memcmp(d, mapped, 12) == 0 || memcmp(d, aws, 8) == 0;
}

static bool link_local6(const uint8_t *d)
{
	return (d[0] == 0xfe && (d[1] & 0xc0) == 0x80) || (d[0] == 0xff && (d[1] & 0x0f) == 0x02);
}

static bool in_net6(const struct nsess_netplan *p, const uint8_t *d)
{
	unsigned int bits = p->prefix6;

	for (unsigned int i = 0; i < bits; i++) {
		unsigned int byte = i / 8, bit = 7 - i % 8;

		if (((d[byte] >> bit) & 1) != ((p->net6.s6_addr[byte] >> bit) & 1))
			return false;
	}
	return true;
}

/* The answer to the refused frame @f; aborts on a broken promise. */
static void check_answer(const struct nsess_netplan *p, const uint8_t *f, const uint8_t *a,
			 size_t m)
{
	const uint8_t *fip = f + 14, *ip = a + 14;
	uint8_t pseudo[40];
	uint16_t et = rd16(f + 12);

	if (m > ANSWER_MAX || m < 14 + 20 + 8)
		abort();
	if (memcmp(a, f + 6, 6) != 0 || memcmp(a + 6, f, 6) != 0 || rd16(a + 12) != et)
		abort();
	if (et == 0x0800) {
		size_t ihl = (size_t)(ip[0] & 0x0f) * 4;

		if (ip[0] >> 4 != 4 || ihl != 20 || rd16(ip + 2) != m - 14 || ip[9] != IPPROTO_ICMP)
			abort();
		if (nsess_test_fold(nsess_test_sum16(0, ip, 20)) != 0xffff)
			abort();
		if (memcmp(ip + 12, &p->gw4, 4) != 0 || memcmp(ip + 16, fip + 12, 4) != 0)
			abort();
		if (ip[20] != 3 || ip[21] != 13 ||
		    nsess_test_fold(nsess_test_sum16(0, ip + 20, m - 34)) != 0xffff)
			abort();
		return;
	}
	if (et != 0x86dd || m < 14 + 40 + 8)
		abort();
	if (ip[0] >> 4 != 6 || rd16(ip + 4) != m - 54 || ip[6] != IPPROTO_ICMPV6)
		abort();
	if (memcmp(ip + 8, p->gw6.s6_addr, 16) != 0 || memcmp(ip + 24, fip + 8, 16) != 0)
		abort();
	memcpy(pseudo, ip + 8, 32);
	memset(pseudo + 32, 0, 8);
	pseudo[34] = (uint8_t)((m - 54) >> 8);
	pseudo[35] = (uint8_t)(m - 54);
	pseudo[39] = IPPROTO_ICMPV6;
	if (ip[40] != 1 || ip[41] != 1 ||
	    nsess_test_fold(nsess_test_sum16(nsess_test_sum16(0, pseudo, 40), ip + 40, m - 54)) !=
		    0xffff)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nsess_netplan plan;
	struct nsess_guard g, allow;
	enum nsess_guard_verdict v;
	char dst[INET6_ADDRSTRLEN];
	uint8_t back[16], *a, *f;
	size_t m;
	int fam = 0;

	nsess_netplan_defaults(&plan);
	plan.ipv6 = true;
	nsess_guard_init(&g, &plan);
	plan.allow_host_loopback = true;
	nsess_guard_init(&allow, &plan);
	plan.allow_host_loopback = false;

	/* an exact copy, so that a read past the frame is seen */
	f = malloc(size ? size : 1);
	if (!f)
		return 0;
	memcpy(f, data, size);

	if (nsess_guard_check(&allow, f, size, NULL) != NSESS_GUARD_PASS)
		abort();
	memset(dst, 0xa5, sizeof(dst));
	v = nsess_guard_check(&g, f, size, dst);
	if (v != NSESS_GUARD_PASS && v != NSESS_GUARD_DROP && v != NSESS_GUARD_REJECT)
		abort();
	if (nsess_guard_check(&g, f, size, NULL) != v)
		abort();

	if (size >= 14 + 20 && rd16(f + 12) == 0x0800 && f[14] >> 4 == 4) {
		const uint8_t *d = f + 14 + 16;
		bool refuse = listed4(d) && !in_net4(&plan, d);

		if (refuse != (v != NSESS_GUARD_PASS))
			abort();
		fam = AF_INET;
	} else if (size >= 14 + 40 && rd16(f + 12) == 0x86dd && f[14] >> 4 == 6) {
		const uint8_t *d = f + 14 + 24;
		bool mine = in_net6(&plan, d);

		if (!mine && listed6(d) && v == NSESS_GUARD_PASS)
			abort();
		if ((mine || (!listed6(d) && !link_local6(d))) && v != NSESS_GUARD_PASS)
			abort();
		/* TCP or UDP right behind the header is never link-local traffic we keep */
		if (!mine && link_local6(d) && (f[14 + 6] == IPPROTO_TCP || f[14 + 6] == IPPROTO_UDP) &&
		    v == NSESS_GUARD_PASS)
			abort();
		fam = AF_INET6;
	} else if (v != NSESS_GUARD_PASS) {
		abort();
	}

	if (v != NSESS_GUARD_PASS) {
		if (!memchr(dst, '\0', sizeof(dst)) || inet_pton(fam, dst, back) != 1 ||
		    memcmp(back, f + 14 + (fam == AF_INET ? 16 : 24), fam == AF_INET ? 4 : 16) != 0)
			abort();
	}
	if (v == NSESS_GUARD_REJECT) {
		a = malloc(ANSWER_MAX);
		if (!a)
			abort();
		m = nsess_guard_answer(&g, f, size, a, ANSWER_MAX);
		if (m) {
			check_answer(&plan, f, a, m);
			free(a);
			a = malloc(m - 1);
			if (!a || nsess_guard_answer(&g, f, size, a, m - 1) != 0)
				abort();
		}
		free(a);
	}
	free(f);
	return 0;
}
