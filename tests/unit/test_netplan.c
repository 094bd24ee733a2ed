/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_netplan.c - the pure network plan: parsers, validation, file texts,
 * libslirp's MACs.
 */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "netplan.h"
#include "testlib.h"

static struct in_addr ip4(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1, "bad test address %s", s);
	return a;
}

static struct in6_addr ip6(const char *s)
{
	struct in6_addr a;

	cr_assert_eq(inet_pton(AF_INET6, s, &a), 1, "bad test address %s", s);
	return a;
}

/* ---- defaults and modes ------------------------------------------------- */

Test(netplan, defaults)
{
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	struct in6_addr a6;

	memset(&p, 0xa5, sizeof(p));
	nsess_netplan_defaults(&p);
	cr_assert_eq(p.mode, NSESS_NET_SLIRP);
	cr_assert_str_eq(p.ifname, "tap0");
	cr_assert_eq(p.mtu, 65520);
	cr_assert_eq(p.net4.s_addr, ip4("10.0.2.0").s_addr);
	cr_assert_eq(p.prefix4, 24);
	cr_assert_eq(p.addr4.s_addr, ip4("10.0.2.100").s_addr);
	cr_assert_eq(p.gw4.s_addr, ip4("10.0.2.2").s_addr);
	cr_assert_eq(p.dns4.s_addr, ip4("10.0.2.3").s_addr);
	cr_assert(p.ipv6);
	a6 = ip6("fd00::");
	cr_assert_eq(memcmp(&p.net6, &a6, 16), 0);
	cr_assert_eq(p.prefix6, 64);
	a6 = ip6("fd00::100");
	cr_assert_eq(memcmp(&p.addr6, &a6, 16), 0);
	a6 = ip6("fd00::2");
	cr_assert_eq(memcmp(&p.gw6, &a6, 16), 0);
	a6 = ip6("fd00::3");
	cr_assert_eq(memcmp(&p.dns6, &a6, 16), 0);
	cr_assert_not(p.allow_host_loopback);
	cr_assert_eq(p.n_publish, 0);
	cr_assert_str_eq(p.hostname, "nsession");
	cr_assert_eq(nsess_netplan_validate(&p, &e), 0, "%s", e.msg);
}

Test(netplan, mode_parse)
{
	static const struct {
		const char *in;
		int ret;
		enum nsess_net_mode mode;
	} t[] = {
		{ "slirp", 0, NSESS_NET_SLIRP },
		{ "none", 0, NSESS_NET_NONE },
		{ "host", 0, NSESS_NET_HOST },
		{ "", -EINVAL, 0 },
		{ "SLIRP", -EINVAL, 0 },
		{ "slirp ", -EINVAL, 0 },
		{ "pasta", -EINVAL, 0 },
	};
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(t); i++) {
		enum nsess_net_mode m = 99;
		struct nsess_error e = { 0 };
		int r = nsess_net_mode_parse(t[i].in, &m, &e);

		cr_assert_eq(r, t[i].ret, "\"%s\": got %d", t[i].in, r);
		if (r == 0) {
			cr_assert_eq(m, t[i].mode, "\"%s\"", t[i].in);
			cr_assert_str_eq(nsess_net_mode_name(m), t[i].in);
		} else {
			cr_assert_eq(m, 99, "output written on failure for \"%s\"", t[i].in);
			cr_assert_eq(e.err, EINVAL);
			cr_assert(strstr(e.msg, "slirp") && strstr(e.msg, "none") &&
				  strstr(e.msg, "host"), "choices missing: %s", e.msg);
		}
	}
	cr_assert_eq(nsess_net_mode_parse(NULL, &(enum nsess_net_mode){ 0 }, NULL), -EINVAL);
	cr_assert_str_eq(nsess_net_mode_name((enum nsess_net_mode)7), "unknown");
}

Test(netplan, mode_parse_escapes)
{
	struct nsess_error e = { 0 };
	enum nsess_net_mode m;

	cr_assert_eq(nsess_net_mode_parse("a\033[2Jb", &m, &e), -EINVAL);
	cr_assert_null(strchr(e.msg, '\033'), "escape byte reached the message: %s", e.msg);
	cr_assert(strstr(e.msg, "\\x1b"), "%s", e.msg);
}

