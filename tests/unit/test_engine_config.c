/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_engine_config.c - the pure plan -> SlirpConfig translation.
 */
#include <arpa/inet.h>
#include <string.h>

#define NSESS_ENGINE_INTERNAL 1
#include "engine.h"
#include "netplan.h"
#include "testlib.h"

static struct in_addr a4(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1, "bad test address %s", s);
	return a;
}

static struct in6_addr a6(const char *s)
{
	struct in6_addr a;

	cr_assert_eq(inet_pton(AF_INET6, s, &a), 1, "bad test address %s", s);
	return a;
}

static void assert_a4(struct in_addr got, const char *want, const char *what)
{
	struct in_addr w = a4(want);
	char buf[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &got, buf, sizeof(buf));
	cr_assert_eq(got.s_addr, w.s_addr, "%s: got %s, want %s", what, buf, want);
}

static void assert_a6(const struct in6_addr *got, const char *want, const char *what)
{
	struct in6_addr w = a6(want);
	char buf[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, got, buf, sizeof(buf));
	cr_assert(memcmp(got, &w, sizeof(w)) == 0, "%s: got %s, want %s", what, buf, want);
}

static void build_ok(const struct nsess_netplan *p, SlirpConfig *c)
{
	struct nsess_error e = { 0 };

	memset(c, 0xa5, sizeof(*c)); /* every field must be written */
	cr_assert_eq(nsess_engine_build_config(p, c, &e), 0, "build failed: %s", e.msg);
}

Test(engine_config, defaults)
{
	struct nsess_netplan p;
	SlirpConfig c;

	nsess_netplan_defaults(&p);
	build_ok(&p, &c);

	cr_assert_eq(c.version, 4);
	cr_assert_eq(c.restricted, 0);
	cr_assert(c.in_enabled);
	assert_a4(c.vnetwork, "10.0.2.0", "vnetwork");
	assert_a4(c.vnetmask, "255.255.255.0", "vnetmask");
	assert_a4(c.vhost, "10.0.2.2", "vhost");
	assert_a4(c.vnameserver, "10.0.2.3", "vnameserver");
	assert_a4(c.vdhcp_start, "10.0.2.100", "vdhcp_start");

	cr_assert(c.in6_enabled);
	assert_a6(&c.vprefix_addr6, "fd00::", "vprefix_addr6");
	cr_assert_eq(c.vprefix_len, 64);
	assert_a6(&c.vhost6, "fd00::2", "vhost6");
	assert_a6(&c.vnameserver6, "fd00::3", "vnameserver6");

	cr_assert_eq(c.if_mtu, 65520);
	cr_assert_eq(c.if_mru, 65520);
	cr_assert(c.disable_host_loopback, "host loopback must be off by default");
	cr_assert_not(c.enable_emu, "protocol emulation must always be off");
	cr_assert_not(c.disable_dns, "the DNS forwarder must be on");
	cr_assert(c.disable_dhcp);

	cr_assert_null(c.vhostname);
	cr_assert_null(c.tftp_server_name);
	cr_assert_null(c.tftp_path);
	cr_assert_null(c.bootfile);
	cr_assert_null(c.vdnssearch);
	cr_assert_null(c.vdomainname);
	cr_assert_null(c.outbound_addr);
	cr_assert_null(c.outbound_addr6);
}

Test(engine_config, host_loopback_allowed)
{
	struct nsess_netplan p;
	SlirpConfig c;

	nsess_netplan_defaults(&p);
	p.allow_host_loopback = true;
	build_ok(&p, &c);
	cr_assert_not(c.disable_host_loopback);
	cr_assert_not(c.enable_emu, "allowing loopback must not turn emulation on");
}

Test(engine_config, ipv6_off)
{
	struct nsess_netplan p;
	SlirpConfig c;

	nsess_netplan_defaults(&p);
	p.ipv6 = false;
	build_ok(&p, &c);
	cr_assert_not(c.in6_enabled);
	cr_assert(c.in_enabled);
}

Test(engine_config, ipv6_off_ignores_its_prefix)
{
	struct nsess_netplan p;
	SlirpConfig c;

	nsess_netplan_defaults(&p);
	p.ipv6 = false;
	p.prefix6 = 0;
	build_ok(&p, &c);
	cr_assert_not(c.in6_enabled);
}

Test(engine_config, mtu)
{
	static const uint32_t ok[] = { NSESS_MTU_MIN, 1500, 9000, NSESS_MTU_MAX };
	struct nsess_netplan p;
	SlirpConfig c;
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(ok); i++) {
		nsess_netplan_defaults(&p);
		p.mtu = ok[i];
		build_ok(&p, &c);
		cr_assert_eq(c.if_mtu, ok[i]);
		cr_assert_eq(c.if_mru, ok[i]);
	}
}

