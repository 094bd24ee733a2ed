/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vnet.c - the virtio-net header of the session's TAP queue. See vnet.h.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <linux/virtio_net.h>

#include "csum.h"
#include "vnet.h"
#include "wire.h"

_Static_assert(sizeof(struct virtio_net_hdr) == NSESS_VNET_HDR_LEN,
	       "struct virtio_net_hdr is the header nsession asks for");

static void vnet_get(const uint8_t *hdr, struct virtio_net_hdr *h)
{
	memcpy(h, hdr, sizeof(*h));
}

bool nsess_vnet_is_gso(const uint8_t *hdr)
{
	return hdr[1] != VIRTIO_NET_HDR_GSO_NONE;
}

int nsess_vnet_rx_finish(const uint8_t *hdr, uint8_t *frame, size_t len)
{
	struct virtio_net_hdr h;
	size_t start, at;

	vnet_get(hdr, &h);
	if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE)
		return -EPROTONOSUPPORT;
	if (!(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return 0;
	start = h.csum_start;
	at = start + h.csum_offset;
	/* the kernel writes sane values; the bounds keep a mistake from writing past the frame */
	if (start < 14 || at + 2 > len)
		return -EINVAL;
	/* the field holds the pseudo-header sum; the rest of the packet completes it */
	nsess_csum_store(frame + at, nsess_csum_add(0, frame + start, len - start));
	return 1;
}

void nsess_vnet_hdr_partial(uint8_t *hdr, uint16_t csum_start, uint16_t csum_offset)
{
	struct virtio_net_hdr h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_NONE,
		.csum_start = csum_start,
		.csum_offset = csum_offset,
	};

	memcpy(hdr, &h, sizeof(h));
}

void nsess_vnet_hdr_gso(uint8_t *hdr, int v6, uint16_t hdr_len, uint16_t gso_size)
{
	struct virtio_net_hdr h;

	vnet_get(hdr, &h);
	h.gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	h.hdr_len = hdr_len;
	h.gso_size = gso_size;
	memcpy(hdr, &h, sizeof(h));
}

#define TH_FIN 0x01
#define TH_PSH 0x08
#define TH_CWR 0x80

/* where the parts of a GSO frame are, once judged */
struct vnet_gso {
	bool v6;
	size_t l3;		/* IP header length */
	size_t hlen;		/* Ethernet + IP + TCP headers */
	size_t payload;
	size_t mss;
};

static int vnet_gso_parse(const struct virtio_net_hdr *h, const uint8_t *f, size_t len,
			  struct vnet_gso *g)
{
	const uint8_t *ip = f + 14;
	size_t iplen, doff;
	uint8_t type = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	if (type != VIRTIO_NET_HDR_GSO_TCPV4 && type != VIRTIO_NET_HDR_GSO_TCPV6)
		return -EPROTONOSUPPORT;
	g->v6 = type == VIRTIO_NET_HDR_GSO_TCPV6;
	g->mss = h->gso_size;
	if (!g->mss || len < 14 + 20)
		return -EINVAL;
	if (g->v6) {
		if (wire_rd16(f + 12) != 0x86dd || (ip[0] >> 4) != 6 || len < 14 + 40)
			return -EINVAL;
		if (ip[6] != 6)	/* TCP; extension headers are not cut here */
			return -EPROTONOSUPPORT;
		g->l3 = 40;
		iplen = 40 + (size_t)wire_rd16(ip + 4);
	} else {
		if (wire_rd16(f + 12) != 0x0800 || (ip[0] >> 4) != 4 || (ip[0] & 0xf) < 5 || ip[9] != 6)
			return -EINVAL;
		/* a fragment cannot be cut into segments */
		if (wire_rd16(ip + 6) & 0x3fff)
			return -EINVAL;
		g->l3 = (size_t)(ip[0] & 0xf) * 4;
		iplen = wire_rd16(ip + 2);
		if (iplen < g->l3)
			return -EINVAL;
	}
	if (14 + iplen > len || g->l3 + 20 > iplen)
		return -EINVAL;
	doff = (size_t)(ip[g->l3 + 12] >> 4) * 4;
	if (doff < 20 || g->l3 + doff > iplen)
		return -EINVAL;
	g->hlen = 14 + g->l3 + doff;
	g->payload = 14 + iplen - g->hlen;
	return 0;
}

int nsess_vnet_segment(const uint8_t *hdr, const uint8_t *frame, size_t len, uint8_t *buf,
		       size_t buf_len, nsess_vnet_seg_fn fn, void *opaque)
{
	struct virtio_net_hdr h;
	struct vnet_gso g;
	uint32_t seq;
	uint16_t id;
	size_t off;
	int r, n = 0;

	vnet_get(hdr, &h);
	r = vnet_gso_parse(&h, frame, len, &g);
	if (r < 0)
		return r;
	if (g.hlen + (g.payload < g.mss ? g.payload : g.mss) > buf_len)
		return -ENOSPC;
	seq = wire_rd32(frame + 14 + g.l3 + 4);
	id = wire_rd16(frame + 14 + 4);
	off = 0;
	do {
		size_t seg = g.payload - off < g.mss ? g.payload - off : g.mss;
		bool first = off == 0, last = off + seg == g.payload;
		uint8_t *ip = buf + 14, *th = ip + g.l3;
		size_t tcplen = g.hlen - 14 - g.l3 + seg;

		memcpy(buf, frame, g.hlen);
		memcpy(buf + g.hlen, frame + g.hlen + off, seg);
		wire_wr32(th + 4, seq + (uint32_t)off);
		if (!last)
			th[13] &= (uint8_t)~(TH_FIN | TH_PSH);
		if (!first)
			th[13] &= (uint8_t)~TH_CWR;
		th[16] = th[17] = 0;
		if (g.v6) {
			wire_wr16(ip + 4, (uint16_t)tcplen);
		} else {
			wire_wr16(ip + 2, (uint16_t)(g.l3 + tcplen));
			wire_wr16(ip + 4, (uint16_t)(id + n));
			ip[10] = ip[11] = 0;
			nsess_csum_store(ip + 10, nsess_csum_add(0, ip, g.l3));
		}
		nsess_csum_store(th + 16, nsess_csum_add(nsess_csum_pseudo(ip, g.v6, 6, tcplen), th,
							 tcplen));
		fn(buf, g.hlen + seg, opaque);
		n++;
		off += seg;
	} while (off < g.payload);
	return n;
}
