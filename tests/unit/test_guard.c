/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_guard.c - which frames from the session the engine refuses before
 * libslirp sees them (shared/guard.h), and the ICMP answer it sends back.
 * Hand-made frames, no privileges. The same refusals through a real TAP
 * and libslirp are in tests/ns/test_engine.c.
 */
#include <arpa/inet.h>
#include <string.h>

#include "guard.h"
#include "netplan.h"
#include "testlib.h"

static const uint8_t gw_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
static const uint8_t sess_mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

static void guard_of(struct nsess_guard *g, bool allow)
{
	struct nsess_netplan p;

	nsess_netplan_defaults(&p);
	p.ipv6 = true;
	p.allow_host_loopback = allow;
	nsess_guard_init(g, &p);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void eth(uint8_t *f, uint16_t type)
{
	memcpy(f, gw_mac, 6);
	memcpy(f + 6, sess_mac, 6);
	put16(f + 12, type);
}

/* An IPv4 packet of @proto with 8 bytes of payload (ports 40000 -> 80); Return: frame length. */
static size_t v4(uint8_t *f, const char *src, const char *dst, uint8_t proto, uint16_t frag)
{
	uint8_t *ip = f + 14;

	memset(f, 0, 14 + 20 + 8);
	eth(f, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, 28);
	put16(ip + 6, frag);
	ip[8] = 64;
	ip[9] = proto;
	cr_assert_eq(inet_pton(AF_INET, src, ip + 12), 1);
	cr_assert_eq(inet_pton(AF_INET, dst, ip + 16), 1);
	put16(ip + 20, 40000);
	put16(ip + 22, 80);
	if (proto == IPPROTO_ICMP)
		ip[20] = 8;	/* echo request */
	return 14 + 28;
}

/* An IPv6 packet, next header @nh, @extra zero bytes of payload after 8; Return: frame length. */
static size_t v6(uint8_t *f, const char *src, const char *dst, uint8_t nh, size_t extra)
{
	uint8_t *ip = f + 14;

	memset(f, 0, 14 + 40 + 8 + extra);
	eth(f, 0x86dd);
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)(8 + extra));
	ip[6] = nh;
	ip[7] = 64;
	cr_assert_eq(inet_pton(AF_INET6, src, ip + 8), 1);
	cr_assert_eq(inet_pton(AF_INET6, dst, ip + 24), 1);
	put16(ip + 40, 40000);
	put16(ip + 42, 80);
	if (nh == IPPROTO_ICMPV6)
		ip[40] = 128;	/* echo request */
	return 14 + 40 + 8 + extra;
}

static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_SCTP };

Test(guard, v4_loopback_link_local_and_unspecified_are_refused)
{
	static const char *const dsts[] = { "127.0.0.1", "127.1.2.3", "0.0.0.0", "0.1.2.3",
					     "169.254.169.254", "169.254.0.1" };
	struct nsess_guard g;
	uint8_t f[128];
	char dst[INET6_ADDRSTRLEN];

	guard_of(&g, false);
	for (size_t i = 0; i < sizeof(dsts) / sizeof(dsts[0]); i++)
		for (size_t j = 0; j < sizeof(protos); j++) {
			size_t n = v4(f, "10.0.2.100", dsts[i], protos[j], 0x4000);

			strcpy(dst, "-");
			cr_expect_eq(nsess_guard_check(&g, f, n, dst), NSESS_GUARD_REJECT,
				     "%s protocol %u was not refused with an answer", dsts[i],
				     protos[j]);
			cr_expect_str_eq(dst, dsts[i], "the log would name %s", dst);
		}
	/* link-local multicast (mDNS): refused, never answered */
	cr_expect_eq(nsess_guard_check(&g, f, v4(f, "10.0.2.100", "224.0.0.251", IPPROTO_UDP, 0),
				       NULL),
		     NSESS_GUARD_DROP);
}

