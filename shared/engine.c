/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * engine.c - libslirp between the session's TAP queue and the host's sockets.
 *
 * How this works:
 *  - nsess_engine_build_config() turns a plan into a SlirpConfig (pure,
 *    unit-tested); nsess_engine_new() hands it to slirp_new() with the
 *    engine_cb_* callbacks and publishes the plan's ports.
 *  - nsess_engine_run() is one poll() loop. The pollfd array is laid out as
 *    [0] the TAP, [1..n] the watched fds of the front end, then whatever
 *    slirp_pollfds_fill() asks for. The array is reused between rounds and
 *    only ever grows, so a steady state allocates nothing.
 *  - After poll(), slirp_pollfds_poll() runs first (it is also what
 *    advances libslirp's internal clock), then frames from the TAP are
 *    read until EAGAIN (bounded per round so the host side is not starved)
 *    into one buffer, judged by guard.c (host loopback, link-local and
 *    metadata destinations are refused there), offered to tcpfast.c (the session's
 *    outbound TCP, IPv4 and IPv6, which libslirp's unscaled 64 KiB window
 *    would cap),
 *    then passed to slirp_input(). tcpfast.c's host sockets sit between
 *    the watched fds and libslirp's in the pollfd array.
 *    libslirp answers synchronously through engine_cb_send_packet(), which
 *    writes one frame to the TAP.
 *  - libslirp's timers (only the IPv6 router advertisement timer in 4.7)
 *    live in a short list; the poll timeout is the smaller of libslirp's own
 *    and the nearest armed timer.
 *
 * A full TAP (EAGAIN on write) drops the frame: libslirp documents that as
 * allowed and TCP retransmits; blocking here would stall every other flow
 * of the session. The tun driver practically never returns EAGAIN on write
 * anyway (it queues into the stack or drops itself), so a wait would only
 * add a syscall to the hot path.
 *
 * send_packet always reports the whole frame as sent: a negative return
 * makes libslirp print through g_critical() on stderr, which must not
 * happen inside a PAM host. A TAP that is gone for good (EBADFD, EBADF)
 * is remembered instead and ends the loop with that error.
 */
#include "config.h"

#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <arpa/inet.h>
#include <net/ethernet.h>

#define NSESS_ENGINE_INTERNAL 1
#include "engine.h"
#include "fault.h"
#include "guard.h"
#include "tcpfast.h"
#include "vnet.h"

#define ENGINE_WATCH_MAX 16
#define ENGINE_PFD_INITIAL 64
/* frames moved from the TAP per wakeup before libslirp's sockets get a turn */
#define ENGINE_READ_BATCH 256
/* guest_error lines: at most this many per window, then one summary */
#define ENGINE_GERR_BURST 10
#define ENGINE_GERR_WINDOW_NS (10 * 1000000000LL)

struct engine_timer {
	struct engine_timer *next;
	int64_t expire_ms;		/* -1: not armed */
	SlirpTimerCb cb;		/* timer_new() style, or NULL */
	SlirpTimerId id;		/* timer_new_opaque() style */
	void *cb_opaque;
};

struct engine_watch {
	int fd;				/* -1: free slot */
	short events;
	nsess_engine_fd_cb cb;
	void *data;
	int pfd_idx;			/* slot in this round's pollfd array, -1 if none */
};

struct nsess_engine {
	Slirp *slirp;
	struct nsess_tcpfast *tcp;	/* outbound TCP beside libslirp */
	struct nsess_guard guard;	/* frames refused before either sees them */
	bool guard_logged;		/* the first refusal is logged, the rest counted */
	int tap_fd;
	struct nsess_log log_store;
	const struct nsess_log *log;	/* &log_store or NULL */

	size_t vnet_len;		/* virtio-net header before each TAP frame, 0 if none */
	uint8_t *rxbuf;			/* the header, then one TAP frame */
	uint8_t *frame;			/* rxbuf + vnet_len, rx_size bytes */
	size_t rx_size;			/* frame_size, or a GSO frame's most behind a header */
	size_t frame_size;		/* MTU + Ethernet header */
	uint8_t *segbuf;		/* one segment of a GSO frame for libslirp, frame_size */

	struct pollfd *pfds;		/* reused every round, only grows */
	size_t n_pfds, cap_pfds;
	size_t slirp_base;		/* first pollfd that belongs to libslirp */
	bool pfd_oom;

	struct engine_watch watch[ENGINE_WATCH_MAX];
	struct engine_timer *timers;

	bool stopping;
	int fatal;			/* -errno that ends the loop, 0 if none */

	struct nsess_engine_stats stats;

	int64_t gerr_window_start;
	unsigned int gerr_count;
	unsigned int gerr_suppressed;
};

static int64_t engine_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct in_addr engine_mask4(uint8_t prefix)
{
	struct in_addr m;

	m.s_addr = prefix ? htonl(~(uint32_t)0 << (32 - prefix)) : 0;
	return m;
}

int nsess_engine_build_config(const struct nsess_netplan *plan, SlirpConfig *out,
			      struct nsess_error *e)
{
	SlirpConfig c;

	if (plan->mode != NSESS_NET_SLIRP)
		return nsess_error_set(e, EINVAL,
				       "network mode \"%s\" has no NAT engine; only \"slirp\" does",
				       nsess_net_mode_name(plan->mode));
	if (plan->mtu < NSESS_MTU_MIN || plan->mtu > NSESS_MTU_MAX)
		return nsess_error_set(e, EINVAL, "MTU %" PRIu32 " is outside %d..%d",
				       plan->mtu, NSESS_MTU_MIN, NSESS_MTU_MAX);
	if (plan->prefix4 < 1 || plan->prefix4 > 30)
		return nsess_error_set(e, EINVAL,
				       "IPv4 prefix length /%u is outside /1../30 (the network needs "
				       "room for the session, the gateway and the DNS forwarder)",
				       plan->prefix4);
	if (plan->ipv6 && (plan->prefix6 < 1 || plan->prefix6 > 126))
		return nsess_error_set(e, EINVAL, "IPv6 prefix length /%u is outside /1../126",
				       plan->prefix6);

	memset(&c, 0, sizeof(c));
	c.version = SLIRP_CONFIG_VERSION_MAX < 4 ? SLIRP_CONFIG_VERSION_MAX : 4;
	/* 0: the session may reach the outside world through the NAT */
	c.restricted = 0;

	c.in_enabled = true;
	c.vnetmask = engine_mask4(plan->prefix4);
	c.vnetwork.s_addr = plan->net4.s_addr & c.vnetmask.s_addr;
	c.vhost = plan->gw4;
	c.vnameserver = plan->dns4;
	/* also libslirp's default guest for slirp_add_hostfwd() */
	c.vdhcp_start = plan->addr4;

	c.in6_enabled = plan->ipv6;
	c.vprefix_addr6 = plan->net6;
	c.vprefix_len = plan->prefix6;
	c.vhost6 = plan->gw6;
	c.vnameserver6 = plan->dns6;

	c.if_mtu = plan->mtu;
	c.if_mru = plan->mtu;
	c.disable_host_loopback = !plan->allow_host_loopback;
	/* protocol emulation (ftp, irc...) parses guest data: never */
	c.enable_emu = false;
	c.outbound_addr = NULL;
	c.outbound_addr6 = NULL;
	c.disable_dns = false;
	/* addresses are configured statically by netconf.c */
	c.disable_dhcp = true;

	*out = c;
	return 0;
}

static void engine_guest_error_flush(struct nsess_engine *eng)
{
	if (eng->gerr_suppressed)
		nsess_log(eng->log, LOG_NOTICE,
			  "engine: %u more guest error(s) not logged (rate limit)",
			  eng->gerr_suppressed);
	eng->gerr_suppressed = 0;
}

/* ---- libslirp callbacks ------------------------------------------------ */

static ssize_t engine_cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct nsess_engine *eng = opaque;
	/* libslirp's frames carry their checksums: an all-zero header */
	static const uint8_t hdr[NSESS_VNET_HDR_MAX];
	struct iovec iov[2] = {
		{ .iov_base = (void *)hdr, .iov_len = eng->vnet_len },
		{ .iov_base = (void *)buf, .iov_len = len },
	};
	ssize_t n;

	do
		n = eng->vnet_len ? writev(eng->tap_fd, iov, 2) : write(eng->tap_fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EBADFD || errno == EBADF)
			eng->fatal = -errno;
		/* EAGAIN (full), EIO (link down): drop, TCP retransmits */
		eng->stats.frames_dropped++;
		return (ssize_t)len;
	}
	eng->stats.frames_out++;
	eng->stats.bytes_out += (uint64_t)len;
	return (ssize_t)len;
}

