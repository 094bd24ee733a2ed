/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_vnet.c - the virtio-net header of the session's TAP (shared/vnet.h)
 * and the engine's checksum code (shared/csum.h), against the textbook
 * checksum of tests/checksum.h. Hand-made frames, no privileges. The
 * header through a real TAP and the session's kernel is in
 * tests/ns/test_engine.c.
 */
#include <errno.h>
#include <string.h>
#include <linux/virtio_net.h>

#include "csum.h"
#include "testlib.h"
#include "vnet.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * An IPv4 UDP frame 10.0.2.100:5353 -> 10.0.2.3:53 with @paylen bytes of
 * payload, its UDP checksum left as the kernel leaves it under TUN_F_CSUM
 * (the pseudo-header sum, not complemented), and the header that says so.
 * Return: the frame length.
 */
static size_t partial_udp_frame(uint8_t *f, uint8_t *hdr, size_t paylen)
{
	uint8_t *ip = f + 14, *uh = ip + 20, pseudo[12];
	uint16_t ulen = (uint16_t)(8 + paylen), partial;

	memset(f, 0, 14 + 20 + 8);
	f[12] = 0x08;
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + ulen));
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, (uint8_t[]){ 10, 0, 2, 100, 10, 0, 2, 3 }, 8);
	put16(uh, 5353);
	put16(uh + 2, 53);
	put16(uh + 4, ulen);
	for (size_t i = 0; i < paylen; i++)
		uh[8 + i] = (uint8_t)(i * 7 + 3);
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 17;
	put16(pseudo + 10, ulen);
	/* textbook sum, big-endian value: store it big-endian */
	partial = nsess_test_fold(nsess_test_sum16(0, pseudo, 12));
	put16(uh + 6, partial);
	nsess_vnet_hdr_partial(hdr, 14 + 20, 6);
	return 14 + 20 + ulen;
}

static bool udp_checksum_ok(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14;
	uint8_t pseudo[12];

	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 17;
	put16(pseudo + 10, (uint16_t)(len - 34));
	return nsess_test_fold(nsess_test_sum16(nsess_test_sum16(0, pseudo, 12), ip + 20,
						len - 34)) == 0xffff;
}

Test(vnet, a_partial_checksum_is_finished_to_the_right_value)
{
	/* even and odd payloads, a short one and one past a 16-byte stride */
	static const size_t lens[] = { 0, 1, 2, 3, 15, 16, 17, 100, 1471 };
	uint8_t f[2048], hdr[NSESS_VNET_HDR_LEN];

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = partial_udp_frame(f, hdr, lens[i]);

		cr_expect_not(udp_checksum_ok(f, n), "payload %zu: already complete", lens[i]);
		cr_assert_eq(nsess_vnet_rx_finish(hdr, f, n), 1, "payload %zu", lens[i]);
		cr_expect(udp_checksum_ok(f, n), "payload %zu: wrong checksum after finishing",
			  lens[i]);
	}
}

Test(vnet, a_frame_with_a_complete_checksum_is_left_alone)
{
	uint8_t f[256], g[256], hdr[NSESS_VNET_HDR_LEN] = { 0 };
	size_t n = partial_udp_frame(f, hdr, 40);

	memset(hdr, 0, sizeof(hdr));	/* no NEEDS_CSUM: the session's kernel did it all */
	memcpy(g, f, n);
	cr_assert_eq(nsess_vnet_rx_finish(hdr, f, n), 0);
	cr_expect_eq(memcmp(f, g, n), 0, "a frame without NEEDS_CSUM was changed");
}

Test(vnet, a_checksum_placed_outside_the_frame_is_refused_and_nothing_written)
{
	uint8_t f[256], g[256], hdr[NSESS_VNET_HDR_LEN];
	size_t n = partial_udp_frame(f, hdr, 10);
	struct virtio_net_hdr h;
	static const struct {
		uint16_t start, offset;
		int want;
	} cases[] = {
		{ 13, 6, -EINVAL },		/* inside the Ethernet header */
		{ 0, 40, -EINVAL },
		{ 34, 17, -EINVAL },		/* field one byte past the end */
		{ 34, 16, 1 },			/* field is the last two bytes (a 52-byte frame) */
		{ 60, 0, -EINVAL },		/* starts past the end */
		{ 65535, 65535, -EINVAL },	/* no wrap-around */
	};

	cr_assert_eq(n, 52);
	memcpy(g, f, n);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(f, g, n);
		memcpy(&h, hdr, sizeof(h));
		h.csum_start = cases[i].start;
		h.csum_offset = cases[i].offset;
		cr_expect_eq(nsess_vnet_rx_finish((uint8_t *)&h, f, n), cases[i].want,
			     "start %u offset %u", cases[i].start, cases[i].offset);
		if (cases[i].want < 0)
			cr_expect_eq(memcmp(f, g, n), 0, "start %u offset %u: frame changed",
				     cases[i].start, cases[i].offset);
	}
}

Test(vnet, a_gso_frame_is_refused)
{
	uint8_t f[256], hdr[NSESS_VNET_HDR_LEN];
	size_t n = partial_udp_frame(f, hdr, 10);

	hdr[1] = VIRTIO_NET_HDR_GSO_TCPV4;
	cr_expect_eq(nsess_vnet_rx_finish(hdr, f, n), -EPROTONOSUPPORT);
}

Test(vnet, the_partial_header_has_the_kernels_layout)
{
	uint8_t hdr[NSESS_VNET_HDR_LEN];
	struct virtio_net_hdr h;

	memset(hdr, 0xa5, sizeof(hdr));
	nsess_vnet_hdr_partial(hdr, 54, 16);
	memcpy(&h, hdr, sizeof(h));
	cr_expect_eq(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	cr_expect_eq(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	cr_expect_eq(h.hdr_len, 0);
	cr_expect_eq(h.gso_size, 0);
	cr_expect_eq(h.csum_start, 54);
	cr_expect_eq(h.csum_offset, 16);
}

Test(csum, the_fast_sum_agrees_with_the_textbook_at_every_length_and_alignment)
{
	uint8_t buf[300];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 17);
	buf[100] = buf[101] = 0xff;	/* carries */
	for (size_t off = 0; off < 4; off++) {
		for (size_t len = 0; len + off <= 260; len++) {
			uint16_t want = nsess_test_fold(nsess_test_sum16(0, buf + off, len));
			uint8_t got[2];

			/* the stored checksum, read big-endian, is the complement of the sum */
			nsess_csum_store(got, nsess_csum_add(0, buf + off, len));
			cr_assert_eq((uint16_t)(got[0] << 8 | got[1]), (uint16_t)~want,
				     "offset %zu length %zu", off, len);
		}
	}
}
