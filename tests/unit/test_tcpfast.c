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
#include <linux/virtio_net.h>

#include "netplan.h"
#include "tcpfast.h"
#include "testlib.h"
#include "vnet.h"

static const uint8_t gw_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
static const uint8_t sess_mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

struct fixture {
	struct nsess_tcpfast *tf;
	int tap[2];		/* [0] the path writes, [1] the test reads */
	size_t vnet_len;	/* the virtio-net header the "TAP" wants, 0 if none */
	struct virtio_net_hdr last;	/* ... and the one of the last frame read */
};

/* @vnet_len: as a TAP made by nsess_tap_create() (NSESS_VNET_HDR_LEN) or a bare one (0) */
static void fixture_new_vnet(struct fixture *fx, bool allow_loopback, size_t vnet_len)
{
	struct nsess_netplan p;

	fx->vnet_len = vnet_len;

	nsess_netplan_defaults(&p);
	p.allow_host_loopback = allow_loopback;
	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fx->tap),
		     0);
	fx->tf = nsess_tcpfast_new(&p, fx->tap[0], fx->vnet_len);
	cr_assert_not_null(fx->tf);
}

static void fixture_new(struct fixture *fx, bool allow_loopback)
{
	fixture_new_vnet(fx, allow_loopback, 0);
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

/* the largest MSS the session's SYNs in this file announce */
#define SESSION_MSS_MAX 1460

/*
 * Behind a virtio-net header, every frame of the path must say that its TCP
 * checksum is left to the session's kernel, at the right place, and the
 * pseudo-header sum it leaves must be the right one: what the kernel would
 * complete (done here with vnet.c) then checks out with the textbook sum.
 * A frame with more payload than the session's MSS must say which segments
 * it stands for (GSO); one within the MSS must not.
 */
static void strip_vnet(struct fixture *fx, uint8_t *buf, size_t *len)
{
	struct virtio_net_hdr h, plain;
	size_t l3, hlen, pay;
	bool v6;

	cr_assert_geq(*len, fx->vnet_len + 14 + 20 + 20, "a frame of %zu bytes behind the header",
		      *len);
	memcpy(&h, buf, sizeof(h));
	fx->last = h;
	v6 = (buf[fx->vnet_len + 12] << 8 | buf[fx->vnet_len + 13]) == 0x86dd;
	l3 = v6 ? 40 : 20;
	hlen = 14 + l3 + (size_t)(buf[fx->vnet_len + 14 + l3 + 12] >> 4) * 4;
	pay = *len - fx->vnet_len - hlen;
	cr_expect_eq(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM, "header flags %#x", h.flags);
	cr_expect_eq(h.csum_start, 14 + l3, "checksum starts at %u", h.csum_start);
	cr_expect_eq(h.csum_offset, 16, "checksum field at +%u", h.csum_offset);
	if (pay > SESSION_MSS_MAX) {
		cr_expect_eq(h.gso_type, v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4,
			     "%zu bytes of payload, GSO type %u", pay, h.gso_type);
		cr_expect_eq(h.hdr_len, hlen, "GSO header length %u, headers %zu", h.hdr_len, hlen);
		cr_expect(h.gso_size > 0 && h.gso_size < pay, "GSO size %u for %zu bytes",
			  h.gso_size, pay);
	} else {
		cr_expect_eq(h.gso_type, VIRTIO_NET_HDR_GSO_NONE, "%zu bytes of payload, GSO type "
			     "%u", pay, h.gso_type);
	}
	*len -= fx->vnet_len;
	memmove(buf, buf + fx->vnet_len, *len);
	/* the kernel finishes a checksum the same way for one segment or many */
	plain = h;
	plain.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	cr_assert_eq(nsess_vnet_rx_finish((const uint8_t *)&plain, buf, *len), 1);
}

/* the one frame the path wrote (without its virtio-net header), or -1 after @ms without one */
static ssize_t read_frame(struct fixture *fx, uint8_t *buf, size_t len, int ms)
{
	struct pollfd p = { .fd = fx->tap[1], .events = POLLIN };
	static uint8_t tmp[NSESS_VNET_HDR_MAX + 70000];
	ssize_t r;
	size_t n;

	if (poll(&p, 1, ms) != 1)
		return -1;
	if (!fx->vnet_len)
		return recv(fx->tap[1], buf, len, 0);
	cr_assert_leq(fx->vnet_len + len, sizeof(tmp));
	r = recv(fx->tap[1], tmp, fx->vnet_len + len, 0);
	if (r < 0)
		return r;
	n = (size_t)r;
	strip_vnet(fx, tmp, &n);
	memcpy(buf, tmp, n);
	return (ssize_t)n;
}

/* one round of the engine loop for the path's sockets, waiting at most @ms */
static void pump_ms(struct fixture *fx, int ms)
{
	struct pollfd p[8];
	size_t n = nsess_tcpfast_count(fx->tf);

	cr_assert_leq(n, 8);
	nsess_tcpfast_fill(fx->tf, p, 0);
	(void)poll(p, n, ms);
	nsess_tcpfast_poll(fx->tf, p, n);
}

static void pump(struct fixture *fx)
{
	pump_ms(fx, 1000);
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
	g[12] = 0x86, g[13] = 0xdd;		/* the IPv6 type, an IPv4 packet */
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

static void syn_ack_case(size_t vnet_len)
{
	struct fixture fx;
	uint16_t port;
	int lfd = listen_lo(&port);
	uint8_t f[128];
	ssize_t r;
	size_t n;

	fixture_new_vnet(&fx, true, vnet_len);
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

Test(tcpfast, syn_to_a_listener_gets_a_scaled_syn_ack)
{
	syn_ack_case(0);
}

Test(tcpfast, syn_ack_behind_a_virtio_header_leaves_the_checksum_to_the_session)
{
	syn_ack_case(NSESS_VNET_HDR_LEN);
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

/* ---- IPv6 ------------------------------------------------------------------ */

/*
 * An IPv6 segment from @src:40000 to @dst:@port: @flags, @seq/@ack, and
 * for a SYN the options MSS 1440 and window scale 7, else @len bytes of
 * @data. Return: the frame length.
 */
static size_t tcp6_frame(uint8_t *f, const char *src, const char *dst, uint16_t port,
			 uint8_t flags, uint32_t seq, uint32_t ack, const void *data, size_t len)
{
	uint8_t *ip = f + 14, *th = ip + 40;
	size_t doff = flags & 0x02 ? 28 : 20;

	memset(f, 0, 14 + 40 + doff + len);
	memcpy(f, gw_mac, 6);
	memcpy(f + 6, sess_mac, 6);
	f[12] = 0x86, f[13] = 0xdd;
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)(doff + len));
	ip[6] = IPPROTO_TCP;
	ip[7] = 64;
	cr_assert_eq(inet_pton(AF_INET6, src, ip + 8), 1);
	cr_assert_eq(inet_pton(AF_INET6, dst, ip + 24), 1);
	put16(th, 40000);
	put16(th + 2, port);
	put32(th + 4, seq);
	put32(th + 8, ack);
	th[12] = (uint8_t)(doff / 4 << 4);
	th[13] = flags;
	put16(th + 14, 64240);
	if (flags & 0x02) {
		th[20] = 2, th[21] = 4, put16(th + 22, 1440);
		th[24] = 1, th[25] = 3, th[26] = 3, th[27] = 7;
	}
	if (len)
		memcpy(th + doff, data, len);
	return 14 + 40 + doff + len;
}

/* an IPv6 frame the path wrote: TCP, its payload length right, its checksum too */
static void assert_checksums6(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14, *th = ip + 40;
	size_t tcplen = len - 54;
	uint8_t pseudo[40];

	cr_assert_geq(len, 14 + 40 + 20);
	cr_assert_eq(f[12] << 8 | f[13], 0x86dd, "not an IPv6 frame");
	cr_assert_eq(ip[0] >> 4, 6);
	cr_assert_eq(ip[6], IPPROTO_TCP);
	cr_assert_eq((size_t)(ip[4] << 8 | ip[5]), tcplen, "payload length is not the frame's");
	memcpy(pseudo, ip + 8, 32);
	put32(pseudo + 32, (uint32_t)tcplen);
	put32(pseudo + 36, IPPROTO_TCP);
	cr_assert_eq(nsess_test_fold(nsess_test_sum16(nsess_test_sum16(0, pseudo, 40), th, tcplen)),
		     0xffff, "bad TCP checksum");
}

static int listen_lo6(uint16_t *port)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t l = sizeof(sa);
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	NSESS_TEST_NEED(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "no ::1 here");
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
	*port = ntohs(sa.sin6_port);
	return fd;
}

static bool addr6_is(const uint8_t *p, const char *text)
{
	uint8_t a[16];

	cr_assert_eq(inet_pton(AF_INET6, text, a), 1);
	return memcmp(p, a, 16) == 0;
}

/* pump until the path writes a frame; Return: its length */
static size_t next_frame(struct fixture *fx, uint8_t *f, size_t cap)
{
	ssize_t r = -1;

	for (int i = 0; i < 20 && (r = read_frame(fx, f, cap, 0)) < 0; i++)
		pump(fx);
	cr_assert_gt(r, 0, "the path wrote nothing");
	return (size_t)r;
}

Test(tcpfast, v6_frames_that_are_not_its_own_go_to_libslirp)
{
	struct fixture fx;
	uint8_t f[160], g[160];
	size_t n, m;

	fixture_new(&fx, true);
	n = tcp6_frame(f, "fd00::100", "2001:db8::1", 80, 0x02, 1, 0, NULL, 0);

	memcpy(g, f, n);
	g[14 + 6] = 0;				/* a hop-by-hop header first */
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, n));
	memcpy(g, f, n);
	g[14 + 6] = 44;				/* a fragment */
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, n));
	memcpy(g, f, n);
	g[14] = 0x40;				/* version 4 behind the IPv6 type */
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, n));
	memcpy(g, f, n);
	put16(g + 14 + 4, 100);			/* longer than the frame */
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, n));
	memcpy(g, f, n);
	put16(g + 14 + 4, 12);			/* shorter than a TCP header */
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, n));
	memcpy(g, f, n);
	g[54 + 12] = 15 << 4;			/* options past the packet */
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, n));
	for (size_t cut = 0; cut < 74; cut++)
		cr_expect_not(nsess_tcpfast_input(fx.tf, f, cut), "a frame cut at %zu bytes", cut);

	/* SYNs it leaves alone */
	static const char *const others[][2] = {
		{ "fd00::99", "2001:db8::1" },	/* not the session's address */
		{ "fd00::100", "fd00::3" },	/* the DNS forwarder */
		{ "fd00::100", "fd00::77" },	/* the session's own network */
		{ "fd00::100", "::1" },
		{ "fd00::100", "::ffff:192.0.2.1" },
		{ "fd00::100", "64:ff9b::7f00:1" },
		{ "fd00::100", "fe80::1" },
		{ "fd00::100", "ff02::1" },
	};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		m = tcp6_frame(g, others[i][0], others[i][1], 80, 0x02, 1, 0, NULL, 0);
		cr_expect_not(nsess_tcpfast_input(fx.tf, g, m), "%s -> %s taken", others[i][0],
			      others[i][1]);
	}
	cr_expect_eq(nsess_tcpfast_count(fx.tf), 0);
	cr_expect_lt(read_frame(&fx, g, sizeof(g), 0), 0, "it answered a frame it passed on");
	fixture_free(&fx);

	/* host loopback not allowed: the gateway is libslirp's (which refuses it) */
	fixture_new(&fx, false);
	m = tcp6_frame(g, "fd00::100", "fd00::2", 80, 0x02, 1, 0, NULL, 0);
	cr_expect_not(nsess_tcpfast_input(fx.tf, g, m));
	fixture_free(&fx);
}

