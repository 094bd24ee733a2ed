/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_netconf.c - TAP creation and netconf_apply in a throwaway network
 * namespace (needs root).
 *
 * Each case forks; the child unshares a network namespace, does the work,
 * checks the result from inside and reports through its exit code and a
 * pipe (0 pass, 77 could not set up, else fail). The kernel state is read
 * back through /proc/net, ioctls and libnl dumps, i.e. not through the code
 * under test.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/route.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/neighbour.h>
#include <netlink/netlink.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include "engine.h"
#include "netconf.h"
#include "vnet.h"
#include "netplan.h"
#include "../unit/testlib.h"

#define CHILD_SKIP 77

typedef int (*child_fn)(void *arg, char *msg, size_t len);

/* Fail the child with a located message. */
#define CHECK(cond, ...)                                                          \
	do {                                                                      \
		if (!(cond)) {                                                    \
			int _o = snprintf(msg, len, "line %d: ", __LINE__);       \
			if (_o > 0 && (size_t)_o < len)                           \
				snprintf(msg + _o, len - (size_t)_o, __VA_ARGS__); \
			return 1;                                                 \
		}                                                                 \
	} while (0)

static int run_in_child(child_fn fn, void *arg, char *out, size_t outlen)
{
	int pfd[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		char msg[2048] = "";
		int rc;

		close(pfd[0]);
		rc = fn(arg, msg, sizeof(msg));
		if (write(pfd[1], msg, strlen(msg)) < 0)
			rc = 2;
		_exit(rc);
	}
	close(pfd[1]);
	while (got + 1 < outlen && (n = read(pfd[0], out + got, outlen - 1 - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		cr_assert_eq(errno, EINTR);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* Run @fn in a child; skip (or in CI fail) on 77, fail on anything but 0. */
static void expect_child_ok(child_fn fn, void *arg)
{
	char out[2048];
	int rc = run_in_child(fn, arg, out, sizeof(out));

	if (rc == CHILD_SKIP)
		NSESS_TEST_NEED(false, out);
	cr_assert_eq(rc, 0, "child exit %d: %s", rc, out);
}

static int enter_netns(char *msg, size_t len)
{
	if (unshare(CLONE_NEWNET) < 0) {
		snprintf(msg, len, "unshare(CLONE_NEWNET): %s", strerror(errno));
		return CHILD_SKIP;
	}
	return 0;
}

/* ---- reading kernel state back ------------------------------------------ */

static int read_text(const char *path, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	return (int)got;
}

static int if_ioctl(const char *ifname, unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	if (s < 0)
		return -errno;
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", ifname);
	r = ioctl(s, req, ifr) < 0 ? -errno : 0;
	close(s);
	return r;
}

static bool if_is_up(const char *ifname)
{
	struct ifreq ifr;

	return if_ioctl(ifname, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
}

static int count_fds(void)
{
	char path[64];
	int fd, n = 0;

	for (fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (access(path, F_OK) == 0)
			n++;
	}
	return n;
}

/* a line of /proc/net/route: "tap0 00000000 0202000A 0003 ..." */
static bool has_route4_default(const char *ifname, const char *gw_hex_le)
{
	char buf[8192], *line, *save = NULL;
	char dev[IFNAMSIZ + 1], dst[16], gw[16];
	unsigned int flags;

	if (read_text("/proc/net/route", buf, sizeof(buf)) < 0)
		return false;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%16s %15s %15s %x", dev, dst, gw, &flags) != 4)
			continue;
		if (strcmp(dev, ifname) == 0 && strcmp(dst, "00000000") == 0 &&
		    strcasecmp(gw, gw_hex_le) == 0 && (flags & 0x2 /* RTF_GATEWAY */))
			return true;
	}
	return false;
}

/* /proc/net/ipv6_route: dst dstlen src srclen nexthop metric ref use flags dev */
static bool has_route6_default(const char *ifname, const char *gw_hex)
{
	char buf[16384], *line, *save = NULL;
	char dst[40], dlen[4], src[40], slen[4], nh[40], m[12], ref[12], use[12], fl[12];
	char dev[IFNAMSIZ + 1];

	if (read_text("/proc/net/ipv6_route", buf, sizeof(buf)) < 0)
		return false;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%39s %3s %39s %3s %39s %11s %11s %11s %11s %16s", dst, dlen, src,
			   slen, nh, m, ref, use, fl, dev) != 10)
			continue;
		if (strcmp(dev, ifname) == 0 && strcmp(dlen, "00") == 0 &&
		    strcmp(dst, "00000000000000000000000000000000") == 0 &&
		    strcmp(nh, gw_hex) == 0)
			return true;
	}
	return false;
}

/* /proc/net/if_inet6: addr ifindex prefixlen scope flags dev; flags or -1 */
static int inet6_addr_flags(const char *ifname, const char *addr_hex, unsigned int plen)
{
	char buf[8192], *line, *save = NULL;
	char a[40], dev[IFNAMSIZ + 1];
	unsigned int idx, pl, scope, flags;

	if (read_text("/proc/net/if_inet6", buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%39s %x %x %x %x %16s", a, &idx, &pl, &scope, &flags, dev) != 6)
			continue;
		if (strcmp(dev, ifname) == 0 && strcmp(a, addr_hex) == 0 && pl == plen)
			return (int)flags;
	}
	return -1;
}

/* neighbour @ip on @ifname via a libnl dump: state, MAC in @mac; -1 if none */
static int neigh_lookup(const char *ifname, int family, const char *ip, uint8_t mac[6])
{
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_cache *cache = NULL;
	struct nl_addr *dst = NULL;
	struct rtnl_neigh *n = NULL;
	unsigned char raw[16];
	int state = -1;

	if (!sk || nl_connect(sk, NETLINK_ROUTE) < 0)
		goto out;
	if (rtnl_neigh_alloc_cache(sk, &cache) < 0)
		goto out;
	if (inet_pton(family, ip, raw) != 1)
		goto out;
	dst = nl_addr_build(family, raw, family == AF_INET ? 4 : 16);
	n = dst ? rtnl_neigh_get(cache, (int)if_nametoindex(ifname), dst) : NULL;
	if (n) {
		struct nl_addr *ll = rtnl_neigh_get_lladdr(n);

		state = rtnl_neigh_get_state(n);
		if (ll && nl_addr_get_len(ll) == 6)
			memcpy(mac, nl_addr_get_binary_addr(ll), 6);
		else
			memset(mac, 0, 6);
		rtnl_neigh_put(n);
	}
out:
	if (dst)
		nl_addr_put(dst);
	if (cache)
		nl_cache_free(cache);
	if (sk)
		nl_socket_free(sk);
	return state;
}

/*
 * Main-table routes on @ifname to @dst/@plen (plen 0: the default route),
 * via a libnl dump: how many there are, and the metrics of the last one
 * (RTAX_MTU, RTAX_ADVMSS, RTAX_QUICKACK; 0 when unset) and its priority.
 */
struct route_seen {
	int n;
	uint32_t mtu, advmss, quickack, priority;
};

static struct route_seen route_lookup(const char *ifname, int family, const char *dst,
				      unsigned int plen)
{
	struct route_seen rs = { 0 };
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_cache *cache = NULL;
	unsigned char raw[16] = { 0 };
	int ifindex = (int)if_nametoindex(ifname);
	int alen = family == AF_INET ? 4 : 16;

	if (!sk || nl_connect(sk, NETLINK_ROUTE) < 0 || inet_pton(family, dst, raw) != 1)
		goto out;
	if (rtnl_route_alloc_cache(sk, family, 0, &cache) < 0)
		goto out;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *rt = (struct rtnl_route *)o;
		struct nl_addr *d = rtnl_route_get_dst(rt);
		struct rtnl_nexthop *nh = rtnl_route_nexthop_n(rt, 0);

		if (rtnl_route_get_table(rt) != RT_TABLE_MAIN || !nh ||
		    rtnl_route_nh_get_ifindex(nh) != ifindex || !d ||
		    nl_addr_get_prefixlen(d) != plen)
			continue;
		if (plen && (nl_addr_get_len(d) != (unsigned int)alen ||
			     memcmp(nl_addr_get_binary_addr(d), raw, (size_t)alen) != 0))
			continue;
		rs.n++;
		rs.mtu = rs.advmss = rs.quickack = 0;
		(void)rtnl_route_get_metric(rt, RTAX_MTU, &rs.mtu);
		(void)rtnl_route_get_metric(rt, RTAX_ADVMSS, &rs.advmss);
		(void)rtnl_route_get_metric(rt, RTAX_QUICKACK, &rs.quickack);
		rs.priority = rtnl_route_get_priority(rt);
	}
out:
	if (cache)
		nl_cache_free(cache);
	if (sk)
		nl_socket_free(sk);
	return rs;
}

static bool ipv6_in_kernel(void)
{
	return access("/proc/sys/net/ipv6", F_OK) == 0;
}

/* A fresh netns with IPv6 in the kernel and the default plan's TAP in it. */
static int enter_netns_v6_tap(char *msg, size_t len, struct nsess_netplan *p, int *tap)
{
	struct nsess_error e = { 0 };
	int r = enter_netns(msg, len);

	if (r)
		return r;
	if (!ipv6_in_kernel()) {
		snprintf(msg, len, "the kernel has no IPv6");
		return CHILD_SKIP;
	}
	nsess_netplan_defaults(p);
	r = nsess_tap_create(p->ifname, tap, &e);
	CHECK(r == 0, "tap_create: %s", e.msg);
	return 0;
}

/* ---- the full configuration ---------------------------------------------- */

static int child_apply_defaults(void *arg, char *msg, size_t len)
{
	static const uint8_t mac_gw4[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
	static const uint8_t mac_dns4[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x03 };
	static const uint8_t mac_gw6[6] = { 0x52, 0x56, 0x00, 0x00, 0x00, 0x02 };
	static const uint8_t mac_dns6[6] = { 0x52, 0x56, 0x00, 0x00, 0x00, 0x03 };
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	struct ifreq ifr;
	char buf[64];
	uint8_t mac[6];
	int fd = -1, fl, r, before, state;
	char ifn[IFNAMSIZ];

	(void)arg;
	r = enter_netns(msg, len);
	if (r)
		return r;
	CHECK(ipv6_in_kernel(), "this kernel has no IPv6; the default plan needs it");
	nsess_netplan_defaults(&p);

	r = nsess_tap_create(p.ifname, &fd, &e);
	CHECK(r == 0, "tap_create: %d %s", r, e.msg);
	fl = fcntl(fd, F_GETFD);
	CHECK(fl >= 0 && (fl & FD_CLOEXEC), "TAP fd is not close-on-exec");
	fl = fcntl(fd, F_GETFL);
	CHECK(fl >= 0 && (fl & O_NONBLOCK), "TAP fd is not non-blocking");
	CHECK(nsess_tap_verify(fd, ifn) == 0 && strcmp(ifn, "tap0") == 0, "tap_verify");

	before = count_fds();
	r = nsess_netconf_apply(&p, &e);
	CHECK(r == 0, "apply: %d %s", r, e.msg);
	/* the netlink socket is gone again */
	CHECK(count_fds() == before, "fd count %d -> %d after apply", before, count_fds());

	CHECK(if_is_up("lo"), "lo is not up");
	CHECK(if_is_up("tap0"), "tap0 is not up");
	CHECK(if_ioctl("tap0", SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu == 65520,
	      "tap0 MTU is %d", ifr.ifr_mtu);
	CHECK(if_ioctl("tap0", SIOCGIFADDR, &ifr) == 0, "tap0 has no IPv4 address");
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr, buf, sizeof(buf));
	CHECK(strcmp(buf, "10.0.2.100") == 0, "tap0 IPv4 address %s", buf);
	CHECK(if_ioctl("tap0", SIOCGIFNETMASK, &ifr) == 0, "no netmask");
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr, buf, sizeof(buf));
	CHECK(strcmp(buf, "255.255.255.0") == 0, "tap0 netmask %s", buf);
	CHECK(if_ioctl("tap0", SIOCGIFBRDADDR, &ifr) == 0, "no broadcast");
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr, buf, sizeof(buf));
	CHECK(strcmp(buf, "10.0.2.255") == 0, "tap0 broadcast %s", buf);

	r = inet6_addr_flags("tap0", "fd000000000000000000000000000100", 64);
	CHECK(r >= 0, "tap0 has no fd00::100/64");
	CHECK(r & 0x02 /* IFA_F_NODAD */, "fd00::100 flags 0x%x lack NODAD", r);
	CHECK(!(r & 0x40 /* IFA_F_TENTATIVE */), "fd00::100 is tentative (flags 0x%x)", r);
	CHECK(read_text("/proc/sys/net/ipv6/conf/tap0/accept_ra", buf, sizeof(buf)) > 0 &&
	      buf[0] == '0', "accept_ra on tap0 is %s", buf);

	CHECK(has_route4_default("tap0", "0202000A"), "no default route via 10.0.2.2");
	CHECK(has_route6_default("tap0", "fd000000000000000000000000000002"),
	      "no default route via fd00::2");
	/*
	 * Every route through tap0 sends at most 16384, takes segments as
	 * large as the link carries and acknowledges at once; each prefix
	 * route is there once, ours, with the kernel's priority (an IPv6 one
	 * of another priority would sit beside a kernel's instead of
	 * replacing it).
	 */
	{
		static const struct {
			int family;
			const char *dst;
			unsigned int plen;
			uint32_t advmss, priority;
		} want[] = {
			{ AF_INET, "10.0.2.0", 24, 32727, 0 },
			{ AF_INET, "0.0.0.0", 0, 32727, 0 },
			{ AF_INET6, "fd00::", 64, 32727, 256 },
			{ AF_INET6, "::", 0, 32727, 1024 },
		};

		for (size_t i = 0; i < NSESS_ARRAY_SIZE(want); i++) {
			struct route_seen rs = route_lookup("tap0", want[i].family, want[i].dst,
							    want[i].plen);

			CHECK(rs.n == 1, "%d routes to %s/%u on tap0", rs.n, want[i].dst,
			      want[i].plen);
			CHECK(rs.mtu == 16384 && rs.advmss == want[i].advmss && rs.quickack == 1,
			      "route %s/%u: mtu %u advmss %u quickack %u", want[i].dst,
			      want[i].plen, rs.mtu, rs.advmss, rs.quickack);
			CHECK(rs.priority == want[i].priority, "route %s/%u: priority %u",
			      want[i].dst, want[i].plen, rs.priority);
		}
	}

	state = neigh_lookup("tap0", AF_INET, "10.0.2.2", mac);
	CHECK(state == NUD_PERMANENT, "neighbour 10.0.2.2 state %d", state);
	CHECK(memcmp(mac, mac_gw4, 6) == 0, "10.0.2.2 lladdr %02x:%02x:%02x:%02x:%02x:%02x",
	      mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	state = neigh_lookup("tap0", AF_INET, "10.0.2.3", mac);
	CHECK(state == NUD_PERMANENT && memcmp(mac, mac_dns4, 6) == 0, "neighbour 10.0.2.3");
	state = neigh_lookup("tap0", AF_INET6, "fd00::2", mac);
	CHECK(state == NUD_PERMANENT, "neighbour fd00::2 state %d", state);
	CHECK(memcmp(mac, mac_gw6, 6) == 0, "fd00::2 lladdr %02x:%02x:%02x:%02x:%02x:%02x",
	      mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	state = neigh_lookup("tap0", AF_INET6, "fd00::3", mac);
	CHECK(state == NUD_PERMANENT && memcmp(mac, mac_dns6, 6) == 0, "neighbour fd00::3");

	/* a second run fails at the first step that is not idempotent, by name */
	memset(&e, 0, sizeof(e));
	r = nsess_netconf_apply(&p, &e);
	CHECK(r == -EEXIST, "second apply returned %d (%s)", r, e.msg);
	CHECK(strstr(e.msg, "netconf: adding 10.0.2.100/24 to tap0: ") != NULL, "message: %s",
	      e.msg);
	CHECK(e.err == EEXIST, "e.err %d", e.err);

	close(fd);
	return 0;
}

Test(netconf, apply_defaults)
{
	NSESS_TEST_NEED_ROOT();
	expect_child_ok(child_apply_defaults, NULL);
}

/* A fresh netns with tap0 and the default plan, IPv6 off in the plan. */
static int enter_netns_v4_tap(char *msg, size_t len, struct nsess_netplan *p, int *tap)
{
	struct nsess_error e = { 0 };
	int r = enter_netns(msg, len);

	if (r)
		return r;
	nsess_netplan_defaults(p);
	p->ipv6 = false;
	r = nsess_tap_create(p->ifname, tap, &e);
	CHECK(r == 0, "tap_create: %s", e.msg);
	return 0;
}

static int child_apply_no_ipv6_plan(void *arg, char *msg, size_t len)
{
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	int fd, r;
	char buf[16];

	(void)arg;
	r = enter_netns_v4_tap(msg, len, &p, &fd);
	if (r)
		return r;
	r = nsess_netconf_apply(&p, &e);
	CHECK(r == 0, "apply: %d %s", r, e.msg);
	CHECK(has_route4_default("tap0", "0202000A"), "no default route via 10.0.2.2");
	CHECK(!has_route6_default("tap0", "fd000000000000000000000000000002"),
	      "IPv6 route although the plan has IPv6 off");
	CHECK(inet6_addr_flags("tap0", "fd000000000000000000000000000100", 64) < 0,
	      "IPv6 address although the plan has IPv6 off");
	if (ipv6_in_kernel())
		CHECK(read_text("/proc/sys/net/ipv6/conf/tap0/disable_ipv6", buf,
				sizeof(buf)) > 0 && buf[0] == '1',
		      "IPv6 still enabled on tap0");
	close(fd);
	return 0;
}

Test(netconf, apply_ipv6_off)
{
	NSESS_TEST_NEED_ROOT();
	expect_child_ok(child_apply_no_ipv6_plan, NULL);
}

/* IPv6 disabled in the namespace: an IPv6 plan fails clearly, an IPv4 one works */
static int child_apply_ipv6_disabled(void *arg, char *msg, size_t len)
{
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	int fd, wfd, r;

	(void)arg;
	r = enter_netns_v6_tap(msg, len, &p, &fd);
	if (r)
		return r;
	wfd = open("/proc/sys/net/ipv6/conf/tap0/disable_ipv6", O_WRONLY | O_CLOEXEC);
	CHECK(wfd >= 0 && write(wfd, "1", 1) == 1, "cannot disable IPv6 on tap0");
	close(wfd);

	r = nsess_netconf_apply(&p, &e);
	CHECK(r == -EAFNOSUPPORT, "apply with IPv6 on returned %d (%s)", r, e.msg);
	CHECK(strstr(e.msg, "net.ipv6.conf.tap0.disable_ipv6 = 1"), "message: %s", e.msg);
	CHECK(!if_is_up("tap0"), "tap0 was brought up before the IPv6 check failed");

	p.ipv6 = false;
	memset(&e, 0, sizeof(e));
	r = nsess_netconf_apply(&p, &e);
	CHECK(r == 0, "apply with IPv6 off: %d %s", r, e.msg);
	CHECK(if_is_up("tap0") && has_route4_default("tap0", "0202000A"), "IPv4 not set up");
	close(fd);
	return 0;
}

Test(netconf, apply_ipv6_disabled_in_kernel)
{
	NSESS_TEST_NEED_ROOT();
	expect_child_ok(child_apply_ipv6_disabled, NULL);
}

static int child_apply_without_tap(void *arg, char *msg, size_t len)
{
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	int r;

	(void)arg;
	r = enter_netns(msg, len);
	if (r)
		return r;
	nsess_netplan_defaults(&p);
	r = nsess_netconf_apply(&p, &e);
	CHECK(r == -ENODEV, "apply without a TAP returned %d (%s)", r, e.msg);
	CHECK(strstr(e.msg, "netconf: looking up interface tap0: "), "message: %s", e.msg);
	CHECK(strstr(e.msg, "No such device"), "no errno text in: %s", e.msg);
	return 0;
}

Test(netconf, apply_without_tap)
{
	NSESS_TEST_NEED_ROOT();
	expect_child_ok(child_apply_without_tap, NULL);
}

/*
 * One request in the middle of the batch fails (a gateway off the TAP's
 * subnet): that step is reported, with the kernel's errno and its own words,
 * and the requests before it did take effect.
 */
static int child_apply_bad_gateway(void *arg, char *msg, size_t len)
{
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	int fd = -1, r;

	(void)arg;
	r = enter_netns(msg, len);
	if (r)
		return r;
	nsess_netplan_defaults(&p);
	p.ipv6 = false;
	inet_pton(AF_INET, "192.0.2.1", &p.gw4);
	r = nsess_tap_create(p.ifname, &fd, &e);
	CHECK(r == 0, "tap: %s", e.msg);
	r = nsess_netconf_apply(&p, &e);
	CHECK(r == -ENETUNREACH, "apply returned %d (%s)", r, e.msg);
	CHECK(strstr(e.msg, "netconf: adding the IPv4 default route via 192.0.2.1 dev tap0: "
		      "Network is unreachable") != NULL, "message: %s", e.msg);
	CHECK(strstr(e.msg, "(kernel: ") != NULL, "no reason from the kernel in: %s", e.msg);
	CHECK(strstr(e.msg, "the gateway is not on the TAP's subnet") != NULL, "no hint in: %s",
	      e.msg);
	CHECK(if_is_up("tap0") && if_is_up("lo"), "the steps before the route did not run");
	close(fd);
	return 0;
}

Test(netconf, apply_reports_the_failing_request)
{
	NSESS_TEST_NEED_ROOT();
	expect_child_ok(child_apply_bad_gateway, NULL);
}

/*
 * A kernel that ignores IFA_F_NOPREFIXROUTE adds its own prefix route,
 * without metrics, when the address goes on: stand one in before apply and
 * expect apply to take its place rather than fail or sit beside it.
 */
static int child_apply_over_kernel_prefix_route(void *arg, char *msg, size_t len)
{
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	struct sockaddr_in *sin;
	struct route_seen rs;
	struct rtentry rt = { 0 };
	struct ifreq ifr;
	int fd, r, s;

	(void)arg;
	r = enter_netns_v4_tap(msg, len, &p, &fd);
	if (r)
		return r;
	CHECK(if_ioctl("tap0", SIOCGIFFLAGS, &ifr) == 0, "SIOCGIFFLAGS");
	ifr.ifr_flags |= IFF_UP;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(s >= 0 && ioctl(s, SIOCSIFFLAGS, &ifr) == 0, "bringing tap0 up: %s", strerror(errno));
	sin = (struct sockaddr_in *)&rt.rt_dst;
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "10.0.2.0", &sin->sin_addr);
	sin = (struct sockaddr_in *)&rt.rt_genmask;
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
	rt.rt_flags = RTF_UP;
	rt.rt_dev = (char *)"tap0";
	CHECK(ioctl(s, SIOCADDRT, &rt) == 0, "adding 10.0.2.0/24 dev tap0: %s", strerror(errno));
	close(s);
	rs = route_lookup("tap0", AF_INET, "10.0.2.0", 24);
	CHECK(rs.n == 1 && rs.quickack == 0, "the stand-in route: %d, quickack %u", rs.n,
	      rs.quickack);

	r = nsess_netconf_apply(&p, &e);
	CHECK(r == 0, "apply over a kernel prefix route: %d %s", r, e.msg);
	rs = route_lookup("tap0", AF_INET, "10.0.2.0", 24);
	CHECK(rs.n == 1, "%d routes to 10.0.2.0/24 after apply", rs.n);
	CHECK(rs.mtu == 16384 && rs.advmss == 32727 && rs.quickack == 1,
	      "10.0.2.0/24 after apply: mtu %u advmss %u quickack %u", rs.mtu, rs.advmss,
	      rs.quickack);
	CHECK(has_route4_default("tap0", "0202000A"), "no default route via 10.0.2.2");
	close(fd);
	return 0;
}

Test(netconf, apply_over_kernel_prefix_route)
{
	NSESS_TEST_NEED_ROOT();
	expect_child_ok(child_apply_over_kernel_prefix_route, NULL);
}

/* An MTU at or below the routes' limit rules both ways: quick ACKs only. */
static int child_apply_small_mtu(void *arg, char *msg, size_t len)
{
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	struct route_seen rs;
	struct ifreq ifr;
	int fd, r;

	(void)arg;
	r = enter_netns_v4_tap(msg, len, &p, &fd);
	if (r)
		return r;
	p.mtu = 1500;
	r = nsess_netconf_apply(&p, &e);
	CHECK(r == 0, "apply: %d %s", r, e.msg);
	CHECK(if_ioctl("tap0", SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu == 1500, "tap0 MTU is %d",
	      ifr.ifr_mtu);
	for (int i = 0; i < 2; i++) {
		rs = route_lookup("tap0", AF_INET, i ? "0.0.0.0" : "10.0.2.0", i ? 0 : 24);
		CHECK(rs.n == 1 && rs.mtu == 0 && rs.advmss == 0 && rs.quickack == 1,
		      "%s route: %d, mtu %u advmss %u quickack %u", i ? "default" : "prefix",
		      rs.n, rs.mtu, rs.advmss, rs.quickack);
	}
	close(fd);
	return 0;
}

Test(netconf, apply_small_mtu)
{
	NSESS_TEST_NEED_ROOT();
	expect_child_ok(child_apply_small_mtu, NULL);
}

static int child_apply_modes(void *arg, char *msg, size_t len)
{
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	int r;

	(void)arg;
	r = enter_netns(msg, len);
	if (r)
		return r;
	nsess_netplan_defaults(&p);
	p.mode = NSESS_NET_HOST;
	r = nsess_netconf_apply(&p, &e);
	CHECK(r == 0 && !if_is_up("lo"), "mode host touched the namespace (%d)", r);
	p.mode = NSESS_NET_NONE;
	r = nsess_netconf_apply(&p, &e);
	CHECK(r == 0, "mode none: %d %s", r, e.msg);
	CHECK(if_is_up("lo"), "mode none: lo is not up");
	CHECK(if_nametoindex("tap0") == 0, "mode none made a tap0");
	return 0;
}

Test(netconf, apply_modes_none_and_host)
{
	NSESS_TEST_NEED_ROOT();
	expect_child_ok(child_apply_modes, NULL);
}

/* ---- TAP creation and verification ---------------------------------------- */

static int child_tap_verify(void *arg, char *msg, size_t len)
{
	struct nsess_error e = { 0 };
	struct ifreq ifr;
	char name[IFNAMSIZ];
	int tap, tun, dup = -1, raw, file, r;

	(void)arg;
	r = enter_netns(msg, len);
	if (r)
		return r;
	r = nsess_tap_create("tapv", &tap, &e);
	CHECK(r == 0, "tap_create: %s", e.msg);
	memset(name, 'X', sizeof(name));
	CHECK(nsess_tap_verify(tap, name) == 0, "TAP fd refused");
	CHECK(strcmp(name, "tapv") == 0, "name %.16s", name);
	CHECK(nsess_tap_verify(tap, NULL) == 0, "TAP fd refused without a name buffer");
	/* a session's TAP carries the virtio-net header the engine expects */
	r = nsess_engine_tap_vnet_len(tap);
	CHECK(r == NSESS_VNET_HDR_LEN, "the TAP's virtio-net header is %d bytes", r);

	/* the same name again: refused with a message that says why */
	r = nsess_tap_create("tapv", &dup, &e);
	CHECK(r == -EBUSY || r == -EEXIST, "duplicate tap_create returned %d", r);
	CHECK(strstr(e.msg, "already exists"), "message: %s", e.msg);

	tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	CHECK(tun >= 0, "open tun");
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "tunv");
	CHECK(ioctl(tun, TUNSETIFF, &ifr) == 0, "TUNSETIFF tun: %s", strerror(errno));
	r = nsess_tap_verify(tun, name);
	CHECK(r == -EPROTOTYPE, "TUN fd: %d", r);
	r = nsess_engine_tap_vnet_len(tun);
	CHECK(r == 0, "a queue made without IFF_VNET_HDR reports a %d-byte header", r);

	/*
	 * A TAP with packet info cannot be told apart: TUNGETIFF reports
	 * IFF_NOFILTER on the bit of IFF_NO_PI.
	 */
	raw = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	CHECK(raw >= 0, "open tun");
	r = nsess_tap_verify(raw, NULL);
	CHECK(r == -ENOTTY, "unattached /dev/net/tun: %d", r);

	file = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	CHECK(file >= 0, "open file");
	r = nsess_tap_verify(file, name);
	CHECK(r == -ENOTTY, "regular file: %d", r);
	CHECK(name[0] == 't', "name written on failure");
	close(file);
	file = open("/dev/null", O_RDWR | O_CLOEXEC);
	r = nsess_tap_verify(file, NULL);
	CHECK(r == -ENOTTY, "/dev/null: %d", r);
	r = nsess_engine_tap_vnet_len(file);
	CHECK(r == 0, "/dev/null reports a %d-byte header", r);
	close(file);
	r = nsess_tap_verify(1000, NULL);
	CHECK(r == -EBADF, "closed fd: %d", r);

	close(tap);
	close(tun);
	close(raw);
	return 0;
}

/* ---- the quiet TAP of a lazily started engine ------------------------------ */

/* Is @f (an Ethernet frame) link-up chatter: an MLD report or a DAD probe? */
static bool frame_is_chatter(const unsigned char *f, size_t n)
{
	static const unsigned char unspec[16];

	if (n < 63 || f[12] != 0x86 || f[13] != 0xdd)
		return false;
	if (f[20] == 0 && f[54] == 58 && f[55] == 0)
		return f[62] == 143 || f[62] == 131;
	return f[20] == 58 && f[54] == 135 && memcmp(f + 22, unspec, 16) == 0;
}

/*
 * An observer of what the session sends, beside the filter: an unfiltered
 * AF_PACKET socket sees outgoing frames before the TAP's filter judges them.
 */
static int open_observer(const char *ifname)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int fd;

	sll.sll_ifindex = (int)if_nametoindex(ifname);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return -1;
	return fd;
}

