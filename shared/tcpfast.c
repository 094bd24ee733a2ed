/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tcpfast.c - the session's outbound TCP (IPv4 and IPv6), spliced onto
 * host sockets.
 *
 * One flow per connection the session opens:
 *
 *   SYN from the session      -> nonblocking connect() on the host
 *   connect() done            -> SYN-ACK to the session (MSS, window scale)
 *                                (refused, unreachable: RST)
 *   data from the session     -> send() to the host socket; what it does
 *                                not take waits in a per-flow buffer and
 *                                the advertised window shrinks by as much;
 *                                one ACK per batch of TAP frames
 *   data from the host        -> recvmsg(MSG_PEEK) at SO_PEEK_OFF into
 *                                ready-made frames; the session's ACK
 *                                discards the bytes with MSG_TRUNC
 *   lost frames               -> a timeout or three duplicate ACKs rewind
 *                                to the last acknowledged byte (go-back-N)
 *   FIN either way            -> shutdown(SHUT_WR) / FIN after the data
 *   RST either way            -> RST the other side, forget the flow
 *
 * The session is not trusted: every length is checked against the frame
 * before it is used, and a frame this file cannot make sense of is either
 * dropped (it belongs to one of our flows) or left to libslirp.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "csum.h"
#include "tcpfast.h"
#include "vnet.h"
#include "wire.h"

#define TF_ETH 14
#define TF_IP 20
#define TF_IP6 40
#define TF_TCP 20
#define TF_HDR (TF_ETH + TF_IP + TF_TCP)
#define TF_HDR6 (TF_ETH + TF_IP6 + TF_TCP)
#define TF_SYNOPT 8		/* MSS (4) + NOP + window scale (3) */

#define TF_MAX_FLOWS 1024
#define TF_HASH 256
#define TF_BATCH 16		/* frames per peek */
#define TF_PUSH_ROUNDS 4	/* peeks per flow per call, so one flow cannot starve others */
#define TF_WS 7			/* our window scale */
#define TF_RCV_WND (1u << 20)	/* session -> host window, and the most one flow buffers */
#define TF_STASH_FLOWS 64	/* flows holding a stash at once: at most 64 MiB per engine */
#define TF_RTO_MIN_MS 200
#define TF_RTO_MAX_MS 10000
#define TF_RETRIES 12

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

#define SEQ_LT(a, b) ((int32_t)((a) - (b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b) ((int32_t)((a) - (b)) > 0)

enum tf_state {
	TF_CONNECTING,		/* host connect() in progress */
	TF_SYNACK,		/* SYN-ACK sent, waiting for the session's ACK */
	TF_ESTAB,
};

struct tf_flow {
	struct tf_flow *next, *prev;	/* all flows */
	struct tf_flow *hnext;		/* hash chain */
	/* the session's address, the peer's it named: 4 bytes (IPv4, rest 0) or 16 */
	uint8_t saddr[16], daddr[16];
	bool v6;
	uint16_t hdr;			/* Ethernet + IP + TCP header of our frames */
	uint16_t sport, dport;		/* network order */
	int fd;
	enum tf_state state;
	int pfd;			/* index in this round's pollfd array, -1 if none */

	uint8_t smac[6], gmac[6];	/* the session's MAC, the MAC it sent to */
	uint16_t mss;			/* what we send per frame */
	uint8_t snd_ws, rcv_ws;		/* the session's shift, ours (0 without scaling) */

	uint32_t iss;			/* our initial sequence number */
	uint32_t snd_una, snd_nxt;	/* host -> session */
	uint32_t snd_wnd;		/* the session's window, in bytes */
	uint32_t rcv_nxt;		/* session -> host */
	uint16_t last_wnd_field;	/* for duplicate ACK detection */
	unsigned int dupacks;

	int64_t rto_at;			/* ms; 0: not armed */
	unsigned int rto_ms, retries;

	bool host_eof;			/* host sent FIN (peek returned 0) */
	bool fin_sent, fin_acked;	/* our FIN to the session */
	bool sess_fin;			/* the session's FIN, passed on with shutdown() */
	bool shut_pending;		/* the session's FIN waits behind buffered data */
	bool peek_dry;			/* the last peek read all the socket had */
	bool want_ack;
	bool recovering;		/* rewound: duplicate ACKs of the old burst do not count */
	bool starved;			/* refused a stash: window 0 until its socket has room */
	bool dead;			/* freed at the end of the current pass */

	/*
	 * Session data the host socket did not take yet, already acknowledged:
	 * the window we advertise is what is left of TF_RCV_WND, so the right
	 * edge never moves back. Allocated the first time a send() falls short.
	 */
	uint8_t *rbuf;
	size_t rstart, rlen;
};

struct nsess_tcpfast {
	int tap_fd;
	size_t vnet_len;		/* virtio-net header before each frame, 0 if none */
	uint32_t addr4, gw4, net4, mask4;	/* network order */
	bool ipv6;
	struct in6_addr addr6, gw6, net6;
	uint8_t prefix6;
	bool allow_host_loopback;
	uint32_t mtu;

	struct tf_flow *flows;
	struct tf_flow *hash[TF_HASH];
	size_t n_flows;
	size_t n_stash, stash_max;	/* flows holding an rbuf; the most that may */

	uint8_t *frames;		/* TF_BATCH data frames, allocated with the first flow */
	size_t frame_size;
	uint16_t ip_id;
	uint64_t isn_state;

	struct nsess_tcpfast_stats stats;
};

static int64_t tf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- flows --------------------------------------------------------------- */