Test(guard, v4_session_network_and_the_world_pass)
{
	static const char *const dsts[] = { "10.0.2.2", "10.0.2.3", "10.0.2.255", "192.0.2.1",
					     "8.8.8.8", "169.253.255.255", "169.255.0.1",
					     "126.255.255.255", "128.0.0.1", "255.255.255.255",
					     "224.0.1.1" };
	struct nsess_guard g;
	uint8_t f[128];

	guard_of(&g, false);
	for (size_t i = 0; i < sizeof(dsts) / sizeof(dsts[0]); i++)
		for (size_t j = 0; j < sizeof(protos); j++)
			cr_expect_eq(nsess_guard_check(&g, f, v4(f, "10.0.2.100", dsts[i], protos[j],
								0x4000), NULL),
				     NSESS_GUARD_PASS, "%s protocol %u was refused", dsts[i],
				     protos[j]);
	/* ARP and anything else that is not IP is libslirp's */
	memset(f, 0, 60);
	eth(f, 0x0806);
	cr_expect_eq(nsess_guard_check(&g, f, 60, NULL), NSESS_GUARD_PASS);
	/* too short to judge */
	cr_expect_eq(nsess_guard_check(&g, f, v4(f, "10.0.2.100", "127.0.0.1", 17, 0) - 30, NULL),
		     NSESS_GUARD_PASS);
}

Test(guard, the_source_address_does_not_matter)
{
	struct nsess_guard g;
	uint8_t f[128];

	guard_of(&g, false);
	/* a spoofed source is refused all the same; odd sources get no answer */
	cr_expect_eq(nsess_guard_check(&g, f, v4(f, "169.254.1.1", "127.0.0.1", 6, 0), NULL),
		     NSESS_GUARD_REJECT);
	cr_expect_eq(nsess_guard_check(&g, f, v4(f, "192.0.2.7", "169.254.169.254", 17, 0), NULL),
		     NSESS_GUARD_REJECT);
	cr_expect_eq(nsess_guard_check(&g, f, v4(f, "0.0.0.0", "127.0.0.1", 17, 0), NULL),
		     NSESS_GUARD_DROP);
	cr_expect_eq(nsess_guard_check(&g, f, v4(f, "255.255.255.255", "127.0.0.1", 17, 0), NULL),
		     NSESS_GUARD_DROP);
	cr_expect_eq(nsess_guard_check(&g, f, v4(f, "224.0.0.5", "127.0.0.1", 17, 0), NULL),
		     NSESS_GUARD_DROP);
}

Test(guard, v4_fragments_and_icmp_errors_are_dropped_unanswered)
{
	struct nsess_guard g;
	uint8_t f[128];
	size_t n;

	guard_of(&g, false);
	/* the first fragment is answered, a later one (offset 1480 bytes) only dropped */
	cr_expect_eq(nsess_guard_check(&g, f, v4(f, "10.0.2.100", "127.0.0.1", 17, 0x2000), NULL),
		     NSESS_GUARD_REJECT);
	cr_expect_eq(nsess_guard_check(&g, f, v4(f, "10.0.2.100", "127.0.0.1", 17, 185), NULL),
		     NSESS_GUARD_DROP);
	cr_expect_eq(nsess_guard_check(&g, f, v4(f, "10.0.2.100", "127.0.0.1", 17, 0x2000 | 185),
				       NULL),
		     NSESS_GUARD_DROP);
	/* ICMP destination unreachable to the metadata address: no error about an error */
	n = v4(f, "10.0.2.100", "169.254.169.254", IPPROTO_ICMP, 0);
	f[34] = 3;
	cr_expect_eq(nsess_guard_check(&g, f, n, NULL), NSESS_GUARD_DROP);
	f[34] = 11;	/* time exceeded */
	cr_expect_eq(nsess_guard_check(&g, f, n, NULL), NSESS_GUARD_DROP);
	f[34] = 0;	/* echo reply is not an error */
	cr_expect_eq(nsess_guard_check(&g, f, n, NULL), NSESS_GUARD_REJECT);
}

