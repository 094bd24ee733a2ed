/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * netconf.c - bring a network plan up in the namespace we are in.
 *
 * How this works: the TAP device is created through /dev/net/tun (the queue
 * fd goes to the engine, which speaks libslirp on it). Everything else is one
 * batch of rtnetlink requests, built with libnl-3's message API and sent in
 * a single sendmsg() on one NETLINK_ROUTE socket, in a fixed order: lo up;
 * the TAP's MTU and up; its IPv4 and IPv6 addresses (the latter without DAD
 * so it is usable at once; both without the kernel's prefix route); the
 * prefix routes, with the metrics of nsess_netplan_route_metrics() (they
 * replace a kernel's own where one was added anyway); permanent neighbour
 * entries for the engine's gateway and DNS addresses carrying the MACs
 * libslirp answers with (so the first packet needs no ARP/NDP round trip);
 * default routes, with the same metrics. The kernel
 * runs the requests of one sendmsg() one after the other, in order, and acks
 * each; the first failing request (by sequence number) is the one reported,
 * with the kernel's errno and its extended-ack text when it gives one.
 *
 * Why a batch, and why not libnl-route-3's objects: one request with its
 * ack read back was about 0.04 ms, a dozen of them on the path of every
 * session's start; and libnl-route-3 costs each nsession process about a
 * millisecond at load time (its constructors register every cache type and
 * read /etc/libnl/classid) for the five message types used here. libnl-3
 * alone loads in no measurable time. This is the only file that talks to
 * libnl; nothing leaves it as an NLE code.
 *
 * The caller is the process that created the network namespace and holds
 * CAP_NET_ADMIN over it; no untrusted code runs in the namespace yet.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "netconf.h"
#include "vnet.h"
#include "util.h"

#define NETCONF_TUN_PATH "/dev/net/tun"

/* ---- libnl ownership ----------------------------------------------------- */

static inline void netconf_sock_freep(struct nl_sock **p)
{
	if (*p)
		nl_socket_free(*p);
}

#define _cleanup_nlsock_ __attribute__((cleanup(netconf_sock_freep)))

/* ---- errors ------------------------------------------------------------ */

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
				       "make it last with a udev rule KERNEL==\"tun\", "
				       "MODE=\"0666\" in /etc/udev/rules.d/60-nsession-tun.rules)", strerror(err),
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
	/*
	 * Ethernet frames (libslirp speaks Ethernet), no packet-info header,
	 * a virtio-net header in front of each frame so that checksums can be
	 * left undone between the session's kernel and the engine (vnet.h).
	 */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
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
	/*
	 * The engine can take frames whose checksum the session's kernel left
	 * undone (it finishes the few that go to libslirp), and TCP frames of
	 * up to 64 KiB that stand for many segments (it cuts the ones that go to
	 * libslirp). Best effort: without TSO the session sends one frame per
	 * segment, without either it computes every checksum itself.
	 */
	if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0)
		(void)ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM);
	*fd_out = TAKE_FD(fd);
	return 0;
}

/*
 * The quiet filter, on Ethernet frames leaving the session (offsets from the
 * start of the Ethernet header): IGMP (IPv4 protocol 2); ICMPv6 MLD reports
 * and done messages (143, 131, 132), bare or behind the 8-byte hop-by-hop
 * header with the router alert they normally carry; neighbour solicitations
 * from the unspecified address (duplicate address detection). Those return
 * 0 and are dropped (counted in the TAP's tx_dropped); everything else
 * returns a length larger than any frame, which the kernel reads as "keep
 * it whole" (a smaller value would cut the frame to it). A frame too short
 * for a load is dropped too (the kernel ends the program with 0).
 */