static unsigned int tf_hash(const uint8_t *daddr, uint16_t sport, uint16_t dport)
{
	uint32_t w[4], h;

	memcpy(w, daddr, 16);
	h = w[0] ^ w[1] ^ w[2] ^ w[3] ^ ((uint32_t)sport << 16 | dport);

	h ^= h >> 16;
	h *= 0x45d9f3bu;
	h ^= h >> 16;
	return h % TF_HASH;
}

/* @saddr, @daddr: 16 bytes each, IPv4 ones zero-padded */
static struct tf_flow *tf_lookup(struct nsess_tcpfast *tf, bool v6, const uint8_t *saddr,
				 const uint8_t *daddr, uint16_t sport, uint16_t dport)
{
	struct tf_flow *fl;

	for (fl = tf->hash[tf_hash(daddr, sport, dport)]; fl; fl = fl->hnext)
		if (fl->v6 == v6 && fl->sport == sport && fl->dport == dport && !fl->dead &&
		    memcmp(fl->saddr, saddr, 16) == 0 && memcmp(fl->daddr, daddr, 16) == 0)
			return fl;
	return NULL;
}

static void tf_forget(struct nsess_tcpfast *tf, struct tf_flow *fl)
{
	struct tf_flow **pp = &tf->hash[tf_hash(fl->daddr, fl->sport, fl->dport)];

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == fl) {
			*pp = fl->hnext;
			break;
		}
	}
	if (fl->prev)
		fl->prev->next = fl->next;
	else
		tf->flows = fl->next;
	if (fl->next)
		fl->next->prev = fl->prev;
	if (fl->fd >= 0)
		close(fl->fd);
	tf->n_flows--;
	if (fl->rbuf)
		tf->n_stash--;
	free(fl->rbuf);
	free(fl);
}

/* Close the host socket now (with a reset if @rst); the record goes at the end of the pass. */
static void tf_kill(struct tf_flow *fl, bool rst)
{
	if (fl->fd >= 0) {
		if (rst) {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };

			setsockopt(fl->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		close(fl->fd);
		fl->fd = -1;
	}
	fl->dead = true;
}

/*
 * Both FINs are through: the flow is done once the session's data and FIN
 * that wait in its stash reached the host socket (shutdown() in tf_drain),
 * never before, or closing would throw away what was acknowledged.
 */
static void tf_maybe_done(struct tf_flow *fl)
{
	if (fl->sess_fin && fl->fin_acked && !fl->rlen && !fl->shut_pending)
		tf_kill(fl, false);
}

static void tf_reap(struct nsess_tcpfast *tf)
{
	struct tf_flow *fl = tf->flows, *next;

	for (; fl; fl = next) {
		next = fl->next;
		if (fl->dead)
			tf_forget(tf, fl);
	}
}

/* ---- frames to the session ---------------------------------------------- */

static void tf_write(struct nsess_tcpfast *tf, const struct tf_flow *fl, const uint8_t *f,
		     size_t len)
{
	uint8_t hdr[NSESS_VNET_HDR_MAX] = { 0 };
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = tf->vnet_len },
		{ .iov_base = (void *)f, .iov_len = len },
	};
	ssize_t n;

	if (tf->vnet_len) {
		/* the TCP checksum field holds the pseudo-header sum (tf_build()) */
		nsess_vnet_hdr_partial(hdr, (uint16_t)(fl->hdr - TF_TCP), 16);
		/* more than one of the session's segments: it takes them as one (tf_seg_max()) */
		if (len > (size_t)fl->hdr + fl->mss) {
			nsess_vnet_hdr_gso(hdr, fl->v6, fl->hdr, fl->mss);
			tf->stats.gso_frames++;
		}
	}
	do
		n = tf->vnet_len ? writev(tf->tap_fd, iov, 2) : write(tf->tap_fd, f, len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		/* a full or downed TAP drops; the retransmission timer recovers */
		tf->stats.frames_dropped++;
		return;
	}
	tf->stats.frames_out++;
	tf->stats.bytes_out += (uint64_t)len;
}

static uint16_t tf_wnd_field(const struct tf_flow *fl, bool syn)
{
	/*
	 * A starved flow closes its window (the one place its right edge moves
	 * back): the session then probes instead of resending into a drop, and
	 * the update when the host socket has room brings it back at once.
	 */
	uint32_t w = fl->sess_fin || fl->starved ? 0 : TF_RCV_WND - (uint32_t)fl->rlen;

	if (!syn)
		w >>= fl->rcv_ws;
	return w > 0xffff ? 0xffff : (uint16_t)w;
}

/*
 * Headers of one frame to the session: @optlen bytes of TCP options and
 * @paylen bytes of payload already sit after them. Return: the frame length.
 */
