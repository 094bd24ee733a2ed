/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * netconf.c - bring a network plan up in the namespace we are in.
 *
 * How this works: the TAP device is created through /dev/net/tun (the queue
 * fd goes to the engine, which speaks libslirp on it). Everything else goes
 * over one NETLINK_ROUTE socket, through libnl-route-3, in a fixed order:
 * lo up; the TAP's MTU and up; its IPv4 and IPv6 addresses (the latter
 * without DAD so it is usable at once); permanent neighbour entries for the
 * engine's gateway and DNS addresses carrying the MACs libslirp answers with
 * (so the first packet needs no ARP/NDP round trip); default routes.
 *
 * This is the only file that talks to libnl. libnl folds the kernel's errno
 * into its own -NLE_* codes and loses detail on the way (ENETUNREACH becomes
 * NLE_FAILURE), so an error callback records the kernel's errno of the last
 * request and netconf_fail() prefers it; otherwise a table maps -NLE_* to
 * -errno. Nothing leaves this file as an NLE code.
 *
 * The caller is the process that created the network namespace and holds
 * CAP_NET_ADMIN over it; no untrusted code runs in the namespace yet.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include "netconf.h"
#include "util.h"

#define NETCONF_TUN_PATH "/dev/net/tun"

/* ---- libnl object ownership ------------------------------------------- */

static inline void netconf_sock_freep(struct nl_sock **p)
{
	if (*p)
		nl_socket_free(*p);
}

static inline void netconf_addr_putp(struct nl_addr **p)
{
	if (*p)
		nl_addr_put(*p);
}

static inline void netconf_link_putp(struct rtnl_link **p)
{
	if (*p)
		rtnl_link_put(*p);
}

static inline void netconf_rtaddr_putp(struct rtnl_addr **p)
{
	if (*p)
		rtnl_addr_put(*p);
}

static inline void netconf_neigh_putp(struct rtnl_neigh **p)
{
	if (*p)
		rtnl_neigh_put(*p);
}

static inline void netconf_route_putp(struct rtnl_route **p)
{
	if (*p)
		rtnl_route_put(*p);
}

static inline void netconf_nh_freep(struct rtnl_nexthop **p)
{
	if (*p)
		rtnl_route_nh_free(*p);
}

#define _cleanup_nlsock_ __attribute__((cleanup(netconf_sock_freep)))
#define _cleanup_nladdr_ __attribute__((cleanup(netconf_addr_putp)))
#define _cleanup_link_ __attribute__((cleanup(netconf_link_putp)))
#define _cleanup_rtaddr_ __attribute__((cleanup(netconf_rtaddr_putp)))
#define _cleanup_neigh_ __attribute__((cleanup(netconf_neigh_putp)))
#define _cleanup_route_ __attribute__((cleanup(netconf_route_putp)))
#define _cleanup_nh_ __attribute__((cleanup(netconf_nh_freep)))

/* ---- errors ------------------------------------------------------------ */