static void engine_cb_guest_error(const char *msg, void *opaque)
{
	struct nsess_engine *eng = opaque;
	char esc[256];
	int64_t now = engine_now_ns();

	if (now - eng->gerr_window_start > ENGINE_GERR_WINDOW_NS) {
		engine_guest_error_flush(eng);
		eng->gerr_window_start = now;
		eng->gerr_count = 0;
	}
	if (eng->gerr_count >= ENGINE_GERR_BURST) {
		eng->gerr_suppressed++;
		return;
	}
	eng->gerr_count++;
	nsess_log(eng->log, LOG_NOTICE, "engine: guest error: %s",
		  nsess_escape(msg, (size_t)-1, esc, sizeof(esc)));
}

static int64_t engine_cb_clock_get_ns(void *opaque)
{
	(void)opaque;
	return engine_now_ns();
}

static struct engine_timer *engine_timer_add(struct nsess_engine *eng)
{
	struct engine_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->expire_ms = -1;
	t->next = eng->timers;
	eng->timers = t;
	return t;
}

static void *engine_cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct engine_timer *t = engine_timer_add(opaque);

	if (t) {
		t->cb = cb;
		t->cb_opaque = cb_opaque;
	}
	return t;
}

static void *engine_cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct engine_timer *t = engine_timer_add(opaque);

	if (t) {
		t->id = id;
		t->cb_opaque = cb_opaque;
	}
	return t;
}