#define QUIET_DROP 27
#define QUIET_KEEP 28
#define QUIET_J(k, at, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t) - (at) - 1, (f) - (at) - 1)
static const struct sock_filter netconf_quiet_prog[] = {
	/* 0 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
	/* 1 */ QUIET_J(ETH_P_IPV6, 1, 5, 2),
	/* 2 */ QUIET_J(ETH_P_IP, 2, 3, QUIET_KEEP),
	/* 3 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14 + 9),
	/* 4 */ QUIET_J(2, 4, QUIET_DROP, QUIET_KEEP),
	/* 5 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14 + 6),
	/* 6 */ QUIET_J(58, 6, 14, 7),
	/* 7 */ QUIET_J(0, 7, 8, QUIET_KEEP),
	/* 8 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14 + 40 + 1),
	/* 9 */ QUIET_J(0, 9, 10, QUIET_KEEP),
	/* 10 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14 + 40),
	/* 11 */ QUIET_J(58, 11, 12, QUIET_KEEP),
	/* 12 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14 + 40 + 8),
	/* 13 */ BPF_STMT(BPF_JMP | BPF_JA, 1),
	/* 14 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14 + 40),
	/* 15 */ QUIET_J(143, 15, QUIET_DROP, 16),
	/* 16 */ QUIET_J(131, 16, QUIET_DROP, 17),
	/* 17 */ QUIET_J(132, 17, QUIET_DROP, 18),
	/* 18 */ QUIET_J(135, 18, 19, QUIET_KEEP),
	/* 19 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 14 + 8),
	/* 20 */ QUIET_J(0, 20, 21, QUIET_KEEP),
	/* 21 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 14 + 12),
	/* 22 */ QUIET_J(0, 22, 23, QUIET_KEEP),
	/* 23 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 14 + 16),
	/* 24 */ QUIET_J(0, 24, 25, QUIET_KEEP),
	/* 25 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 14 + 20),
	/* 26 */ QUIET_J(0, 26, QUIET_DROP, QUIET_KEEP),
	/* 27 */ BPF_STMT(BPF_RET | BPF_K, 0),
	/* 28 */ BPF_STMT(BPF_RET | BPF_K, 0x7fffffff),
};
#undef QUIET_J