static void v6_exchange_case(size_t vnet_len)
{
	struct fixture fx;
	uint16_t port;
	int lfd = listen_lo6(&port), c;
	uint8_t f[2048];
	char buf[16] = "";
	uint32_t iss;
	size_t n;

	fixture_new_vnet(&fx, true, vnet_len);
	n = tcp6_frame(f, "fd00::100", "fd00::2", port, 0x02, 1000, 0, NULL, 0);
	cr_assert(nsess_tcpfast_input(fx.tf, f, n), "the path did not take an IPv6 SYN");

	/* SYN-ACK: from the gateway, MSS of the link's MTU less 60, window scale 7 */
	n = next_frame(&fx, f, sizeof(f));
	cr_assert_eq(n, 14 + 40 + 28, "no SYN-ACK with options (%zu bytes)", n);
	assert_checksums6(f, n);
	cr_expect_eq(memcmp(f, sess_mac, 6), 0);
	cr_expect(addr6_is(f + 14 + 8, "fd00::2"),
		  "the answer does not come from the address the session called");
	cr_expect(addr6_is(f + 14 + 24, "fd00::100"), "the answer is not to the session's address");
	cr_expect_eq(f[54 + 13], 0x12, "flags %#x, not SYN|ACK", f[54 + 13]);
	cr_expect_eq(get32(f + 54 + 8), 1001);
	cr_expect_eq(f[74], 2);
	cr_expect_eq(f[76] << 8 | f[77], NSESS_MTU_DEFAULT - 60);
	cr_expect_eq(f[81], 7);
	iss = get32(f + 54 + 4);

	/* the session's ACK and data reach the host's ::1 listener */
	c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(c, 0, "nothing connected to ::1");
	n = tcp6_frame(f, "fd00::100", "fd00::2", port, 0x18, 1001, iss + 1, "hello", 5);
	cr_assert(nsess_tcpfast_input(fx.tf, f, n));
	nsess_tcpfast_flush(fx.tf);
	cr_assert_eq(recv(c, buf, sizeof(buf), 0), 5);
	cr_expect_str_eq(buf, "hello");
	/* its ACK of those 5 bytes */
	n = next_frame(&fx, f, sizeof(f));
	assert_checksums6(f, n);
	cr_expect_eq(get32(f + 54 + 8), 1006, "the 5 bytes are not acknowledged");

	/* the host's answer comes back as an IPv6 data frame */
	cr_assert_eq(send(c, "world!", 6, 0), 6);
	do
		n = next_frame(&fx, f, sizeof(f));
	while (n == 74);
	cr_assert_eq(n, 74 + 6, "a frame of %zu bytes", n);
	assert_checksums6(f, n);
	cr_expect_eq(memcmp(f + 74, "world!", 6), 0);
	cr_expect_eq(get32(f + 54 + 4), iss + 1);

	close(c);
	close(lfd);
	fixture_free(&fx);
}