static void engine_cb_timer_free(void *timer, void *opaque)
{
	struct nsess_engine *eng = opaque;
	struct engine_timer **pp;

	for (pp = &eng->timers; *pp; pp = &(*pp)->next) {
		if (*pp == timer) {
			*pp = (*pp)->next;
			free(timer);
			return;
		}
	}
}

static void engine_cb_timer_mod(void *timer, int64_t expire_time, void *opaque)
{
	struct engine_timer *t = timer;

	(void)opaque;
	if (t)
		t->expire_ms = expire_time < 0 ? 0 : expire_time;
}

static void engine_cb_register_poll_fd(int fd, void *opaque)
{
	/* slirp_pollfds_fill() hands us every fd each round */
	(void)fd;
	(void)opaque;
}

static void engine_cb_unregister_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

static void engine_cb_notify(void *opaque)
{
	/* single-threaded loop: the next round looks at every socket anyway */
	(void)opaque;
}

static void engine_cb_init_completed(Slirp *slirp, void *opaque)
{
	struct nsess_engine *eng = opaque;

	/* timers may be created inside slirp_new(), before it returns */
	eng->slirp = slirp;
}

static const SlirpCb engine_callbacks = {
	.send_packet = engine_cb_send_packet,
	.guest_error = engine_cb_guest_error,
	.clock_get_ns = engine_cb_clock_get_ns,
	.timer_new = engine_cb_timer_new,
	.timer_free = engine_cb_timer_free,
	.timer_mod = engine_cb_timer_mod,
	.register_poll_fd = engine_cb_register_poll_fd,
	.unregister_poll_fd = engine_cb_unregister_poll_fd,
	.notify = engine_cb_notify,
	.init_completed = engine_cb_init_completed,
	.timer_new_opaque = engine_cb_timer_new_opaque,
};

/* ---- pollfd array ------------------------------------------------------ */