int nsess_tap_quiet(int fd)
{
	struct sock_fprog prog = {
		.len = NSESS_ARRAY_SIZE(netconf_quiet_prog),
		.filter = (struct sock_filter *)netconf_quiet_prog,
	};

	/*
	 * Not an AF_PACKET socket beside the TAP: closing one waits for an RCU
	 * grace period (synchronize_net() in packet_release), 4-17 ms measured
	 * at each session's exit. The TAP's own filter costs nothing to drop.
	 */
	if (ioctl(fd, TUNATTACHFILTER, &prog) < 0)
		return -errno;
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

/* ---- the request batch -------------------------------------------------- */

#define NETCONF_MAX_REQ 14
/* room for one request; the largest (a route with its metrics) is under 100 bytes */
#define NETCONF_MSG_SIZE 512

/*
 * struct netconf_batch - the requests of one apply run, sent together
 * @sk: the NETLINK_ROUTE socket
 * @msg, @what: each request and the step it is, for the error message
 */
struct netconf_batch {
	struct nl_sock *sk;
	struct nl_msg *msg[NETCONF_MAX_REQ];
	char what[NETCONF_MAX_REQ][160];
	size_t n;
};

static void netconf_batch_free(struct netconf_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		nlmsg_free(b->msg[i]);
	b->n = 0;
	if (b->sk)
		nl_socket_free(b->sk);
	b->sk = NULL;
}

/* A new request of @type with its fixed header; NULL when out of memory or room. */
static struct nl_msg *netconf_req(struct netconf_batch *b, int type, int flags, const void *hdr,
				  size_t hdrlen, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static struct nl_msg *netconf_req(struct netconf_batch *b, int type, int flags, const void *hdr,
				  size_t hdrlen, const char *fmt, ...)
{
	struct nl_msg *m;
	va_list ap;

	if (b->n >= NETCONF_MAX_REQ)
		return NULL;
	/* not libnl's default of a page each: a dozen of those are a dozen page faults */
	m = nlmsg_alloc_size(NETCONF_MSG_SIZE);
	if (!m)
		return NULL;
	nlmsg_hdr(m)->nlmsg_type = (uint16_t)type;
	nlmsg_hdr(m)->nlmsg_flags = (uint16_t)flags;
	if (nlmsg_append(m, (void *)hdr, hdrlen, NLMSG_ALIGNTO) < 0) {
		nlmsg_free(m);
		return NULL;
	}
	va_start(ap, fmt);
	vsnprintf(b->what[b->n], sizeof(b->what[0]), fmt, ap);
	va_end(ap);
	b->msg[b->n++] = m;
	return m;
}

/* The last request could not be completed (an attribute did not fit). */
static int netconf_req_oom(struct netconf_batch *b, struct nsess_error *e)
{
	return nsess_error_set(e, ENOMEM, "netconf: %s: out of memory",
			       b->n ? b->what[b->n - 1] : "building the requests");
}

static int netconf_link_up(struct netconf_batch *b, int ifindex, const char *name, uint32_t mtu,
			   struct nsess_error *e)
{
	struct ifinfomsg ifi = {
		.ifi_family = AF_UNSPEC,
		.ifi_index = ifindex,
		.ifi_flags = IFF_UP,
		.ifi_change = IFF_UP,
	};
	struct nl_msg *m;

	if (mtu)
		m = netconf_req(b, RTM_NEWLINK, 0, &ifi, sizeof(ifi),
				"setting MTU %u on %s and bringing it up", mtu, name);
	else
		m = netconf_req(b, RTM_NEWLINK, 0, &ifi, sizeof(ifi), "bringing %s up", name);
	if (!m || (mtu && nla_put_u32(m, IFLA_MTU, mtu) < 0))
		return netconf_req_oom(b, e);
	return 0;
}

static int netconf_addr_add(struct netconf_batch *b, int ifindex, const char *ifname, int family,
			    const void *a, unsigned int prefix, struct nsess_error *e)
{
	struct ifaddrmsg ifa = {
		.ifa_family = (uint8_t)family,
		.ifa_prefixlen = (uint8_t)prefix,
		/* no duplicate address detection: the link has exactly two ends */
		.ifa_flags = family == AF_INET6 ? IFA_F_NODAD : 0,
		.ifa_scope = RT_SCOPE_UNIVERSE,
		.ifa_index = (uint32_t)ifindex,
	};
	int len = family == AF_INET ? 4 : 16;
	char s[INET6_ADDRSTRLEN];
	struct nl_msg *m;

	inet_ntop(family, a, s, sizeof(s));
	m = netconf_req(b, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof(ifa),
			"adding %s/%u to %s", s, prefix, ifname);
	/* the prefix route is added by netconf_prefix_route(), with metrics */
	if (!m || nla_put(m, IFA_LOCAL, len, a) < 0 || nla_put(m, IFA_ADDRESS, len, a) < 0 ||
	    nla_put_u32(m, IFA_FLAGS, ifa.ifa_flags | IFA_F_NOPREFIXROUTE) < 0)
		return netconf_req_oom(b, e);
	if (family == AF_INET) {
		/* what "ip addr add ... brd +" does: the all-ones host part */
		struct in_addr bc;

		memcpy(&bc, a, sizeof(bc));
		bc.s_addr |= htonl(prefix >= 32 ? 0 : 0xffffffffu >> prefix);
		if (nla_put(m, IFA_BROADCAST, 4, &bc) < 0)
			return netconf_req_oom(b, e);
	}
	return 0;
}

static int netconf_neigh_add(struct netconf_batch *b, int ifindex, const char *ifname, int family,
			     const void *a, const uint8_t mac[6], struct nsess_error *e)
{
	struct ndmsg nd = {
		.ndm_family = (uint8_t)family,
		.ndm_ifindex = ifindex,
		.ndm_state = NUD_PERMANENT,
	};
	char s[INET6_ADDRSTRLEN];
	struct nl_msg *m;

	inet_ntop(family, a, s, sizeof(s));
	/* REPLACE: a stray solicitation may already have made an entry */
	m = netconf_req(b, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, &nd, sizeof(nd),
			"adding neighbour %s lladdr %02x:%02x:%02x:%02x:%02x:%02x on %s", s,
			mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], ifname);
	if (!m || nla_put(m, NDA_DST, family == AF_INET ? 4 : 16, a) < 0 ||
	    nla_put(m, NDA_LLADDR, 6, mac) < 0)
		return netconf_req_oom(b, e);
	return 0;
}

/* RTA_METRICS of the session's routes: nsess_netplan_route_metrics() */
static int netconf_put_metrics(struct nl_msg *m, const struct nsess_netplan *p, int family)
{
	struct nsess_route_metrics rm;
	struct nlattr *nest;

	nsess_netplan_route_metrics(p, family, &rm);
	nest = nla_nest_start(m, RTA_METRICS);
	if (!nest || (rm.mtu && nla_put_u32(m, RTAX_MTU, rm.mtu) < 0) ||
	    (rm.advmss && nla_put_u32(m, RTAX_ADVMSS, rm.advmss) < 0) ||
	    (rm.quickack && nla_put_u32(m, RTAX_QUICKACK, 1) < 0))
		return -ENOMEM;
	nla_nest_end(m, nest);
	return 0;
}

/* The route to the link's prefix, as the kernel would add it, plus metrics. */
static int netconf_prefix_route(struct netconf_batch *b, const struct nsess_netplan *p,
				int ifindex, int family, struct nsess_error *e)
{
	const void *net = family == AF_INET ? (const void *)&p->net4 : (const void *)&p->net6;
	struct rtmsg rt = {
		.rtm_family = (uint8_t)family,
		.rtm_dst_len = family == AF_INET ? p->prefix4 : p->prefix6,
		.rtm_table = RT_TABLE_MAIN,
		.rtm_protocol = RTPROT_KERNEL,
		.rtm_scope = family == AF_INET ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE,
		.rtm_type = RTN_UNICAST,
	};
	int len = family == AF_INET ? 4 : 16;
	char s[INET6_ADDRSTRLEN];
	struct nl_msg *m;

	inet_ntop(family, net, s, sizeof(s));
	/* REPLACE: a kernel that ignores IFA_F_NOPREFIXROUTE has added its own */
	m = netconf_req(b, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, &rt, sizeof(rt),
			"adding the route %s/%u dev %s", s, rt.rtm_dst_len, p->ifname);
	if (!m || nla_put(m, RTA_DST, len, net) < 0 ||
	    nla_put_u32(m, RTA_OIF, (uint32_t)ifindex) < 0 ||
	    (family == AF_INET && nla_put(m, RTA_PREFSRC, 4, &p->addr4) < 0) ||
	    /* the kernel's own IPv6 prefix routes have metric 256 */
	    (family == AF_INET6 && nla_put_u32(m, RTA_PRIORITY, 256) < 0) ||
	    netconf_put_metrics(m, p, family) < 0)
		return netconf_req_oom(b, e);
	return 0;
}

static int netconf_default_route(struct netconf_batch *b, const struct nsess_netplan *p,
				 int ifindex, int family, struct nsess_error *e)
{
	const void *gw = family == AF_INET ? (const void *)&p->gw4 : (const void *)&p->gw6;
	struct rtmsg rt = {
		.rtm_family = (uint8_t)family,
		.rtm_table = RT_TABLE_MAIN,
		.rtm_protocol = RTPROT_STATIC,
		.rtm_scope = RT_SCOPE_UNIVERSE,
		.rtm_type = RTN_UNICAST,
	};
	char s[INET6_ADDRSTRLEN];
	struct nl_msg *m;

	inet_ntop(family, gw, s, sizeof(s));
	m = netconf_req(b, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &rt, sizeof(rt),
			"adding the %s default route via %s dev %s",
			family == AF_INET ? "IPv4" : "IPv6", s, p->ifname);
	if (!m || nla_put(m, RTA_GATEWAY, family == AF_INET ? 4 : 16, gw) < 0 ||
	    nla_put_u32(m, RTA_OIF, (uint32_t)ifindex) < 0 || netconf_put_metrics(m, p, family) < 0)
		return netconf_req_oom(b, e);
	return 0;
}

static int netconf_open(struct netconf_batch *b, struct nsess_error *e)
{
	_cleanup_nlsock_ struct nl_sock *sk = NULL;
	int fd, fl, one = 1, r;

	sk = nl_socket_alloc();
	if (!sk)
		return nsess_error_set(e, ENOMEM, "netconf: allocating a netlink socket: out of "
				       "memory");
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0)
		return nsess_error_set(e, EIO, "netconf: opening a NETLINK_ROUTE socket: %s",
				       nl_geterror(r));
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
	/* acks without the request echoed back, with the kernel's reason when it fails */
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	/* an ack fits a page: one recvmsg() each, without libnl's MSG_PEEK round */
	nl_socket_disable_msg_peek(sk);
	b->sk = TAKE_PTR(sk);
	return 0;
}

