/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guard.c - refuse frames from the session to the host's loopback,
 * link-local and metadata addresses. See guard.h for the rules.
 */
#include "guard.h"
#include "wire.h"

#include <arpa/inet.h>
#include <string.h>

#define ETH 14
#define ET_IP4 0x0800
#define ET_IP6 0x86dd

static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += wire_rd16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

void nsess_guard_init(struct nsess_guard *g, const struct nsess_netplan *plan)
{
	memset(g, 0, sizeof(*g));
	g->allow_host_loopback = plan->allow_host_loopback;
	g->mask4 = plan->prefix4 ? htonl(~(uint32_t)0 << (32 - plan->prefix4)) : 0;
	g->net4 = plan->net4.s_addr & g->mask4;
	g->gw4 = plan->gw4.s_addr;
	g->ipv6 = plan->ipv6;
	g->net6 = plan->net6;
	g->gw6 = plan->gw6;
	g->prefix6 = plan->prefix6;
}

/* ---- IPv4 ------------------------------------------------------------------ */

static bool refused4(const struct nsess_guard *g, uint32_t daddr)
{
	uint32_t h = ntohl(daddr);

	if ((daddr & g->mask4) == g->net4)
		return false;
	return (h >> 24) == 0 || (h >> 24) == 127 || (h >> 16) == 0xa9fe ||
	       (h >> 8) == 0xe00000;
}