/* ---- publish ------------------------------------------------------------ */

Test(netplan, publish_parse_good)
{
	static const struct {
		const char *in;
		const char *ip;
		uint16_t hport, gport;
		bool udp;
	} t[] = {
		{ "8080:80", "0.0.0.0", 8080, 80, false },
		{ "8080:80/tcp", "0.0.0.0", 8080, 80, false },
		{ "5353:53/udp", "0.0.0.0", 5353, 53, true },
		{ "127.0.0.1:2222:22", "127.0.0.1", 2222, 22, false },
		{ "192.168.1.10:1:65535/udp", "192.168.1.10", 1, 65535, true },
		{ "0.0.0.0:65535:1", "0.0.0.0", 65535, 1, false },
		{ "255.255.255.255:443:443/tcp", "255.255.255.255", 443, 443, false },
	};
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(t); i++) {
		struct nsess_publish r;
		struct nsess_error e = { 0 };

		cr_assert_eq(nsess_publish_parse(t[i].in, &r, &e), 0, "\"%s\": %s", t[i].in,
			     e.msg);
		cr_assert_eq(r.host_addr.s_addr, ip4(t[i].ip).s_addr, "\"%s\"", t[i].in);
		cr_assert_eq(r.host_port, t[i].hport, "\"%s\"", t[i].in);
		cr_assert_eq(r.guest_port, t[i].gport, "\"%s\"", t[i].in);
		cr_assert_eq(r.udp, t[i].udp, "\"%s\"", t[i].in);
	}
}

Test(netplan, publish_parse_bad)
{
	static const char *const t[] = {
		"",
		"8080",
		"8080:",
		":80",
		":",
		"0:80",
		"8080:0",
		"65536:80",
		"8080:65536",
		"4294967296:80",
		"08080:80",
		"8080:080",
		"+8080:80",
		"-1:80",
		"8080:80/",
		"8080:80/sctp",
		"8080:80/TCP",
		"8080:80/tcp/udp",
		"8080:80 ",
		" 8080:80",
		"8080 :80",
		"8080:80\n",
		":8080:80",
		"localhost:8080:80",
		"1.2.3:8080:80",
		"1.2.3.4.5:8080:80",
		"01.2.3.4:8080:80",
		"256.0.0.1:8080:80",
		"::1:8080:80",
		"[::1]:8080:80",
		"1.2.3.4:8080:80:1",
		"1.2.3.4:8080",
		"0x10:80",
		"1e3:80",
		"8080:80/udp\x01",
		"1111111111111111111111111111111111111111111111111111111111111111:80",
	};
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(t); i++) {
		struct nsess_publish r;
		struct nsess_error e = { 0 };

		memset(&r, 0x5a, sizeof(r));
		cr_assert_eq(nsess_publish_parse(t[i], &r, &e), -EINVAL, "accepted \"%s\"", t[i]);
		cr_assert_eq(e.err, EINVAL);
		cr_assert(strstr(e.msg, "[IP:]HOSTPORT:PORT"), "no form in: %s", e.msg);
		cr_assert_null(strchr(e.msg, '\n'), "raw newline in message: %s", e.msg);
		cr_assert_eq(r.host_port, 0x5a5a, "output written on failure for \"%s\"", t[i]);
	}
	cr_assert_eq(nsess_publish_parse(NULL, &(struct nsess_publish){ 0 }, NULL), -EINVAL);
}