static const int netconf_nle_errno[] = {
	[NLE_FAILURE] = EIO,
	[NLE_INTR] = EINTR,
	[NLE_BAD_SOCK] = EBADF,
	[NLE_AGAIN] = EAGAIN,
	[NLE_NOMEM] = ENOMEM,
	[NLE_EXIST] = EEXIST,
	[NLE_INVAL] = EINVAL,
	[NLE_RANGE] = ERANGE,
	[NLE_MSGSIZE] = EMSGSIZE,
	[NLE_OPNOTSUPP] = EOPNOTSUPP,
	[NLE_AF_NOSUPPORT] = EAFNOSUPPORT,
	[NLE_OBJ_NOTFOUND] = ENOENT,
	[NLE_NOATTR] = ENODATA,
	[NLE_MISSING_ATTR] = EINVAL,
	[NLE_AF_MISMATCH] = EAFNOSUPPORT,
	[NLE_SEQ_MISMATCH] = EPROTO,
	[NLE_MSG_OVERFLOW] = EOVERFLOW,
	[NLE_MSG_TRUNC] = EMSGSIZE,
	[NLE_NOADDR] = EADDRNOTAVAIL,
	[NLE_SRCRT_NOSUPPORT] = EOPNOTSUPP,
	[NLE_MSG_TOOSHORT] = EPROTO,
	[NLE_MSGTYPE_NOSUPPORT] = EOPNOTSUPP,
	[NLE_OBJ_MISMATCH] = EINVAL,
	[NLE_NOCACHE] = ENOENT,
	[NLE_BUSY] = EBUSY,
	[NLE_PROTO_MISMATCH] = EPROTONOSUPPORT,
	[NLE_NOACCESS] = EACCES,
	[NLE_PERM] = EPERM,
	[NLE_PKTLOC_FILE] = ENOENT,
	[NLE_PARSE_ERR] = EINVAL,
	[NLE_NODEV] = ENODEV,
	[NLE_IMMUTABLE] = EPERM,
	[NLE_DUMP_INTR] = EAGAIN,
	[NLE_ATTRSIZE] = EINVAL,
};

/* A libnl return code (negative NLE) as a positive errno. */
static int netconf_nle_to_errno(int nlerr)
{
	unsigned int i = (unsigned int)(nlerr < 0 ? -nlerr : nlerr);

	if (i < NSESS_ARRAY_SIZE(netconf_nle_errno) && netconf_nle_errno[i])
		return netconf_nle_errno[i];
	return EIO;
}

/*
 * struct netconf_ctx - one apply run
 * @sk: the NETLINK_ROUTE socket
 * @kerr: positive errno of the last NLMSG_ERROR the kernel sent, 0 if none
 */
struct netconf_ctx {
	struct nl_sock *sk;
	int kerr;
};

static int netconf_err_cb(struct sockaddr_nl *nla, struct nlmsgerr *err, void *arg)
{
	struct netconf_ctx *c = arg;

	(void)nla;
	c->kerr = err->error < 0 ? -err->error : err->error;
	/* NL_STOP: libnl still returns the (folded) error to the caller */
	return NL_STOP;
}

static const char *netconf_hint(int err)
{
	switch (err) {
	case EPERM:
	case EACCES:
		return "; the setup process needs CAP_NET_ADMIN in the user namespace that "
		       "owns this network namespace";
	case ENODEV:
		return "; the interface is gone (was the TAP device created in this network "
		       "namespace, and is its fd still open?)";
	case ENETUNREACH:
		return "; the gateway is not on the TAP's subnet or the TAP is down";
	default:
		return "";
	}
}

/* Record a failed libnl step; return -errno. */
static int netconf_fail(struct netconf_ctx *c, int nlerr, struct nsess_error *e, const char *fmt,
			...) __attribute__((format(printf, 4, 5)));

static int netconf_fail(struct netconf_ctx *c, int nlerr, struct nsess_error *e, const char *fmt,
			...)
{
	char step[256];
	va_list ap;
	int err;

	va_start(ap, fmt);
	vsnprintf(step, sizeof(step), fmt, ap);
	va_end(ap);
	err = c->kerr ? c->kerr : netconf_nle_to_errno(nlerr);
	return nsess_error_set(e, err, "netconf: %s: %s (libnl: %s)%s", step, strerror(err),
			       nl_geterror(nlerr), netconf_hint(err));
}

static void netconf_step(struct netconf_ctx *c)
{
	c->kerr = 0;
}

/* ---- TAP ---------------------------------------------------------------- */

