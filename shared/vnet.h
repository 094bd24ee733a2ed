/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vnet.h - the virtio-net header in front of every frame on the session's
 * TAP queue (IFF_VNET_HDR), and the checksum work it moves around.
 *
 * The TAP is made with IFF_VNET_HDR and TUN_F_CSUM (netconf.c), so:
 *  - frames the session sends may carry a checksum the session's kernel
 *    left unfinished (VIRTIO_NET_HDR_F_NEEDS_CSUM: the field holds the
 *    pseudo-header sum, the rest is to be added from csum_start on). The
 *    engine's own TCP path never reads the session's checksums, so the
 *    session saves that pass over every byte it uploads; only frames that
 *    go on to libslirp, which checks them, are finished here first;
 *  - frames the engine's TCP path writes carry NEEDS_CSUM themselves: the
 *    session's kernel takes them as checksummed (CHECKSUM_PARTIAL) and does
 *    not verify them, and the engine does not compute them. Two passes over
 *    every downloaded byte are gone; what a checksum guards against (a bad
 *    link) does not exist between two processes on one machine.
 * libslirp's frames go with an all-zero header and keep their checksums.
 *
 * Pure functions on bytes; the header's fields are in the host's byte
 * order (the legacy virtio layout the tun driver uses unless told
 * TUNSETVNETLE/BE, which nsession never does).
 */
#ifndef NSESS_VNET_H
#define NSESS_VNET_H

#include <stddef.h>
#include <stdint.h>

/* the header nsession asks for: struct virtio_net_hdr, no num_buffers */
#define NSESS_VNET_HDR_LEN 10
/* the largest header size a TAP may report (TUNGETVNETHDRSZ) that the engine accepts */
#define NSESS_VNET_HDR_MAX 64

/**
 * nsess_vnet_rx_finish() - finish the checksum of a frame read behind a
 * virtio-net header, if the session's kernel left it to us
 * @hdr: the header as read (at least NSESS_VNET_HDR_LEN bytes)
 * @frame: the Ethernet frame after it; the checksum field is written
 * @len: its length
 *
 * Return: 1 when the checksum was finished here, 0 when it was never
 * partial (the frame is untouched); -EINVAL when the header places the checksum outside the
 * frame or before the end of the Ethernet header; -EPROTONOSUPPORT for a
 * GSO frame (the TAP never offers TSO/UFO, so it cannot come).
 */
int nsess_vnet_rx_finish(const uint8_t *hdr, uint8_t *frame, size_t len);

/**
 * nsess_vnet_hdr_partial() - a header telling the session's kernel that the
 * checksum at @csum_start + @csum_offset holds only the pseudo-header sum
 * and is to be taken as valid
 * @hdr: NSESS_VNET_HDR_LEN bytes, written in full
 */
void nsess_vnet_hdr_partial(uint8_t *hdr, uint16_t csum_start, uint16_t csum_offset);

/**
 * nsess_vnet_hdr_gso() - make a partial header (nsess_vnet_hdr_partial())
 * say that the frame is one TCP segment of many: the session's kernel takes
 * it whole, as if its receive offload had merged @gso_size-byte segments
 * @hdr: written by nsess_vnet_hdr_partial() for the TCP checksum
 * @v6: an IPv6 frame (else IPv4)
 * @hdr_len: Ethernet, IP and TCP headers
 * @gso_size: the payload of each segment it stands for (the session's MSS)
 */
void nsess_vnet_hdr_gso(uint8_t *hdr, int v6, uint16_t hdr_len, uint16_t gso_size);

#endif