static int engine_pfd_reserve(struct nsess_engine *eng, size_t n)
{
	struct pollfd *p;
	size_t cap;

	if (n <= eng->cap_pfds)
		return 0;
	cap = eng->cap_pfds ? eng->cap_pfds : ENGINE_PFD_INITIAL;
	while (cap < n)
		cap *= 2;
	p = realloc(eng->pfds, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	eng->pfds = p;
	eng->cap_pfds = cap;
	return 0;
}

static short engine_slirp_to_poll(int ev)
{
	short r = 0;

	if (ev & SLIRP_POLL_IN)
		r |= POLLIN;
	if (ev & SLIRP_POLL_OUT)
		r |= POLLOUT;
	if (ev & SLIRP_POLL_PRI)
		r |= POLLPRI;
	if (ev & SLIRP_POLL_ERR)
		r |= POLLERR;
	if (ev & SLIRP_POLL_HUP)
		r |= POLLHUP;
	return r;
}

static int engine_add_poll(int fd, int events, void *opaque)
{
	struct nsess_engine *eng = opaque;
	struct pollfd *p;

	if (engine_pfd_reserve(eng, eng->n_pfds + 1) < 0) {
		/* libslirp skips a socket whose index is -1 this round */
		eng->pfd_oom = true;
		return -1;
	}
	p = &eng->pfds[eng->n_pfds];
	p->fd = fd;
	p->events = engine_slirp_to_poll(events);
	p->revents = 0;
	return (int)(eng->n_pfds++ - eng->slirp_base);
}

static int engine_get_revents(int idx, void *opaque)
{
	struct nsess_engine *eng = opaque;
	size_t i;
	short rev;
	int r = 0;

	if (idx < 0)
		return 0;
	i = eng->slirp_base + (size_t)idx;
	if (i >= eng->n_pfds)
		return 0;
	rev = eng->pfds[i].revents;
	if (rev & POLLIN)
		r |= SLIRP_POLL_IN;
	if (rev & POLLOUT)
		r |= SLIRP_POLL_OUT;
	if (rev & POLLPRI)
		r |= SLIRP_POLL_PRI;
	if (rev & POLLERR)
		r |= SLIRP_POLL_ERR;
	if (rev & POLLHUP)
		r |= SLIRP_POLL_HUP;
	return r;
}

/* ---- public API -------------------------------------------------------- */

static int engine_publish(struct nsess_engine *eng, const struct nsess_netplan *plan,
			  struct nsess_error *e)
{
	unsigned int i;

	for (i = 0; i < plan->n_publish && i < NSESS_PUBLISH_MAX; i++) {
		const struct nsess_publish *r = &plan->publish[i];
		char host[INET_ADDRSTRLEN];
		int err;

		errno = 0;
		if (slirp_add_hostfwd(eng->slirp, r->udp, r->host_addr, r->host_port,
				      plan->addr4, r->guest_port) == 0)
			continue;
		err = errno;
		if (!inet_ntop(AF_INET, &r->host_addr, host, sizeof(host)))
			snprintf(host, sizeof(host), "?");
		if (err == EACCES || err == EPERM)
			return nsess_error_set(e, err,
					       "cannot publish %s:%u/%s to port %u: binding a port "
					       "below net.ipv4.ip_unprivileged_port_start needs "
					       "privilege; pick a higher host port",
					       host, r->host_port, r->udp ? "udp" : "tcp",
					       r->guest_port);
		if (err == EADDRNOTAVAIL)
			return nsess_error_set(e, err,
					       "cannot publish %s:%u/%s to port %u: %s is not an "
					       "address of this host",
					       host, r->host_port, r->udp ? "udp" : "tcp",
					       r->guest_port, host);
		return nsess_error_set(e, EADDRINUSE,
				       "cannot publish %s:%u/%s to port %u: the host port is "
				       "already in use (%s); pick another or stop its user",
				       host, r->host_port, r->udp ? "udp" : "tcp", r->guest_port,
				       strerror(err ? err : EADDRINUSE));
	}
	return 0;
}

int nsess_engine_tap_vnet_len(int fd)
{
	struct ifreq ifr;
	int len = 0;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0 || !(ifr.ifr_flags & IFF_VNET_HDR))
		return 0;
	if (ioctl(fd, TUNGETVNETHDRSZ, &len) < 0)
		return -errno;
	if (len < NSESS_VNET_HDR_LEN || len > NSESS_VNET_HDR_MAX)
		return -EPROTO;
	return len;
}

