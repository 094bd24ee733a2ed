/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * netplan.h - what a session's network looks like, as data (pure code).
 *
 * Defaults follow libslirp's but for the MTU: tap0, MTU 65520, 10.0.2.100/24 via 10.0.2.2,
 * DNS forwarder 10.0.2.3, fd00::100/64 via fd00::2, DNS fd00::3, host
 * loopback unreachable. netconf.c applies a plan inside the namespace,
 * engine.c builds the libslirp configuration from the same plan.
 */
#ifndef NSESS_NETPLAN_H
#define NSESS_NETPLAN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define NSESS_PUBLISH_MAX 32
#define NSESS_MTU_MIN 1280	/* IPv6 needs at least this */
#define NSESS_MTU_MAX 65520	/* libslirp's limit */
#define NSESS_MTU_DEFAULT 65520	/* the link's; routes send less: nsess_netplan_route_metrics() */
#define NSESS_ROUTE_MTU_MAX 16384	/* the largest packet a session sends over a route */
#define NSESS_ADVMSS_MAX 32727	/* the largest TCP segment a session asks the engine for */

enum nsess_net_mode {
	NSESS_NET_SLIRP = 0,	/* private netns + TAP + userspace NAT (default) */
	NSESS_NET_NONE = 1,	/* private netns with only lo */
	NSESS_NET_HOST = 2,	/* stay in the host's network namespace */
};

/* --publish [IP:]HOSTPORT:PORT[/udp|/tcp]: host IP:HOSTPORT reaches the session's PORT */
struct nsess_publish {
	bool udp;
	struct in_addr host_addr;	/* INADDR_ANY when no IP was given */
	uint16_t host_port;
	uint16_t guest_port;
};

struct nsess_netplan {
	enum nsess_net_mode mode;
	char ifname[16];
	uint32_t mtu;
	/* IPv4 */
	struct in_addr net4;		/* 10.0.2.0 */
	uint8_t prefix4;		/* 24 */
	struct in_addr addr4;		/* 10.0.2.100: the session's address */
	struct in_addr gw4;		/* 10.0.2.2: the engine */
	struct in_addr dns4;		/* 10.0.2.3: the engine's DNS forwarder */
	/* IPv6 */
	bool ipv6;
	struct in6_addr net6;		/* fd00:: */
	uint8_t prefix6;		/* 64 */
	struct in6_addr addr6;		/* fd00::100 */
	struct in6_addr gw6;		/* fd00::2 */
	struct in6_addr dns6;		/* fd00::3 */
	bool allow_host_loopback;
	struct nsess_publish publish[NSESS_PUBLISH_MAX];
	unsigned int n_publish;
	char hostname[64];		/* written to /etc/hosts inside */
};

/** nsess_netplan_defaults() - fill @p with the defaults above (mode SLIRP, hostname "nsession") */
void nsess_netplan_defaults(struct nsess_netplan *p);

/**
 * nsess_net_mode_parse() - "slirp", "none" or "host"
 * Return: 0 or -EINVAL with @e naming the value and the choices.
 */
int nsess_net_mode_parse(const char *s, enum nsess_net_mode *out, struct nsess_error *e);
const char *nsess_net_mode_name(enum nsess_net_mode m);

/**
 * nsess_publish_parse() - parse "[IP:]HOSTPORT:PORT[/udp|/tcp]"
 * @spec: the text; ports 1..65535, IP a dotted IPv4 address
 * @out: written on success
 * @e: names the value and the expected form
 *
 * Return: 0 or -EINVAL.
 */
int nsess_publish_parse(const char *spec, struct nsess_publish *out, struct nsess_error *e);

/**
 * nsess_netplan_add_publish() - append a rule, refusing duplicates of the
 * same host address/port/protocol and more than NSESS_PUBLISH_MAX rules
 * Return: 0, -EEXIST or -E2BIG with @e set.
 */
int nsess_netplan_add_publish(struct nsess_netplan *p, const struct nsess_publish *r,
			      struct nsess_error *e);