Test(netplan, publish_add)
{
	struct nsess_netplan p;
	struct nsess_publish r;
	struct nsess_error e = { 0 };
	static const struct {
		const char *in;
		int ret;
	} t[] = {
		{ "127.0.0.1:8080:80", 0 },
		{ "127.0.0.1:8080:81", -EEXIST },	/* same address, port, proto */
		{ "127.0.0.1:8080:80/udp", 0 },		/* other protocol */
		{ "127.0.0.2:8080:80", 0 },		/* other address */
		{ "8080:80", -EEXIST },			/* wildcard over a bound port */
		{ "9090:90", 0 },
		{ "10.0.0.1:9090:90", -EEXIST },	/* specific under a wildcard */
		{ "9091:90", 0 },			/* same guest port is fine */
	};
	unsigned int i, n = 0;

	nsess_netplan_defaults(&p);
	for (i = 0; i < NSESS_ARRAY_SIZE(t); i++) {
		cr_assert_eq(nsess_publish_parse(t[i].in, &r, NULL), 0, "%s", t[i].in);
		memset(&e, 0, sizeof(e));
		cr_assert_eq(nsess_netplan_add_publish(&p, &r, &e), t[i].ret, "%s: %s", t[i].in,
			     e.msg);
		if (t[i].ret == 0)
			n++;
		else
			cr_assert(strstr(e.msg, "already published"), "%s", e.msg);
		cr_assert_eq(p.n_publish, n);
	}
	cr_assert_eq(nsess_netplan_validate(&p, &e), 0, "%s", e.msg);
}

Test(netplan, publish_add_limit)
{
	struct nsess_netplan p;
	struct nsess_publish r = { .udp = false, .host_port = 0, .guest_port = 80 };
	struct nsess_error e = { 0 };
	unsigned int i;

	nsess_netplan_defaults(&p);
	r.host_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < NSESS_PUBLISH_MAX; i++) {
		r.host_port = (uint16_t)(10000 + i);
		cr_assert_eq(nsess_netplan_add_publish(&p, &r, &e), 0, "%u: %s", i, e.msg);
	}
	r.host_port = 20000;
	cr_assert_eq(nsess_netplan_add_publish(&p, &r, &e), -E2BIG);
	cr_assert_eq(e.err, E2BIG);
	cr_assert(strstr(e.msg, "32"), "%s", e.msg);
	cr_assert_eq(p.n_publish, NSESS_PUBLISH_MAX);
}

/* ---- MTU ---------------------------------------------------------------- */

Test(netplan, mtu_parse)
{
	static const struct {
		const char *in;
		int ret;
		uint32_t v;
	} t[] = {
		{ "1280", 0, 1280 },
		{ "1500", 0, 1500 },
		{ "65520", 0, 65520 },
		{ "1279", -EINVAL, 0 },
		{ "65521", -EINVAL, 0 },
		{ "0", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "01500", -EINVAL, 0 },
		{ "1500 ", -EINVAL, 0 },
		{ "-1500", -EINVAL, 0 },
		{ "1.5k", -EINVAL, 0 },
		{ "4294967296", -EINVAL, 0 },
		{ "4294967295", -EINVAL, 0 },
	};
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(t); i++) {
		uint32_t v = 7;
		struct nsess_error e = { 0 };

		cr_assert_eq(nsess_mtu_parse(t[i].in, &v, &e), t[i].ret, "\"%s\"", t[i].in);
		if (t[i].ret == 0) {
			cr_assert_eq(v, t[i].v);
		} else {
			cr_assert_eq(v, 7, "output written on failure for \"%s\"", t[i].in);
			cr_assert(strstr(e.msg, "1280") && strstr(e.msg, "65520"), "%s", e.msg);
		}
	}
}

/* ---- route metrics ------------------------------------------------------ */