int nsess_engine_new(const struct nsess_netplan *plan, int tap_fd, const struct nsess_log *log,
		     struct nsess_engine **out, struct nsess_error *e)
{
	_cleanup_close_ int fd = tap_fd;
	struct nsess_engine *eng;
	SlirpConfig cfg;
	int flags, r;
	size_t i;

	if (fd < 0)
		return nsess_error_set(e, EBADF, "engine: no TAP fd");
	/*
	 * libslirp writes to host sockets whose peer may have closed: that must
	 * be an EPIPE for it to handle, not a SIGPIPE that kills the engine (and
	 * with it the session's network). The engine owns its process: the
	 * rootless parent, whose command was forked before this point and keeps
	 * the default disposition, or the engine process of a root session.
	 */
	signal(SIGPIPE, SIG_IGN);
	if ((r = nsess_fault_err("engine", "engine", e)) < 0)
		return r;
	r = nsess_engine_build_config(plan, &cfg, e);
	if (r < 0)
		return r;

	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return nsess_error_set(e, errno, "engine: cannot make the TAP fd nonblocking: %m");
	flags = fcntl(fd, F_GETFD);
	if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
		return nsess_error_set(e, errno, "engine: cannot set close-on-exec on the TAP fd: %m");

	eng = calloc(1, sizeof(*eng));
	if (!eng)
		return nsess_error_set(e, ENOMEM, "engine: out of memory");
	eng->tap_fd = -1;
	for (i = 0; i < ENGINE_WATCH_MAX; i++) {
		eng->watch[i].fd = -1;
		eng->watch[i].pfd_idx = -1;
	}
	if (log) {
		eng->log_store = *log;
		eng->log = &eng->log_store;
	}
	eng->gerr_window_start = engine_now_ns();
	r = nsess_engine_tap_vnet_len(fd);
	if (r < 0) {
		nsess_engine_free(eng);
		return nsess_error_set(e, -r, "engine: the TAP's virtio-net header size is "
				       "unusable: %s", strerror(-r));
	}
	eng->vnet_len = (size_t)r;
	eng->frame_size = plan->mtu + ETH_HLEN;
	eng->rx_size = eng->frame_size;
	if (eng->vnet_len) {
		/* a GSO frame may be larger than the MTU (vnet.h) */
		if (eng->rx_size < NSESS_VNET_FRAME_MAX)
			eng->rx_size = NSESS_VNET_FRAME_MAX;
		eng->segbuf = malloc(eng->frame_size);
	}
	eng->rxbuf = malloc(eng->vnet_len + eng->rx_size);
	if (!eng->rxbuf || (eng->vnet_len && !eng->segbuf) ||
	    engine_pfd_reserve(eng, ENGINE_PFD_INITIAL) < 0) {
		nsess_engine_free(eng);
		return nsess_error_set(e, ENOMEM, "engine: out of memory");
	}
	eng->frame = eng->rxbuf + eng->vnet_len;
	eng->tap_fd = TAKE_FD(fd);
	nsess_guard_init(&eng->guard, plan);
	eng->tcp = nsess_tcpfast_new(plan, eng->tap_fd, eng->vnet_len);
	if (!eng->tcp) {
		nsess_engine_free(eng);
		return nsess_error_set(e, ENOMEM, "engine: out of memory");
	}

	eng->slirp = slirp_new(&cfg, &engine_callbacks, eng);
	if (!eng->slirp) {
		nsess_engine_free(eng);
		return nsess_error_set(e, EINVAL,
				       "engine: libslirp %s refused the network configuration",
				       slirp_version_string());
	}

	r = engine_publish(eng, plan, e);
	if (r < 0) {
		nsess_engine_free(eng);
		return r;
	}
	*out = eng;
	return 0;
}

int nsess_engine_watch(struct nsess_engine *eng, int fd, short events, nsess_engine_fd_cb cb,
		       void *data)
{
	struct engine_watch *free_slot = NULL;
	size_t i;

	if (fd < 0 || !cb)
		return -EINVAL;
	for (i = 0; i < ENGINE_WATCH_MAX; i++) {
		if (eng->watch[i].fd == fd)
			return -EEXIST;
		if (eng->watch[i].fd < 0 && !free_slot)
			free_slot = &eng->watch[i];
	}
	if (!free_slot)
		return -E2BIG;
	free_slot->fd = fd;
	free_slot->events = events & (POLLIN | POLLOUT | POLLPRI);
	free_slot->cb = cb;
	free_slot->data = data;
	/* not in this round's pollfd array: not dispatched until the next round */
	free_slot->pfd_idx = -1;
	return 0;
}