/* The interface index of @name, through the netlink socket (any socket answers). */
static int netconf_ifindex(struct netconf_batch *b, const char *name, int *out,
			   struct nsess_error *e)
{
	struct ifreq ifr = { 0 };
	int err;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(nl_socket_get_fd(b->sk), SIOCGIFINDEX, &ifr) == 0) {
		*out = ifr.ifr_ifindex;
		return 0;
	}
	err = errno;
	return nsess_error_set(e, err, "netconf: looking up interface %s: %s%s", name,
			       strerror(err), netconf_hint(err));
}

/* The kernel's extended-ack text of an error ack, or "". */
static const char *netconf_extack(struct nlmsghdr *h)
{
	struct nlmsgerr *err = nlmsg_data(h);
	struct nlattr *a;
	size_t off = sizeof(*err);
	int len;

	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return "";
	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		off += err->msg.nlmsg_len - NLMSG_HDRLEN;
	len = (int)h->nlmsg_len - NLMSG_HDRLEN - (int)NLMSG_ALIGN(off);
	if (len <= 0)
		return "";
	a = nla_find((struct nlattr *)((char *)err + NLMSG_ALIGN(off)), len, NLMSGERR_ATTR_MSG);
	if (!a || nla_len(a) < 2 || ((char *)nla_data(a))[nla_len(a) - 1] != '\0')
		return "";
	return nla_data(a);
}

