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

/* ---- cutting a GSO frame for libslirp ------------------------------------ */

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * A TCP GSO frame from the session as its kernel hands it over with TSO:
 * one IP packet with @paylen bytes of payload after @optlen bytes of TCP
 * options, the TCP checksum left partial, and a header saying segments of
 * @mss bytes. IPv4 id 0xfffe (it wraps while counting up), seq 0xffffff00
 * (wraps too). Return: the frame length.
 */
static size_t gso_frame(uint8_t *f, uint8_t *hdr, bool v6, size_t optlen, size_t paylen,
			uint16_t mss, uint8_t flags)
{
	size_t l3 = v6 ? 40 : 20, doff = 20 + optlen;
	uint8_t *ip = f + 14, *th = ip + l3;
	struct virtio_net_hdr h = { 0 };

	memset(f, 0, 14 + l3 + doff);
	memcpy(f, (uint8_t[]){ 0x52, 0x55, 10, 0, 2, 2, 2, 0, 0, 0, 0, 0x64 }, 12);
	if (v6) {
		put16(f + 12, 0x86dd);
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)(doff + paylen));
		ip[6] = 6;
		ip[7] = 64;
		ip[8] = ip[24] = 0xfd;
		ip[23] = 0x01, ip[22] = 0x01;	/* fd00::101 */
		ip[39] = 0x02;			/* fd00::2 */
	} else {
		put16(f + 12, 0x0800);
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(20 + doff + paylen));
		put16(ip + 4, 0xfffe);
		put16(ip + 6, 0x4000);
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, (uint8_t[]){ 10, 0, 2, 100, 10, 0, 2, 2 }, 8);
	}
	put16(th, 40000);
	put16(th + 2, 8080);
	put32(th + 4, 0xffffff00u);
	put32(th + 8, 12345);
	th[12] = (uint8_t)(doff / 4 << 4);
	th[13] = flags;
	put16(th + 14, 500);
	for (size_t i = 0; i < optlen; i++)
		th[20 + i] = 1;			/* NOPs */
	for (size_t i = 0; i < paylen; i++)
		th[doff + i] = (uint8_t)(i * 31 + i / 97);
	put16(th + 16, 0x1234);			/* partial: whatever the kernel left */
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = mss;
	h.hdr_len = (uint16_t)(14 + l3 + doff);
	h.csum_start = (uint16_t)(14 + l3);
	h.csum_offset = 16;
	memcpy(hdr, &h, sizeof(h));
	return 14 + l3 + doff + paylen;
}

struct segs {
	uint8_t frame[8][2048];
	size_t len[8];
	int n;
};

static void collect(const uint8_t *frame, size_t len, void *opaque)
{
	struct segs *s = opaque;

	cr_assert_lt(s->n, 8, "more segments than expected");
	cr_assert_leq(len, sizeof(s->frame[0]));
	memcpy(s->frame[s->n], frame, len);
	s->len[s->n++] = len;
}

/* every segment: headers copied, lengths, seq, id, flags and checksums right, bytes in order */
static void check_segments(bool v6, size_t optlen, size_t paylen, uint16_t mss, uint8_t flags)
{
	static uint8_t f[70000], orig[70000], buf[2048];
	uint8_t hdr[NSESS_VNET_HDR_LEN];
	size_t l3 = v6 ? 40 : 20, hlen = 14 + l3 + 20 + optlen, n, off = 0;
	int want = (int)((paylen + mss - 1) / mss);
	struct segs s = { .n = 0 };

	n = gso_frame(f, hdr, v6, optlen, paylen, mss, flags);
	memcpy(orig, f, n);
	cr_assert_eq(nsess_vnet_segment(hdr, f, n, buf, sizeof(buf), collect, &s), want,
		     "%s, %zu bytes in segments of %u", v6 ? "IPv6" : "IPv4", paylen, mss);
	cr_assert_eq(s.n, want);
	cr_expect_eq(memcmp(f, orig, n), 0, "the GSO frame itself was changed");
	for (int i = 0; i < s.n; i++) {
		const uint8_t *g = s.frame[i], *ip = g + 14, *th = ip + l3;
		size_t seg = paylen - off < mss ? paylen - off : mss;
		uint8_t pseudo[40];
		size_t plen = 20 + optlen + seg;

		cr_assert_eq(s.len[i], hlen + seg, "segment %d: %zu bytes", i, s.len[i]);
		cr_expect_eq(memcmp(g, f, 12), 0, "segment %d: MAC addresses", i);
		if (v6) {
			cr_expect_eq(ip[4] << 8 | ip[5], plen, "segment %d: payload length", i);
			memcpy(pseudo, ip + 8, 32);
			put32(pseudo + 32, (uint32_t)plen);
			put32(pseudo + 36, 6);
			cr_expect_eq(nsess_test_fold(nsess_test_sum16(nsess_test_sum16(0, pseudo, 40),
								      th, plen)), 0xffff,
				     "segment %d: TCP checksum", i);
		} else {
			cr_expect_eq(ip[2] << 8 | ip[3], 20 + plen, "segment %d: total length", i);
			cr_expect_eq((uint16_t)(ip[4] << 8 | ip[5]), (uint16_t)(0xfffe + i),
				     "segment %d: IPv4 id", i);
			cr_expect_eq(nsess_test_fold(nsess_test_sum16(0, ip, 20)), 0xffff,
				     "segment %d: IPv4 header checksum", i);
			memcpy(pseudo, ip + 12, 8);
			pseudo[8] = 0;
			pseudo[9] = 6;
			put16(pseudo + 10, (uint16_t)plen);
			cr_expect_eq(nsess_test_fold(nsess_test_sum16(nsess_test_sum16(0, pseudo, 12),
								      th, plen)), 0xffff,
				     "segment %d: TCP checksum", i);
		}
		cr_expect_eq(get32(th + 4), 0xffffff00u + (uint32_t)off, "segment %d: seq", i);
		cr_expect_eq(get32(th + 8), 12345, "segment %d: ack", i);
		cr_expect_eq(memcmp(th + 20, f + 14 + l3 + 20, optlen), 0, "segment %d: options", i);
		cr_expect_eq(th[13] & 0x09, i == s.n - 1 ? (flags & 0x09) : 0,
			     "segment %d: FIN/PSH %#x", i, th[13]);
		cr_expect_eq(th[13] & 0x80, i == 0 ? (flags & 0x80) : 0, "segment %d: CWR %#x", i,
			     th[13]);
		cr_expect_eq(th[13] & 0x10, flags & 0x10, "segment %d: ACK", i);
		cr_expect_eq(memcmp(g + hlen, f + hlen + off, seg), 0, "segment %d: payload", i);
		off += seg;
	}
	cr_expect_eq(off, paylen);
}

