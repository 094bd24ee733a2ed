/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_vnet.c - libFuzzer target for the virtio-net header code
 * (shared/vnet.c): what the engine does with a frame from the session's
 * TAP before libslirp sees it. Root in a session can send GSO frames of
 * its own making (a packet socket with PACKET_VNET_HDR), so neither the
 * header nor the frame is trusted.
 *
 * The input is one byte of segment room (the buffer nsess_vnet_segment()
 * builds in is 64 + that byte x 16 bytes, so -ENOSPC is reached), a
 * 10-byte virtio-net header, then the frame. Besides memory errors, the
 * target aborts when vnet.h's promises break:
 * - nsess_vnet_rx_finish() returns 1, 0, -EINVAL or -EPROTONOSUPPORT;
 *   with 0 or an error the frame is unchanged; with 1 only the two bytes
 *   of the checksum field changed;
 * - nsess_vnet_segment() returns a count or -EINVAL, -EPROTONOSUPPORT,
 *   -ENOSPC; with an error nothing was passed on; with a count, exactly
 *   that many segments were, each fits the buffer, is IPv4 or IPv6 TCP
 *   with lengths matching the segment, an IPv4 header checksum and a TCP
 *   checksum that verify (textbook sum), sequence numbers that advance by
 *   the payload passed before, and the payloads joined are the frame's;
 *   the frame itself is not changed.
 * Built by scripts/fuzz; see tests/fuzz/README.md.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "../checksum.h"
#include "vnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

struct seen {
	size_t room;		/* the segment buffer's size */
	int n;
	uint32_t seq0;
	size_t payload;		/* joined so far */
	uint8_t joined[NSESS_VNET_FRAME_MAX];
};

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void on_segment(const uint8_t *f, size_t len, void *opaque)
{
	struct seen *s = opaque;
	const uint8_t *ip = f + 14, *th;
	uint8_t pseudo[40];
	size_t l3, doff, tcplen;
	bool v6;

	check(len <= s->room && len >= 14 + 20 + 20);
	v6 = rd16(f + 12) == 0x86dd;
	if (v6) {
		check((ip[0] >> 4) == 6 && ip[6] == 6);
		l3 = 40;
		tcplen = rd16(ip + 4);
		check(14 + 40 + tcplen == len);
		memcpy(pseudo, ip + 8, 32);
		memset(pseudo + 32, 0, 8);
		wr16(pseudo + 34, (uint16_t)tcplen);
		pseudo[39] = 6;
	} else {
		check(rd16(f + 12) == 0x0800 && (ip[0] >> 4) == 4 && ip[9] == 6);
		l3 = (size_t)(ip[0] & 0xf) * 4;
		check(l3 >= 20 && rd16(ip + 2) == len - 14);
		check(nsess_test_fold(nsess_test_sum16(0, ip, l3)) == 0xffff);
		tcplen = len - 14 - l3;
		memcpy(pseudo, ip + 12, 8);
		pseudo[8] = 0;
		pseudo[9] = 6;
		wr16(pseudo + 10, (uint16_t)tcplen);
	}
	th = ip + l3;
	doff = (size_t)(th[12] >> 4) * 4;
	check(doff >= 20 && doff <= tcplen);
	check(nsess_test_fold(nsess_test_sum16(nsess_test_sum16(0, pseudo, v6 ? 40 : 12), th,
					       tcplen)) == 0xffff);
	if (s->n == 0)
		s->seq0 = rd32(th + 4);
	check(rd32(th + 4) == s->seq0 + (uint32_t)s->payload);
	check(s->payload + tcplen - doff <= sizeof(s->joined));
	memcpy(s->joined + s->payload, th + doff, tcplen - doff);
	s->payload += tcplen - doff;
	s->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[NSESS_VNET_FRAME_MAX], copy[NSESS_VNET_FRAME_MAX];
	static struct seen s;
	uint8_t hdr[NSESS_VNET_HDR_LEN], *buf;
	size_t len;
	int r;

	if (size < 1 + NSESS_VNET_HDR_LEN)
		return 0;
	len = size - 1 - NSESS_VNET_HDR_LEN;
	if (len > sizeof(frame))
		return 0;
	memcpy(hdr, data + 1, NSESS_VNET_HDR_LEN);
	memcpy(frame, data + 1 + NSESS_VNET_HDR_LEN, len);
	memcpy(copy, frame, len);

	/* cutting a GSO frame: the buffer exactly as large as said, so ASan sees overruns */
	memset(&s, 0, sizeof(s));
	s.room = 64 + (size_t)data[0] * 16;
	buf = malloc(s.room);
	check(buf != NULL);
	r = nsess_vnet_segment(hdr, frame, len, buf, s.room, on_segment, &s);
	free(buf);
	check(memcmp(frame, copy, len) == 0);
	if (r < 0) {
		check(r == -EINVAL || r == -EPROTONOSUPPORT || r == -ENOSPC);
		check(s.n == 0);
	} else {
		size_t l3 = rd16(frame + 12) == 0x86dd ? 40 : (size_t)(frame[14] & 0xf) * 4;
		size_t hlen = 14 + l3 + (size_t)(frame[14 + l3 + 12] >> 4) * 4;

		check(r == s.n && r >= 1);
		/* the payloads joined are the frame's, whole and in order */
		check(hlen + s.payload <= len);
		check(memcmp(s.joined, frame + hlen, s.payload) == 0);
	}

	/* finishing a partial checksum */
	r = nsess_vnet_rx_finish(hdr, frame, len);
	check(r == 1 || r == 0 || r == -EINVAL || r == -EPROTONOSUPPORT);
	if (r == 1) {
		struct virtio_net_hdr h;
		size_t at;

		memcpy(&h, hdr, sizeof(h));
		at = (size_t)h.csum_start + h.csum_offset;
		/* only the checksum field changed */
		check(at + 2 <= len);
		check(memcmp(frame, copy, at) == 0);
		check(memcmp(frame + at + 2, copy + at + 2, len - at - 2) == 0);
	} else {
		check(memcmp(frame, copy, len) == 0);
	}
	return 0;
}