/*
 * Send every request in one sendmsg() and read an ack for each. The
 * kernel runs them in order; the first one that failed is reported.
 */
static int netconf_batch_send(struct netconf_batch *b, struct nsess_error *e)
{
	_cleanup_free_ char *buf = NULL;
	size_t total = 0, off = 0, acked = 0, i;
	unsigned int first_seq = 0;
	int bad = -1, bad_err = 0, r;
	char why[256] = "";

	for (i = 0; i < b->n; i++) {
		nl_complete_msg(b->sk, b->msg[i]); /* seq, port, NLM_F_REQUEST | NLM_F_ACK */
		total += NLMSG_ALIGN(nlmsg_hdr(b->msg[i])->nlmsg_len);
	}
	if (!b->n)
		return 0;
	buf = calloc(1, total);
	if (!buf)
		return nsess_error_set(e, ENOMEM, "netconf: out of memory");
	for (i = 0; i < b->n; i++) {
		struct nlmsghdr *h = nlmsg_hdr(b->msg[i]);

		if (i == 0)
			first_seq = h->nlmsg_seq;
		memcpy(buf + off, h, h->nlmsg_len);
		off += NLMSG_ALIGN(h->nlmsg_len);
	}
	r = nl_sendto(b->sk, buf, total);
	if (r < 0)
		return nsess_error_set(e, EIO, "netconf: sending %zu requests: %s", b->n,
				       nl_geterror(r));

	while (acked < b->n) {
		_cleanup_free_ unsigned char *in = NULL;
		struct sockaddr_nl peer;
		struct nlmsghdr *h;
		int n = nl_recv(b->sk, &peer, &in, NULL);

		if (n == -NLE_INTR || n == -NLE_AGAIN)
			continue;
		if (n <= 0)
			return nsess_error_set(e, EIO, "netconf: reading the kernel's answers "
					       "(%zu of %zu in): %s", acked, b->n,
					       n < 0 ? nl_geterror(n) : "end of file");
		for (h = (struct nlmsghdr *)in; nlmsg_ok(h, n); h = nlmsg_next(h, &n)) {
			struct nlmsgerr *err;
			unsigned int idx = h->nlmsg_seq - first_seq;

			if (h->nlmsg_type != NLMSG_ERROR || idx >= b->n)
				continue;
			acked++;
			if (!nlmsg_valid_hdr(h, sizeof(*err)))
				return nsess_error_set(e, EPROTO, "netconf: %s: a truncated answer "
						       "from the kernel", b->what[idx]);
			err = nlmsg_data(h);
			if (err->error && (bad < 0 || (int)idx < bad)) {
				bad = (int)idx;
				bad_err = err->error < 0 ? -err->error : err->error;
				snprintf(why, sizeof(why), "%s", netconf_extack(h));
			}
		}
	}
	if (bad < 0)
		return 0;
	return nsess_error_set(e, bad_err, "netconf: %s: %s%s%s%s%s", b->what[bad],
			       strerror(bad_err), why[0] ? " (kernel: " : "", why,
			       why[0] ? ")" : "", netconf_hint(bad_err));
}