Test(netplan, route_metrics)
{
	static const struct {
		uint32_t link;
		int family;
		uint32_t mtu, advmss;
	} t[] = {
		/* the default: send 16 KiB, receive segments as large as the link */
		{ 24576, AF_INET, 16384, 24536 },
		{ 24576, AF_INET6, 16384, 24516 },
		/* the largest link: two segments per 64 KiB window at most */
		{ 65520, AF_INET, 16384, 32727 },
		{ 65520, AF_INET6, 16384, 32727 },
		{ 32786, AF_INET6, 16384, 32726 },
		{ 32787, AF_INET6, 16384, 32727 },
		{ 32788, AF_INET6, 16384, 32727 },
		/* a link between the two: segments as large as the link allows */
		{ 20000, AF_INET, 16384, 19960 },
		{ 20000, AF_INET6, 16384, 19940 },
		{ 32767, AF_INET, 16384, 32727 },
		{ 32768, AF_INET, 16384, 32727 },
		{ 16385, AF_INET, 16384, 16345 },
		/* at or below the send limit the link decides alone */
		{ 16384, AF_INET, 0, 0 },
		{ 16384, AF_INET6, 0, 0 },
		{ 1500, AF_INET, 0, 0 },
		{ 1280, AF_INET6, 0, 0 },
	};
	struct nsess_route_metrics rm;
	struct nsess_netplan p;

	for (size_t i = 0; i < NSESS_ARRAY_SIZE(t); i++) {
		nsess_netplan_defaults(&p);
		p.mtu = t[i].link;
		memset(&rm, 0xa5, sizeof(rm));
		nsess_netplan_route_metrics(&p, t[i].family, &rm);
		cr_assert_eq(rm.mtu, t[i].mtu, "link %u family %d: route mtu %u", t[i].link,
			     t[i].family, rm.mtu);
		cr_assert_eq(rm.advmss, t[i].advmss, "link %u family %d: advmss %u", t[i].link,
			     t[i].family, rm.advmss);
		cr_assert(rm.quickack, "link %u: ACKs must go out at once", t[i].link);
		/* never more than the link carries, and two segments per window */
		if (rm.mtu) {
			cr_assert_lt(rm.mtu, t[i].link);
			cr_assert_leq(rm.advmss + (t[i].family == AF_INET6 ? 60 : 40), t[i].link);
			cr_assert_leq(2 * rm.advmss, 65535u);
		}
	}
}

/* ---- validation --------------------------------------------------------- */

enum mutation {
	M_NONE,
	M_MTU_LOW,
	M_MTU_HIGH,
	M_ADDR4_OUTSIDE,
	M_GW4_OUTSIDE,
	M_DNS4_OUTSIDE,
	M_GW4_IS_ADDR,
	M_DNS4_IS_ADDR,
	M_ADDR4_NETWORK,
	M_ADDR4_BROADCAST,
	M_NET4_HOSTBITS,
	M_PREFIX4_31,
	M_PREFIX4_7,
	M_ADDR6_OUTSIDE,
	M_GW6_OUTSIDE,
	M_GW6_IS_ADDR,
	M_DNS6_IS_ADDR,
	M_ADDR6_SUBNET,
	M_PREFIX6_127,
	M_NET6_HOSTBITS,
	M_V6_BAD_BUT_OFF,
	M_HOST_EMPTY,
	M_HOST_SPACE,
	M_HOST_NEWLINE,
	M_HOST_UNDERSCORE,
	M_HOST_DASH_FIRST,
	M_HOST_UNTERMINATED,
	M_HOST_FQDN,
	M_IFNAME_EMPTY,
	M_IFNAME_SLASH,
	M_IFNAME_PERCENT,
	M_IFNAME_LONG,
	M_IFNAME_DOTDOT,
	M_MODE_BAD,
	M_NONE_WITH_PUBLISH,
	M_NONE_BAD_ADDRS,
	M_PREFIX4_30,
	M_GW_IS_DNS,
};