static size_t tf_build(struct nsess_tcpfast *tf, const struct tf_flow *fl, uint8_t *f,
		       uint8_t flags, uint32_t seq, size_t optlen, size_t paylen)
{
	uint8_t *ip = f + TF_ETH, *th = f + fl->hdr - TF_TCP;
	size_t tcplen = TF_TCP + optlen + paylen;
	uint64_t acc;

	memcpy(f, fl->smac, 6);
	memcpy(f + 6, fl->gmac, 6);
	if (fl->v6) {
		f[12] = 0x86;
		f[13] = 0xdd;
		wire_wr32(ip, 0x60000000);
		wire_wr16(ip + 4, (uint16_t)tcplen);
		ip[6] = IPPROTO_TCP;
		ip[7] = 64;
		memcpy(ip + 8, fl->daddr, 16);
		memcpy(ip + 24, fl->saddr, 16);
		acc = nsess_csum_pseudo(ip, true, IPPROTO_TCP, tcplen);
		goto tcp;
	}
	f[12] = 0x08;
	f[13] = 0x00;

	ip[0] = 0x45;
	ip[1] = 0;
	wire_wr16(ip + 2, (uint16_t)(TF_IP + tcplen));
	wire_wr16(ip + 4, tf->ip_id++);
	wire_wr16(ip + 6, 0x4000);	/* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	ip[10] = ip[11] = 0;
	memcpy(ip + 12, fl->daddr, 4);
	memcpy(ip + 16, fl->saddr, 4);
	nsess_csum_store(ip + 10, nsess_csum_add(0, ip, TF_IP));
	acc = nsess_csum_pseudo(ip, false, IPPROTO_TCP, tcplen);
tcp:

	memcpy(th, &fl->dport, 2);
	memcpy(th + 2, &fl->sport, 2);
	wire_wr32(th + 4, seq);
	wire_wr32(th + 8, flags & TH_ACK ? fl->rcv_nxt : 0);
	th[12] = (uint8_t)(((TF_TCP + optlen) / 4) << 4);
	th[13] = flags;
	wire_wr16(th + 14, tf_wnd_field(fl, flags & TH_SYN));
	th[16] = th[17] = 0;
	th[18] = th[19] = 0;
	if (tf->vnet_len) {
		/* left to the session's kernel, which takes it as done (vnet.h) */
		uint16_t partial = nsess_csum_fold(acc);

		memcpy(th + 16, &partial, 2);
	} else {
		nsess_csum_store(th + 16, nsess_csum_add(acc, th, tcplen));
	}
	return (size_t)fl->hdr + optlen + paylen;
}

/* A segment without payload (SYN-ACK, ACK, FIN, RST). */
static void tf_send_ctl(struct nsess_tcpfast *tf, struct tf_flow *fl, uint8_t flags, uint32_t seq)
{
	uint8_t f[TF_HDR6 + TF_SYNOPT];
	size_t optlen = 0;

	if (flags & TH_SYN) {
		uint8_t *o = f + fl->hdr;

		o[0] = 2;	/* MSS */
		o[1] = 4;
		wire_wr16(o + 2, (uint16_t)(TF_ETH + tf->mtu - fl->hdr));
		optlen = 4;
		if (fl->rcv_ws) {
			o[4] = 1;	/* NOP */
			o[5] = 3;	/* window scale */
			o[6] = 3;
			o[7] = fl->rcv_ws;
			optlen = 8;
		}
	}
	tf_write(tf, fl, f, tf_build(tf, fl, f, flags, seq, optlen, 0));
	if (flags & TH_ACK)
		fl->want_ack = false;
}

static void tf_arm_rto(struct tf_flow *fl)
{
	if (!fl->rto_at)
		fl->rto_at = tf_now_ms() + fl->rto_ms;
}

/* Reset the session's side and drop the flow. */
static void tf_reset(struct nsess_tcpfast *tf, struct tf_flow *fl)
{
	tf_send_ctl(tf, fl, TH_RST | TH_ACK, fl->snd_nxt);
	tf_kill(fl, true);
}

/* bytes of host data in flight (without our SYN or FIN) */
static uint32_t tf_data_in_flight(const struct tf_flow *fl)
{
	uint32_t n = fl->snd_nxt - fl->snd_una;

	if (fl->fin_sent && !fl->fin_acked && n)
		n--;
	return n;
}

/*
 * The payload of one data frame to the session. Behind a virtio-net header
 * a frame may carry several of the session's segments at once (GSO: its
 * kernel takes the lot as one, as its receive offload would have merged
 * them), up to what the link's MTU holds; that halves the frames, writes
 * and ACKs of a download whose MSS is half the MTU (the routes' advmss,
 * netplan.h). Without the header, one segment per frame.
 */
static size_t tf_seg_max(const struct nsess_tcpfast *tf, const struct tf_flow *fl)
{
	size_t link = TF_ETH + tf->mtu - fl->hdr;

	return tf->vnet_len && link > fl->mss ? link : fl->mss;
}

/* Host -> session: peek what the window allows into frames and write them. */
static void tf_push(struct nsess_tcpfast *tf, struct tf_flow *fl)
{
	size_t seg = tf_seg_max(tf, fl);
	int round;

	if (fl->dead || fl->state != TF_ESTAB || fl->fin_sent)
		return;
	for (round = 0; round < TF_PUSH_ROUNDS; round++) {
		struct iovec iov[TF_BATCH];
		struct msghdr msg = { .msg_iov = iov };
		uint32_t in_flight = fl->snd_nxt - fl->snd_una;
		uint32_t room = fl->snd_wnd > in_flight ? fl->snd_wnd - in_flight : 0;
		size_t want = 0, done = 0, k;
		ssize_t n;

		if (!room || fl->host_eof)
			break;
		for (k = 0; k < TF_BATCH && want < room; k++) {
			size_t l = room - want < seg ? room - want : seg;

			iov[k].iov_base = tf->frames + k * tf->frame_size + fl->hdr;
			iov[k].iov_len = l;
			want += l;
		}
		msg.msg_iovlen = k;
		do
			n = recvmsg(fl->fd, &msg, MSG_PEEK | MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			if (errno == EAGAIN) {
				fl->peek_dry = true;
				break;
			}
			tf_reset(tf, fl);
			return;
		}
		if (n == 0) {
			fl->host_eof = true;
			break;
		}
		for (k = 0; done < (size_t)n; k++) {
			uint8_t *f = tf->frames + k * tf->frame_size;
			size_t l = (size_t)n - done < iov[k].iov_len ? (size_t)n - done : iov[k].iov_len;
			uint8_t flags = TH_ACK | (done + l == (size_t)n ? TH_PSH : 0);

			tf_write(tf, fl, f, tf_build(tf, fl, f, flags, fl->snd_nxt + (uint32_t)done, 0, l));
			done += l;
		}
		fl->snd_nxt += (uint32_t)n;
		fl->want_ack = false;
		tf_arm_rto(fl);
		if ((size_t)n < want) {
			fl->peek_dry = true;
			break;
		}
	}
	if (fl->host_eof && !fl->fin_sent) {
		tf_send_ctl(tf, fl, TH_FIN | TH_ACK, fl->snd_nxt);
		fl->snd_nxt++;
		fl->fin_sent = true;
		tf_arm_rto(fl);
	}
}