int nsess_netconf_apply(const struct nsess_netplan *p, struct nsess_error *e)
{
	struct netconf_batch b = { 0 };
	char why[256], path[128];
	uint8_t mac[6];
	int ifindex = 0, lo = 0, r;
	bool v6 = false;

	if (p->mode == NSESS_NET_HOST)
		return 0;
	/* the plan was validated, but the name is about to become a path */
	if (!p->ifname[0] || strnlen(p->ifname, sizeof(p->ifname)) >= IFNAMSIZ ||
	    strchr(p->ifname, '/') || strcmp(p->ifname, ".") == 0 ||
	    strcmp(p->ifname, "..") == 0)
		return nsess_error_set(e, EINVAL, "netconf: invalid interface name in the plan");

	r = netconf_open(&b, e);
	if (r == 0)
		r = netconf_ifindex(&b, "lo", &lo, e);
	if (r == 0)
		r = netconf_link_up(&b, lo, "lo", 0, e);
	if (r < 0 || p->mode == NSESS_NET_NONE)
		goto out;

	r = netconf_ifindex(&b, p->ifname, &ifindex, e);
	if (r < 0)
		goto out;

	/* IPv6 first: decide before anything is configured on the TAP */
	r = netconf_ipv6_usable(p->ifname, why, sizeof(why));
	if (r < 0) {
		r = nsess_error_set(e, -r, "netconf: checking whether IPv6 is available on "
				    "%s: %s", p->ifname, strerror(-r));
		goto out;
	}
	if (r == 0 && p->ipv6) {
		r = nsess_error_set(e, EAFNOSUPPORT, "netconf: the session network has IPv6 "
				    "enabled, but %s; enable IPv6 or turn it off for sessions "
				    "in the nsession configuration", why);
		goto out;
	}
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
		if (r < 0) {
			r = nsess_error_set(e, -r, "netconf: writing %s: %s", path, strerror(-r));
			goto out;
		}
	}

	r = netconf_link_up(&b, ifindex, p->ifname, p->mtu, e);
	if (r == 0)
		r = netconf_addr_add(&b, ifindex, p->ifname, AF_INET, &p->addr4, p->prefix4, e);
	if (r == 0 && p->ipv6)
		r = netconf_addr_add(&b, ifindex, p->ifname, AF_INET6, &p->addr6, p->prefix6, e);
	if (r == 0)
		r = netconf_prefix_route(&b, p, ifindex, AF_INET, e);
	if (r == 0 && p->ipv6)
		r = netconf_prefix_route(&b, p, ifindex, AF_INET6, e);
	if (r == 0) {
		nsess_slirp_mac4(p->gw4, mac);
		r = netconf_neigh_add(&b, ifindex, p->ifname, AF_INET, &p->gw4, mac, e);
	}
	if (r == 0 && p->dns4.s_addr != p->gw4.s_addr) {
		nsess_slirp_mac4(p->dns4, mac);
		r = netconf_neigh_add(&b, ifindex, p->ifname, AF_INET, &p->dns4, mac, e);
	}
	if (r == 0 && p->ipv6) {
		nsess_slirp_mac6(&p->gw6, mac);
		r = netconf_neigh_add(&b, ifindex, p->ifname, AF_INET6, &p->gw6, mac, e);
		if (r == 0 && memcmp(&p->dns6, &p->gw6, sizeof(p->gw6)) != 0) {
			nsess_slirp_mac6(&p->dns6, mac);
			r = netconf_neigh_add(&b, ifindex, p->ifname, AF_INET6, &p->dns6, mac, e);
		}
	}
	if (r == 0)
		r = netconf_default_route(&b, p, ifindex, AF_INET, e);
	if (r == 0 && p->ipv6)
		r = netconf_default_route(&b, p, ifindex, AF_INET6, e);
out:
	if (r == 0)
		r = netconf_batch_send(&b, e);
	netconf_batch_free(&b);
	return r;
}