static void mutate(struct nsess_netplan *p, enum mutation m)
{
	struct nsess_publish r;

	switch (m) {
	case M_NONE:
		break;
	case M_MTU_LOW: p->mtu = 1279; break;
	case M_MTU_HIGH: p->mtu = 65521; break;
	case M_ADDR4_OUTSIDE: p->addr4 = ip4("10.0.3.100"); break;
	case M_GW4_OUTSIDE: p->gw4 = ip4("192.168.0.1"); break;
	case M_DNS4_OUTSIDE: p->dns4 = ip4("8.8.8.8"); break;
	case M_GW4_IS_ADDR: p->gw4 = p->addr4; break;
	case M_DNS4_IS_ADDR: p->dns4 = p->addr4; break;
	case M_ADDR4_NETWORK: p->addr4 = ip4("10.0.2.0"); break;
	case M_ADDR4_BROADCAST: p->addr4 = ip4("10.0.2.255"); break;
	case M_NET4_HOSTBITS: p->net4 = ip4("10.0.2.1"); break;
	case M_PREFIX4_31: p->prefix4 = 31; break;
	case M_PREFIX4_7: p->prefix4 = 7; break;
	case M_ADDR6_OUTSIDE: p->addr6 = ip6("fd01::100"); break;
	case M_GW6_OUTSIDE: p->gw6 = ip6("fe80::2"); break;
	case M_GW6_IS_ADDR: p->gw6 = p->addr6; break;
	case M_DNS6_IS_ADDR: p->dns6 = p->addr6; break;
	case M_ADDR6_SUBNET: p->addr6 = ip6("fd00::"); break;
	case M_PREFIX6_127: p->prefix6 = 127; break;
	case M_NET6_HOSTBITS: p->net6 = ip6("fd00::1"); break;
	case M_V6_BAD_BUT_OFF:
		p->ipv6 = false;
		p->gw6 = ip6("2001:db8::1");
		break;
	case M_HOST_EMPTY: p->hostname[0] = '\0'; break;
	case M_HOST_SPACE: strcpy(p->hostname, "my host"); break;
	case M_HOST_NEWLINE: strcpy(p->hostname, "host\n10.0.0.1 evil"); break;
	case M_HOST_UNDERSCORE: strcpy(p->hostname, "my_host"); break;
	case M_HOST_DASH_FIRST: strcpy(p->hostname, "-host"); break;
	case M_HOST_UNTERMINATED: memset(p->hostname, 'a', sizeof(p->hostname)); break;
	case M_HOST_FQDN: strcpy(p->hostname, "box-1.example.org"); break;
	case M_IFNAME_EMPTY: p->ifname[0] = '\0'; break;
	case M_IFNAME_SLASH: strcpy(p->ifname, "tap/0"); break;
	case M_IFNAME_PERCENT: strcpy(p->ifname, "tap%d"); break;
	case M_IFNAME_LONG: memset(p->ifname, 'x', sizeof(p->ifname)); break;
	case M_IFNAME_DOTDOT: strcpy(p->ifname, ".."); break;
	case M_MODE_BAD: p->mode = (enum nsess_net_mode)3; break;
	case M_NONE_WITH_PUBLISH:
		p->mode = NSESS_NET_NONE;
		cr_assert_eq(nsess_publish_parse("8080:80", &r, NULL), 0);
		cr_assert_eq(nsess_netplan_add_publish(p, &r, NULL), 0);
		break;
	case M_NONE_BAD_ADDRS:
		/* addresses do not matter without a TAP */
		p->mode = NSESS_NET_NONE;
		p->gw4 = ip4("1.2.3.4");
		p->mtu = 0;
		break;
	case M_PREFIX4_30:
		/* the smallest net: session .2, gateway and DNS both .1 */
		p->prefix4 = 30;
		p->addr4 = ip4("10.0.2.2");
		p->gw4 = ip4("10.0.2.1");
		p->dns4 = ip4("10.0.2.1");
		break;
	case M_GW_IS_DNS:
		p->dns4 = p->gw4;
		p->dns6 = p->gw6;
		break;
	}
}