/* Go back to the last byte the session acknowledged. */
static void tf_rewind(struct nsess_tcpfast *tf, struct tf_flow *fl)
{
	int zero = 0;

	tf->stats.retransmits++;
	fl->dupacks = 0;
	fl->recovering = true;
	if (fl->state == TF_SYNACK) {
		tf_send_ctl(tf, fl, TH_SYN | TH_ACK, fl->iss);
		return;
	}
	if (fl->fin_sent && !fl->fin_acked)
		fl->fin_sent = false;
	fl->snd_nxt = fl->snd_una;
	if (setsockopt(fl->fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0) {
		tf_reset(tf, fl);
		return;
	}
	fl->peek_dry = false;
	fl->host_eof = false;
	tf_push(tf, fl);
}

/* ---- frames from the session -------------------------------------------- */

static void tf_synack(struct nsess_tcpfast *tf, struct tf_flow *fl)
{
	fl->state = TF_SYNACK;
	fl->snd_una = fl->iss;
	fl->snd_nxt = fl->iss + 1;
	tf_send_ctl(tf, fl, TH_SYN | TH_ACK, fl->iss);
	tf_arm_rto(fl);
}

static uint32_t tf_isn(struct nsess_tcpfast *tf)
{
	uint64_t x = tf->isn_state ^ (uint64_t)tf_now_ms() * 0x9e3779b97f4a7c15ull;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	tf->isn_state = x;
	return (uint32_t)x;
}

enum tf_verdict { TF_PASS, TF_TAKE };

/* Is an IPv4 SYN to @daddr ours? Writes where to connect. */
static enum tf_verdict tf_eligible(const struct nsess_tcpfast *tf, uint32_t saddr,
				   uint32_t daddr, struct in_addr *to)
{
	uint32_t h = ntohl(daddr);
	uint8_t first = (uint8_t)(h >> 24);

	if (saddr != tf->addr4)
		return TF_PASS;
	if (daddr == tf->gw4) {
		if (!tf->allow_host_loopback)
			return TF_PASS;	/* libslirp refuses it */
		to->s_addr = htonl(INADDR_LOOPBACK);
		return TF_TAKE;
	}
	/* the DNS forwarder and the rest of the session's network are libslirp's */
	if ((daddr & tf->mask4) == tf->net4)
		return TF_PASS;
	if (first == 0 || first == 127 || first >= 224)
		return TF_PASS;
	/*
	 * Link-local and the metadata service without host loopback never get
	 * here: guard.c refuses them before this path sees the frame.
	 */
	to->s_addr = daddr;
	return TF_TAKE;
}

/* The same for IPv6: the gateway means host loopback, the session's /64 is libslirp's. */
static enum tf_verdict tf_eligible6(const struct nsess_tcpfast *tf, const uint8_t *saddr,
				    const uint8_t *daddr, struct in6_addr *to)
{
	if (!tf->ipv6 || memcmp(saddr, tf->addr6.s6_addr, 16) != 0)
		return TF_PASS;
	if (memcmp(daddr, tf->gw6.s6_addr, 16) == 0) {
		if (!tf->allow_host_loopback)
			return TF_PASS;
		*to = in6addr_loopback;
		return TF_TAKE;
	}
	memcpy(to->s6_addr, daddr, 16);	/* also where to connect, if taken */
	if (nsess_netplan_in_net6(to, &tf->net6, tf->prefix6))
		return TF_PASS;
	/*
	 * ::/8 (unspecified, loopback, IPv4-mapped and -compatible, NAT64's
	 * 64:ff9b::/96), multicast and link-local stay libslirp's, as guard.c
	 * has its say on them first.
	 */
	if (daddr[0] == 0 || daddr[0] == 0xff || (daddr[0] == 0xfe && (daddr[1] & 0xc0) == 0x80))
		return TF_PASS;
	return TF_TAKE;	/* @to holds @daddr already */
}

static void tf_syn_options(struct tf_flow *fl, const uint8_t *o, size_t len, uint16_t mss_max)
{
	uint16_t mss = 536;
	bool ws = false;
	uint8_t shift = 0;
	size_t i = 0;

	while (i < len) {
		uint8_t kind = o[i];

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len || o[i + 1] < 2 || i + o[i + 1] > len)
			break;
		if (kind == 2 && o[i + 1] == 4)
			mss = wire_rd16(o + i + 2);
		else if (kind == 3 && o[i + 1] == 3) {
			ws = true;
			shift = o[i + 2] > 14 ? 14 : o[i + 2];
		}
		i += o[i + 1];
	}
	if (mss < 64)
		mss = 64;
	fl->mss = mss < mss_max ? mss : mss_max;
	fl->snd_ws = ws ? shift : 0;
	fl->rcv_ws = ws ? TF_WS : 0;
}

