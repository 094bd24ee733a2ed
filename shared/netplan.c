/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * netplan.c - a session's network as data: defaults, option parsers,
 * validation and the text of the files the session sees.
 *
 * Pure code: no namespaces, no TUN, no netlink. Every function takes a plan
 * or a string and returns data, so all of it is unit tested. netconf.c and
 * engine.c consume a plan that passed nsess_netplan_validate().
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "netplan.h"
#include "util.h"

/* a publish spec is at most "255.255.255.255:65535:65535/udp" */
#define NETPLAN_PUBLISH_SPEC_MAX 64

static void netplan_set4(struct in_addr *a, const char *s)
{
	/* constants below; inet_pton cannot fail on them */
	(void)inet_pton(AF_INET, s, a);
}

static void netplan_set6(struct in6_addr *a, const char *s)
{
	(void)inet_pton(AF_INET6, s, a);
}

void nsess_netplan_defaults(struct nsess_netplan *p)
{
	memset(p, 0, sizeof(*p));
	p->mode = NSESS_NET_SLIRP;
	snprintf(p->ifname, sizeof(p->ifname), "%s", "tap0");
	p->mtu = NSESS_MTU_DEFAULT;
	netplan_set4(&p->net4, "10.0.2.0");
	p->prefix4 = 24;
	netplan_set4(&p->addr4, "10.0.2.100");
	netplan_set4(&p->gw4, "10.0.2.2");
	netplan_set4(&p->dns4, "10.0.2.3");
	p->ipv6 = true;
	netplan_set6(&p->net6, "fd00::");
	p->prefix6 = 64;
	netplan_set6(&p->addr6, "fd00::100");
	netplan_set6(&p->gw6, "fd00::2");
	netplan_set6(&p->dns6, "fd00::3");
	p->allow_host_loopback = false;
	p->n_publish = 0;
	snprintf(p->hostname, sizeof(p->hostname), "%s", "nsession");
}

static const char *const netplan_mode_names[] = {
	[NSESS_NET_SLIRP] = "slirp",
	[NSESS_NET_NONE] = "none",
	[NSESS_NET_HOST] = "host",
};

const char *nsess_net_mode_name(enum nsess_net_mode m)
{
	if ((unsigned int)m >= NSESS_ARRAY_SIZE(netplan_mode_names))
		return "unknown";
	return netplan_mode_names[m];
}

int nsess_net_mode_parse(const char *s, enum nsess_net_mode *out, struct nsess_error *e)
{
	char esc[128];
	size_t i;

	for (i = 0; s && i < NSESS_ARRAY_SIZE(netplan_mode_names); i++) {
		if (strcmp(s, netplan_mode_names[i]) == 0) {
			*out = (enum nsess_net_mode)i;
			return 0;
		}
	}
	return nsess_error_set(e, EINVAL,
			       "network mode \"%s\" is not known: use slirp (private network "
			       "with NAT, the default), none (loopback only) or host",
			       nsess_escape(s ? s : "", (size_t)-1, esc, sizeof(esc)));
}

