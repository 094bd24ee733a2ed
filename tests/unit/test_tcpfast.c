/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_tcpfast.c - which frames the engine's TCP path takes, and what it
 * answers. A datagram socketpair stands in for the TAP (one datagram, one
 * frame); the host side is a real loopback socket. No privileges needed.
 * The whole path, both directions through a real TAP, is in
 * tests/ns/test_engine.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netplan.h"
#include "tcpfast.h"
#include "testlib.h"

static const uint8_t gw_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
static const uint8_t sess_mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

struct fixture {
	struct nsess_tcpfast *tf;
	int tap[2];		/* [0] the path writes, [1] the test reads */
};

static void fixture_new(struct fixture *fx, bool allow_loopback)
{
	struct nsess_netplan p;

	nsess_netplan_defaults(&p);
	p.allow_host_loopback = allow_loopback;
	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fx->tap),
		     0);
	fx->tf = nsess_tcpfast_new(&p, fx->tap[0]);
	cr_assert_not_null(fx->tf);
}

static void fixture_free(struct fixture *fx)
{
	nsess_tcpfast_free(fx->tf);
	close(fx->tap[0]);
	close(fx->tap[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A SYN from @src:40000 to @dst:@port with MSS 1460 and window scale 7; Return: its length. */
static size_t syn_frame(uint8_t *f, const char *src, const char *dst, uint16_t port, uint32_t seq)
{
	uint8_t *ip = f + 14, *th = ip + 20;

	memset(f, 0, 14 + 20 + 28);
	memcpy(f, gw_mac, 6);
	memcpy(f + 6, sess_mac, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	put16(ip + 2, 20 + 28);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	put16(th, 40000);
	put16(th + 2, port);
	put32(th + 4, seq);
	th[12] = 7 << 4;
	th[13] = 0x02;
	put16(th + 14, 64240);
	th[20] = 2, th[21] = 4, put16(th + 22, 1460);
	th[24] = 1, th[25] = 3, th[26] = 3, th[27] = 7;
	return 14 + 20 + 28;
}

/* both checksums of a frame the path wrote must verify */
static void assert_checksums(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14, *th = ip + 20;
	size_t tcplen = len - 34;
	uint8_t pseudo[12];

	cr_assert_eq(nsess_test_fold(nsess_test_sum16(0, ip, 20)), 0xffff, "bad IPv4 header checksum");
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_TCP;
	put16(pseudo + 10, (uint16_t)tcplen);
	cr_assert_eq(nsess_test_fold(nsess_test_sum16(nsess_test_sum16(0, pseudo, 12), th, tcplen)),
		     0xffff, "bad TCP checksum");
}

/* the one frame the path wrote, or -1 after @ms without one */
static ssize_t read_frame(struct fixture *fx, uint8_t *buf, size_t len, int ms)
{
	struct pollfd p = { .fd = fx->tap[1], .events = POLLIN };

	if (poll(&p, 1, ms) != 1)
		return -1;
	return recv(fx->tap[1], buf, len, 0);
}

/* one round of the engine loop for the path's sockets */
static void pump(struct fixture *fx)
{
	struct pollfd p[8];
	size_t n = nsess_tcpfast_count(fx->tf);

	cr_assert_leq(n, 8);
	nsess_tcpfast_fill(fx->tf, p, 0);
	(void)poll(p, n, 1000);
	nsess_tcpfast_poll(fx->tf, p, n);
}

static int listen_lo(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

Test(tcpfast, frames_that_are_not_its_own_go_to_libslirp)
{
	struct fixture fx;
	uint8_t f[128], g[128];
	size_t n;

	fixture_new(&fx, true);
	n = syn_frame(f, "10.0.2.100", "10.0.2.2", 80, 1);

	/* each mutation of a good SYN, and the reason it is libslirp's */
	memcpy(g, f, n);
	g[12] = 0x86, g[13] = 0xdd;		/* IPv6 */
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, n));
	memcpy(g, f, n);
	g[14 + 9] = IPPROTO_UDP;
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, n));
	memcpy(g, f, n);
	g[14] = 0x44;				/* IHL below 5 */
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, n));
	memcpy(g, f, n);
	put16(g + 14 + 2, 200);			/* longer than the frame */
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, n));
	memcpy(g, f, n);
	put16(g + 14 + 6, 0x2000);		/* more fragments */
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, n));
	memcpy(g, f, n);
	g[34 + 12] = 4 << 4;			/* TCP header below 20 bytes */
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, n));
	memcpy(g, f, n);
	g[34 + 12] = 15 << 4;			/* options past the packet */
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, n));
	memcpy(g, f, n);
	g[34 + 13] = 0x10;			/* an ACK of a flow it does not know */
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, n));
	for (size_t cut = 0; cut < 54; cut++)
		cr_expect_not(nsess_tcpfast_input(fx.tf, f, cut), "a frame cut at %zu bytes", cut);

	/* SYNs it leaves alone */
	n = syn_frame(g, "10.0.2.99", "192.0.2.1", 80, 1);	/* not the session's address */
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, n));
	n = syn_frame(g, "10.0.2.100", "10.0.2.3", 53, 1);	/* the DNS forwarder */
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, n));
	n = syn_frame(g, "10.0.2.100", "127.0.0.1", 80, 1);
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, n));
	n = syn_frame(g, "10.0.2.100", "224.0.0.1", 80, 1);
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, n));
	cr_expect_eq(nsess_tcpfast_count(fx.tf), 0);
	cr_expect_lt(read_frame(&fx, g, sizeof(g), 0), 0, "it answered a frame it passed on");
	fixture_free(&fx);

	fixture_new(&fx, false);
	n = syn_frame(g, "10.0.2.100", "10.0.2.2", 80, 1);	/* host loopback, not allowed */
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, n));
	fixture_free(&fx);
}