/* A new SYN: Return: true if the path took it. */
static bool tf_open(struct nsess_tcpfast *tf, const uint8_t *f, bool v6, const uint8_t *saddr,
		    const uint8_t *daddr, uint16_t sport, uint16_t dport, const uint8_t *th,
		    size_t doff)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = dport };
	struct sockaddr_in6 to6 = { .sin6_family = AF_INET6, .sin6_port = dport };
	struct tf_flow *fl;
	int one = 1, zero = 0;
	unsigned int h;
	uint32_t s4, d4;
	enum tf_verdict v;

	memcpy(&s4, saddr, 4);
	memcpy(&d4, daddr, 4);
	v = v6 ? tf_eligible6(tf, saddr, daddr, &to6.sin6_addr) : tf_eligible(tf, s4, d4, &to.sin_addr);
	if (v == TF_PASS)
		return false;
	if (tf->n_flows >= TF_MAX_FLOWS)
		return false;
	if (!tf->frames) {
		tf->frames = malloc(TF_BATCH * tf->frame_size);
		if (!tf->frames)
			return false;
	}
	fl = calloc(1, sizeof(*fl));
	if (!fl)
		return false;
	fl->fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* without SO_PEEK_OFF for TCP (Linux < 6.9) libslirp keeps the flow */
	if (fl->fd < 0 ||
	    setsockopt(fl->fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0) {
		if (fl->fd >= 0)
			close(fl->fd);
		free(fl);
		return false;
	}
	setsockopt(fl->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	memcpy(fl->saddr, saddr, 16);
	memcpy(fl->daddr, daddr, 16);
	fl->v6 = v6;
	fl->hdr = v6 ? TF_HDR6 : TF_HDR;
	fl->sport = sport;
	fl->dport = dport;
	fl->pfd = -1;
	memcpy(fl->smac, f + 6, 6);
	memcpy(fl->gmac, f, 6);
	tf_syn_options(fl, th + TF_TCP, doff - TF_TCP, (uint16_t)(TF_ETH + tf->mtu - fl->hdr));
	fl->rcv_nxt = wire_rd32(th + 4) + 1;
	fl->snd_wnd = wire_rd16(th + 14);	/* a SYN's window is never scaled */
	fl->iss = tf_isn(tf);
	fl->snd_una = fl->snd_nxt = fl->iss;
	fl->rto_ms = TF_RTO_MIN_MS;
	fl->state = TF_CONNECTING;

	fl->next = tf->flows;
	if (tf->flows)
		tf->flows->prev = fl;
	tf->flows = fl;
	h = tf_hash(daddr, sport, dport);
	fl->hnext = tf->hash[h];
	tf->hash[h] = fl;
	tf->n_flows++;
	tf->stats.flows++;

	if ((v6 ? connect(fl->fd, (struct sockaddr *)&to6, sizeof(to6))
		: connect(fl->fd, (struct sockaddr *)&to, sizeof(to))) == 0)
		tf_synack(tf, fl);
	else if (errno != EINPROGRESS)
		tf_reset(tf, fl);
	return true;
}

/*
 * Drop @n acknowledged bytes from the host socket. MSG_TRUNC makes the
 * kernel skip the copy; the buffer named is the frame area anyway, so the
 * call never names memory it does not own (valgrind checks that).
 */
static void tf_discard(struct nsess_tcpfast *tf, struct tf_flow *fl, uint32_t n)
{
	size_t cap = TF_BATCH * tf->frame_size;

	while (n) {
		size_t chunk = n < cap ? n : cap;
		ssize_t r = recv(fl->fd, tf->frames, chunk, MSG_TRUNC | MSG_DONTWAIT);

		if (r < 0 && errno == EINTR)
			continue;
		if (r != (ssize_t)chunk) {
			tf_reset(tf, fl);
			return;
		}
		n -= (uint32_t)chunk;
	}
}

static void tf_on_ack(struct nsess_tcpfast *tf, struct tf_flow *fl, uint32_t ack, uint16_t wfield,
		      bool pure)
{
	uint32_t wnd = (uint32_t)wfield << fl->snd_ws;
	bool same_wnd = wfield == fl->last_wnd_field;

	/* the window first: a rewind below sends within it */
	fl->snd_wnd = wnd;
	fl->last_wnd_field = wfield;
	if (SEQ_GT(ack, fl->snd_una) && SEQ_LEQ(ack, fl->snd_nxt)) {
		uint32_t acked = ack - fl->snd_una;
		uint32_t data = tf_data_in_flight(fl);
		uint32_t d = acked < data ? acked : data;

		if (d) {
			tf_discard(tf, fl, d);
			if (fl->dead)
				return;
		}
		if (acked > d && fl->fin_sent)
			fl->fin_acked = true;
		fl->snd_una = ack;
		fl->dupacks = 0;
		fl->recovering = false;
		fl->retries = 0;
		fl->rto_ms = TF_RTO_MIN_MS;
		fl->rto_at = 0;
		if (fl->snd_una != fl->snd_nxt)
			tf_arm_rto(fl);
		fl->peek_dry = false;
	} else if (ack == fl->snd_una && pure && fl->snd_una != fl->snd_nxt && same_wnd &&
		   !fl->recovering) {
		if (++fl->dupacks == 3) {
			tf_rewind(tf, fl);
			return;
		}
	}
	/*
	 * A closed window with nothing in flight: the update that opens it
	 * could be lost, so probe it on the retransmission timer (persist).
	 */
	if (fl->snd_una == fl->snd_nxt && !fl->fin_sent) {
		if (!wnd)
			tf_arm_rto(fl);
		else
			fl->rto_at = 0;
	}
}

/* Write buffered session data to the host socket. Return: false if the flow died. */
static bool tf_drain(struct nsess_tcpfast *tf, struct tf_flow *fl)
{
	while (fl->rlen) {
		ssize_t n = send(fl->fd, fl->rbuf + fl->rstart, fl->rlen, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return true;
			tf_reset(tf, fl);
			return false;
		}
		fl->rstart += (size_t)n;
		fl->rlen -= (size_t)n;
		fl->want_ack = true;	/* the window opened */
	}
	fl->rstart = 0;
	if (fl->shut_pending) {
		fl->shut_pending = false;
		shutdown(fl->fd, SHUT_WR);
	}
	return true;
}

/* Take the stash of a flow that holds an empty one; Return: whether one was freed. */
static bool tf_stash_reclaim(struct nsess_tcpfast *tf)
{
	for (struct tf_flow *o = tf->flows; o; o = o->next) {
		if (o->rbuf && !o->rlen) {
			free(o->rbuf);
			o->rbuf = NULL;
			tf->n_stash--;
			tf->stats.stash_reclaimed++;
			return true;
		}
	}
	return false;
}

/*
 * Keep @len bytes the host socket refused; they fit (the window says so).
 * A flow keeps its stash while it lives, drained or not (a bulk upload
 * fills and drains it over and over); when all tf->stash_max are held, a
 * drained one is taken back for the flow that needs it. Return false,
 * keeping nothing, when none is drained or memory ran out: the caller then
 * acknowledges only what the host socket took, and the flow starves. This
 * bounds what a session's connections to slow or silent peers can make
 * the engine hold: stash_max MiB, however many flows.
 */
static bool tf_stash(struct nsess_tcpfast *tf, struct tf_flow *fl, const uint8_t *p, size_t len)
{
	if (!fl->rbuf) {
		if (tf->n_stash >= tf->stash_max && !tf_stash_reclaim(tf)) {
			tf->stats.stash_refused++;
			return false;
		}
		fl->rbuf = malloc(TF_RCV_WND);
		if (!fl->rbuf)
			return false;
		tf->n_stash++;
		if (tf->n_stash > tf->stats.stash_peak)
			tf->stats.stash_peak = tf->n_stash;
	}
	if (fl->rstart + fl->rlen + len > TF_RCV_WND) {
		memmove(fl->rbuf, fl->rbuf + fl->rstart, fl->rlen);
		fl->rstart = 0;
	}
	memcpy(fl->rbuf + fl->rstart + fl->rlen, p, len);
	fl->rlen += len;
	return true;
}

static void tf_on_data(struct nsess_tcpfast *tf, struct tf_flow *fl, uint32_t seq,
		       const uint8_t *pay, size_t plen, bool fin)
{
	size_t room = TF_RCV_WND - fl->rlen, n = 0;

	if (SEQ_LT(seq, fl->rcv_nxt)) {
		uint32_t skip = fl->rcv_nxt - seq;

		if (skip >= plen + fin) {
			fl->want_ack = true;	/* a retransmission we already have */
			return;
		}
		if (skip > plen)
			skip = (uint32_t)plen;	/* only the FIN is new */
		pay += skip;
		plen -= skip;
		seq += skip;
	}
	fl->want_ack = true;
	if (seq != fl->rcv_nxt || fl->sess_fin)
		return;	/* a hole: the duplicate ACK asks for it */
	if (plen > room) {
		plen = room;	/* past the window we offered */
		fin = false;
	}
	if (plen && !fl->rlen) {
		ssize_t r;

		do
			r = send(fl->fd, pay, plen, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (r < 0 && errno == EINTR);
		if (r < 0 && errno != EAGAIN) {
			tf_reset(tf, fl);
			return;
		}
		n = r < 0 ? 0 : (size_t)r;
	}
	if (n < plen && !tf_stash(tf, fl, pay + n, plen - n)) {
		/*
		 * No room: the rest, and its FIN, are not taken. The window
		 * closes until the host socket has room (POLLOUT), so the
		 * session waits and probes rather than resending into a drop.
		 */
		plen = n;
		fin = false;
		fl->starved = true;
	} else if (plen) {
		fl->starved = false;
	}
	fl->rcv_nxt += (uint32_t)plen;
	if (fin) {
		fl->rcv_nxt++;
		fl->sess_fin = true;
		if (fl->rlen)
			fl->shut_pending = true;
		else
			shutdown(fl->fd, SHUT_WR);
	}
}

static void tf_segment(struct nsess_tcpfast *tf, struct tf_flow *fl, const uint8_t *th,
		       const uint8_t *pay, size_t plen)
{
	uint8_t flags = th[13];
	uint32_t seq = wire_rd32(th + 4), ack = wire_rd32(th + 8);
	uint16_t wfield = wire_rd16(th + 14);

	if (flags & TH_RST) {
		/* accept a reset only at the edge of the window, as RFC 5961 asks */
		if (fl->state == TF_CONNECTING || seq == fl->rcv_nxt)
			tf_kill(fl, true);
		return;
	}
	if (fl->state == TF_CONNECTING)
		return;	/* the session repeats its SYN while the host connects */
	if (flags & TH_SYN) {
		if (fl->state == TF_SYNACK)
			tf_send_ctl(tf, fl, TH_SYN | TH_ACK, fl->iss);
		else
			fl->want_ack = true;
		return;
	}
	if (!(flags & TH_ACK))
		return;
	if (fl->state == TF_SYNACK) {
		if (ack != fl->iss + 1)
			return;
		fl->state = TF_ESTAB;
		fl->snd_una = ack;
		fl->rto_at = 0;
		fl->retries = 0;
		fl->snd_wnd = (uint32_t)wfield << fl->snd_ws;
		fl->last_wnd_field = wfield;
	} else {
		tf_on_ack(tf, fl, ack, wfield, plen == 0 && !(flags & TH_FIN));
		if (fl->dead)
			return;
	}
	if (plen || (flags & TH_FIN))
		tf_on_data(tf, fl, seq, pay, plen, flags & TH_FIN);
}

/* One TCP segment of either family, its headers checked against the frame. */
static bool tf_input_tcp(struct nsess_tcpfast *tf, const uint8_t *f, bool v6, const uint8_t *saddr,
			 const uint8_t *daddr, const uint8_t *th, size_t tcplen)
{
	size_t doff = (size_t)(th[12] >> 4) * 4;
	uint16_t sport, dport;
	struct tf_flow *fl;

	if (doff < TF_TCP || doff > tcplen)
		return false;
	memcpy(&sport, th, 2);
	memcpy(&dport, th + 2, 2);
	fl = tf_lookup(tf, v6, saddr, daddr, sport, dport);
	if (!fl) {
		if ((th[13] & (TH_SYN | TH_ACK | TH_RST | TH_FIN)) != TH_SYN)
			return false;
		return tf_open(tf, f, v6, saddr, daddr, sport, dport, th, doff);
	}
	tf_segment(tf, fl, th, th + doff, tcplen - doff);
	return true;
}

/*
 * IPv6: only TCP right behind the fixed header. A packet with extension
 * headers (fragments among them) is left to libslirp, as is anything the
 * plan has no IPv6 for.
 */
static bool tf_input6(struct nsess_tcpfast *tf, const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + TF_ETH;
	uint8_t saddr[16], daddr[16];
	size_t plen;

	if (!tf->ipv6 || len < TF_HDR6 || (ip[0] >> 4) != 6 || ip[6] != IPPROTO_TCP)
		return false;
	plen = wire_rd16(ip + 4);
	if (plen < TF_TCP || TF_ETH + TF_IP6 + plen > len)
		return false;
	memcpy(saddr, ip + 8, 16);
	memcpy(daddr, ip + 24, 16);
	return tf_input_tcp(tf, f, true, saddr, daddr, ip + TF_IP6, plen);
}

bool nsess_tcpfast_input(struct nsess_tcpfast *tf, const uint8_t *f, size_t len)
{
	uint8_t saddr[16] = { 0 }, daddr[16] = { 0 };
	const uint8_t *ip;
	size_t ihl, totlen;

	if (!tf || len < TF_HDR)
		return false;
	if (f[12] == 0x86 && f[13] == 0xdd)
		return tf_input6(tf, f, len);
	if (f[12] != 0x08 || f[13] != 0x00)
		return false;
	ip = f + TF_ETH;
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	if ((ip[0] >> 4) != 4 || ihl < TF_IP)
		return false;
	if (ip[9] != IPPROTO_TCP)
		return false;
	totlen = wire_rd16(ip + 2);
	if (totlen < ihl + TF_TCP || TF_ETH + totlen > len)
		return false;
	if (wire_rd16(ip + 6) & 0x3fff)
		return false;	/* a fragment: libslirp reassembles */
	memcpy(saddr, ip + 12, 4);
	memcpy(daddr, ip + 16, 4);
	return tf_input_tcp(tf, f, false, saddr, daddr, ip + ihl, totlen - ihl);
}

/* ---- the loop's hooks ----------------------------------------------------- */

void nsess_tcpfast_flush(struct nsess_tcpfast *tf)
{
	struct tf_flow *fl;

	if (!tf)
		return;
	for (fl = tf->flows; fl; fl = fl->next) {
		if (fl->dead)
			continue;
		/* a dry socket is read again on POLLIN or after an ACK (which clears peek_dry) */
		if (!fl->peek_dry)
			tf_push(tf, fl);
		if (fl->dead)
			continue;
		if (fl->want_ack)
			tf_send_ctl(tf, fl, TH_ACK, fl->snd_nxt);
		tf_maybe_done(fl);
	}
	tf_reap(tf);
}

size_t nsess_tcpfast_count(const struct nsess_tcpfast *tf)
{
	return tf ? tf->n_flows : 0;
}

void nsess_tcpfast_fill(struct nsess_tcpfast *tf, struct pollfd *p, size_t base)
{
	struct tf_flow *fl;
	size_t i = 0;

	if (!tf)
		return;
	for (fl = tf->flows; fl; fl = fl->next, i++) {
		short ev = 0;

		fl->pfd = (int)(base + i);
		if (fl->state == TF_CONNECTING || fl->rlen || fl->starved)
			ev |= POLLOUT;
		if (fl->state == TF_ESTAB && !fl->fin_sent && !fl->host_eof &&
		    fl->snd_wnd > fl->snd_nxt - fl->snd_una &&
		    (!fl->peek_dry || fl->snd_nxt == fl->snd_una))
			ev |= POLLIN;
		/* nothing wanted: a shut-down socket would report POLLHUP forever */
		p[i] = (struct pollfd){ .fd = ev ? fl->fd : -1, .events = ev };
	}
}

void nsess_tcpfast_poll(struct nsess_tcpfast *tf, const struct pollfd *pfds, size_t n)
{
	struct tf_flow *fl;

	if (!tf)
		return;
	for (fl = tf->flows; fl; fl = fl->next) {
		short rev;
		int i = fl->pfd;

		fl->pfd = -1;
		if (fl->dead || i < 0 || (size_t)i >= n || pfds[i].fd != fl->fd)
			continue;
		rev = pfds[i].revents;
		if (!rev)
			continue;
		if (fl->state == TF_CONNECTING) {
			int err = 0;
			socklen_t l = sizeof(err);

			if (getsockopt(fl->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err)
				tf_reset(tf, fl);
			else
				tf_synack(tf, fl);
			continue;
		}
		if (rev & POLLERR) {
			tf_reset(tf, fl);
			continue;
		}
		if ((rev & POLLOUT) && fl->rlen && !tf_drain(tf, fl))
			continue;
		if ((rev & POLLOUT) && fl->starved) {
			fl->starved = false;	/* room again: the window update asks for more */
			fl->want_ack = true;
		}
		if (rev & (POLLIN | POLLHUP))
			tf_push(tf, fl);
		if (!fl->dead && fl->want_ack)
			tf_send_ctl(tf, fl, TH_ACK, fl->snd_nxt);
		if (!fl->dead)
			tf_maybe_done(fl);
	}
	tf_reap(tf);
}

int64_t nsess_tcpfast_timeout_ms(const struct nsess_tcpfast *tf)
{
	const struct tf_flow *fl;
	int64_t now, best = -1;

	if (!tf || !tf->flows)
		return -1;
	now = tf_now_ms();
	for (fl = tf->flows; fl; fl = fl->next) {
		int64_t left;

		if (!fl->rto_at)
			continue;
		left = fl->rto_at > now ? fl->rto_at - now : 0;
		if (best < 0 || left < best)
			best = left;
	}
	return best;
}

void nsess_tcpfast_timers(struct nsess_tcpfast *tf)
{
	struct tf_flow *fl;
	int64_t now;

	if (!tf || !tf->flows)
		return;
	now = tf_now_ms();
	for (fl = tf->flows; fl; fl = fl->next) {
		if (fl->dead || !fl->rto_at || fl->rto_at > now)
			continue;
		if (fl->state == TF_ESTAB && fl->snd_una == fl->snd_nxt) {
			/* zero-window probe: an old sequence number makes the session answer */
			fl->rto_ms = fl->rto_ms * 2 > TF_RTO_MAX_MS ? TF_RTO_MAX_MS : fl->rto_ms * 2;
			fl->rto_at = 0;
			tf_send_ctl(tf, fl, TH_ACK, fl->snd_una - 1);
			if (!fl->snd_wnd)
				tf_arm_rto(fl);
			continue;
		}
		if (++fl->retries > TF_RETRIES) {
			tf_reset(tf, fl);
			continue;
		}
		fl->rto_ms = fl->rto_ms * 2 > TF_RTO_MAX_MS ? TF_RTO_MAX_MS : fl->rto_ms * 2;
		fl->rto_at = 0;
		tf_rewind(tf, fl);
		if (!fl->dead && fl->snd_una != fl->snd_nxt)
			tf_arm_rto(fl);
	}
	tf_reap(tf);
}

struct nsess_tcpfast *nsess_tcpfast_new(const struct nsess_netplan *plan, int tap_fd,
					size_t vnet_len)
{
	struct nsess_tcpfast *tf = calloc(1, sizeof(*tf));
	struct timespec ts;

	if (!tf)
		return NULL;
	if (vnet_len > NSESS_VNET_HDR_MAX || (vnet_len && vnet_len < NSESS_VNET_HDR_LEN)) {
		free(tf);
		return NULL;
	}
	tf->tap_fd = tap_fd;
	tf->vnet_len = vnet_len;
	tf->addr4 = plan->addr4.s_addr;
	tf->gw4 = plan->gw4.s_addr;
	tf->mask4 = plan->prefix4 ? htonl(~(uint32_t)0 << (32 - plan->prefix4)) : 0;
	tf->net4 = plan->net4.s_addr & tf->mask4;
	tf->ipv6 = plan->ipv6;
	tf->addr6 = plan->addr6;
	tf->gw6 = plan->gw6;
	tf->net6 = plan->net6;
	tf->prefix6 = plan->prefix6;
	tf->allow_host_loopback = plan->allow_host_loopback;
	tf->mtu = plan->mtu;
	tf->frame_size = TF_ETH + plan->mtu;
	tf->stash_max = TF_STASH_FLOWS;
	clock_gettime(CLOCK_REALTIME, &ts);
	tf->isn_state = (uint64_t)ts.tv_nsec << 20 ^ (uint64_t)ts.tv_sec ^ (uintptr_t)tf;
	return tf;
}

void nsess_tcpfast_free(struct nsess_tcpfast *tf)
{
	if (!tf)
		return;
	while (tf->flows)
		tf_forget(tf, tf->flows);
	free(tf->frames);
	free(tf);
}

void nsess_tcpfast_get_stats(const struct nsess_tcpfast *tf, struct nsess_tcpfast_stats *out)
{
	if (tf) {
		*out = tf->stats;
		out->stashes = tf->n_stash;
	} else {
		memset(out, 0, sizeof(*out));
	}
}

void nsess_tcpfast_set_stash_max(struct nsess_tcpfast *tf, size_t flows)
{
	tf->stash_max = flows;
}