Test(tcpfast, v6_connection_to_the_gateway_reaches_host_loopback_both_ways)
{
	v6_exchange_case(0);
}

Test(tcpfast, v6_exchange_behind_a_virtio_header_leaves_the_checksums_to_the_session)
{
	v6_exchange_case(NSESS_VNET_HDR_LEN);
}

/*
 * Behind a virtio-net header a download goes in frames of many of the
 * session's segments (GSO), each at most what the link's MTU holds, the
 * bytes in order and whole.
 */
Test(tcpfast, a_download_behind_a_virtio_header_goes_in_frames_of_many_segments)
{
	enum { TOTAL = 200000 };
	static uint8_t f[70000], data[TOTAL];
	struct fixture fx;
	uint16_t port;
	int lfd = listen_lo6(&port), c;
	size_t n, got = 0, biggest = 0, gso_frames = 0;
	uint32_t iss;

	for (size_t i = 0; i < TOTAL; i++)
		data[i] = (uint8_t)(i * 13 + i / 251);
	fixture_new_vnet(&fx, true, NSESS_VNET_HDR_LEN);
	n = tcp6_frame(f, "fd00::100", "fd00::2", port, 0x02, 1000, 0, NULL, 0);
	cr_assert(nsess_tcpfast_input(fx.tf, f, n));
	n = next_frame(&fx, f, sizeof(f));
	cr_assert_eq(f[54 + 13], 0x12, "no SYN-ACK");
	iss = get32(f + 54 + 4);
	c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(c, 0);
	/*
	 * The session's window: 1024 << 7 = 128 KiB, two full frames, which the
	 * datagram socketpair standing in for the TAP holds; each frame is
	 * acknowledged as it arrives.
	 */
	n = tcp6_frame(f, "fd00::100", "fd00::2", port, 0x10, 1001, iss + 1, NULL, 0);
	put16(f + 54 + 14, 1024);
	cr_assert(nsess_tcpfast_input(fx.tf, f, n));
	nsess_tcpfast_flush(fx.tf);

	cr_assert_eq(send(c, data, TOTAL, 0), TOTAL);
	while (got < TOTAL) {
		size_t pay;

		n = next_frame(&fx, f, sizeof(f));
		pay = n - 74;
		if (!pay)
			continue;	/* an ACK */
		assert_checksums6(f, n);
		cr_assert_eq(get32(f + 54 + 4), iss + 1 + (uint32_t)got, "out of order at %zu", got);
		cr_assert_leq(got + pay, TOTAL);
		cr_assert_eq(memcmp(f + 74, data + got, pay), 0, "bytes %zu..%zu differ", got,
			     got + pay);
		if (pay > 1440) {
			gso_frames++;
			cr_expect_eq(fx.last.gso_size, 1440, "segments of %u bytes, the session "
				     "asked for 1440", fx.last.gso_size);
		}
		biggest = pay > biggest ? pay : biggest;
		got += pay;
		n = tcp6_frame(f, "fd00::100", "fd00::2", port, 0x10, 1001, iss + 1 + (uint32_t)got,
			       NULL, 0);
		put16(f + 54 + 14, 1024);
		cr_assert(nsess_tcpfast_input(fx.tf, f, n));
		nsess_tcpfast_flush(fx.tf);
	}
	cr_expect_gt(gso_frames, 0, "no frame carried more than one segment");
	cr_expect_leq(biggest, NSESS_MTU_DEFAULT - 60, "a frame of %zu bytes of payload exceeds "
		      "the link's MTU", biggest);
	close(c);
	close(lfd);
	fixture_free(&fx);
}