/**
 * nsess_netplan_in_net6() - is @a inside @net/@prefix?
 * @net: without bits beyond @prefix (nsess_netplan_validate() checks the plan's)
 */
bool nsess_netplan_in_net6(const struct in6_addr *a, const struct in6_addr *net,
			   unsigned int prefix);

/**
 * nsess_mtu_parse() - a decimal MTU within NSESS_MTU_MIN..NSESS_MTU_MAX
 */
int nsess_mtu_parse(const char *s, uint32_t *out, struct nsess_error *e);

/**
 * nsess_netplan_validate() - addresses inside their prefixes, gateway and
 * DNS distinct from the session address, MTU in range, hostname made of
 * [A-Za-z0-9.-] only
 * Return: 0 or -EINVAL with @e set.
 */
int nsess_netplan_validate(const struct nsess_netplan *p, struct nsess_error *e);

/**
 * struct nsess_route_metrics - what the session's routes through the TAP
 * (the prefix route and the default route) carry besides their addresses
 * @mtu: RTAX_MTU, the largest packet the session sends; 0 leaves it to the link
 * @advmss: RTAX_ADVMSS, the TCP segment size the session offers to
 *	receive; 0 leaves it to be derived from @mtu
 * @quickack: RTAX_QUICKACK, acknowledge received TCP data at once
 */
struct nsess_route_metrics {
	uint32_t mtu;
	uint32_t advmss;
	bool quickack;
};

/**
 * nsess_netplan_route_metrics() - the metrics of the session's routes
 * @p: the plan; only @p->mtu (the link's MTU) matters
 * @family: AF_INET or AF_INET6 (the TCP/IP header size differs)
 * @out: written in full
 *
 * Made for libslirp's TCP, which has no window scaling and so never has
 * more than 64 KiB in flight either way. Sent data wants small segments,
 * received data larger ones, and the link MTU sets both (libslirp takes its
 * segment size from the link MTU it is given). So above
 * NSESS_ROUTE_MTU_MAX the link keeps @p->mtu, what may arrive, and the
 * routes send at most NSESS_ROUTE_MTU_MAX while offering to receive
 * segments as large as the link carries, capped at NSESS_ADVMSS_MAX: two
 * of those fit in the 65535-byte window, which Linux rounds down to whole
 * segments when it cannot scale. The ACKs go out at once, as the engine
 * cannot send more until they come.
 */
void nsess_netplan_route_metrics(const struct nsess_netplan *p, int family,
				 struct nsess_route_metrics *out);

/**
 * nsess_netplan_resolv_conf() - the resolv.conf the session sees
 * (nameserver lines for the forwarder: IPv4 first, IPv6 when enabled)
 * Return: bytes written, or -ENOSPC.
 */
int nsess_netplan_resolv_conf(const struct nsess_netplan *p, char *buf, size_t len);

/**
 * nsess_netplan_hosts() - the hosts file the session sees: localhost
 * lines for 127.0.0.1 and ::1, and the hostname on the session address
 * (IPv4, and IPv6 when enabled; 127.0.1.1 in modes none and host)
 * Return: bytes written, or -ENOSPC; -EINVAL for a hostname that
 * nsess_netplan_validate() would refuse.
 */
int nsess_netplan_hosts(const struct nsess_netplan *p, char *buf, size_t len);

/**
 * nsess_slirp_mac() - the MAC address libslirp answers with for one of its
 * own addresses, so static neighbour entries spare the session an ARP/NDP
 * round trip: IPv4 52:55 followed by the four address bytes (libslirp
 * slirp.c arp_input()), IPv6 52:56 followed by the last four address bytes
 * (libslirp ip6.h in6_compute_ethaddr(), used for neighbour advertisements)
 */
void nsess_slirp_mac4(struct in_addr a, uint8_t mac[6]);
void nsess_slirp_mac6(const struct in6_addr *a, uint8_t mac[6]);

#endif
