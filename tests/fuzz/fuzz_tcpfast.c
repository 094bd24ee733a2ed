/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_tcpfast.c - libFuzzer target for the engine's TCP path (tcpfast.c),
 * which parses frames from the session, the one party it must not trust.
 *
 * The input is a run of frames, each a 2-byte big-endian length and that
 * many bytes, as the TAP would deliver them. To keep the target off the
 * network and its flows alive:
 *  - the destination of every IPv4 frame is rewritten to 10.0.2.2, and of
 *    every IPv6 frame to fd00::2 (host loopback, allowed), where real
 *    listeners on 127.0.0.1:42424 and [::1]:42424 accept, so a SYN to port
 *    42424 becomes a flow and others are refused;
 *  - a TCP frame's ACK number is taken as relative to the engine's last
 *    SYN-ACK (the engine's initial sequence numbers are random);
 *  - after each frame one loop round runs (poll without waiting), accepted
 *    connections get 3000 bytes each and some are closed, so data, FIN,
 *    reset and ACK handling all run.
 *
 * The promise checked: every frame the path writes is one well-formed IPv4
 * or IPv6 TCP frame from the gateway to the session's address, lengths
 * and checksums right. Built by
 * scripts/fuzz; see tests/fuzz/README.md.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../checksum.h"
#include "netplan.h"
#include "tcpfast.h"

#define FUZZ_PORT 42424
#define FUZZ_CONNS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int listener = -1, listener6 = -1;

static int listen_on(int family, const struct sockaddr *sa, socklen_t len, const char *name)
{
	int one = 1, fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, sa, len) < 0 || listen(fd, 128) < 0) {
		fprintf(stderr, "fuzz_tcpfast: cannot listen on %s:%d: %s\n", name, FUZZ_PORT,
			strerror(errno));
		abort();
	}
	return fd;
}

static void setup(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(FUZZ_PORT),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons(FUZZ_PORT),
				    .sin6_addr = IN6ADDR_LOOPBACK_INIT };

	listener = listen_on(AF_INET, (struct sockaddr *)&sa, sizeof(sa), "127.0.0.1");
	listener6 = listen_on(AF_INET6, (struct sockaddr *)&sa6, sizeof(sa6), "[::1]");
}

static const uint8_t gw6[16] = { 0xfd, [15] = 2 };
static const uint8_t sess6[16] = { 0xfd, [14] = 1 };

/* The IPv6 frame @f from the path: checked like check_frame(); Return: the TCP header. */
static const uint8_t *check_frame6(const uint8_t *f, size_t len, size_t *tcplen)
{
	const uint8_t *ip = f + 14;
	uint8_t pseudo[40];

	if (len < 74 || ip[0] != 0x60 || ip[6] != 6)
		abort();
	*tcplen = len - 54;
	if ((size_t)(ip[4] << 8 | ip[5]) != *tcplen)
		abort();
	if (memcmp(ip + 8, gw6, 16) != 0 || memcmp(ip + 24, sess6, 16) != 0)
		abort();
	memcpy(pseudo, ip + 8, 32);
	memset(pseudo + 32, 0, 8);
	pseudo[34] = (uint8_t)(*tcplen >> 8);
	pseudo[35] = (uint8_t)*tcplen;
	pseudo[39] = 6;
	if (nsess_test_fold(nsess_test_sum16(nsess_test_sum16(0, pseudo, 40), ip + 40, *tcplen)) !=
	    0xffff)
		abort();
	return ip + 40;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Check one frame from the path; Return: the seq of a SYN-ACK, else -1. */
static int64_t check_frame(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14, *th = ip + 20;
	uint8_t pseudo[12];
	size_t tcplen;

	if (len >= 14 && f[12] == 0x86 && f[13] == 0xdd) {
		th = check_frame6(f, len, &tcplen);
		goto tcp;
	}
	if (len < 54 || f[12] != 0x08 || f[13] != 0x00 || ip[0] != 0x45 || ip[9] != 6)
		abort();
	if ((size_t)(ip[2] << 8 | ip[3]) != len - 14)
		abort();
	if (memcmp(ip + 16, (uint8_t[]){ 10, 0, 2, 100 }, 4) != 0)
		abort();
	if (nsess_test_fold(nsess_test_sum16(0, ip, 20)) != 0xffff)
		abort();
	tcplen = len - 34;
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	pseudo[10] = (uint8_t)(tcplen >> 8);
	pseudo[11] = (uint8_t)tcplen;
	if (nsess_test_fold(nsess_test_sum16(nsess_test_sum16(0, pseudo, 12), th, tcplen)) != 0xffff)
		abort();
tcp:
	if ((size_t)(th[12] >> 4) * 4 < 20 || (size_t)(th[12] >> 4) * 4 > tcplen)
		abort();
	if ((th[13] & 0x12) == 0x12)
		return rd32(th + 4);
	return -1;
}

static void drain_tap(int fd, uint32_t *isn)
{
	static uint8_t buf[65536 + 14];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
		int64_t s = check_frame(buf, (size_t)n);

		if (s >= 0)
			*isn = (uint32_t)s;
	}
}