static int netconf_tun_open_error(int err, struct nsess_error *e)
{
	struct stat st;

	switch (err) {
	case EACCES:
	case EPERM:
		if (stat(NETCONF_TUN_PATH, &st) < 0)
			return nsess_error_set(e, err, "cannot open " NETCONF_TUN_PATH ": %s (and "
					       "stat() on it failed: %s); fix: chmod 0666 "
					       NETCONF_TUN_PATH, strerror(err), strerror(errno));
		if ((st.st_mode & 0666) == 0666)
			return nsess_error_set(e, err, "cannot open " NETCONF_TUN_PATH ": %s, "
					       "although it is mode %04o: a device cgroup or an "
					       "LSM (AppArmor, SELinux) refuses it", strerror(err),
					       (unsigned int)(st.st_mode & 07777));
		return nsess_error_set(e, err, "cannot open " NETCONF_TUN_PATH ": %s: it is "
				       "mode %04o here, and a non-root user cannot open it even "
				       "inside its own user namespace; fix: chmod 0666 "
				       NETCONF_TUN_PATH " (the default on most distributions; "
				       "make it persistent with a udev rule KERNEL==\"tun\", "
				       "MODE=\"0666\")", strerror(err),
				       (unsigned int)(st.st_mode & 07777));
	case ENOENT:
		return nsess_error_set(e, err, NETCONF_TUN_PATH " does not exist: load the "
				       "TUN/TAP driver with modprobe tun (and list \"tun\" in "
				       "/etc/modules-load.d/ to keep it loaded)");
	case ENODEV:
	case ENXIO:
		return nsess_error_set(e, err, "cannot open " NETCONF_TUN_PATH ": %s: the "
				       "TUN/TAP driver is not loaded; run modprobe tun",
				       strerror(err));
	default:
		return nsess_error_set(e, err, "cannot open " NETCONF_TUN_PATH ": %s",
				       strerror(err));
	}
}

int nsess_tap_create(const char *ifname, int *fd_out, struct nsess_error *e)
{
	_cleanup_close_ int fd = -1;
	struct ifreq ifr;
	size_t len = ifname ? strnlen(ifname, IFNAMSIZ) : 0;
	char esc[64];

	if (len == 0 || len >= IFNAMSIZ || strchr(ifname, '%') || strchr(ifname, '/'))
		return nsess_error_set(e, EINVAL, "TAP device name \"%s\" is not a valid "
				       "interface name (1..%d characters, no '%%' or '/')",
				       nsess_escape(ifname ? ifname : "", (size_t)-1, esc,
						    sizeof(esc)), IFNAMSIZ - 1);

	fd = open(NETCONF_TUN_PATH, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return netconf_tun_open_error(errno, e);

	memset(&ifr, 0, sizeof(ifr));
	/* Ethernet frames (libslirp speaks Ethernet), no packet-info header */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, ifname, len);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = errno;

		switch (err) {
		case EPERM:
			return nsess_error_set(e, err, "creating TAP device %s (TUNSETIFF): %s: "
					       "the process needs CAP_NET_ADMIN in the user "
					       "namespace that owns this network namespace",
					       ifname, strerror(err));
		case EBUSY:
		case EEXIST:
			return nsess_error_set(e, err, "creating TAP device %s (TUNSETIFF): %s: "
					       "an interface of that name already exists in this "
					       "network namespace", ifname, strerror(err));
		default:
			return nsess_error_set(e, err, "creating TAP device %s (TUNSETIFF): %s",
					       ifname, strerror(err));
		}
	}
	/*
	 * Persistent, so that the engine's close() is not the one that
	 * unregisters the device: a non-persistent TAP is unregistered inside
	 * close(), which waits for RCU grace periods (21-37 ms measured here,
	 * most of a session's startup-to-exit time). Nothing else holds the
	 * network namespace once the session's processes and the TAP fd are
	 * gone, so the kernel's own namespace cleanup removes the device,
	 * asynchronously, as it does for every other device in there. Best
	 * effort: without it the session works and only its exit is slower.
	 */
	(void)ioctl(fd, TUNSETPERSIST, 1);
	*fd_out = TAKE_FD(fd);
	return 0;
}