/* ---- what a session can make the engine hold ------------------------------ */

/* a ::1 listener whose connections take little before their sender's buffer fills */
static int listen_lo6_slow(uint16_t *port)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t l = sizeof(sa);
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), small = 4096;

	cr_assert_geq(fd, 0);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	NSESS_TEST_NEED(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "no ::1 here");
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
	*port = ntohs(sa.sin6_port);
	return fd;
}

struct stash_flow {
	uint16_t sport, dport;	/* the session's port, the listener's */
	uint32_t iss, isn;	/* the path's initial sequence number, the session's */
	uint32_t rcvd;		/* what the session acknowledges past the SYN-ACK (a FIN: 1) */
	bool fin_seen;		/* the path sent the host's FIN */
	uint32_t sent, acked;	/* bytes past the SYN */
	uint16_t wnd;		/* the window field of the path's last ACK */
	int c;			/* the accepted host socket */
	uint32_t got;		/* bytes its host socket read, checked in order */
};

/* byte @i of what flow @k sends: checked in order at the host */
static uint8_t stash_byte(int k, uint32_t i)
{
	return (uint8_t)(i * 7 + i / 253 + (uint32_t)k * 101);
}

/* one segment of @fl from session-relative offset @off, with @flags (ACK, maybe FIN) */
static void stash_send(struct fixture *fx, struct stash_flow *fl, int k, uint32_t off,
		       uint8_t flags)
{
	static uint8_t f[14 + 40 + 20 + 1400], pay[1400];
	size_t n;

	for (size_t i = 0; i < sizeof(pay); i++)
		pay[i] = stash_byte(k, off + (uint32_t)i);
	n = tcp6_frame(f, "fd00::100", "fd00::2", fl->dport, flags, fl->isn + 1 + off,
		       fl->iss + 1 + fl->rcvd, pay, sizeof(pay));
	put16(f + 54, fl->sport);
	cr_assert(nsess_tcpfast_input(fx->tf, f, n));
}