static int child_quiet_tap(void *arg, char *msg, size_t len)
{
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	struct sockaddr_in dns = { .sin_family = AF_INET, .sin_port = htons(53) };
	static unsigned char frame[65536];
	struct pollfd pt;
	int tap, obs, udp, r, vlen, frames = 0, chatter = 0;
	ssize_t n, seen = 0;

	(void)arg;
	r = enter_netns_v6_tap(msg, len, &p, &tap);
	if (r)
		return r;
	/* as in a session: before the link comes up */
	r = nsess_tap_quiet(tap);
	CHECK(r == 0, "tap_quiet: %s", strerror(-r));
	obs = open_observer(p.ifname);
	CHECK(obs >= 0, "observer socket: %s", strerror(errno));
	r = nsess_netconf_apply(&p, &e);
	CHECK(r == 0, "apply: %d %s", r, e.msg);

	/* the kernel's MLD reports and DAD probes go on for a few seconds */
	for (int waited = 0; chatter == 0 && waited < 4000; waited += 50) {
		struct pollfd po = { .fd = obs, .events = POLLIN };

		if (poll(&po, 1, 50) <= 0)
			continue;
		while ((n = recv(obs, frame, sizeof(frame), 0)) > 0) {
			frames++;
			chatter += frame_is_chatter(frame, (size_t)n);
		}
	}
	CHECK(chatter > 0, "no MLD report or DAD probe left the session in 4 s (%d frames)",
	      frames);
	pt = (struct pollfd){ .fd = tap, .events = POLLIN };
	CHECK(poll(&pt, 1, 0) == 0, "the TAP is readable after %d frame(s) of link-up chatter "
	      "(%d in all): the engine would start for nothing", chatter, frames);

	/* the first datagram the session sends is what wakes it, whole */
	inet_pton(AF_INET, "10.0.2.3", &dns.sin_addr);
	udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(udp >= 0, "socket: %s", strerror(errno));
	CHECK(sendto(udp, "q", 1, 0, (struct sockaddr *)&dns, sizeof(dns)) == 1, "sendto: %s",
	      strerror(errno));
	CHECK(poll(&pt, 1, 2000) == 1 && (pt.revents & POLLIN),
	      "a DNS query to 10.0.2.3 did not make the TAP readable");
	/* the observer saw it go out: an ARP request for 10.0.2.3 first */
	for (int waited = 0; seen == 0 && waited < 1000; waited += 10) {
		struct pollfd po = { .fd = obs, .events = POLLIN };

		if (poll(&po, 1, 10) > 0)
			while ((n = recv(obs, frame, sizeof(frame), 0)) > 0)
				if (!frame_is_chatter(frame, (size_t)n) && seen == 0)
					seen = n;
	}
	/* the TAP puts its virtio-net header in front (nsess_tap_create(), vnet.h) */
	vlen = nsess_engine_tap_vnet_len(tap);
	CHECK(vlen == NSESS_VNET_HDR_LEN, "the session's TAP has a virtio-net header of %d bytes",
	      vlen);
	n = read(tap, frame, sizeof(frame));
	CHECK(n > vlen && n - vlen == seen, "the first frame reached the engine's side cut or "
	      "changed: %zd bytes on the TAP behind the header, %zd sent", n - vlen, seen);
	close(udp);
	close(obs);
	close(tap);
	return 0;
}