int nsess_tap_verify(int fd, char *ifname_out)
{
	struct ifreq ifr;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	/* a TUN/TAP queue is a character device; skip the ioctl on anything else */
	if (!S_ISCHR(st.st_mode))
		return -ENOTTY;
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		/* EBADFD: /dev/net/tun opened but never attached to a device */
		return errno == EBADF ? -EBADF : -ENOTTY;
	/*
	 * IFF_NO_PI cannot be checked here: TUNGETIFF reports IFF_NOFILTER,
	 * which has the same bit, whenever no socket filter is attached.
	 */
	if ((ifr.ifr_flags & (IFF_TUN | IFF_TAP)) != IFF_TAP)
		return -EPROTOTYPE;
	if (ifname_out) {
		memcpy(ifname_out, ifr.ifr_name, IFNAMSIZ);
		ifname_out[IFNAMSIZ - 1] = '\0';
	}
	return 0;
}

/* ---- IPv6 availability -------------------------------------------------- */

/* Read a 0/1 sysctl of the current netns; 0/1, or -errno. */
static int netconf_read_bool(const char *path)
{
	_cleanup_close_ int fd = -1;
	char buf[8];
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	if (n < 1 || (buf[0] != '0' && buf[0] != '1'))
		return -EINVAL;
	return buf[0] == '1';
}

static int netconf_write_sysctl(const char *path, const char *val)
{
	_cleanup_close_ int fd = -1;
	size_t len = strlen(val);

	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (write(fd, val, len) != (ssize_t)len)
		return -errno;
	return 0;
}

/*
 * Is IPv6 usable on @ifname? /proc/sys/net is the current task's netns, so
 * this reads the session's values. Return: 1 yes, 0 no (@why set), -errno.
 */