/* A port 1..65535 in strict decimal. */
static int netplan_parse_port(const char *s, uint16_t *out)
{
	unsigned int v;

	if (nsess_parse_u32(s, &v) < 0 || v < 1 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int nsess_publish_parse(const char *spec, struct nsess_publish *out, struct nsess_error *e)
{
	static const char form[] = "expected [IP:]HOSTPORT:PORT[/udp|/tcp], ports 1..65535, "
				   "IP a dotted IPv4 address, e.g. 127.0.0.1:8080:80/tcp";
	char buf[NETPLAN_PUBLISH_SPEC_MAX + 1], esc[160], fesc[80];
	char *fields[3], *slash, *p;
	struct nsess_publish r;
	unsigned int n = 0;
	size_t len;

	memset(&r, 0, sizeof(r));
	r.host_addr.s_addr = htonl(INADDR_ANY);
	nsess_escape(spec ? spec : "", (size_t)-1, esc, sizeof(esc));

	len = spec ? strnlen(spec, sizeof(buf)) : 0;
	if (len == 0)
		return nsess_error_set(e, EINVAL, "publish rule is empty: %s", form);
	if (len >= sizeof(buf))
		return nsess_error_set(e, EINVAL, "publish rule \"%s\" is too long: %s", esc,
				       form);
	memcpy(buf, spec, len + 1);

	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		if (strcmp(slash + 1, "udp") == 0)
			r.udp = true;
		else if (strcmp(slash + 1, "tcp") != 0)
			return nsess_error_set(e, EINVAL,
					       "publish rule \"%s\": protocol must be /tcp or "
					       "/udp: %s", esc, form);
	}

	/* split on ':' into at most three fields; a fourth is an error */
	fields[n++] = buf;
	for (p = buf; *p; p++) {
		if (*p != ':')
			continue;
		if (n == NSESS_ARRAY_SIZE(fields))
			return nsess_error_set(e, EINVAL, "publish rule \"%s\" has too many "
					       "':' (IPv6 host addresses are not supported): %s",
					       esc, form);
		*p = '\0';
		fields[n++] = p + 1;
	}
	if (n < 2)
		return nsess_error_set(e, EINVAL, "publish rule \"%s\" needs a host port and "
				       "a session port: %s", esc, form);

	if (n == 3 && inet_pton(AF_INET, fields[0], &r.host_addr) != 1)
		return nsess_error_set(e, EINVAL, "publish rule \"%s\": \"%s\" is not an IPv4 "
				       "address: %s", esc,
				       nsess_escape(fields[0], (size_t)-1, fesc, sizeof(fesc)),
				       form);
	if (netplan_parse_port(fields[n - 2], &r.host_port) < 0)
		return nsess_error_set(e, EINVAL, "publish rule \"%s\": host port is not a "
				       "number in 1..65535: %s", esc, form);
	if (netplan_parse_port(fields[n - 1], &r.guest_port) < 0)
		return nsess_error_set(e, EINVAL, "publish rule \"%s\": session port is not a "
				       "number in 1..65535: %s", esc, form);
	*out = r;
	return 0;
}

static void netplan_publish_str(const struct nsess_publish *r, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	if (!inet_ntop(AF_INET, &r->host_addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, "%s:%u:%u/%s", a, r->host_port, r->guest_port,
		 r->udp ? "udp" : "tcp");
}

int nsess_netplan_add_publish(struct nsess_netplan *p, const struct nsess_publish *r,
			      struct nsess_error *e)
{
	char want[64], have[64];
	unsigned int i;

	netplan_publish_str(r, want, sizeof(want));
	if (p->n_publish >= NSESS_PUBLISH_MAX)
		return nsess_error_set(e, E2BIG, "publish rule %s: at most %d rules are allowed",
				       want, NSESS_PUBLISH_MAX);
	for (i = 0; i < p->n_publish; i++) {
		const struct nsess_publish *o = &p->publish[i];

		if (o->udp != r->udp || o->host_port != r->host_port)
			continue;
		/*
		 * The same address, or a wildcard and a specific address, on
		 * the same port: the second listener could never bind.
		 */
		if (o->host_addr.s_addr == r->host_addr.s_addr ||
		    o->host_addr.s_addr == htonl(INADDR_ANY) ||
		    r->host_addr.s_addr == htonl(INADDR_ANY)) {
			netplan_publish_str(o, have, sizeof(have));
			return nsess_error_set(e, EEXIST, "publish rule %s: host port %u/%s is "
					       "already published by %s", want, r->host_port,
					       r->udp ? "udp" : "tcp", have);
		}
	}
	p->publish[p->n_publish++] = *r;
	return 0;
}

int nsess_mtu_parse(const char *s, uint32_t *out, struct nsess_error *e)
{
	unsigned int v;
	char esc[64];

	if (nsess_parse_u32(s, &v) < 0 || v < NSESS_MTU_MIN || v > NSESS_MTU_MAX)
		return nsess_error_set(e, EINVAL, "MTU \"%s\" is not a number in %d..%d "
				       "(IPv6 needs %d, libslirp allows at most %d)",
				       nsess_escape(s ? s : "", (size_t)-1, esc, sizeof(esc)),
				       NSESS_MTU_MIN, NSESS_MTU_MAX, NSESS_MTU_MIN, NSESS_MTU_MAX);
	*out = v;
	return 0;
}

/* ---- validation ------------------------------------------------------- */

static uint32_t netplan_mask4(unsigned int prefix)
{
	return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

static bool netplan_in_net4(struct in_addr a, struct in_addr net, unsigned int prefix)
{
	uint32_t m = netplan_mask4(prefix);

	return (ntohl(a.s_addr) & m) == ntohl(net.s_addr);
}

/* host part neither all zeros (the network) nor all ones (broadcast) */
static bool netplan_host4_ok(struct in_addr a, unsigned int prefix)
{
	uint32_t host = ntohl(a.s_addr) & ~netplan_mask4(prefix);

	return host != 0 && host != ~netplan_mask4(prefix);
}

bool nsess_netplan_in_net6(const struct in6_addr *a, const struct in6_addr *net,
			   unsigned int prefix)
{
	unsigned int i;

	for (i = 0; i < 16; i++) {
		unsigned int bits = prefix > i * 8 ? prefix - i * 8 : 0;
		uint8_t m = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		if ((a->s6_addr[i] & m) != net->s6_addr[i])
			return false;
	}
	return true;
}

static bool netplan_host6_ok(const struct in6_addr *a, unsigned int prefix)
{
	unsigned int i;

	/* all-zero host part is the subnet-router anycast address */
	for (i = 0; i < 16; i++) {
		unsigned int bits = prefix > i * 8 ? prefix - i * 8 : 0;
		uint8_t m = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		if (a->s6_addr[i] & (uint8_t)~m)
			return true;
	}
	return false;
}

static int netplan_check4(const struct nsess_netplan *p, const char *what, struct in_addr a,
			  struct nsess_error *e)
{
	char s[INET_ADDRSTRLEN], n[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &a, s, sizeof(s));
	inet_ntop(AF_INET, &p->net4, n, sizeof(n));
	if (!netplan_in_net4(a, p->net4, p->prefix4))
		return nsess_error_set(e, EINVAL, "network plan: %s %s is outside %s/%u", what, s,
				       n, p->prefix4);
	if (!netplan_host4_ok(a, p->prefix4))
		return nsess_error_set(e, EINVAL, "network plan: %s %s is the network or "
				       "broadcast address of %s/%u", what, s, n, p->prefix4);
	return 0;
}

static int netplan_check6(const struct nsess_netplan *p, const char *what,
			  const struct in6_addr *a, struct nsess_error *e)
{
	char s[INET6_ADDRSTRLEN], n[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, a, s, sizeof(s));
	inet_ntop(AF_INET6, &p->net6, n, sizeof(n));
	if (!nsess_netplan_in_net6(a, &p->net6, p->prefix6))
		return nsess_error_set(e, EINVAL, "network plan: %s %s is outside %s/%u", what, s,
				       n, p->prefix6);
	if (!netplan_host6_ok(a, p->prefix6))
		return nsess_error_set(e, EINVAL, "network plan: %s %s is the subnet address of "
				       "%s/%u", what, s, n, p->prefix6);
	return 0;
}

static int netplan_validate_ifname(const char *name, size_t cap, struct nsess_error *e)
{
	size_t len = strnlen(name, cap);
	char esc[80];
	size_t i;

	/* the kernel's dev_valid_name(): 1..15 bytes, no '/', ':' or space, not . or .. */
	if (len == 0 || len >= cap || len >= 16)
		return nsess_error_set(e, EINVAL, "network plan: interface name must be "
				       "1..15 characters");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		/* '%' would make the kernel treat the name as a template */
		if (c <= 0x20 || c >= 0x7f || c == '/' || c == ':' || c == '%')
			return nsess_error_set(e, EINVAL, "network plan: interface name \"%s\" "
					       "contains a character the kernel refuses",
					       nsess_escape(name, len, esc, sizeof(esc)));
	}
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return nsess_error_set(e, EINVAL, "network plan: interface name \"%s\" is "
				       "not allowed", name);
	return 0;
}

static int netplan_validate_hostname(const char *h, size_t cap, struct nsess_error *e)
{
	size_t len = strnlen(h, cap);
	char esc[300];
	size_t i;

	if (len == 0 || len >= cap)
		return nsess_error_set(e, EINVAL, "network plan: hostname must be 1..%zu "
				       "characters", cap - 1);
	for (i = 0; i < len; i++) {
		char c = h[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '-';

		if (!ok)
			return nsess_error_set(e, EINVAL, "network plan: hostname \"%s\" may "
					       "contain only letters, digits, '.' and '-'",
					       nsess_escape(h, len, esc, sizeof(esc)));
	}
	/* "-x" reads as an option to tools that take a hostname */
	if (h[0] == '-' || h[0] == '.')
		return nsess_error_set(e, EINVAL, "network plan: hostname \"%s\" must start "
				       "with a letter or a digit",
				       nsess_escape(h, len, esc, sizeof(esc)));
	return 0;
}

int nsess_netplan_validate(const struct nsess_netplan *p, struct nsess_error *e)
{
	unsigned int i;
	int r;

	if ((unsigned int)p->mode >= NSESS_ARRAY_SIZE(netplan_mode_names))
		return nsess_error_set(e, EINVAL, "network plan: unknown mode %d", (int)p->mode);
	r = netplan_validate_hostname(p->hostname, sizeof(p->hostname), e);
	if (r < 0)
		return r;
	if (p->n_publish > NSESS_PUBLISH_MAX)
		return nsess_error_set(e, EINVAL, "network plan: %u publish rules, at most %d",
				       p->n_publish, NSESS_PUBLISH_MAX);
	if (p->mode != NSESS_NET_SLIRP) {
		if (p->n_publish)
			return nsess_error_set(e, EINVAL, "network plan: publishing ports needs "
					       "network mode slirp, not %s",
					       nsess_net_mode_name(p->mode));
		return 0;
	}

	r = netplan_validate_ifname(p->ifname, sizeof(p->ifname), e);
	if (r < 0)
		return r;
	if (p->mtu < NSESS_MTU_MIN || p->mtu > NSESS_MTU_MAX)
		return nsess_error_set(e, EINVAL, "network plan: MTU %u is outside %d..%d",
				       p->mtu, NSESS_MTU_MIN, NSESS_MTU_MAX);

	/* /30 is the smallest net that holds the session, gateway and DNS */
	if (p->prefix4 < 8 || p->prefix4 > 30)
		return nsess_error_set(e, EINVAL, "network plan: IPv4 prefix /%u is outside "
				       "/8../30", p->prefix4);
	if ((ntohl(p->net4.s_addr) & ~netplan_mask4(p->prefix4)) != 0)
		return nsess_error_set(e, EINVAL, "network plan: IPv4 network has bits set "
				       "beyond its /%u prefix", p->prefix4);
	if ((r = netplan_check4(p, "session address", p->addr4, e)) < 0 ||
	    (r = netplan_check4(p, "gateway", p->gw4, e)) < 0 ||
	    (r = netplan_check4(p, "DNS forwarder", p->dns4, e)) < 0)
		return r;
	if (p->gw4.s_addr == p->addr4.s_addr || p->dns4.s_addr == p->addr4.s_addr)
		return nsess_error_set(e, EINVAL, "network plan: the IPv4 gateway and DNS "
				       "forwarder must differ from the session address");

	if (p->ipv6) {
		if (p->prefix6 < 8 || p->prefix6 > 126)
			return nsess_error_set(e, EINVAL, "network plan: IPv6 prefix /%u is "
					       "outside /8../126", p->prefix6);
		if (!nsess_netplan_in_net6(&p->net6, &p->net6, p->prefix6))
			return nsess_error_set(e, EINVAL, "network plan: IPv6 network has bits "
					       "set beyond its /%u prefix", p->prefix6);
		if ((r = netplan_check6(p, "session address", &p->addr6, e)) < 0 ||
		    (r = netplan_check6(p, "gateway", &p->gw6, e)) < 0 ||
		    (r = netplan_check6(p, "DNS forwarder", &p->dns6, e)) < 0)
			return r;
		if (memcmp(&p->gw6, &p->addr6, sizeof(p->addr6)) == 0 ||
		    memcmp(&p->dns6, &p->addr6, sizeof(p->addr6)) == 0)
			return nsess_error_set(e, EINVAL, "network plan: the IPv6 gateway and "
					       "DNS forwarder must differ from the session address");
	}

	for (i = 0; i < p->n_publish; i++) {
		if (p->publish[i].host_port == 0 || p->publish[i].guest_port == 0)
			return nsess_error_set(e, EINVAL, "network plan: publish rule %u has "
					       "port 0", i + 1);
	}
	return 0;
}

/* ---- files the session sees ------------------------------------------- */

/* Append to @buf at *@off; false when it does not fit (with its NUL). */
static bool netplan_append(char *buf, size_t len, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool netplan_append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *off)
		return false;
	*off += (size_t)n;
	return true;
}

/* Copy the finished text out, so @buf is only written on success. */
static int netplan_emit(const char *tmp, size_t n, char *buf, size_t len)
{
	if (n + 1 > len)
		return -ENOSPC;
	memcpy(buf, tmp, n + 1);
	return (int)n;
}

void nsess_netplan_route_metrics(const struct nsess_netplan *p, int family,
				 struct nsess_route_metrics *out)
{
	/* IPv4 or IPv6 header and TCP header, no options */
	uint32_t hdr = family == AF_INET6 ? 60 : 40;

	/*
	 * iperf3 through the engine, interleaved 3 s runs (medians, Mbit/s):
	 * the link at 16384 without metrics moved 5639 host -> session, quick
	 * ACKs alone 6690, and the link at 65520 with these metrics 8725, but
	 * that cost the other way 12-15% (libslirp, with segments of 65480,
	 * holds back window updates: it wants two segments' worth first). Two
	 * rounds of 6-7 runs per link MTU, up / down: 16384 4550 / 6360 and
	 * 4612 / 6518; 24576 5000 / 7900 and 4547 / 7181; 65520 4450 / 7100
	 * and 3944 / 8010. Hence 24576 while libslirp carried all TCP. Routes
	 * at 12288 sent less. Since the session's IPv4 TCP takes tcpfast.c's
	 * path (scaled windows), 5 rotated rounds up / down: 24576 6537 /
	 * 7742, 65520 with these metrics 6564 / 9221, 65520 without any cap
	 * 6369 / 9573: hence the default 65520, metrics kept for libslirp.
	 */
	memset(out, 0, sizeof(*out));
	out->quickack = true;
	if (p->mtu > NSESS_ROUTE_MTU_MAX) {
		out->mtu = NSESS_ROUTE_MTU_MAX;
		out->advmss = p->mtu - hdr < NSESS_ADVMSS_MAX ? p->mtu - hdr : NSESS_ADVMSS_MAX;
	}
}

int nsess_netplan_resolv_conf(const struct nsess_netplan *p, char *buf, size_t len)
{
	char tmp[512], a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
	size_t off = 0;
	bool ok;

	ok = netplan_append(tmp, sizeof(tmp), &off,
			    "# Generated by nsession for this session; do not edit.\n");
	if (p->mode == NSESS_NET_SLIRP) {
		inet_ntop(AF_INET, &p->dns4, a4, sizeof(a4));
		ok = ok && netplan_append(tmp, sizeof(tmp), &off, "nameserver %s\n", a4);
		if (p->ipv6) {
			inet_ntop(AF_INET6, &p->dns6, a6, sizeof(a6));
			ok = ok && netplan_append(tmp, sizeof(tmp), &off, "nameserver %s\n", a6);
		}
	} else {
		ok = ok && netplan_append(tmp, sizeof(tmp), &off,
					  "# network mode %s: no DNS forwarder\n",
					  nsess_net_mode_name(p->mode));
	}
	if (!ok)
		return -ENOSPC;
	return netplan_emit(tmp, off, buf, len);
}

int nsess_netplan_hosts(const struct nsess_netplan *p, char *buf, size_t len)
{
	char tmp[512], a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
	size_t off = 0;
	bool ok;

	/* the name goes into a file the resolver parses: no newline, no space */
	if (netplan_validate_hostname(p->hostname, sizeof(p->hostname), NULL) < 0)
		return -EINVAL;
	ok = netplan_append(tmp, sizeof(tmp), &off,
			    "# Generated by nsession for this session; do not edit.\n"
			    "127.0.0.1\tlocalhost\n"
			    "::1\tlocalhost ip6-localhost ip6-loopback\n");
	if (p->mode == NSESS_NET_SLIRP) {
		inet_ntop(AF_INET, &p->addr4, a4, sizeof(a4));
		ok = ok && netplan_append(tmp, sizeof(tmp), &off, "%s\t%s\n", a4, p->hostname);
		if (p->ipv6) {
			inet_ntop(AF_INET6, &p->addr6, a6, sizeof(a6));
			ok = ok && netplan_append(tmp, sizeof(tmp), &off, "%s\t%s\n", a6,
						  p->hostname);
		}
	} else {
		/* no session address: the Debian convention for the own name */
		ok = ok && netplan_append(tmp, sizeof(tmp), &off, "127.0.1.1\t%s\n",
					  p->hostname);
	}
	if (!ok)
		return -ENOSPC;
	return netplan_emit(tmp, off, buf, len);
}

/*
 * libslirp answers ARP for its own IPv4 addresses with 52:55 followed by the
 * four address bytes (slirp.c: special_ethaddr, arp_input()), and NDP for its
 * IPv6 addresses with 52:56 followed by the last four address bytes (ip6.h:
 * in6_compute_ethaddr(), used by ndp_send_na()).
 */
void nsess_slirp_mac4(struct in_addr a, uint8_t mac[6])
{
	mac[0] = 0x52;
	mac[1] = 0x55;
	memcpy(&mac[2], &a.s_addr, 4);
}

void nsess_slirp_mac6(const struct in6_addr *a, uint8_t mac[6])
{
	mac[0] = 0x52;
	mac[1] = 0x56;
	memcpy(&mac[2], &a->s6_addr[12], 4);
}