/* read every frame the path wrote; note each flow's highest acknowledgement and last window */
static void stash_read_acks(struct fixture *fx, struct stash_flow *fl, size_t nfl)
{
	uint8_t f[2048];

	nsess_tcpfast_flush(fx->tf);
	while (read_frame(fx, f, sizeof(f), 0) > 0) {
		uint16_t dport = (uint16_t)(f[54 + 2] << 8 | f[54 + 3]);

		for (size_t i = 0; i < nfl; i++) {
			uint32_t a = get32(f + 54 + 8) - fl[i].isn - 1;

			if (dport != fl[i].sport || !(f[54 + 13] & 0x10))
				continue;
			if (a > fl[i].acked && a <= fl[i].sent)
				fl[i].acked = a;
			if (f[54 + 13] & 0x01)
				fl[i].fin_seen = true;
			fl[i].wnd = (uint16_t)(f[54 + 14] << 8 | f[54 + 15]);
		}
	}
}

static void stash_open(struct fixture *fx, struct stash_flow *fl, uint16_t sport, int lfd,
		       uint16_t dport)
{
	uint8_t f[160];
	size_t n;

	*fl = (struct stash_flow){ .sport = sport, .dport = dport, .isn = 5000u * sport };
	n = tcp6_frame(f, "fd00::100", "fd00::2", dport, 0x02, fl->isn, 0, NULL, 0);
	put16(f + 54, sport);
	cr_assert(nsess_tcpfast_input(fx->tf, f, n));
	n = next_frame(fx, f, sizeof(f));
	cr_assert_eq(f[54 + 13], 0x12, "no SYN-ACK");
	fl->iss = get32(f + 54 + 4);
	n = tcp6_frame(f, "fd00::100", "fd00::2", dport, 0x10, fl->isn + 1, fl->iss + 1, NULL, 0);
	put16(f + 54, sport);
	cr_assert(nsess_tcpfast_input(fx->tf, f, n));
	fl->c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(fl->c, 0);
}