static int netconf_ipv6_usable(const char *ifname, char *why, size_t whylen)
{
	char path[128];
	int r;

	if (access("/proc/sys/net/ipv6", F_OK) < 0) {
		if (errno != ENOENT)
			return -errno;
		snprintf(why, whylen, "the kernel has no IPv6 (/proc/sys/net/ipv6 is missing: "
			 "booted with ipv6.disable=1 or built without IPv6)");
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	r = netconf_read_bool(path);
	if (r < 0)
		return r;
	if (r == 1) {
		snprintf(why, whylen, "IPv6 is disabled on %s (net.ipv6.conf.%s.disable_ipv6 = 1 "
			 "in the session's network namespace, inherited from "
			 "net.ipv6.conf.default.disable_ipv6)", ifname, ifname);
		return 0;
	}
	return 1;
}

/* ---- netlink steps ------------------------------------------------------ */

static int netconf_link_get(struct netconf_ctx *c, const char *name, struct rtnl_link **out,
			    struct nsess_error *e)
{
	int r;

	netconf_step(c);
	r = rtnl_link_get_kernel(c->sk, 0, name, out);
	if (r < 0)
		return netconf_fail(c, r, e, "looking up interface %s", name);
	return 0;
}

static int netconf_link_up(struct netconf_ctx *c, struct rtnl_link *link, uint32_t mtu,
			   struct nsess_error *e)
{
	_cleanup_link_ struct rtnl_link *change = NULL;
	const char *name = rtnl_link_get_name(link);
	int r;

	change = rtnl_link_alloc();
	if (!change)
		return nsess_error_set(e, ENOMEM, "netconf: bringing %s up: out of memory", name);
	if (mtu)
		rtnl_link_set_mtu(change, mtu);
	rtnl_link_set_flags(change, IFF_UP);

	netconf_step(c);
	r = rtnl_link_change(c->sk, link, change, 0);
	if (r < 0) {
		if (mtu)
			return netconf_fail(c, r, e, "setting MTU %u on %s and bringing it up",
					    mtu, name);
		return netconf_fail(c, r, e, "bringing %s up", name);
	}
	return 0;
}

static struct nl_addr *netconf_nladdr(int family, const void *a, unsigned int prefix)
{
	struct nl_addr *n;

	n = nl_addr_build(family, a, family == AF_INET ? 4 : 16);
	if (n)
		nl_addr_set_prefixlen(n, (int)prefix);
	return n;
}

static int netconf_addr_add(struct netconf_ctx *c, int ifindex, const char *ifname, int family,
			    const void *a, unsigned int prefix, struct nsess_error *e)
{
	_cleanup_rtaddr_ struct rtnl_addr *addr = NULL;
	_cleanup_nladdr_ struct nl_addr *local = NULL;
	_cleanup_nladdr_ struct nl_addr *bcast = NULL;
	char s[INET6_ADDRSTRLEN];
	int r;

	inet_ntop(family, a, s, sizeof(s));
	addr = rtnl_addr_alloc();
	local = netconf_nladdr(family, a, prefix);
	if (!addr || !local)
		return nsess_error_set(e, ENOMEM, "netconf: adding %s/%u to %s: out of memory",
				       s, prefix, ifname);
	rtnl_addr_set_ifindex(addr, ifindex);
	rtnl_addr_set_family(addr, family);
	r = rtnl_addr_set_local(addr, local);
	if (r < 0)
		return netconf_fail(c, r, e, "adding %s/%u to %s", s, prefix, ifname);
	rtnl_addr_set_prefixlen(addr, (int)prefix);
	if (family == AF_INET) {
		/* what "ip addr add ... brd +" does: the all-ones host part */
		struct in_addr b;

		memcpy(&b, a, sizeof(b));
		b.s_addr |= htonl(prefix >= 32 ? 0 : 0xffffffffu >> prefix);
		bcast = netconf_nladdr(AF_INET, &b, 32);
		if (!bcast)
			return nsess_error_set(e, ENOMEM, "netconf: adding %s/%u to %s: out of "
					       "memory", s, prefix, ifname);
		r = rtnl_addr_set_broadcast(addr, bcast);
		if (r < 0)
			return netconf_fail(c, r, e, "adding %s/%u to %s", s, prefix, ifname);
	} else {
		/* no duplicate address detection: the link has exactly two ends */
		rtnl_addr_set_flags(addr, IFA_F_NODAD);
	}

	netconf_step(c);
	r = rtnl_addr_add(c->sk, addr, NLM_F_CREATE | NLM_F_EXCL);
	if (r < 0)
		return netconf_fail(c, r, e, "adding %s/%u to %s", s, prefix, ifname);
	return 0;
}

static int netconf_neigh_add(struct netconf_ctx *c, int ifindex, const char *ifname, int family,
			     const void *a, const uint8_t mac[6], struct nsess_error *e)
{
	_cleanup_neigh_ struct rtnl_neigh *neigh = NULL;
	_cleanup_nladdr_ struct nl_addr *dst = NULL;
	_cleanup_nladdr_ struct nl_addr *ll = NULL;
	char s[INET6_ADDRSTRLEN];
	int r;

	inet_ntop(family, a, s, sizeof(s));
	neigh = rtnl_neigh_alloc();
	dst = netconf_nladdr(family, a, family == AF_INET ? 32 : 128);
	ll = nl_addr_build(AF_LLC, mac, 6);
	if (!neigh || !dst || !ll)
		return nsess_error_set(e, ENOMEM, "netconf: adding neighbour %s on %s: out of "
				       "memory", s, ifname);
	rtnl_neigh_set_ifindex(neigh, ifindex);
	rtnl_neigh_set_family(neigh, family);
	r = rtnl_neigh_set_dst(neigh, dst);
	if (r < 0)
		return netconf_fail(c, r, e, "adding neighbour %s on %s", s, ifname);
	rtnl_neigh_set_lladdr(neigh, ll);
	rtnl_neigh_set_state(neigh, NUD_PERMANENT);

	netconf_step(c);
	/* REPLACE: a stray solicitation may already have made an entry */
	r = rtnl_neigh_add(c->sk, neigh, NLM_F_CREATE | NLM_F_REPLACE);
	if (r < 0)
		return netconf_fail(c, r, e,
				    "adding neighbour %s lladdr %02x:%02x:%02x:%02x:%02x:%02x on %s",
				    s, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], ifname);
	return 0;
}