void nsess_engine_unwatch(struct nsess_engine *eng, int fd)
{
	size_t i;

	if (fd < 0)
		return;
	for (i = 0; i < ENGINE_WATCH_MAX; i++) {
		if (eng->watch[i].fd == fd) {
			eng->watch[i].fd = -1;
			eng->watch[i].cb = NULL;
			eng->watch[i].data = NULL;
			eng->watch[i].pfd_idx = -1;
		}
	}
}

void nsess_engine_stop(struct nsess_engine *eng)
{
	eng->stopping = true;
}

/* Milliseconds until the nearest armed timer, libslirp's or tcpfast.c's (clamped into @timeout). */
static void engine_timers_timeout(struct nsess_engine *eng, uint32_t *timeout)
{
	int64_t now_ms = engine_now_ns() / 1000000;
	int64_t tcp_ms = nsess_tcpfast_timeout_ms(eng->tcp);
	struct engine_timer *t;

	if (tcp_ms >= 0 && (uint64_t)tcp_ms < *timeout)
		*timeout = (uint32_t)tcp_ms;
	for (t = eng->timers; t; t = t->next) {
		int64_t left;

		if (t->expire_ms < 0)
			continue;
		left = t->expire_ms - now_ms;
		if (left < 0)
			left = 0;
		if ((uint64_t)left < *timeout)
			*timeout = (uint32_t)left;
	}
}

static void engine_timers_run(struct nsess_engine *eng)
{
	int64_t now_ms = engine_now_ns() / 1000000;
	struct engine_timer *t;

	/* a callback may re-arm, add or free timers: rescan after each one */
again:
	for (t = eng->timers; t; t = t->next) {
		if (t->expire_ms < 0 || t->expire_ms > now_ms)
			continue;
		t->expire_ms = -1;
		if (t->cb)
			t->cb(t->cb_opaque);
		else
			slirp_handle_timer(eng->slirp, t->id, t->cb_opaque);
		goto again;
	}
}

/*
 * A frame guard.c refused (@v, and @dst its destination as text, filled
 * only while nothing has been logged yet): answer it when that is due,
 * count it, and log the first one (an admin should learn that something
 * in the session tries the metadata service, not a flood of it).
 */
static void engine_refuse(struct nsess_engine *eng, size_t n, enum nsess_guard_verdict v,
			  const char *dst)
{
	uint8_t answer[14 + 40 + 8 + 1232];
	size_t m;

	if (v == NSESS_GUARD_REJECT) {
		m = nsess_guard_answer(&eng->guard, eng->frame, n, answer, sizeof(answer));
		if (m)
			engine_cb_send_packet(answer, m, eng);
	}
	eng->stats.frames_refused++;
	if (!eng->guard_logged) {
		eng->guard_logged = true;
		nsess_log(eng->log, LOG_NOTICE,
			  "engine: refused a packet from the session to %s: host loopback, "
			  "link-local and metadata addresses are closed (allow_host_loopback = yes "
			  "in nsession.conf, or nsession run --allow-host-loopback, opens them); "
			  "later refusals are only counted", dst);
	}
}

/* one segment of a GSO frame from the session, for libslirp (vnet.h) */
static void engine_slirp_segment(const uint8_t *frame, size_t len, void *opaque)
{
	struct nsess_engine *eng = opaque;

	slirp_input(eng->slirp, frame, (int)len);
}