static void host_side(int *conns, size_t *n_conns, unsigned int round)
{
	static const uint8_t payload[3000];
	int c;

	while ((c = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0 ||
	       (c = accept4(listener6, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (*n_conns == FUZZ_CONNS) {
			close(c);
			continue;
		}
		(void)!send(c, payload, sizeof(payload), MSG_NOSIGNAL);
		conns[(*n_conns)++] = c;
	}
	/* now and then the host ends a connection: FIN, or a reset */
	if (*n_conns && round % 7 == 6) {
		c = conns[--*n_conns];
		if (round % 14 == 13) {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };

			setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		close(c);
	}
}

static void pump(struct nsess_tcpfast *tf)
{
	struct pollfd p[256];
	size_t n = nsess_tcpfast_count(tf);

	if (n > 256)
		abort();	/* the fuzzer cannot open more flows than frames */
	nsess_tcpfast_fill(tf, p, 0);
	(void)poll(p, n, 0);
	nsess_tcpfast_poll(tf, p, n);
	nsess_tcpfast_timers(tf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[65536 + 14];
	struct nsess_netplan plan;
	struct nsess_tcpfast *tf;
	int tap[2], conns[FUZZ_CONNS];
	size_t n_conns = 0, off = 0;
	unsigned int round = 0;
	uint32_t isn = 0;
	uint8_t *ack;

	if (listener < 0)
		setup();
	nsess_netplan_defaults(&plan);
	plan.allow_host_loopback = true;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, tap) < 0)
		abort();
	tf = nsess_tcpfast_new(&plan, tap[0], 0);
	if (!tf)
		abort();

	while (off + 2 <= size && round < 256) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];

		off += 2;
		if (len > size - off)
			len = size - off;
		if (len > plan.mtu + 14)
			len = plan.mtu + 14;
		memcpy(frame, data + off, len);
		off += len;
		ack = NULL;
		if (len >= 34 && frame[12] == 0x08 && frame[13] == 0x00) {
			memcpy(frame + 30, (uint8_t[]){ 10, 0, 2, 2 }, 4);
			if (len >= 14 + 20 + 20 && frame[14 + 9] == 6 && (frame[14] & 0x0f) == 5)
				ack = frame + 34 + 8;
		} else if (len >= 54 && frame[12] == 0x86 && frame[13] == 0xdd) {
			memcpy(frame + 14 + 24, gw6, 16);
			if (len >= 14 + 40 + 20 && frame[14 + 6] == 6)
				ack = frame + 54 + 8;
		}
		if (ack) {
			uint32_t a = rd32(ack) + isn;

			ack[0] = (uint8_t)(a >> 24);
			ack[1] = (uint8_t)(a >> 16);
			ack[2] = (uint8_t)(a >> 8);
			ack[3] = (uint8_t)a;
		}
		nsess_tcpfast_input(tf, frame, len);
		nsess_tcpfast_flush(tf);
		drain_tap(tap[1], &isn);
		pump(tf);
		drain_tap(tap[1], &isn);
		host_side(conns, &n_conns, round);
		pump(tf);
		drain_tap(tap[1], &isn);
		round++;
	}

	nsess_tcpfast_free(tf);
	while (n_conns)
		close(conns[--n_conns]);
	host_side(conns, &n_conns, 0);	/* accept what is left, */
	while (n_conns)
		close(conns[--n_conns]);	/* and close it */
	close(tap[0]);
	close(tap[1]);
	return 0;
}