static struct nsess_tcpfast_stats stash_stats(struct fixture *fx)
{
	struct nsess_tcpfast_stats st;

	nsess_tcpfast_get_stats(fx->tf, &st);
	return st;
}

/* send in order from what was acknowledged until @enough says stop (at most 32 MiB) */
static void stash_push(struct fixture *fx, struct stash_flow *fls, size_t nfl, int k,
		       bool (*enough)(struct fixture *, struct stash_flow *))
{
	struct stash_flow *fl = &fls[k];

	fl->sent = fl->acked;
	for (int i = 0; i < 24000 && !enough(fx, fl); i++) {
		stash_send(fx, fl, k, fl->sent, 0x10);
		fl->sent += 1400;
		stash_read_acks(fx, fls, nfl);
	}
	cr_assert(enough(fx, fl), "pushed 32 MiB without getting there");
}

/* the first stash is held: a socket was full, yet all the flow sent is acknowledged */
static bool stash_held(struct fixture *fx, struct stash_flow *fl)
{
	return stash_stats(fx).stashes == 1 && fl->sent > 0 && fl->acked == fl->sent;
}

/* the path stopped acknowledging what the flow sends */
static bool stash_refusing(struct fixture *fx, struct stash_flow *fl)
{
	return stash_stats(fx).stash_refused > 0 && fl->sent - fl->acked >= 20 * 1400;
}

/* the flow took a drained stash back: its full socket no longer holds it up */
static bool stash_taken_back(struct fixture *fx, struct stash_flow *fl)
{
	return stash_stats(fx).stash_reclaimed == 1 && fl->acked == fl->sent;
}