Test(guard, v6_loopback_mapped_metadata_and_link_local_are_refused)
{
	static const char *const dsts[] = { "::1", "::", "::ffff:127.0.0.1", "::ffff:8.8.8.8",
					     "::ffff:169.254.169.254", "::127.0.0.1",
					     "fd00:ec2::254", "fe80::1", "febf::1" };
	static const uint8_t nhs[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP };
	struct nsess_guard g;
	uint8_t f[256];
	char dst[INET6_ADDRSTRLEN];

	guard_of(&g, false);
	for (size_t i = 0; i < sizeof(dsts) / sizeof(dsts[0]); i++)
		for (size_t j = 0; j < sizeof(nhs); j++) {
			size_t n = v6(f, "fd00::100", dsts[i], nhs[j], 0);

			strcpy(dst, "-");
			cr_expect_eq(nsess_guard_check(&g, f, n, dst), NSESS_GUARD_REJECT,
				     "%s next header %u was not refused with an answer", dsts[i],
				     nhs[j]);
			cr_expect_str_eq(dst, dsts[i]);
		}
	/* loopback and the metadata service refuse ICMPv6 too */
	cr_expect_eq(nsess_guard_check(&g, f, v6(f, "fd00::100", "::1", IPPROTO_ICMPV6, 0), NULL),
		     NSESS_GUARD_REJECT);
	cr_expect_eq(nsess_guard_check(&g, f, v6(f, "fd00::100", "fd00:ec2::254", IPPROTO_ICMPV6,
						 0), NULL),
		     NSESS_GUARD_REJECT);
	/* link-local multicast UDP (mDNS, DHCPv6): dropped, never answered */
	cr_expect_eq(nsess_guard_check(&g, f, v6(f, "fe80::1", "ff02::fb", IPPROTO_UDP, 0), NULL),
		     NSESS_GUARD_DROP);
	cr_expect_eq(nsess_guard_check(&g, f, v6(f, "fe80::1", "ff02::1:2", IPPROTO_UDP, 0), NULL),
		     NSESS_GUARD_DROP);
}

Test(guard, v6_neighbour_discovery_session_and_world_pass)
{
	static const char *const dsts[] = { "fd00::2", "fd00::3", "2001:db8::1", "2606:4700::1111",
					     "fd00:ec3::1", "ff0e::1", "64:ff9b::808:808" };
	struct nsess_guard g;
	uint8_t f[256];
	size_t n;

	guard_of(&g, false);
	for (size_t i = 0; i < sizeof(dsts) / sizeof(dsts[0]); i++) {
		cr_expect_eq(nsess_guard_check(&g, f, v6(f, "fd00::100", dsts[i], IPPROTO_TCP, 0),
					       NULL),
			     NSESS_GUARD_PASS, "%s was refused", dsts[i]);
		cr_expect_eq(nsess_guard_check(&g, f, v6(f, "fd00::100", dsts[i], IPPROTO_UDP, 0),
					       NULL),
			     NSESS_GUARD_PASS, "%s was refused", dsts[i]);
	}
	/* router and neighbour solicitations from the session's kernel */
	n = v6(f, "fe80::11:22ff:fe33:4455", "ff02::2", IPPROTO_ICMPV6, 0);
	f[54] = 133;
	cr_expect_eq(nsess_guard_check(&g, f, n, NULL), NSESS_GUARD_PASS);
	n = v6(f, "::", "ff02::1:ff00:2", IPPROTO_ICMPV6, 16);
	f[54] = 135;
	cr_expect_eq(nsess_guard_check(&g, f, n, NULL), NSESS_GUARD_PASS);
	n = v6(f, "fe80::11:22ff:fe33:4455", "fe80::2", IPPROTO_ICMPV6, 16);
	f[54] = 135;
	cr_expect_eq(nsess_guard_check(&g, f, n, NULL), NSESS_GUARD_PASS);
	/* MLD report behind a hop-by-hop header (router alert) */
	n = v6(f, "fe80::11:22ff:fe33:4455", "ff02::16", 0, 8);
	f[54] = IPPROTO_ICMPV6;
	f[55] = 0;
	f[62] = 143;
	cr_expect_eq(nsess_guard_check(&g, f, n, NULL), NSESS_GUARD_PASS);
}