Test(tcpfast, syn_to_a_listener_gets_a_scaled_syn_ack)
{
	struct fixture fx;
	uint16_t port;
	int lfd = listen_lo(&port);
	uint8_t f[128];
	ssize_t r;
	size_t n;

	fixture_new(&fx, true);
	n = syn_frame(f, "10.0.2.100", "10.0.2.2", port, 0xfffffff0u);
	cr_assert(nsess_tcpfast_input(fx.tf, f, n));
	cr_assert_eq(nsess_tcpfast_count(fx.tf), 1);
	for (int i = 0; i < 5 && (r = read_frame(&fx, f, sizeof(f), 0)) < 0; i++)
		pump(&fx);
	cr_assert_eq(r, 14 + 20 + 28, "no SYN-ACK with options (%zd)", r);
	cr_expect_eq(f[34 + 13], 0x12, "flags %#x, not SYN|ACK", f[34 + 13]);
	cr_expect_eq(get32(f + 34 + 8), 0xfffffff1u, "ack does not follow the SYN (wraps)");
	/* the MSS the link carries (its MTU less 40), our window scale 7 */
	cr_expect_eq(f[54], 2);
	cr_expect_eq(f[56] << 8 | f[57], NSESS_MTU_DEFAULT - 40);
	cr_expect_eq(f[59], 3);
	cr_expect_eq(f[61], 7);
	cr_expect_eq(memcmp(f + 14 + 12, (uint8_t[]){ 10, 0, 2, 2 }, 4), 0,
		     "the answer does not come from the address the session called");
	assert_checksums(f, (size_t)r);
	close(lfd);
	fixture_free(&fx);
}

Test(tcpfast, syn_to_a_closed_port_gets_a_reset)
{
	struct fixture fx;
	uint16_t port;
	int lfd = listen_lo(&port);
	uint8_t f[128];
	ssize_t r = -1;
	size_t n;

	close(lfd);	/* nobody listens on @port now */
	fixture_new(&fx, true);
	n = syn_frame(f, "10.0.2.100", "10.0.2.2", port, 77);
	cr_assert(nsess_tcpfast_input(fx.tf, f, n));
	for (int i = 0; i < 5 && (r = read_frame(&fx, f, sizeof(f), 0)) < 0; i++)
		pump(&fx);
	cr_assert_eq(r, 54, "no reset (%zd)", r);
	cr_expect_eq(f[34 + 13], 0x14);
	cr_expect_eq(get32(f + 34 + 8), 78);
	assert_checksums(f, (size_t)r);
	nsess_tcpfast_flush(fx.tf);
	cr_expect_eq(nsess_tcpfast_count(fx.tf), 0, "the refused flow was kept");
	fixture_free(&fx);
}