Test(netplan, validate)
{
	static const struct {
		enum mutation m;
		int ret;
		const char *msg;	/* substring of the message */
	} t[] = {
		{ M_NONE, 0, NULL },
		{ M_MTU_LOW, -EINVAL, "MTU 1279" },
		{ M_MTU_HIGH, -EINVAL, "MTU 65521" },
		{ M_ADDR4_OUTSIDE, -EINVAL, "10.0.3.100 is outside 10.0.2.0/24" },
		{ M_GW4_OUTSIDE, -EINVAL, "gateway 192.168.0.1" },
		{ M_DNS4_OUTSIDE, -EINVAL, "DNS forwarder 8.8.8.8" },
		{ M_GW4_IS_ADDR, -EINVAL, "differ from the session address" },
		{ M_DNS4_IS_ADDR, -EINVAL, "differ from the session address" },
		{ M_ADDR4_NETWORK, -EINVAL, "network or broadcast" },
		{ M_ADDR4_BROADCAST, -EINVAL, "network or broadcast" },
		{ M_NET4_HOSTBITS, -EINVAL, "beyond its /24" },
		{ M_PREFIX4_31, -EINVAL, "/31" },
		{ M_PREFIX4_7, -EINVAL, "/7" },
		{ M_ADDR6_OUTSIDE, -EINVAL, "fd01::100 is outside fd00::/64" },
		{ M_GW6_OUTSIDE, -EINVAL, "fe80::2" },
		{ M_GW6_IS_ADDR, -EINVAL, "IPv6 gateway" },
		{ M_DNS6_IS_ADDR, -EINVAL, "IPv6 gateway" },
		{ M_ADDR6_SUBNET, -EINVAL, "subnet address" },
		{ M_PREFIX6_127, -EINVAL, "/127" },
		{ M_NET6_HOSTBITS, -EINVAL, "beyond its /64" },
		{ M_V6_BAD_BUT_OFF, 0, NULL },
		{ M_HOST_EMPTY, -EINVAL, "hostname" },
		{ M_HOST_SPACE, -EINVAL, "my host" },
		{ M_HOST_NEWLINE, -EINVAL, "host\\x0a10.0.0.1" },
		{ M_HOST_UNDERSCORE, -EINVAL, "my_host" },
		{ M_HOST_DASH_FIRST, -EINVAL, "start with a letter" },
		{ M_HOST_UNTERMINATED, -EINVAL, "1..63" },
		{ M_HOST_FQDN, 0, NULL },
		{ M_IFNAME_EMPTY, -EINVAL, "interface name" },
		{ M_IFNAME_SLASH, -EINVAL, "tap/0" },
		{ M_IFNAME_PERCENT, -EINVAL, "tap%d" },
		{ M_IFNAME_LONG, -EINVAL, "1..15" },
		{ M_IFNAME_DOTDOT, -EINVAL, "\"..\"" },
		{ M_MODE_BAD, -EINVAL, "unknown mode" },
		{ M_NONE_WITH_PUBLISH, -EINVAL, "needs network mode slirp" },
		{ M_NONE_BAD_ADDRS, 0, NULL },
		{ M_PREFIX4_30, 0, NULL },
		{ M_GW_IS_DNS, 0, NULL },
	};
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(t); i++) {
		struct nsess_netplan p;
		struct nsess_error e = { 0 };
		int r;

		nsess_netplan_defaults(&p);
		mutate(&p, t[i].m);
		r = nsess_netplan_validate(&p, &e);
		cr_assert_eq(r, t[i].ret, "case %zu: got %d (%s)", i, r, e.msg);
		if (t[i].msg) {
			cr_assert_eq(e.err, EINVAL);
			cr_assert(strstr(e.msg, t[i].msg), "case %zu: \"%s\" not in \"%s\"", i,
				  t[i].msg, e.msg);
			cr_assert_null(strchr(e.msg, '\n'), "case %zu: raw newline", i);
		}
	}
}

/* ---- generated files ---------------------------------------------------- */

Test(netplan, resolv_conf)
{
	static const char v46[] = "# Generated by nsession for this session; do not edit.\n"
				  "nameserver 10.0.2.3\n"
				  "nameserver fd00::3\n";
	static const char v4[] = "# Generated by nsession for this session; do not edit.\n"
				 "nameserver 10.0.2.3\n";
	static const char none[] = "# Generated by nsession for this session; do not edit.\n"
				   "# network mode none: no DNS forwarder\n";
	struct nsess_netplan p;
	char buf[512];

	nsess_netplan_defaults(&p);
	cr_assert_eq(nsess_netplan_resolv_conf(&p, buf, sizeof(buf)), (int)strlen(v46));
	cr_assert_str_eq(buf, v46);

	/* exactly fitting (with the NUL) works, one byte less does not */
	cr_assert_eq(nsess_netplan_resolv_conf(&p, buf, sizeof(v46)), (int)strlen(v46));
	memset(buf, 'X', sizeof(buf));
	cr_assert_eq(nsess_netplan_resolv_conf(&p, buf, sizeof(v46) - 1), -ENOSPC);
	cr_assert_eq(buf[0], 'X', "buffer written on failure");
	cr_assert_eq(nsess_netplan_resolv_conf(&p, buf, 0), -ENOSPC);

	p.ipv6 = false;
	cr_assert_eq(nsess_netplan_resolv_conf(&p, buf, sizeof(buf)), (int)strlen(v4));
	cr_assert_str_eq(buf, v4);

	p.mode = NSESS_NET_NONE;
	cr_assert_eq(nsess_netplan_resolv_conf(&p, buf, sizeof(buf)), (int)strlen(none));
	cr_assert_str_eq(buf, none);
}

