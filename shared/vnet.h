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
 * The TAP also offers TSO (TUN_F_TSO4/6): the session's kernel hands over
 * up to 64 KiB of a TCP flow in one frame (GSO) instead of one frame per
 * segment. The engine's TCP path takes such a frame as one long segment;
 * for libslirp, which knows nothing of GSO, nsess_vnet_segment() cuts it
 * into the segments the session's kernel would have sent.
 *
 * Pure functions on bytes; the header's fields are in the host's byte
 * order (the legacy virtio layout the tun driver uses unless told
 * TUNSETVNETLE/BE, which nsession never does).
 */
#ifndef NSESS_VNET_H
#define NSESS_VNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* the header nsession asks for: struct virtio_net_hdr, no num_buffers */
#define NSESS_VNET_HDR_LEN 10
/* the largest header size a TAP may report (TUNGETVNETHDRSZ) that the engine accepts */
#define NSESS_VNET_HDR_MAX 64
/*
 * The largest frame behind the header: a GSO frame from the session (TSO,
 * below) is one IP packet of up to 64 KiB whatever the link's MTU, and an
 * IPv6 one has 40 bytes of header on top of its 65535-byte payload.
 */
#define NSESS_VNET_FRAME_MAX (14 + 40 + 65535)

/**
 * nsess_vnet_rx_finish() - finish the checksum of a frame read behind a
 * virtio-net header, if the session's kernel left it to us
 * @hdr: the header as read (at least NSESS_VNET_HDR_LEN bytes)
 * @frame: the Ethernet frame after it; the checksum field is written
 * @len: its length
 *
 * Return: 1 when the checksum was finished here, 0 when it was never
 * partial (the frame is untouched); -EINVAL when the header places the
 * checksum outside the frame or before the end of the Ethernet header;
 * -EPROTONOSUPPORT for a GSO frame (nsess_vnet_segment() is for those).
 */
int nsess_vnet_rx_finish(const uint8_t *hdr, uint8_t *frame, size_t len);

/** nsess_vnet_is_gso() - does the header say the frame stands for several segments? */
bool nsess_vnet_is_gso(const uint8_t *hdr);

/* one segment of nsess_vnet_segment(): a whole frame, checksums complete */
typedef void (*nsess_vnet_seg_fn)(const uint8_t *frame, size_t len, void *opaque);

/**
 * nsess_vnet_segment() - cut a TCP GSO frame from the session into the
 * segments it stands for
 * @hdr: its virtio-net header (GSO type TCPV4 or TCPV6, NEEDS_CSUM)
 * @frame: the frame: Ethernet, IPv4 (any options) or IPv6 (TCP right
 *	behind the fixed header), TCP; not changed
 * @len: its length
 * @buf: where each segment is built, @buf_len bytes: the headers and
 *	@hdr's gso_size bytes must fit
 * @fn: called with each segment in order, @opaque passed on
 *
 * Each segment gets the frame's headers with its own lengths, sequence
 * number, IPv4 id (the frame's, counted up) and checksums (all complete);
 * FIN and PSH stay on the last segment only, CWR on the first only. The
 * frame is judged first and nothing is passed on if any of it is wrong:
 * the header's GSO type must match the IP version, the lengths the frame,
 * the segment size be nonzero. The frame comes from the session, so
 * nothing in it is trusted.
 *
 * Return: the number of segments passed to @fn, -EINVAL for a frame that
 * does not hold together, -EPROTONOSUPPORT for GSO other than TCP or IPv6
 * extension headers, -ENOSPC when a segment would not fit @buf.
 */
int nsess_vnet_segment(const uint8_t *hdr, const uint8_t *frame, size_t len, uint8_t *buf,
		       size_t buf_len, nsess_vnet_seg_fn fn, void *opaque);

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