Test(engine_config, mtu_out_of_range)
{
	static const uint32_t bad[] = { 0, 68, NSESS_MTU_MIN - 1, NSESS_MTU_MAX + 1, 65536,
					4294967295u };
	struct nsess_netplan p;
	struct nsess_error e;
	SlirpConfig c;
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(bad); i++) {
		memset(&e, 0, sizeof(e));
		memset(&c, 0x5a, sizeof(c));
		nsess_netplan_defaults(&p);
		p.mtu = bad[i];
		cr_assert_eq(nsess_engine_build_config(&p, &c, &e), -EINVAL, "mtu %u", bad[i]);
		cr_assert_eq(e.err, EINVAL);
		cr_assert(strstr(e.msg, "MTU"), "message: %s", e.msg);
		cr_assert_eq(c.version, 0x5a5a5a5au, "output written on failure");
	}
}

Test(engine_config, custom_network)
{
	struct nsess_netplan p;
	SlirpConfig c;

	nsess_netplan_defaults(&p);
	p.net4 = a4("192.168.77.0");
	p.prefix4 = 26;
	p.addr4 = a4("192.168.77.10");
	p.gw4 = a4("192.168.77.1");
	p.dns4 = a4("192.168.77.53");
	p.net6 = a6("fd42:1:2:3::");
	p.prefix6 = 64;
	p.gw6 = a6("fd42:1:2:3::1");
	p.dns6 = a6("fd42:1:2:3::35");
	build_ok(&p, &c);
	assert_a4(c.vnetwork, "192.168.77.0", "vnetwork");
	assert_a4(c.vnetmask, "255.255.255.192", "vnetmask");
	assert_a4(c.vhost, "192.168.77.1", "vhost");
	assert_a4(c.vnameserver, "192.168.77.53", "vnameserver");
	assert_a4(c.vdhcp_start, "192.168.77.10", "vdhcp_start");
	assert_a6(&c.vprefix_addr6, "fd42:1:2:3::", "vprefix_addr6");
	assert_a6(&c.vhost6, "fd42:1:2:3::1", "vhost6");
	assert_a6(&c.vnameserver6, "fd42:1:2:3::35", "vnameserver6");
}

Test(engine_config, network_masked_to_prefix)
{
	struct nsess_netplan p;
	SlirpConfig c;

	nsess_netplan_defaults(&p);
	p.net4 = a4("10.0.2.77"); /* host bits set: libslirp wants the network */
	build_ok(&p, &c);
	assert_a4(c.vnetwork, "10.0.2.0", "vnetwork");
}

Test(engine_config, bad_prefixes)
{
	static const uint8_t bad4[] = { 0, 31, 32, 33 };
	static const uint8_t bad6[] = { 0, 127, 128, 200 };
	struct nsess_netplan p;
	struct nsess_error e;
	SlirpConfig c;
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(bad4); i++) {
		nsess_netplan_defaults(&p);
		p.prefix4 = bad4[i];
		cr_assert_eq(nsess_engine_build_config(&p, &c, &e), -EINVAL, "/%u", bad4[i]);
		cr_assert(strstr(e.msg, "IPv4 prefix"), "message: %s", e.msg);
	}
	for (i = 0; i < NSESS_ARRAY_SIZE(bad6); i++) {
		nsess_netplan_defaults(&p);
		p.prefix6 = bad6[i];
		cr_assert_eq(nsess_engine_build_config(&p, &c, &e), -EINVAL, "/%u", bad6[i]);
		cr_assert(strstr(e.msg, "IPv6 prefix"), "message: %s", e.msg);
	}
}

Test(engine_config, wrong_mode)
{
	static const enum nsess_net_mode modes[] = { NSESS_NET_NONE, NSESS_NET_HOST };
	struct nsess_netplan p;
	struct nsess_error e;
	SlirpConfig c;
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(modes); i++) {
		nsess_netplan_defaults(&p);
		p.mode = modes[i];
		cr_assert_eq(nsess_engine_build_config(&p, &c, &e), -EINVAL);
		cr_assert(strstr(e.msg, "slirp"), "message: %s", e.msg);
	}
}

Test(engine_config, null_error_record)
{
	struct nsess_netplan p;
	SlirpConfig c;

	nsess_netplan_defaults(&p);
	p.mtu = 1;
	cr_assert_eq(nsess_engine_build_config(&p, &c, NULL), -EINVAL);
}

Test(engine_config, version_string)
{
	const char *v = nsess_engine_version();

	cr_assert_not_null(v);
	cr_assert_eq(strncmp(v, "4.", 2), 0, "libslirp %s", v);
}