Test(netconf, quiet_tap_drops_link_up_chatter_only)
{
	NSESS_TEST_NEED_ROOT();
	expect_child_ok(child_quiet_tap, NULL);
}

Test(netconf, tap_verify)
{
	NSESS_TEST_NEED_ROOT();
	expect_child_ok(child_tap_verify, NULL);
}

Test(netconf, tap_create_bad_names)
{
	static const char *const t[] = { "", "0123456789abcdef", "tap%d", "a/b" };
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(t); i++) {
		struct nsess_error e = { 0 };
		int fd = -42;

		cr_assert_eq(nsess_tap_create(t[i], &fd, &e), -EINVAL, "\"%s\"", t[i]);
		cr_assert_eq(fd, -42);
		cr_assert(strstr(e.msg, "interface name"), "%s", e.msg);
	}
	cr_assert_eq(nsess_tap_create(NULL, &(int){ 0 }, NULL), -EINVAL);
}

/*
 * An ordinary user in its own user + network namespace: with /dev/net/tun
 * mode 0600 the open fails and the message tells the admin the fix; with
 * 0666 the user can create its TAP (CAP_NET_ADMIN over its own netns).
 */
static int child_tap_unprivileged(void *arg, char *msg, size_t len)
{
	const struct stat *st = arg;
	struct nsess_error e = { 0 };
	char mode[16];
	int fd = -1, r;

	if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
	    setresuid(65534, 65534, 65534) < 0) {
		snprintf(msg, len, "cannot become uid 65534: %s", strerror(errno));
		return CHILD_SKIP;
	}
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0) {
		snprintf(msg, len, "unprivileged unshare(CLONE_NEWUSER|CLONE_NEWNET): %s "
			 "(user namespaces restricted on this host?)", strerror(errno));
		return CHILD_SKIP;
	}
	r = nsess_tap_create("tap0", &fd, &e);
	if ((st->st_mode & 0006) == 0006) {
		CHECK(r == 0, "mode %04o, yet tap_create failed: %s",
		      (unsigned int)(st->st_mode & 07777), e.msg);
		close(fd);
		return 0;
	}
	CHECK(r == -EACCES || r == -EPERM, "tap_create returned %d (%s)", r, e.msg);
	CHECK(fd == -1, "fd written on failure");
	snprintf(mode, sizeof(mode), "mode %04o", (unsigned int)(st->st_mode & 07777));
	CHECK(strstr(e.msg, mode), "\"%s\" not in: %s", mode, e.msg);
	CHECK(strstr(e.msg, "chmod 0666 /dev/net/tun"), "no fix in: %s", e.msg);
	CHECK(strstr(e.msg, "KERNEL==\"tun\", MODE=\"0666\""), "no udev rule in: %s", e.msg);
	return 0;
}

Test(netconf, tap_unprivileged_user)
{
	struct stat st;

	NSESS_TEST_NEED_ROOT();
	cr_assert_eq(stat("/dev/net/tun", &st), 0, "no /dev/net/tun: modprobe tun");
	expect_child_ok(child_tap_unprivileged, &st);
}