Test(vnet, a_gso_frame_is_cut_into_the_segments_it_stands_for)
{
	check_segments(false, 0, 3000, 1000, 0x18);	/* even: 3 x 1000, PSH on the last */
	check_segments(false, 12, 2500, 1000, 0x19);	/* options; 1000, 1000, 500; FIN */
	check_segments(false, 0, 1000, 1000, 0x98);	/* one segment keeps every flag */
	check_segments(true, 0, 4001, 1440, 0x98);	/* IPv6; CWR on the first only */
	check_segments(true, 8, 7 * 1200, 1200, 0x10);
}

Test(vnet, a_gso_frame_that_does_not_hold_together_is_refused_whole)
{
	static uint8_t f[70000], buf[2048];
	uint8_t hdr[NSESS_VNET_HDR_LEN], h2[NSESS_VNET_HDR_LEN];
	struct segs s = { .n = 0 };
	size_t n = gso_frame(f, hdr, false, 0, 3000, 1000, 0x10), n6;
	struct virtio_net_hdr h;

#define REFUSED(frame, len, header, want, what)                                               \
	cr_expect_eq(nsess_vnet_segment(header, frame, len, buf, sizeof(buf), collect, &s), want, \
		     what)

	memcpy(&h, hdr, sizeof(h));
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;		/* IPv6 type on an IPv4 frame */
	memcpy(h2, &h, sizeof(h));
	REFUSED(f, n, h2, -EINVAL, "type does not match the frame");
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	memcpy(h2, &h, sizeof(h));
	REFUSED(f, n, h2, -EPROTONOSUPPORT, "UDP fragmentation offload");
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 0;
	memcpy(h2, &h, sizeof(h));
	REFUSED(f, n, h2, -EINVAL, "segments of 0 bytes");
	h.gso_size = 2000;				/* larger than the segment buffer allows */
	memcpy(h2, &h, sizeof(h));
	REFUSED(f, n, h2, -ENOSPC, "a segment larger than the buffer");

	REFUSED(f, n - 1, hdr, -EINVAL, "frame shorter than its IP length");
	for (size_t cut = 0; cut < 54; cut++)
		REFUSED(f, cut, hdr, -EINVAL, "a frame cut in its headers");
	f[14] = 0x44;					/* IHL 4 */
	REFUSED(f, n, hdr, -EINVAL, "IHL below 5");
	f[14] = 0x45;
	put16(f + 14 + 6, 0x2000);			/* more fragments */
	REFUSED(f, n, hdr, -EINVAL, "an IPv4 fragment");
	put16(f + 14 + 6, 0x4000);
	f[14 + 9] = 17;
	REFUSED(f, n, hdr, -EINVAL, "not TCP");
	f[14 + 9] = 6;
	f[34 + 12] = 4 << 4;				/* TCP header below 20 bytes */
	REFUSED(f, n, hdr, -EINVAL, "data offset below 5");
	f[34 + 12] = 5 << 4;
	put16(f + 14 + 2, 30);				/* IP length inside the TCP header */
	REFUSED(f, n, hdr, -EINVAL, "IP length shorter than its headers");

	n6 = gso_frame(f, hdr, true, 0, 3000, 1000, 0x10);
	f[14 + 6] = 0;					/* a hop-by-hop header first */
	REFUSED(f, n6, hdr, -EPROTONOSUPPORT, "IPv6 extension headers");
	f[14 + 6] = 6;
	put16(f + 14 + 4, 4000);			/* payload past the frame */
	REFUSED(f, n6, hdr, -EINVAL, "IPv6 payload past the frame");
	cr_expect_eq(s.n, 0, "%d segments passed on from refused frames", s.n);
#undef REFUSED
}