Test(guard, v6_extension_headers_do_not_hide_the_protocol)
{
	struct nsess_guard g;
	uint8_t f[256];
	size_t n;

	guard_of(&g, false);
	/* UDP to fe80::1 behind a destination options header: refused */
	n = v6(f, "fd00::100", "fe80::1", 60, 8);
	f[54] = IPPROTO_UDP;
	f[55] = 0;
	cr_expect_eq(nsess_guard_check(&g, f, n, NULL), NSESS_GUARD_REJECT);
	/* ICMPv6 echo to fe80::1 (neighbour discovery's address range, not a service): passes */
	n = v6(f, "fd00::100", "fe80::1", 60, 8);
	f[54] = IPPROTO_ICMPV6;
	f[55] = 0;
	f[62] = 128;
	cr_expect_eq(nsess_guard_check(&g, f, n, NULL), NSESS_GUARD_PASS);
	/* a later fragment to fe80::1: its protocol cannot be told, dropped */
	n = v6(f, "fd00::100", "fe80::1", 44, 8);
	f[54] = IPPROTO_ICMPV6;
	put16(f + 56, 1232);
	cr_expect_eq(nsess_guard_check(&g, f, n, NULL), NSESS_GUARD_DROP);
	/* a later fragment to ::1: dropped, not answered */
	n = v6(f, "fd00::100", "::1", 44, 8);
	f[54] = IPPROTO_UDP;
	put16(f + 56, 1232);
	cr_expect_eq(nsess_guard_check(&g, f, n, NULL), NSESS_GUARD_DROP);
	/* the first fragment of UDP to ::1: answered */
	n = v6(f, "fd00::100", "::1", 44, 8);
	f[54] = IPPROTO_UDP;
	put16(f + 56, 1);	/* offset 0, more fragments */
	cr_expect_eq(nsess_guard_check(&g, f, n, NULL), NSESS_GUARD_REJECT);
	/* a chain longer than the packet: dropped */
	n = v6(f, "fd00::100", "fe80::1", 0, 0);
	f[54] = 0;
	f[55] = 200;
	cr_expect_eq(nsess_guard_check(&g, f, n, NULL), NSESS_GUARD_DROP);
	/* an ICMPv6 error to ::1 is never answered */
	n = v6(f, "fd00::100", "::1", IPPROTO_ICMPV6, 0);
	f[54] = 1;
	cr_expect_eq(nsess_guard_check(&g, f, n, NULL), NSESS_GUARD_DROP);
	/* from the unspecified address: no answer */
	cr_expect_eq(nsess_guard_check(&g, f, v6(f, "::", "::1", IPPROTO_UDP, 0), NULL),
		     NSESS_GUARD_DROP);
}

Test(guard, allow_host_loopback_passes_everything)
{
	static const char *const dsts4[] = { "127.0.0.1", "0.0.0.0", "169.254.169.254",
					      "224.0.0.251" };
	static const char *const dsts6[] = { "::1", "::ffff:127.0.0.1", "fd00:ec2::254",
					      "fe80::1", "ff02::fb" };
	struct nsess_guard g;
	uint8_t f[256];

	guard_of(&g, true);
	for (size_t i = 0; i < sizeof(dsts4) / sizeof(dsts4[0]); i++)
		cr_expect_eq(nsess_guard_check(&g, f, v4(f, "10.0.2.100", dsts4[i], 17, 0), NULL),
			     NSESS_GUARD_PASS, "%s refused with host loopback allowed", dsts4[i]);
	for (size_t i = 0; i < sizeof(dsts6) / sizeof(dsts6[0]); i++)
		cr_expect_eq(nsess_guard_check(&g, f, v6(f, "fd00::100", dsts6[i], 17, 0), NULL),
			     NSESS_GUARD_PASS, "%s refused with host loopback allowed", dsts6[i]);
}