/* read what the host got on @fl and check it is the flow's bytes in order */
static void stash_host_read(struct stash_flow *fl, int k)
{
	uint8_t buf[65536];
	ssize_t r;

	while ((r = recv(fl->c, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		for (ssize_t i = 0; i < r; i++)
			cr_assert_eq(buf[i], stash_byte(k, fl->got + (uint32_t)i),
				     "flow %d: byte %u differs", k, fl->got + (uint32_t)i);
		fl->got += (uint32_t)r;
	}
}

/* one round of the engine loop, waiting at most 10 ms, then the ACKs it wrote */
static void stash_pump(struct fixture *fx, struct stash_flow *fl, size_t nfl)
{
	pump_ms(fx, 10);
	stash_read_acks(fx, fl, nfl);
}

/* the host reads all @k acknowledged; Return: whether it got there */
static bool stash_host_read_all(struct fixture *fx, struct stash_flow *fl, size_t nfl, int k)
{
	for (int i = 0; i < 3000 && fl[k].got < fl[k].acked; i++) {
		stash_host_read(&fl[k], k);
		stash_pump(fx, fl, nfl);
	}
	return fl[k].got == fl[k].acked;
}

/*
 * Connections whose peers do not read cannot make the engine hold more
 * than its stash limit. A flow that needs a stash when all hold data gets
 * only what its host socket takes acknowledged, and its window closes (nor
 * is a FIN behind the rest taken); when its socket has room again the
 * window opens by itself. A drained stash is taken back for a flow that
 * needs one, and nothing acknowledged is ever lost.
 */
Test(tcpfast, connections_to_silent_peers_hold_no_more_than_the_stash_limit)
{
	struct fixture fx;
	struct stash_flow fl[2];
	uint16_t pa, pb;
	int la = listen_lo6_slow(&pa), lb = listen_lo6_slow(&pb);
	uint32_t stuck;

	fixture_new(&fx, true);
	nsess_tcpfast_set_stash_max(fx.tf, 1);
	stash_open(&fx, &fl[0], 40000, la, pa);
	stash_open(&fx, &fl[1], 40001, lb, pb);

	/* A's peer reads nothing: A fills its host socket, then takes the one stash */
	stash_push(&fx, fl, 2, 0, stash_held);
	cr_expect_eq(stash_stats(&fx).stash_refused, 0, "a stash was refused with one free");
	cr_expect_gt(fl[0].wnd, 0, "the window of a flow with a stash closed");

	/* B's peer reads nothing either: no stash for B, so its data past its socket waits */
	stash_push(&fx, fl, 2, 1, stash_refusing);
	cr_expect_eq(stash_stats(&fx).stashes, 1, "a second flow got a stash past the limit");
	cr_expect_eq(stash_stats(&fx).stash_peak, 1, "two stashes were held at once");
	cr_expect_eq(fl[1].wnd, 0, "a starved flow's window stayed open (%u)", fl[1].wnd);
	stuck = fl[1].acked;
	/*
	 * A FIN behind data that finds no room is not taken either: it comes
	 * again (B's peer must never see the end of the stream, checked last).
	 */
	stash_send(&fx, &fl[1], 1, stuck, 0x11);
	stash_read_acks(&fx, fl, 2);
	cr_expect_leq(fl[1].acked - stuck, 1400, "a FIN was taken");

	/* B's peer reads: B's window opens with no word from the session */
	cr_assert(stash_host_read_all(&fx, fl, 2, 1), "B's peer got %u of the %u bytes acknowledged",
		  fl[1].got, fl[1].acked);
	for (int i = 0; i < 100 && fl[1].wnd == 0; i++)
		stash_pump(&fx, fl, 2);
	cr_expect_gt(fl[1].wnd, 0, "B's window stayed closed after its socket had room");

	/* A's peer reads everything A's stash held: it drains, and A keeps it */
	cr_assert(stash_host_read_all(&fx, fl, 2, 0), "A's peer got %u of the %u bytes acknowledged",
		  fl[0].got, fl[0].acked);
	cr_expect_eq(stash_stats(&fx).stashes, 1);

	/* B fills its socket again: now it takes A's drained stash back */
	stash_push(&fx, fl, 2, 1, stash_taken_back);
	cr_expect_gt(fl[1].acked, stuck, "B's data was not taken");
	cr_expect_eq(stash_stats(&fx).stashes, 1);
	cr_expect_eq(stash_stats(&fx).stash_peak, 1);

	/* and every byte acknowledged reaches B's peer, in order */
	cr_assert(stash_host_read_all(&fx, fl, 2, 1), "B's peer got %u of the %u bytes acknowledged",
		  fl[1].got, fl[1].acked);
	{
		char b;
		ssize_t r = recv(fl[1].c, &b, 1, MSG_DONTWAIT);

		cr_expect(r < 0 && errno == EAGAIN, "B's peer saw the end of the stream (%zd): a FIN "
			  "was taken behind data that was not", r);
	}

	close(fl[0].c);
	close(fl[1].c);
	close(la);
	close(lb);
	fixture_free(&fx);
}

/*
 * Both directions closed, the session's last data still in the stash: the
 * flow lives until that data reached the host, then the host sees the
 * session's end of the stream after every byte.
 */
Test(tcpfast, the_sessions_last_data_in_the_stash_outlives_both_fins)
{
	struct fixture fx;
	struct stash_flow fl[1];
	uint16_t port;
	int lfd = listen_lo6_slow(&port);
	uint8_t f[160], b;
	size_t n;
	ssize_t r;

	fixture_new(&fx, true);
	stash_open(&fx, &fl[0], 40000, lfd, port);
	/* the host ends its side first; the session acknowledges that FIN */
	cr_assert_eq(shutdown(fl[0].c, SHUT_WR), 0);
	for (int i = 0; i < 100 && !fl[0].fin_seen; i++)
		stash_pump(&fx, fl, 1);
	cr_assert(fl[0].fin_seen, "the host's FIN did not reach the session");
	fl[0].rcvd = 1;
	n = tcp6_frame(f, "fd00::100", "fd00::2", port, 0x10, fl[0].isn + 1, fl[0].iss + 2, NULL, 0);
	cr_assert(nsess_tcpfast_input(fx.tf, f, n));
	nsess_tcpfast_flush(fx.tf);

	/* the session fills the silent peer's socket and the stash holds some, then ends */
	stash_push(&fx, fl, 1, 0, stash_held);
	stash_send(&fx, &fl[0], 0, fl[0].sent, 0x11);
	fl[0].sent += 1400 + 1;	/* the FIN counts */
	stash_read_acks(&fx, fl, 1);
	cr_assert_eq(fl[0].acked, fl[0].sent, "the last data and the FIN were not taken");
	for (int i = 0; i < 20; i++)
		stash_pump(&fx, fl, 1);
	cr_expect_eq(nsess_tcpfast_count(fx.tf), 1, "the flow ended with data in its stash");

	/* the peer reads: every byte (all but the FIN), then the end of the stream */
	for (int i = 0; i < 3000 && fl[0].got + 1 < fl[0].sent; i++) {
		stash_host_read(&fl[0], 0);
		stash_pump(&fx, fl, 1);
	}
	cr_assert_eq(fl[0].got + 1, fl[0].sent, "the peer got %u of the %u bytes acknowledged",
		     fl[0].got, fl[0].sent - 1);
	for (int i = 0; i < 100 && (r = recv(fl[0].c, &b, 1, MSG_DONTWAIT)) < 0; i++)
		stash_pump(&fx, fl, 1);
	cr_expect_eq(r, 0, "no end of stream after the last byte");
	for (int i = 0; i < 100 && nsess_tcpfast_count(fx.tf); i++)
		stash_pump(&fx, fl, 1);
	cr_expect_eq(nsess_tcpfast_count(fx.tf), 0, "the flow stayed after both ends closed");

	close(fl[0].c);
	close(lfd);
	fixture_free(&fx);
}