/* Move frames from the TAP into libslirp until the TAP is empty. */
static int engine_tap_read(struct nsess_engine *eng)
{
	char dst[INET6_ADDRSTRLEN] = "?";
	enum nsess_guard_verdict v;
	int i;

	for (i = 0; i < ENGINE_READ_BATCH; i++) {
		ssize_t n = read(eng->tap_fd, eng->rxbuf, eng->vnet_len + eng->rx_size);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		n -= (ssize_t)eng->vnet_len;
		if (n < ETH_HLEN)
			continue;
		eng->stats.frames_in++;
		eng->stats.bytes_in += (uint64_t)n;
		v = nsess_guard_check(&eng->guard, eng->frame, (size_t)n,
				      eng->guard_logged ? NULL : dst);
		if (v != NSESS_GUARD_PASS) {
			engine_refuse(eng, (size_t)n, v, dst);
			continue;
		}
		if (nsess_tcpfast_input(eng->tcp, eng->frame, (size_t)n))
			continue;
		/* libslirp checks checksums: finish one the session left to us */
		if (eng->vnet_len) {
			int r;

			if (nsess_vnet_is_gso(eng->rxbuf)) {
				/* libslirp takes the segments the frame stands for */
				r = nsess_vnet_segment(eng->rxbuf, eng->frame, (size_t)n,
						       eng->segbuf, eng->frame_size,
						       engine_slirp_segment, eng);
				if (r < 0)
					eng->stats.frames_malformed++;
				else
					eng->stats.frames_segmented++;
				if (eng->fatal)
					return eng->fatal;
				continue;
			}
			r = nsess_vnet_rx_finish(eng->rxbuf, eng->frame, (size_t)n);
			if (r < 0) {
				eng->stats.frames_malformed++;
				continue;
			}
			eng->stats.frames_finished += (uint64_t)r;
		}
		slirp_input(eng->slirp, eng->frame, (int)n);
		if (eng->fatal)
			return eng->fatal;
	}
	return 0;
}

static void engine_dispatch_watches(struct nsess_engine *eng)
{
	size_t i;

	for (i = 0; i < ENGINE_WATCH_MAX && !eng->stopping; i++) {
		struct engine_watch *w = &eng->watch[i];
		short rev;

		if (w->fd < 0 || w->pfd_idx < 0)
			continue;
		rev = eng->pfds[w->pfd_idx].revents;
		w->pfd_idx = -1;
		if (rev)
			w->cb(eng, w->fd, rev, w->data);
	}
}

int nsess_engine_run(struct nsess_engine *eng)
{
	eng->stopping = false;
	/*
	 * Prime libslirp's clock before the first frame: select_error=1 runs
	 * its timers and output queue without looking at any socket.
	 */
	slirp_pollfds_poll(eng->slirp, 1, engine_get_revents, eng);
	while (!eng->stopping) {
		uint32_t timeout = UINT32_MAX;
		int n, select_error = 0;
		size_t i;
		short tap_rev;

		if (eng->fatal)
			return eng->fatal;

		eng->n_pfds = 0;
		eng->pfds[eng->n_pfds++] = (struct pollfd){ .fd = eng->tap_fd, .events = POLLIN };
		for (i = 0; i < ENGINE_WATCH_MAX; i++) {
			struct engine_watch *w = &eng->watch[i];

			w->pfd_idx = -1;
			if (w->fd < 0)
				continue;
			w->pfd_idx = (int)eng->n_pfds;
			eng->pfds[eng->n_pfds++] =
				(struct pollfd){ .fd = w->fd, .events = w->events };
		}
		eng->pfd_oom = false;
		if (engine_pfd_reserve(eng, eng->n_pfds + nsess_tcpfast_count(eng->tcp)) == 0) {
			nsess_tcpfast_fill(eng->tcp, eng->pfds + eng->n_pfds, eng->n_pfds);
			eng->n_pfds += nsess_tcpfast_count(eng->tcp);
		} else {
			eng->pfd_oom = true;	/* its flows sit this round out */
		}
		eng->slirp_base = eng->n_pfds;
		slirp_pollfds_fill(eng->slirp, &timeout, engine_add_poll, eng);
		engine_timers_timeout(eng, &timeout);
		if (eng->pfd_oom && timeout > 10)
			timeout = 10; /* retry soon with the sockets we skipped */

		n = poll(eng->pfds, eng->n_pfds, timeout > INT32_MAX ? -1 : (int)timeout);
		if (n < 0) {
			if (errno != EINTR)
				return -errno;
			/* let libslirp see an empty round, as after a timeout */
			select_error = 1;
			for (i = 0; i < eng->n_pfds; i++)
				eng->pfds[i].revents = 0;
		}
		eng->stats.wakeups++;

		/*
		 * libslirp first: it refreshes its clock ("curtime") only
		 * here, and slirp_input() stamps new UDP sockets with it; a
		 * stale clock makes a fresh DNS socket look expired.
		 */
		slirp_pollfds_poll(eng->slirp, select_error, engine_get_revents, eng);
		nsess_tcpfast_poll(eng->tcp, eng->pfds, eng->slirp_base);

		tap_rev = eng->pfds[0].revents;
		if (tap_rev & POLLIN) {
			uint64_t before = eng->stats.frames_in;
			int r = engine_tap_read(eng);

			if (r < 0)
				return r;
			nsess_tcpfast_flush(eng->tcp);
			/*
			 * libslirp holds a frame for the session whose MAC it
			 * does not know yet and sends an ARP (or NDP) request;
			 * the reply arrives here, but the held frame only goes
			 * out when libslirp next runs its output queue, which
			 * slirp_input() does not do. Its poll timeout ignores
			 * the queue (up to 1 s), so run the queue now: an empty
			 * round (no socket is looked at) does exactly that.
			 */
			if (eng->stats.frames_in != before)
				slirp_pollfds_poll(eng->slirp, 1, engine_get_revents, eng);
		} else if (tap_rev & (POLLERR | POLLHUP | POLLNVAL)) {
			/* the TAP device went away (its namespace was torn down) */
			return tap_rev & POLLNVAL ? -EBADF : -ENODEV;
		}

		engine_timers_run(eng);
		nsess_tcpfast_timers(eng->tcp);
		engine_dispatch_watches(eng);
	}
	engine_guest_error_flush(eng);
	return 0;
}