Test(guard, v4_answer_is_admin_prohibited_from_the_gateway)
{
	struct nsess_guard g;
	uint8_t f[128], a[1400];
	const uint8_t *ip = a + 14, *ic = a + 34;
	size_t n, m;

	guard_of(&g, false);
	n = v4(f, "10.0.2.100", "169.254.169.254", IPPROTO_UDP, 0x4000);
	m = nsess_guard_answer(&g, f, n, a, sizeof(a));
	/* Ethernet + IP + ICMP header + the quoted IP header and 8 bytes */
	cr_assert_eq(m, 14 + 20 + 8 + 28, "answer of %zu bytes", m);
	cr_expect_eq(memcmp(a, sess_mac, 6), 0, "not addressed to the session's MAC");
	cr_expect_eq(memcmp(a + 6, gw_mac, 6), 0, "not from the gateway's MAC");
	cr_expect_eq(a[12], 0x08);
	cr_expect_eq(a[13], 0x00);
	cr_expect_eq(ip[0], 0x45);
	cr_expect_eq(ip[2] << 8 | ip[3], 56, "IP total length");
	cr_expect_eq(ip[9], IPPROTO_ICMP);
	cr_expect_gt(ip[8], 0, "TTL 0");
	cr_expect_eq(nsess_test_fold(nsess_test_sum16(0, ip, 20)), 0xffff, "bad IPv4 header checksum");
	cr_expect_eq(memcmp(ip + 12, (uint8_t[]){ 10, 0, 2, 2 }, 4), 0, "not from the gateway");
	cr_expect_eq(memcmp(ip + 16, (uint8_t[]){ 10, 0, 2, 100 }, 4), 0, "not to the sender");
	cr_expect_eq(ic[0], 3, "ICMP type %u", ic[0]);
	cr_expect_eq(ic[1], 13, "ICMP code %u", ic[1]);
	cr_expect_eq(nsess_test_fold(nsess_test_sum16(0, ic, 8 + 28)), 0xffff, "bad ICMP checksum");
	cr_expect_eq(memcmp(ic + 8, f + 14, 28), 0, "the refused packet is not quoted");

	/* no room, or multicast Ethernet addresses: no answer */
	cr_expect_eq(nsess_guard_answer(&g, f, n, a, 40), 0);
	f[0] = 0x01;
	cr_expect_eq(nsess_guard_answer(&g, f, n, a, sizeof(a)), 0);
	f[0] = gw_mac[0];
	f[6] = 0x33;
	cr_expect_eq(nsess_guard_answer(&g, f, n, a, sizeof(a)), 0);
}

Test(guard, v6_answer_is_admin_prohibited_and_fits_the_minimum_mtu)
{
	struct nsess_guard g;
	uint8_t f[1600], a[1400], pseudo[40];
	const uint8_t *ip = a + 14, *ic = a + 54;
	size_t n, m, plen;

	guard_of(&g, false);
	n = v6(f, "fd00::100", "::1", IPPROTO_UDP, 0);
	m = nsess_guard_answer(&g, f, n, a, sizeof(a));
	cr_assert_eq(m, 14 + 40 + 8 + 48, "answer of %zu bytes", m);
	cr_expect_eq(memcmp(a, sess_mac, 6), 0);
	cr_expect_eq(memcmp(a + 6, gw_mac, 6), 0);
	cr_expect_eq(a[12] << 8 | a[13], 0x86dd);
	cr_expect_eq(ip[0] >> 4, 6);
	cr_expect_eq(ip[6], IPPROTO_ICMPV6);
	cr_expect_eq(ip[7], 64, "hop limit %u", ip[7]);
	cr_expect_eq(memcmp(ip + 8, g.gw6.s6_addr, 16), 0, "not from the gateway");
	cr_expect_eq(memcmp(ip + 24, f + 14 + 8, 16), 0, "not to the sender");
	cr_expect_eq(ic[0], 1);
	cr_expect_eq(ic[1], 1);
	cr_expect_eq(memcmp(ic + 8, f + 14, 48), 0, "the refused packet is not quoted");
	plen = (size_t)(ip[4] << 8 | ip[5]);
	cr_assert_eq(plen, 8 + 48);
	memcpy(pseudo, ip + 8, 32);
	memset(pseudo + 32, 0, 8);
	put16(pseudo + 34, (uint16_t)plen);
	pseudo[39] = IPPROTO_ICMPV6;
	cr_expect_eq(nsess_test_fold(nsess_test_sum16(nsess_test_sum16(0, pseudo, 40), ic, plen)),
		     0xffff, "bad ICMPv6 checksum");

	/* a big packet is quoted only as far as 1280 bytes of answer allow */
	n = v6(f, "fd00::100", "fe80::1", IPPROTO_TCP, 1400);
	cr_assert_eq(nsess_guard_check(&g, f, n, NULL), NSESS_GUARD_REJECT);
	m = nsess_guard_answer(&g, f, n, a, sizeof(a));
	cr_expect_eq(m, 14 + 1280, "answer of %zu bytes", m);
	plen = (size_t)(ip[4] << 8 | ip[5]);
	cr_expect_eq(plen, 1240);
	memcpy(pseudo, ip + 8, 32);
	put16(pseudo + 34, (uint16_t)plen);
	cr_expect_eq(nsess_test_fold(nsess_test_sum16(nsess_test_sum16(0, pseudo, 40), ic, plen)),
		     0xffff, "bad ICMPv6 checksum");
}