Test(netplan, hosts)
{
	static const char v46[] = "# Generated by nsession for this session; do not edit.\n"
				  "127.0.0.1\tlocalhost\n"
				  "::1\tlocalhost ip6-localhost ip6-loopback\n"
				  "10.0.2.100\tbox\n"
				  "fd00::100\tbox\n";
	static const char v4[] = "# Generated by nsession for this session; do not edit.\n"
				 "127.0.0.1\tlocalhost\n"
				 "::1\tlocalhost ip6-localhost ip6-loopback\n"
				 "10.0.2.100\tbox\n";
	static const char none[] = "# Generated by nsession for this session; do not edit.\n"
				   "127.0.0.1\tlocalhost\n"
				   "::1\tlocalhost ip6-localhost ip6-loopback\n"
				   "127.0.1.1\tbox\n";
	struct nsess_netplan p;
	char buf[512];

	nsess_netplan_defaults(&p);
	strcpy(p.hostname, "box");
	cr_assert_eq(nsess_netplan_hosts(&p, buf, sizeof(buf)), (int)strlen(v46));
	cr_assert_str_eq(buf, v46);
	cr_assert_eq(nsess_netplan_hosts(&p, buf, sizeof(v46)), (int)strlen(v46));
	cr_assert_eq(nsess_netplan_hosts(&p, buf, sizeof(v46) - 1), -ENOSPC);

	p.ipv6 = false;
	cr_assert_eq(nsess_netplan_hosts(&p, buf, sizeof(buf)), (int)strlen(v4));
	cr_assert_str_eq(buf, v4);

	p.mode = NSESS_NET_NONE;
	cr_assert_eq(nsess_netplan_hosts(&p, buf, sizeof(buf)), (int)strlen(none));
	cr_assert_str_eq(buf, none);

	/* a name that would inject a line is refused, not written */
	strcpy(p.hostname, "box\n1.2.3.4 bank.example");
	cr_assert_eq(nsess_netplan_hosts(&p, buf, sizeof(buf)), -EINVAL);
	memset(p.hostname, 'a', sizeof(p.hostname));
	cr_assert_eq(nsess_netplan_hosts(&p, buf, sizeof(buf)), -EINVAL);
}

Test(netplan, hosts_longest_name)
{
	struct nsess_netplan p;
	char buf[512];
	int n;

	nsess_netplan_defaults(&p);
	memset(p.hostname, 'h', sizeof(p.hostname) - 1);
	p.hostname[sizeof(p.hostname) - 1] = '\0';
	cr_assert_eq(nsess_netplan_validate(&p, NULL), 0);
	n = nsess_netplan_hosts(&p, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_eq((size_t)n, strlen(buf));
	cr_assert(strstr(buf, p.hostname));
}

/* ---- libslirp MACs ------------------------------------------------------ */

Test(netplan, slirp_mac)
{
	static const struct {
		const char *ip;
		uint8_t mac[6];
	} t4[] = {
		{ "10.0.2.2", { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 } },
		{ "10.0.2.3", { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x03 } },
		{ "192.168.76.254", { 0x52, 0x55, 0xc0, 0xa8, 0x4c, 0xfe } },
	}, t6[] = {
		{ "fd00::2", { 0x52, 0x56, 0x00, 0x00, 0x00, 0x02 } },
		{ "fd00::3", { 0x52, 0x56, 0x00, 0x00, 0x00, 0x03 } },
		{ "2001:db8::dead:beef", { 0x52, 0x56, 0xde, 0xad, 0xbe, 0xef } },
	};
	uint8_t mac[6];
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(t4); i++) {
		nsess_slirp_mac4(ip4(t4[i].ip), mac);
		cr_assert_arr_eq(mac, t4[i].mac, 6, "%s", t4[i].ip);
	}
	for (i = 0; i < NSESS_ARRAY_SIZE(t6); i++) {
		struct in6_addr a = ip6(t6[i].ip);

		nsess_slirp_mac6(&a, mac);
		cr_assert_arr_eq(mac, t6[i].mac, 6, "%s", t6[i].ip);
	}
}