static int netconf_default_route(struct netconf_ctx *c, int ifindex, const char *ifname,
				 int family, const void *gw, struct nsess_error *e)
{
	static const uint8_t any[16];
	_cleanup_route_ struct rtnl_route *route = NULL;
	_cleanup_nh_ struct rtnl_nexthop *nh = NULL;
	_cleanup_nladdr_ struct nl_addr *dst = NULL;
	_cleanup_nladdr_ struct nl_addr *via = NULL;
	char s[INET6_ADDRSTRLEN];
	int r;

	inet_ntop(family, gw, s, sizeof(s));
	route = rtnl_route_alloc();
	nh = rtnl_route_nh_alloc();
	dst = netconf_nladdr(family, any, 0);
	via = netconf_nladdr(family, gw, family == AF_INET ? 32 : 128);
	if (!route || !nh || !dst || !via)
		return nsess_error_set(e, ENOMEM, "netconf: adding the %s default route via %s: "
				       "out of memory", family == AF_INET ? "IPv4" : "IPv6", s);
	r = rtnl_route_set_family(route, (uint8_t)family);
	if (r >= 0)
		r = rtnl_route_set_dst(route, dst);
	if (r >= 0)
		r = rtnl_route_set_type(route, RTN_UNICAST);
	if (r < 0)
		return netconf_fail(c, r, e, "adding the %s default route via %s",
				    family == AF_INET ? "IPv4" : "IPv6", s);
	rtnl_route_set_table(route, RT_TABLE_MAIN);
	rtnl_route_set_protocol(route, RTPROT_STATIC);
	rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_nh_set_gateway(nh, via);
	/* the route owns the next hop from here on */
	rtnl_route_add_nexthop(route, TAKE_PTR(nh));

	netconf_step(c);
	r = rtnl_route_add(c->sk, route, NLM_F_CREATE | NLM_F_EXCL);
	if (r < 0)
		return netconf_fail(c, r, e, "adding the %s default route via %s dev %s",
				    family == AF_INET ? "IPv4" : "IPv6", s, ifname);
	return 0;
}

static int netconf_open(struct netconf_ctx *c, struct nl_sock **out, struct nsess_error *e)
{
	_cleanup_nlsock_ struct nl_sock *sk = NULL;
	int fd, fl, r;

	sk = nl_socket_alloc();
	if (!sk)
		return nsess_error_set(e, ENOMEM, "netconf: allocating a netlink socket: out of "
				       "memory");
	c->sk = sk;
	netconf_step(c);
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0)
		return netconf_fail(c, r, e, "opening a NETLINK_ROUTE socket");
	/*
	 * libnl >= 3.2.26 creates the socket with SOCK_CLOEXEC. Check rather
	 * than trust: a netlink socket leaked into a session would let it
	 * reconfigure its network.
	 */
	fd = nl_socket_get_fd(sk);
	fl = fcntl(fd, F_GETFD);
	if (fl < 0 || (!(fl & FD_CLOEXEC) && fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0))
		return nsess_error_set(e, errno, "netconf: making the netlink socket "
				       "close-on-exec: %s", strerror(errno));
	r = nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, netconf_err_cb, c);
	if (r < 0)
		return netconf_fail(c, r, e, "installing the netlink error handler");
	*out = TAKE_PTR(sk);
	return 0;
}