/* ICMP types that are errors: never answered (RFC 1122 3.2.2) */
static bool icmp4_is_error(uint8_t type)
{
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

static enum nsess_guard_verdict check4(const struct nsess_guard *g, const uint8_t *ip,
				       size_t len, char *dst)
{
	size_t ihl;
	uint32_t saddr, daddr, hs;

	if (len < 20 || (ip[0] >> 4) != 4)
		return NSESS_GUARD_PASS;
	memcpy(&daddr, ip + 16, 4);
	if (!refused4(g, daddr))
		return NSESS_GUARD_PASS;
	if (dst)
		inet_ntop(AF_INET, &daddr, dst, INET6_ADDRSTRLEN);
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	memcpy(&saddr, ip + 12, 4);
	hs = ntohl(saddr);
	/* no answer to a multicast, a later fragment, an odd source or an ICMP error */
	if ((ntohl(daddr) >> 28) == 0xe || (wire_rd16(ip + 6) & 0x1fff) || ihl < 20 || len < ihl ||
	    hs == 0 || hs == 0xffffffff || (hs >> 28) == 0xe)
		return NSESS_GUARD_DROP;
	if (ip[9] == IPPROTO_ICMP && (len < ihl + 1 || icmp4_is_error(ip[ihl])))
		return NSESS_GUARD_DROP;
	return NSESS_GUARD_REJECT;
}

/* ---- IPv6 ------------------------------------------------------------------ */

/*
 * The upper-layer protocol behind the extension headers, and where it
 * starts; -1 when it cannot be told (a later fragment, a truncated chain).
 */
static int upper6(const uint8_t *ip, size_t len, size_t *off)
{
	uint8_t nh = ip[6];
	size_t o = 40;
	int i;

	for (i = 0; i < 8; i++) {
		switch (nh) {
		case 0:		/* hop-by-hop */
		case 43:	/* routing */
		case 60:	/* destination options */
			if (o + 2 > len)
				return -1;
			nh = ip[o];
			o += ((size_t)ip[o + 1] + 1) * 8;
			break;
		case 44:	/* fragment */
			if (o + 8 > len || (wire_rd16(ip + o + 2) & 0xfff8))
				return -1;
			nh = ip[o];
			o += 8;
			break;
		default:
			*off = o;
			return nh;
		}
	}
	return -1;
}

static enum nsess_guard_verdict check6(const struct nsess_guard *g, const uint8_t *ip,
				       size_t len, char *dst)
{
	static const uint8_t zero10[10];
	static const uint8_t aws[8] = { 0xfd, 0x00, 0x0e, 0xc2 };
	const uint8_t *d = ip + 24, *s = ip + 8;
	struct in6_addr da;
	bool ll_ucast, ll_mcast, refused;
	size_t off = 0;
	int up;

	if (len < 40 || (ip[0] >> 4) != 6)
		return NSESS_GUARD_PASS;
	memcpy(&da, d, 16);
	if (g->ipv6 && nsess_netplan_in_net6(&da, &g->net6, g->prefix6))
		return NSESS_GUARD_PASS;
	up = upper6(ip, len, &off);
	ll_ucast = d[0] == 0xfe && (d[1] & 0xc0) == 0x80;
	ll_mcast = d[0] == 0xff && (d[1] & 0x0f) == 0x02;
	/* ::/96 (with :: and ::1) and ::ffff:0:0/96: the first 10 bytes zero */
	refused = (memcmp(d, zero10, 10) == 0 &&
		   ((d[10] == 0 && d[11] == 0) || (d[10] == 0xff && d[11] == 0xff))) ||
		  memcmp(d, aws, 8) == 0 || ((ll_ucast || ll_mcast) && up != IPPROTO_ICMPV6);
	if (!refused)
		return NSESS_GUARD_PASS;
	if (dst)
		inet_ntop(AF_INET6, d, dst, INET6_ADDRSTRLEN);
	/* no answer to multicast, an unspecified or multicast source, an ICMPv6 error */
	if (d[0] == 0xff || s[0] == 0xff || memcmp(s, in6addr_any.s6_addr, 16) == 0 || up < 0)
		return NSESS_GUARD_DROP;
	if (up == IPPROTO_ICMPV6 && (off >= len || ip[off] < 128))
		return NSESS_GUARD_DROP;
	return NSESS_GUARD_REJECT;
}

enum nsess_guard_verdict nsess_guard_check(const struct nsess_guard *g, const uint8_t *f,
					   size_t len, char *dst)
{
	uint16_t et;

	if (g->allow_host_loopback || len < ETH)
		return NSESS_GUARD_PASS;
	et = wire_rd16(f + 12);
	if (et == ET_IP4)
		return check4(g, f + ETH, len - ETH, dst);
	if (et == ET_IP6)
		return check6(g, f + ETH, len - ETH, dst);
	return NSESS_GUARD_PASS;
}

/* ---- answers ----------------------------------------------------------------- */

static size_t answer4(const struct nsess_guard *g, const uint8_t *ip, size_t len, uint8_t *o,
		      size_t cap)
{
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4, q = ihl + 8, tot;
	uint8_t *h = o + ETH, *ic = h + 20;

	if (q > len)
		q = len;
	tot = 20 + 8 + q;
	if (ETH + tot > cap)
		return 0;
	memset(h, 0, 28);
	h[0] = 0x45;
	h[1] = 0xc0;
	wire_wr16(h + 2, (uint16_t)tot);
	h[8] = 64;
	h[9] = IPPROTO_ICMP;
	memcpy(h + 12, &g->gw4, 4);
	memcpy(h + 16, ip + 12, 4);
	wire_wr16(h + 10, fold(sum16(0, h, 20)));
	ic[0] = 3;	/* destination unreachable */
	ic[1] = 13;	/* communication administratively prohibited */
	memcpy(ic + 8, ip, q);
	wire_wr16(ic + 2, fold(sum16(0, ic, 8 + q)));
	return ETH + tot;
}

static size_t answer6(const struct nsess_guard *g, const uint8_t *ip, size_t len, uint8_t *o,
		      size_t cap)
{
	size_t q = len > 1232 ? 1232 : len, plen = 8 + q;
	uint8_t *h = o + ETH, *ic = h + 40;
	uint32_t s;

	if (ETH + 40 + plen > cap)
		return 0;
	memset(h, 0, 48);
	h[0] = 0x60;
	wire_wr16(h + 4, (uint16_t)plen);
	h[6] = IPPROTO_ICMPV6;
	h[7] = 64;
	memcpy(h + 8, g->gw6.s6_addr, 16);
	memcpy(h + 24, ip + 8, 16);
	ic[0] = 1;	/* destination unreachable */
	ic[1] = 1;	/* communication with destination administratively prohibited */
	memcpy(ic + 8, ip, q);
	s = sum16(0, h + 8, 32);
	s += (uint32_t)plen + IPPROTO_ICMPV6;
	wire_wr16(ic + 2, fold(sum16(s, ic, plen)));
	return ETH + 40 + plen;
}

size_t nsess_guard_answer(const struct nsess_guard *g, const uint8_t *f, size_t len,
			  uint8_t *out, size_t cap)
{
	size_t n = 0;

	if (len < ETH + 20 || cap < ETH || (f[0] & 1) || (f[6] & 1))
		return 0;
	if (wire_rd16(f + 12) == ET_IP4)
		n = answer4(g, f + ETH, len - ETH, out, cap);
	else if (wire_rd16(f + 12) == ET_IP6 && len >= ETH + 40)
		n = answer6(g, f + ETH, len - ETH, out, cap);
	if (!n)
		return 0;
	memcpy(out, f + 6, 6);
	memcpy(out + 6, f, 6);
	wire_wr16(out + 12, wire_rd16(f + 12));
	return n;
}