void nsess_engine_free(struct nsess_engine *eng)
{
	if (!eng)
		return;
	if (eng->stats.frames_refused > 1)
		nsess_log(eng->log, LOG_NOTICE,
			  "engine: %" PRIu64 " packets from the session refused in all "
			  "(host loopback, link-local, metadata)", eng->stats.frames_refused);
	/* the session's kernel never writes such headers; someone in the session crafted them */
	if (eng->stats.frames_malformed)
		nsess_log(eng->log, LOG_NOTICE,
			  "engine: %" PRIu64 " frames from the session dropped: their virtio-net "
			  "header did not fit the frame", eng->stats.frames_malformed);
	if (eng->tcp) {
		struct nsess_tcpfast_stats t;

		nsess_tcpfast_get_stats(eng->tcp, &t);
		/* connections to peers that do not read: the session resent, nothing was lost */
		if (t.stash_refused)
			nsess_log(eng->log, LOG_NOTICE,
				  "engine: %" PRIu64 " TCP segments from the session taken only in "
				  "part: the engine keeps unsent data (1 MiB each) for %" PRIu64
				  " connections at once, and their peers read slowly; the session "
				  "sent the rest again",
				  t.stash_refused, t.stash_peak);
	}
	nsess_tcpfast_free(eng->tcp);
	if (eng->slirp)
		slirp_cleanup(eng->slirp);
	/* slirp_cleanup() frees its timers through engine_cb_timer_free() */
	while (eng->timers) {
		struct engine_timer *t = eng->timers;

		eng->timers = t->next;
		free(t);
	}
	if (eng->tap_fd >= 0)
		close(eng->tap_fd);
	free(eng->rxbuf);
	free(eng->segbuf);
	free(eng->pfds);
	free(eng);
}

void nsess_engine_get_stats(const struct nsess_engine *eng, struct nsess_engine_stats *out)
{
	struct nsess_tcpfast_stats t;

	nsess_tcpfast_get_stats(eng->tcp, &t);
	*out = eng->stats;
	out->frames_out += t.frames_out;
	out->bytes_out += t.bytes_out;
	out->frames_dropped += t.frames_dropped;
	out->tcp_flows = t.flows;
	out->tcp_retransmits = t.retransmits;
	out->tcp_gso_frames = t.gso_frames;
	out->tcp_stash_peak = t.stash_peak;
	out->tcp_stash_refused = t.stash_refused;
}

const char *nsess_engine_version(void)
{
	return slirp_version_string();
}