int nsess_netconf_apply(const struct nsess_netplan *p, struct nsess_error *e)
{
	_cleanup_nlsock_ struct nl_sock *sk = NULL;
	_cleanup_link_ struct rtnl_link *lo = NULL;
	_cleanup_link_ struct rtnl_link *tap = NULL;
	struct netconf_ctx c = { .sk = NULL, .kerr = 0 };
	char why[256], path[128];
	uint8_t mac[6];
	int ifindex = 0, r;
	bool v6 = false;

	if (p->mode == NSESS_NET_HOST)
		return 0;
	/* the plan was validated, but the name is about to become a path */
	if (!p->ifname[0] || strnlen(p->ifname, sizeof(p->ifname)) >= IFNAMSIZ ||
	    strchr(p->ifname, '/') || strcmp(p->ifname, ".") == 0 ||
	    strcmp(p->ifname, "..") == 0)
		return nsess_error_set(e, EINVAL, "netconf: invalid interface name in the plan");

	r = netconf_open(&c, &sk, e);
	if (r < 0)
		return r;
	c.sk = sk;

	r = netconf_link_get(&c, "lo", &lo, e);
	if (r < 0)
		return r;
	r = netconf_link_up(&c, lo, 0, e);
	if (r < 0 || p->mode == NSESS_NET_NONE)
		return r;

	r = netconf_link_get(&c, p->ifname, &tap, e);
	if (r < 0)
		return r;
	ifindex = rtnl_link_get_ifindex(tap);

	/* IPv6 first: decide before anything is configured on the TAP */
	r = netconf_ipv6_usable(p->ifname, why, sizeof(why));
	if (r < 0)
		return nsess_error_set(e, -r, "netconf: checking whether IPv6 is available on "
				       "%s: %s", p->ifname, strerror(-r));
	if (r == 0 && p->ipv6)
		return nsess_error_set(e, EAFNOSUPPORT, "netconf: the session network has IPv6 "
				       "enabled, but %s; enable IPv6 or turn it off for sessions "
				       "in the nsession configuration", why);
	v6 = r == 1;
	if (v6) {
		/*
		 * Static configuration only: router advertisements from the
		 * engine would add a second, SLAAC address and a second default
		 * route. With IPv6 off for sessions, keep the TAP v6-free.
		 */
		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/%s", p->ifname,
			 p->ipv6 ? "accept_ra" : "disable_ipv6");
		r = netconf_write_sysctl(path, p->ipv6 ? "0" : "1");
		if (r < 0)
			return nsess_error_set(e, -r, "netconf: writing %s: %s", path,
					       strerror(-r));
	}

	r = netconf_link_up(&c, tap, p->mtu, e);
	if (r < 0)
		return r;

	r = netconf_addr_add(&c, ifindex, p->ifname, AF_INET, &p->addr4, p->prefix4, e);
	if (r < 0)
		return r;
	if (p->ipv6) {
		r = netconf_addr_add(&c, ifindex, p->ifname, AF_INET6, &p->addr6, p->prefix6, e);
		if (r < 0)
			return r;
	}

	nsess_slirp_mac4(p->gw4, mac);
	r = netconf_neigh_add(&c, ifindex, p->ifname, AF_INET, &p->gw4, mac, e);
	if (r < 0)
		return r;
	if (p->dns4.s_addr != p->gw4.s_addr) {
		nsess_slirp_mac4(p->dns4, mac);
		r = netconf_neigh_add(&c, ifindex, p->ifname, AF_INET, &p->dns4, mac, e);
		if (r < 0)
			return r;
	}
	if (p->ipv6) {
		nsess_slirp_mac6(&p->gw6, mac);
		r = netconf_neigh_add(&c, ifindex, p->ifname, AF_INET6, &p->gw6, mac, e);
		if (r < 0)
			return r;
		if (memcmp(&p->dns6, &p->gw6, sizeof(p->gw6)) != 0) {
			nsess_slirp_mac6(&p->dns6, mac);
			r = netconf_neigh_add(&c, ifindex, p->ifname, AF_INET6, &p->dns6, mac, e);
			if (r < 0)
				return r;
		}
	}

	r = netconf_default_route(&c, ifindex, p->ifname, AF_INET, &p->gw4, e);
	if (r < 0)
		return r;
	if (p->ipv6) {
		r = netconf_default_route(&c, ifindex, p->ifname, AF_INET6, &p->gw6, e);
		if (r < 0)
			return r;
	}
	return 0;
}
