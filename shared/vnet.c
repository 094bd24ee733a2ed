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

_Static_assert(sizeof(struct virtio_net_hdr) == NSESS_VNET_HDR_LEN,
	       "struct virtio_net_hdr is the header nsession asks for");

static void vnet_get(const uint8_t *hdr, struct virtio_net_hdr *h)
{
	memcpy(h, hdr, sizeof(*h));
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
