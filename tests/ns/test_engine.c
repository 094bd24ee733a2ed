/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_engine.c - the NAT engine's loop, end to end.
 *
 * Two kinds of tests:
 *  - without privileges, a SOCK_DGRAM socketpair stands in for the TAP
 *    (one datagram = one frame, as on a TAP queue): the loop, watches,
 *    stop, publish failures and an ARP exchange with libslirp;
 *  - as root, a child process unshares a network namespace, creates tap0,
 *    configures it like netconf.c would (10.0.2.100/24 via 10.0.2.2) and
 *    passes the TAP fd back over SCM_RIGHTS; the test process runs the
 *    engine on it while the child talks through it. The child reports one
 *    result byte on the same socket, which the engine watches to stop.
 *
 * Everything is bounded: a timerfd watched by the loop stops it after
 * ENGINE_TEST_TIMEOUT_S, the guest's sockets have their own timeouts, and
 * the child is SIGKILLed and reaped at the end of every test.
 *
 * The DNS test gives its worker process a private mount namespace with its
 * own /etc/resolv.conf, so the host's resolver is never involved.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <netpacket/packet.h>
#include <time.h>

#include "engine.h"
#include "netconf.h"
#include "netplan.h"
#include "../unit/testlib.h"


#define ENGINE_TEST_TIMEOUT_S 10
#define GUEST_PORT 8080

/* ---- a loop harness: result sockets, a timeout, a completion count ---- */

struct harness {
	struct nsess_engine *eng;
	int timer_fd;
	int pending;		/* completions still expected */
	bool timed_out;
	int guest_result;	/* byte reported by the guest child, -1 = EOF */
};

static void harness_on_timeout(struct nsess_engine *eng, int fd, short revents, void *data)
{
	struct harness *h = data;

	(void)fd;
	(void)revents;
	h->timed_out = true;
	nsess_engine_stop(eng);
}

static void harness_done(struct harness *h)
{
	if (--h->pending <= 0)
		nsess_engine_stop(h->eng);
}

static void harness_on_guest(struct nsess_engine *eng, int fd, short revents, void *data)
{
	struct harness *h = data;
	unsigned char b;
	ssize_t n;

	(void)revents;
	n = read(fd, &b, 1);
	h->guest_result = n == 1 ? b : -1;
	nsess_engine_unwatch(eng, fd);
	harness_done(h);
}

static void harness_on_thread(struct nsess_engine *eng, int fd, short revents, void *data)
{
	struct harness *h = data;
	char b;

	(void)revents;
	if (read(fd, &b, 1) != 1)
		b = 0;
	nsess_engine_unwatch(eng, fd);
	harness_done(h);
}

static void harness_init(struct harness *h, struct nsess_engine *eng, int pending)
{
	struct itimerspec its = { .it_value = { .tv_sec = ENGINE_TEST_TIMEOUT_S } };

	memset(h, 0, sizeof(*h));
	h->eng = eng;
	h->pending = pending;
	h->guest_result = -2;
	h->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	cr_assert_geq(h->timer_fd, 0, "timerfd: %s", strerror(errno));
	cr_assert_eq(timerfd_settime(h->timer_fd, 0, &its, NULL), 0);
	cr_assert_eq(nsess_engine_watch(eng, h->timer_fd, POLLIN, harness_on_timeout, h), 0);
}

static void harness_run(struct harness *h)
{
	int r = nsess_engine_run(h->eng);

	cr_assert_eq(r, 0, "engine loop failed: %s", strerror(-r));
	cr_assert_not(h->timed_out, "engine test timed out after %d s", ENGINE_TEST_TIMEOUT_S);
	nsess_engine_unwatch(h->eng, h->timer_fd);
	close(h->timer_fd);
}

static void plan_defaults(struct nsess_netplan *p)
{
	nsess_netplan_defaults(p);
	p->mtu = 65520;
}

static int listen_loopback6(uint16_t *port)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind [::1]: %s",
		     strerror(errno));
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin6_port);
	return fd;
}

/* a port nobody listens on at ::1 just now */
static uint16_t free_port6(void)
{
	uint16_t port;

	close(listen_loopback6(&port));
	return port;
}

static uint16_t free_port(int type)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static int listen_loopback(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_port = htons(*port);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind: %s", strerror(errno));
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* ---- without privileges: a socketpair as the TAP ---------------------- */

struct fake_tap {
	struct harness *h;
	uint8_t reply[128];
	ssize_t reply_len;
};

static void fake_tap_on_frame(struct nsess_engine *eng, int fd, short revents, void *data)
{
	struct fake_tap *ft = data;
	uint8_t buf[2048];
	ssize_t n;

	(void)revents;
	n = read(fd, buf, sizeof(buf));
	if (n < 14 || buf[12] != 0x08 || buf[13] != 0x06)
		return; /* not ARP: keep waiting (libslirp may send an RA first) */
	memcpy(ft->reply, buf, (size_t)n < sizeof(ft->reply) ? (size_t)n : sizeof(ft->reply));
	ft->reply_len = n;
	nsess_engine_unwatch(eng, fd);
	harness_done(ft->h);
}

Test(engine, arp_reply_over_fake_tap)
{
	static const uint8_t guest_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x64 };
	struct nsess_engine_stats st;
	struct nsess_engine *eng;
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	struct fake_tap ft = { 0 };
	struct harness h;
	uint8_t req[42] = { 0 };
	uint8_t gw_mac[6];
	int sp[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
	plan_defaults(&p);
	cr_assert_eq(nsess_engine_new(&p, sp[0], NULL, &eng, &e), 0, "%s", e.msg);

	/* who-has 10.0.2.2 tell 10.0.2.100 */
	memset(req, 0xff, 6);
	memcpy(req + 6, guest_mac, 6);
	req[12] = 0x08, req[13] = 0x06;			/* ARP */
	req[14] = 0x00, req[15] = 0x01;			/* Ethernet */
	req[16] = 0x08, req[17] = 0x00;			/* IPv4 */
	req[18] = 6, req[19] = 4;
	req[20] = 0x00, req[21] = 0x01;			/* request */
	memcpy(req + 22, guest_mac, 6);
	memcpy(req + 28, &p.addr4, 4);
	memcpy(req + 38, &p.gw4, 4);
	cr_assert_eq(write(sp[1], req, sizeof(req)), (ssize_t)sizeof(req));

	harness_init(&h, eng, 1);
	ft.h = &h;
	cr_assert_eq(nsess_engine_watch(eng, sp[1], POLLIN, fake_tap_on_frame, &ft), 0);
	harness_run(&h);

	nsess_slirp_mac4(p.gw4, gw_mac);
	cr_assert_geq(ft.reply_len, 42);
	cr_assert(memcmp(ft.reply, guest_mac, 6) == 0, "reply not addressed to the guest");
	cr_assert(memcmp(ft.reply + 6, gw_mac, 6) == 0, "reply not from libslirp's gateway MAC");
	cr_assert_eq(ft.reply[21], 2, "not an ARP reply");
	cr_assert(memcmp(ft.reply + 22, gw_mac, 6) == 0);
	cr_assert(memcmp(ft.reply + 28, &p.gw4, 4) == 0);
	cr_assert(memcmp(ft.reply + 38, &p.addr4, 4) == 0);

	nsess_engine_get_stats(eng, &st);
	cr_assert_eq(st.frames_in, 1);
	cr_assert_eq(st.bytes_in, sizeof(req));
	cr_assert_geq(st.frames_out, 1);
	cr_assert_geq(st.bytes_out, 42);
	cr_assert_geq(st.wakeups, 1);
	nsess_engine_free(eng);
	close(sp[1]);
}

static void on_pipe_stop(struct nsess_engine *eng, int fd, short revents, void *data)
{
	int *calls = data;
	char b;

	(void)revents;
	(*calls)++;
	if (read(fd, &b, 1) == 1)
		nsess_engine_stop(eng);
}

static void on_never(struct nsess_engine *eng, int fd, short revents, void *data)
{
	(void)eng;
	(void)fd;
	(void)revents;
	(void)data;
}

Test(engine, stop_via_watched_pipe)
{
	struct nsess_engine *eng;
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	struct harness h;
	int sp[2], pfd[2], calls = 0;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	plan_defaults(&p);
	cr_assert_eq(nsess_engine_new(&p, sp[0], NULL, &eng, &e), 0, "%s", e.msg);
	harness_init(&h, eng, 1);
	cr_assert_eq(nsess_engine_watch(eng, pfd[0], POLLIN, on_pipe_stop, &calls), 0);
	cr_assert_eq(write(pfd[1], "x", 1), 1);
	harness_run(&h);
	cr_assert_eq(calls, 1);

	/* the loop can be entered again, and stops again */
	harness_init(&h, eng, 1);
	cr_assert_eq(write(pfd[1], "y", 1), 1);
	harness_run(&h);
	cr_assert_eq(calls, 2);

	nsess_engine_free(eng);
	close(sp[1]);
	close(pfd[0]);
	close(pfd[1]);
}

Test(engine, watch_limits)
{
	struct nsess_engine *eng;
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	int sp[2], fds[17], i;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
	plan_defaults(&p);
	cr_assert_eq(nsess_engine_new(&p, sp[0], NULL, &eng, &e), 0, "%s", e.msg);

	for (i = 0; i < 17; i++) {
		fds[i] = dup(sp[1]);
		cr_assert_geq(fds[i], 0);
	}
	for (i = 0; i < 16; i++)
		cr_assert_eq(nsess_engine_watch(eng, fds[i], POLLIN, on_never, NULL), 0, "watch %d", i);
	cr_assert_eq(nsess_engine_watch(eng, fds[16], POLLIN, on_never, NULL), -E2BIG);
	cr_assert_eq(nsess_engine_watch(eng, fds[3], POLLIN, on_never, NULL), -EEXIST);
	cr_assert_eq(nsess_engine_watch(eng, -1, POLLIN, on_never, NULL), -EINVAL);
	cr_assert_eq(nsess_engine_watch(eng, fds[16], POLLIN, NULL, NULL), -EINVAL);
	nsess_engine_unwatch(eng, fds[3]);
	nsess_engine_unwatch(eng, 12345); /* not watched: no-op */
	cr_assert_eq(nsess_engine_watch(eng, fds[16], POLLIN, on_never, NULL), 0);

	nsess_engine_free(eng);
	for (i = 0; i < 17; i++)
		close(fds[i]);
	close(sp[1]);
}

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

Test(engine, new_failure_closes_tap_fd)
{
	struct nsess_engine *eng = NULL;
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	int sp[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
	plan_defaults(&p);
	p.mode = NSESS_NET_NONE;
	cr_assert_eq(nsess_engine_new(&p, sp[0], NULL, &eng, &e), -EINVAL);
	cr_assert_null(eng, "output written on failure");
	cr_assert_not(fd_is_open(sp[0]), "TAP fd left open after a failure");
	close(sp[1]);
	nsess_engine_free(NULL);
}

Test(engine, new_sets_nonblock_and_cloexec)
{
	struct nsess_engine *eng;
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	int sp[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, sp), 0);
	plan_defaults(&p);
	cr_assert_eq(nsess_engine_new(&p, sp[0], NULL, &eng, &e), 0, "%s", e.msg);
	cr_assert(fcntl(sp[0], F_GETFL) & O_NONBLOCK);
	cr_assert(fcntl(sp[0], F_GETFD) & FD_CLOEXEC);
	nsess_engine_free(eng);
	cr_assert_not(fd_is_open(sp[0]), "free did not close the TAP fd");
	close(sp[1]);
}

Test(engine, publish_port_in_use)
{
	struct nsess_engine *eng = NULL;
	struct nsess_publish pub = { 0 };
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	char want[64];
	uint16_t port = 0;
	int sp[2], lfd;

	lfd = listen_loopback(&port);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
	plan_defaults(&p);
	pub.host_addr.s_addr = htonl(INADDR_LOOPBACK);
	pub.host_port = port;
	pub.guest_port = GUEST_PORT;
	p.publish[0] = pub;
	p.n_publish = 1;
	cr_assert_eq(nsess_engine_new(&p, sp[0], NULL, &eng, &e), -EADDRINUSE, "%s", e.msg);
	cr_assert_eq(e.err, EADDRINUSE);
	snprintf(want, sizeof(want), "127.0.0.1:%u", port);
	cr_assert(strstr(e.msg, want), "message does not name %s: %s", want, e.msg);
	cr_assert_null(eng);
	cr_assert_not(fd_is_open(sp[0]));
	close(sp[1]);
	close(lfd);
}

Test(engine, publish_free_ports)
{
	struct nsess_engine *eng;
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	int sp[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
	plan_defaults(&p);
	p.publish[0] = (struct nsess_publish){ .udp = false,
					       .host_addr.s_addr = htonl(INADDR_LOOPBACK),
					       .host_port = free_port(SOCK_STREAM),
					       .guest_port = GUEST_PORT };
	p.publish[1] = (struct nsess_publish){ .udp = true,
					       .host_addr.s_addr = htonl(INADDR_LOOPBACK),
					       .host_port = free_port(SOCK_DGRAM),
					       .guest_port = 53 };
	p.n_publish = 2;
	cr_assert_eq(nsess_engine_new(&p, sp[0], NULL, &eng, &e), 0, "%s", e.msg);
	nsess_engine_free(eng);
	close(sp[1]);
}

/* ---- as root: a real TAP in a private network namespace --------------- */

struct guest {
	pid_t pid;
	int sock;	/* result byte from the child; EOF when it dies */
	int tap_fd;
};

/* runs in the child inside the new netns; returns the result byte */
typedef int (*guest_fn)(void *arg);

static int guest_ifreq(int s, unsigned long req, struct ifreq *ifr)
{
	return ioctl(s, req, ifr) < 0 ? -1 : 0;
}

static void guest_set_addr(struct sockaddr *sa, const char *ip)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)sa;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sin->sin_addr);
}

/* What netconf.c does, with plain ioctls: lo and tap0 up, address, route. */
static int guest_configure(void)
{
	struct rtentry rt;
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return 10;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
	if (guest_ifreq(s, SIOCSIFFLAGS, &ifr))
		return 11;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "tap0");
	ifr.ifr_mtu = 65520;
	if (guest_ifreq(s, SIOCSIFMTU, &ifr))
		return 12;
	guest_set_addr(&ifr.ifr_addr, "10.0.2.100");
	if (guest_ifreq(s, SIOCSIFADDR, &ifr))
		return 13;
	guest_set_addr(&ifr.ifr_netmask, "255.255.255.0");
	if (guest_ifreq(s, SIOCSIFNETMASK, &ifr))
		return 14;
	if (guest_ifreq(s, SIOCGIFFLAGS, &ifr))
		return 15;
	ifr.ifr_flags |= IFF_UP;
	if (guest_ifreq(s, SIOCSIFFLAGS, &ifr))
		return 16;
	memset(&rt, 0, sizeof(rt));
	guest_set_addr(&rt.rt_dst, "0.0.0.0");
	guest_set_addr(&rt.rt_genmask, "0.0.0.0");
	guest_set_addr(&rt.rt_gateway, "10.0.2.2");
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	if (ioctl(s, SIOCADDRT, &rt) < 0)
		return 17;
	close(s);
	return 0;
}

static int guest_send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte = 'T';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	int fd;

	if (poll(&pfd, 1, ENGINE_TEST_TIMEOUT_S * 1000) != 1)
		return -ETIMEDOUT;
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -EPROTO;
	if (byte != 'T')
		return -(int)(unsigned char)byte; /* the child's setup error code */
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/*
 * A pre hook: fd00::100/64 on tap0, usable at once (no duplicate address
 * detection), so the guest reaches the gateway fd00::2 on-link; as in a
 * session (netconf.c), no router advertisements: libslirp's would add a
 * SLAAC address, and a connection from it is not the engine's TCP path's.
 */
static int guest_configure6(void *arg)
{
	/*
	 * The kernel's struct in6_ifreq; the union zeroes as much as a struct
	 * ifreq, which is what valgrind takes SIOCSIFADDR to read.
	 */
	union {
		struct {
			struct in6_addr addr;
			uint32_t prefixlen;
			int ifindex;
		} r;
		struct ifreq ifr;
	} u;
	static const char *const sysctls[] = { "/proc/sys/net/ipv6/conf/tap0/accept_dad",
					       "/proc/sys/net/ipv6/conf/tap0/accept_ra" };
	int s, fd;

	(void)arg;
	memset(&u, 0, sizeof(u));
	u.r.prefixlen = 64;
	for (size_t i = 0; i < 2; i++) {
		fd = open(sysctls[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			return 30;
		close(fd);
	}
	u.r.ifindex = (int)if_nametoindex("tap0");
	if (!u.r.ifindex || inet_pton(AF_INET6, "fd00::100", &u.r.addr) != 1)
		return 31;
	s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCSIFADDR, &u) < 0)
		return 32;
	close(s);
	/*
	 * The address stays tentative until the kernel has the link ready,
	 * and until then connections would leave from another one: wait
	 * until it can be bound (at most 2 s).
	 */
	for (int i = 0; i < 200; i++) {
		struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = u.r.addr };
		int ok;

		s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			return 33;
		ok = bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(s);
		if (ok)
			return 0;
		usleep(10 * 1000);
	}
	return 34;
}

/*
 * The guest's TAP is made as a session's is (nsess_tap_create(): a
 * virtio-net header on every frame, checksums left to the engine), unless a
 * test sets this for the bare kind: frames only, every checksum complete.
 */
static bool guest_bare_tap;

/* tap0 in the current netns; Return: its fd, or -2 (open) / -3 (TUNSETIFF) */
static int guest_tap(void)
{
	struct ifreq ifr = { 0 };
	int tap;

	if (!guest_bare_tap)
		return nsess_tap_create("tap0", &tap, NULL) < 0 ? -3 : tap;
	tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tap < 0)
		return -2;
	strcpy(ifr.ifr_name, "tap0");
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ioctl(tap, TUNSETIFF, &ifr) < 0)
		return -3;
	return tap;
}

static void guest_start(struct guest *g, guest_fn pre, guest_fn fn, void *arg)
{
	int sp[2], fd;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	g->pid = fork();
	cr_assert_geq(g->pid, 0);
	if (g->pid == 0) {
		unsigned char res;
		int tap;

		close(sp[0]);
		/* no orphan if the test process dies first */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET) < 0)
			res = 1;
		else if ((tap = guest_tap()) < 0)
			res = (unsigned char)-tap;
		else {
			if ((res = (unsigned char)guest_configure()) == 0 && pre)
				res = (unsigned char)pre(arg);
			if (res == 0) {
				if (guest_send_fd(sp[1], tap) < 0)
					_exit(1);
				close(tap);
				res = (unsigned char)fn(arg);
				(void)!write(sp[1], &res, 1);
				_exit(0);
			}
		}
		(void)!write(sp[1], &res, 1);
		_exit(1);
	}
	close(sp[1]);
	g->sock = sp[0];
	fd = recv_fd(g->sock);
	if (fd < 0) {
		kill(g->pid, SIGKILL);
		waitpid(g->pid, NULL, 0);
		cr_assert_fail("guest setup failed: step %d", -fd);
	}
	g->tap_fd = fd;
}

static void guest_finish(struct guest *g)
{
	kill(g->pid, SIGKILL);
	cr_assert_eq(waitpid(g->pid, NULL, 0), g->pid);
	close(g->sock);
}

/* IPv4 or IPv6 (@ip with a colon); Return: -1 on failure */
static int guest_sockaddr(const char *ip, uint16_t port, struct sockaddr_storage *ss,
			  socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1 ? 0 : -1;
	}
	((struct sockaddr_in *)ss)->sin_family = AF_INET;
	((struct sockaddr_in *)ss)->sin_port = htons(port);
	*len = sizeof(struct sockaddr_in);
	return inet_pton(AF_INET, ip, &((struct sockaddr_in *)ss)->sin_addr) == 1 ? 0 : -1;
}

/* the MSS the guest's connections announce; 0: the kernel's own (from the route and MTU) */
static int guest_mss;

static int guest_connect(const char *ip, uint16_t port, int timeout_ms)
{
	struct sockaddr_storage sa;
	struct pollfd pfd;
	socklen_t salen, len = sizeof(int);
	int fd, err = 0, fl;

	if (guest_sockaddr(ip, port, &sa, &salen) < 0)
		return -1;
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (guest_mss && setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &guest_mss, sizeof(guest_mss)) < 0)
		goto fail;
	if (connect(fd, (struct sockaddr *)&sa, salen) < 0 && errno != EINPROGRESS)
		goto fail;
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&pfd, 1, timeout_ms) != 1)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
		goto fail;
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
fail:
	close(fd);
	return -1;
}

static void set_timeouts(int fd, int sec)
{
	struct timeval tv = { .tv_sec = sec };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* read exactly @len bytes, bounded by the socket's timeouts */
static bool read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* ping -> pong on a connected socket; 0 on success */
static int exchange_client(int fd)
{
	char buf[4];

	set_timeouts(fd, 5);
	if (write(fd, "ping", 4) != 4)
		return 30;
	if (!read_all(fd, buf, 4))
		return 31;
	return memcmp(buf, "pong", 4) == 0 ? 0 : 32;
}

/* one connection on @lfd within 5 s, its reads and writes bounded by @timeout_s; -1 if none */
static int accept_one(int lfd, int timeout_s)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	int c;

	if (poll(&pfd, 1, 5000) != 1)
		return -1;
	c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (c >= 0)
		set_timeouts(c, timeout_s);
	return c;
}

static int exchange_server(int lfd)
{
	char buf[4];
	int c = accept_one(lfd, 5);

	if (c < 0)
		return 40;
	if (!read_all(c, buf, 4) || memcmp(buf, "ping", 4) != 0) {
		close(c);
		return 42;
	}
	if (write(c, "pong", 4) != 4) {
		close(c);
		return 43;
	}
	/* wait for the peer to close so "pong" is not cut off by a reset */
	(void)!read(c, buf, 1);
	close(c);
	return 0;
}

/* a host-side helper thread: reports through a pipe the engine watches */
struct host_side {
	int lfd;		/* listener (server role) */
	uint16_t port;		/* port to connect to (client role) */
	int result;
	bool accepted;
	int done_pipe[2];
};

static void *host_server_thread(void *arg)
{
	struct host_side *hs = arg;

	hs->result = exchange_server(hs->lfd);
	hs->accepted = hs->result == 0 || hs->result > 41;
	(void)!write(hs->done_pipe[1], "d", 1);
	return NULL;
}

static void *host_client_thread(void *arg)
{
	struct host_side *hs = arg;
	int fd;

	/* the guest listens before it hands over the TAP, so no retry loop */
	fd = guest_connect("127.0.0.1", hs->port, 5000);
	if (fd < 0) {
		hs->result = 50;
	} else {
		hs->result = exchange_client(fd);
		close(fd);
	}
	(void)!write(hs->done_pipe[1], "d", 1);
	return NULL;
}

static struct host_side *host_side_new(void)
{
	struct host_side *hs = calloc(1, sizeof(*hs));

	cr_assert_not_null(hs);
	hs->lfd = -1;
	hs->result = -1;
	cr_assert_eq(pipe2(hs->done_pipe, O_CLOEXEC), 0);
	return hs;
}

static void host_side_free(struct host_side *hs)
{
	close(hs->done_pipe[0]);
	close(hs->done_pipe[1]);
	if (hs->lfd >= 0)
		close(hs->lfd);
	free(hs);
}

/* The guest's view of the host loopback: 10.0.2.2:PORT */
static uint16_t loopback_port;

static int guest_try_loopback(void *arg)
{
	int fd, r;

	(void)arg;
	fd = guest_connect("10.0.2.2", loopback_port, 2000);
	if (fd < 0)
		return 20; /* could not connect */
	r = exchange_client(fd);
	close(fd);
	return r;
}

static void run_loopback(bool allow, int *guest_result, struct host_side **hs_out)
{
	struct nsess_log_capture cap;
	struct nsess_engine *eng;
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	struct nsess_log log;
	struct host_side *hs = host_side_new();
	struct harness h;
	struct guest g;
	pthread_t th;

	loopback_port = 0;
	hs->lfd = listen_loopback(&loopback_port);
	cr_assert_eq(pthread_create(&th, NULL, host_server_thread, hs), 0);

	guest_start(&g, NULL, guest_try_loopback, NULL);
	nsess_log_capture_init(&log, &cap);
	plan_defaults(&p);
	p.allow_host_loopback = allow;
	cr_assert_eq(nsess_engine_new(&p, g.tap_fd, &log, &eng, &e), 0, "%s", e.msg);

	harness_init(&h, eng, allow ? 2 : 1);
	cr_assert_eq(nsess_engine_watch(eng, g.sock, POLLIN, harness_on_guest, &h), 0);
	if (allow)
		cr_assert_eq(nsess_engine_watch(eng, hs->done_pipe[0], POLLIN, harness_on_thread,
						&h), 0);
	harness_run(&h);
	*guest_result = h.guest_result;

	nsess_engine_free(eng);
	guest_finish(&g);
	/* wake a server thread still waiting for a connection that never came */
	shutdown(hs->lfd, SHUT_RDWR);
	cr_assert_eq(pthread_join(th, NULL), 0);
	*hs_out = hs;
}

Test(engine, host_loopback_denied_by_default)
{
	NSESS_TEST_DEADLINE(30);
	struct host_side *hs;
	int res;

	NSESS_TEST_NEED_ROOT();
	run_loopback(false, &res, &hs);
	cr_assert_eq(res, 20, "the session reached host loopback (guest result %d)", res);
	cr_assert_not(hs->accepted, "the host listener saw a connection from the session");
	host_side_free(hs);
}

Test(engine, host_loopback_allowed)
{
	NSESS_TEST_DEADLINE(30);
	struct host_side *hs;
	int res;

	NSESS_TEST_NEED_ROOT();
	run_loopback(true, &res, &hs);
	cr_assert_eq(res, 0, "guest exchange over 10.0.2.2 failed at step %d", res);
	cr_assert_eq(hs->result, 0, "host side failed at step %d", hs->result);
	host_side_free(hs);
}

/*
 * The engine's own TCP path (tcpfast.c) takes connections the session opens
 * to 10.0.2.2 when host loopback is allowed. These tests go through it and
 * check what an application would see: every byte in order both ways, a
 * half-close, a refused port, resets in both directions.
 */
#define BULK_BYTES (8u << 20)

/* where the guest connects: host loopback through the gateway, IPv4 or IPv6 */
static const char *tcp_gateway = "10.0.2.2";

static uint8_t bulk_byte(size_t i, uint8_t salt)
{
	return (uint8_t)(i * 131 + (i >> 12) + salt);
}

/* @total bytes of the pattern @salt; Return: all of them written */
static bool bulk_send_n(int fd, uint8_t salt, size_t total)
{
	static uint8_t buf[65536];
	size_t off = 0;

	while (off < total) {
		size_t n = total - off < sizeof(buf) ? total - off : sizeof(buf), i, done = 0;

		for (i = 0; i < n; i++)
			buf[i] = bulk_byte(off + i, salt);
		while (done < n) {
			ssize_t w = write(fd, buf + done, n - done);

			if (w <= 0)
				return false;
			done += (size_t)w;
		}
		off += n;
	}
	return true;
}

/* @total bytes of the pattern, then EOF. Return: 0, 1 short or wrong, 2 no EOF. */
static int bulk_recv_n(int fd, uint8_t salt, size_t total)
{
	static uint8_t buf[65536];
	size_t off = 0;
	ssize_t n;

	while (off < total) {
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return 1;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != bulk_byte(off + (size_t)i, salt))
				return 1;
		off += (size_t)n;
	}
	return read(fd, buf, 1) == 0 ? 0 : 2;
}

static bool bulk_send(int fd, uint8_t salt)
{
	return bulk_send_n(fd, salt, BULK_BYTES);
}

static int bulk_recv(int fd, uint8_t salt)
{
	return bulk_recv_n(fd, salt, BULK_BYTES);
}

/* guest: connect, send the lot, half-close, read the answer (late) to EOF */
static int guest_bulk(void *arg)
{
	int fd, r;

	(void)arg;
	fd = guest_connect(tcp_gateway, loopback_port, 3000);
	if (fd < 0)
		return 20;
	set_timeouts(fd, 10);
	if (!bulk_send(fd, 0))
		r = 21;
	else if (shutdown(fd, SHUT_WR) < 0)
		r = 22;
	else {
		/* read late: the host's 8 MiB fill the window until it is zero */
		usleep(300 * 1000);
		r = bulk_recv(fd, 1) ? 23 : 0;
	}
	close(fd);
	return r;
}

static void *host_bulk_thread(void *arg)
{
	struct host_side *hs = arg;
	int c = accept_one(hs->lfd, 10);

	if (c < 0)
		hs->result = 60;
	else if (bulk_recv(c, 0))
		hs->result = 61;	/* wrong bytes, or the session's FIN never came */
	else
		hs->result = bulk_send(c, 1) ? 0 : 62;
	if (c >= 0)
		close(c);
	(void)!write(hs->done_pipe[1], "d", 1);
	return NULL;
}

/* guest: connecting to a port nobody listens on fails at once, not by timeout */
static int guest_refused(void *arg)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	int fd, r;

	(void)arg;
	if (guest_sockaddr(tcp_gateway, loopback_port, &sa, &salen) < 0)
		return 26;
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	set_timeouts(fd, 3);
	r = connect(fd, (struct sockaddr *)&sa, salen);
	close(fd);
	if (r == 0)
		return 24;
	return errno == ECONNREFUSED ? 0 : 25;
}

/* connect to the host listener and send @byte; Return: the fd, or -(step) */
static int guest_connect_send(char byte)
{
	int fd = guest_connect(tcp_gateway, loopback_port, 3000);

	if (fd < 0)
		return -20;
	set_timeouts(fd, 5);
	if (write(fd, &byte, 1) != 1) {
		close(fd);
		return -26;
	}
	return fd;
}

/* guest: the host resets the connection; the read must say so */
static int guest_sees_reset(void *arg)
{
	char b;
	int fd;
	ssize_t n;

	(void)arg;
	fd = guest_connect_send('x');
	if (fd < 0)
		return -fd;
	n = read(fd, &b, 1);
	close(fd);
	return n < 0 && errno == ECONNRESET ? 0 : 27;
}

static void set_linger0(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static void *host_reset_thread(void *arg)
{
	struct host_side *hs = arg;
	int c = accept_one(hs->lfd, 10);
	char b;

	if (c < 0) {
		hs->result = 60;
	} else {
		hs->result = read(c, &b, 1) == 1 ? 0 : 63;
		set_linger0(c);
		close(c);
	}
	(void)!write(hs->done_pipe[1], "d", 1);
	return NULL;
}

/* guest: send one byte, then reset; the host's read must say so */
static int guest_resets(void *arg)
{
	char b = 0;
	int fd;

	(void)arg;
	fd = guest_connect_send('y');
	if (fd < 0)
		return -fd;
	/* the host answers "k" once it has the byte, so the reset comes after it */
	if (read(fd, &b, 1) != 1 || b != 'k')
		return 28;
	set_linger0(fd);
	close(fd);
	return 0;
}

static void *host_reset_seen_thread(void *arg)
{
	struct host_side *hs = arg;
	int c = accept_one(hs->lfd, 10);
	char b;

	if (c < 0) {
		hs->result = 60;
	} else if (read(c, &b, 1) != 1 || b != 'y' || write(c, "k", 1) != 1) {
		hs->result = 64;
	} else {
		ssize_t n = read(c, &b, 1);

		hs->result = n < 0 && errno == ECONNRESET ? 0 : 65;
	}
	if (c >= 0)
		close(c);
	(void)!write(hs->done_pipe[1], "d", 1);
	return NULL;
}

/*
 * Host loopback allowed; @host_fn (NULL: no listener, the port stays
 * closed) serves one connection while the guest runs @gfn.
 */
static void run_tcp_family(bool v6, guest_fn gfn, void *(*host_fn)(void *), int *guest_result,
			   int *host_result, struct nsess_engine_stats *st)
{
	struct nsess_engine *eng;
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	struct host_side *hs = host_side_new();
	struct harness h;
	struct guest g;
	pthread_t th;

	loopback_port = 0;
	tcp_gateway = v6 ? "fd00::2" : "10.0.2.2";
	if (host_fn) {
		hs->lfd = v6 ? listen_loopback6(&loopback_port) : listen_loopback(&loopback_port);
		cr_assert_eq(pthread_create(&th, NULL, host_fn, hs), 0);
	} else {
		loopback_port = v6 ? free_port6() : free_port(SOCK_STREAM);
	}
	guest_start(&g, v6 ? guest_configure6 : NULL, gfn, NULL);
	plan_defaults(&p);
	p.allow_host_loopback = true;
	cr_assert_eq(nsess_engine_new(&p, g.tap_fd, NULL, &eng, &e), 0, "%s", e.msg);

	harness_init(&h, eng, host_fn ? 2 : 1);
	cr_assert_eq(nsess_engine_watch(eng, g.sock, POLLIN, harness_on_guest, &h), 0);
	if (host_fn)
		cr_assert_eq(nsess_engine_watch(eng, hs->done_pipe[0], POLLIN, harness_on_thread,
						&h), 0);
	harness_run(&h);
	*guest_result = h.guest_result;
	nsess_engine_get_stats(eng, st);
	nsess_engine_free(eng);
	guest_finish(&g);
	if (host_fn) {
		shutdown(hs->lfd, SHUT_RDWR);
		cr_assert_eq(pthread_join(th, NULL), 0);
	}
	*host_result = hs->result;
	host_side_free(hs);
}

static void run_tcp(guest_fn gfn, void *(*host_fn)(void *), int *guest_result,
		    int *host_result, struct nsess_engine_stats *st)
{
	run_tcp_family(false, gfn, host_fn, guest_result, host_result, st);
}

/* 8 MiB each way, in frames of at most the MTU, through the engine's TCP path */
static void tcp_bulk_case(bool v6, struct nsess_engine_stats *out)
{
	NSESS_TEST_DEADLINE(60);
	struct nsess_engine_stats st;
	int gr, hr;

	NSESS_TEST_NEED_ROOT();
	run_tcp_family(v6, guest_bulk, host_bulk_thread, &gr, &hr, &st);
	if (out)
		*out = st;
	cr_assert_eq(gr, 0, "guest side failed at step %d (20: no connection to %s)", gr,
		     tcp_gateway);
	cr_assert_eq(hr, 0, "host side failed at step %d", hr);
	cr_assert_eq(st.tcp_flows, 1, "the connection did not take the engine's TCP path");
	cr_assert_geq(st.bytes_out, BULK_BYTES);
}

/* a closed port is refused at once, not after a timeout */
static void tcp_refused_case(bool v6)
{
	NSESS_TEST_DEADLINE(30);
	struct nsess_engine_stats st;
	int gr, hr;

	NSESS_TEST_NEED_ROOT();
	run_tcp_family(v6, guest_refused, NULL, &gr, &hr, &st);
	cr_assert_eq(gr, 0, "connect to a closed port: step %d (24: it connected, 25: not "
		     "ECONNREFUSED)", gr);
	cr_assert_eq(st.tcp_flows, 1);
}

Test(engine, tcp_bulk_both_ways_in_order)
{
	tcp_bulk_case(false, NULL);
}

/* the same over a TAP without the virtio-net header: every checksum made by the engine */
Test(engine, tcp_bulk_both_ways_in_order_bare_tap)
{
	struct nsess_engine_stats st;

	guest_bare_tap = true;
	guest_mss = 9000;
	tcp_bulk_case(false, &st);
	cr_expect_eq(st.tcp_gso_frames, 0, "a bare TAP cannot take frames of several segments");
}

/*
 * A session whose MSS is below the link's MTU (a session's routes ask for
 * half of it, netplan.h): the engine's frames carry several segments each
 * (GSO, vnet.h), and the session's kernel takes them whole and in order.
 */
static void tcp_bulk_gso_case(bool v6)
{
	struct nsess_engine_stats st;

	guest_mss = 9000;
	tcp_bulk_case(v6, &st);
	cr_expect_gt(st.tcp_gso_frames, 0, "no frame to the session carried several segments");
}

Test(engine, tcp_bulk_in_frames_of_several_segments)
{
	tcp_bulk_gso_case(false);
}

Test(engine, tcp6_bulk_in_frames_of_several_segments)
{
	tcp_bulk_gso_case(true);
}

Test(engine, tcp_refused_port_fails_fast)
{
	tcp_refused_case(false);
}

Test(engine, tcp_host_reset_reaches_session)
{
	NSESS_TEST_DEADLINE(30);
	struct nsess_engine_stats st;
	int gr, hr;

	NSESS_TEST_NEED_ROOT();
	run_tcp(guest_sees_reset, host_reset_thread, &gr, &hr, &st);
	cr_assert_eq(hr, 0, "host side failed at step %d", hr);
	cr_assert_eq(gr, 0, "the session did not see ECONNRESET (step %d)", gr);
	cr_assert_eq(st.tcp_flows, 1);
}

Test(engine, tcp_session_reset_reaches_host)
{
	NSESS_TEST_DEADLINE(30);
	struct nsess_engine_stats st;
	int gr, hr;

	NSESS_TEST_NEED_ROOT();
	run_tcp(guest_resets, host_reset_seen_thread, &gr, &hr, &st);
	cr_assert_eq(gr, 0, "guest side failed at step %d", gr);
	cr_assert_eq(hr, 0, "the host did not see ECONNRESET (step %d)", hr);
	cr_assert_eq(st.tcp_flows, 1);
}

/*
 * The same path for IPv6: the guest has fd00::100/64 and connects to the
 * gateway fd00::2, which means the host's ::1.
 */
Test(engine, tcp6_bulk_both_ways_in_order)
{
	tcp_bulk_case(true, NULL);
}

Test(engine, tcp6_refused_port_fails_fast)
{
	tcp_refused_case(true);
}

static int guest_listener = -1;

static int guest_listen(void *arg)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(GUEST_PORT) };

	(void)arg;
	guest_listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (guest_listener < 0)
		return 60;
	/* accepted connections take the listener's MSS */
	if (guest_mss && setsockopt(guest_listener, IPPROTO_TCP, TCP_MAXSEG, &guest_mss,
				    sizeof(guest_mss)) < 0)
		return 63;
	if (bind(guest_listener, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return 61;
	return listen(guest_listener, 4) < 0 ? 62 : 0;
}

static int guest_serve(void *arg)
{
	(void)arg;
	return exchange_server(guest_listener);
}

/*
 * Through libslirp (64 KiB window, a copy per segment), and under valgrind
 * in the e2e tier: less than the engine's own path gets, still dozens of
 * GSO frames, and more time before a stall counts as one.
 */
#define PUBLISH_BULK_BYTES (2u << 20)

/* guest: accept one connection, send PUBLISH_BULK_BYTES of pattern 3, close */
static int guest_serve_bulk(void *arg)
{
	int c = accept_one(guest_listener, 30), r;

	(void)arg;
	if (c < 0)
		return 64;
	r = bulk_send_n(c, 3, PUBLISH_BULK_BYTES) ? 0 : 66;
	close(c);
	return r;
}

static void *host_bulk_client_thread(void *arg)
{
	struct host_side *hs = arg;
	int fd = guest_connect("127.0.0.1", hs->port, 5000);

	if (fd < 0) {
		hs->result = 50;
	} else {
		set_timeouts(fd, 30);
		hs->result = bulk_recv_n(fd, 3, PUBLISH_BULK_BYTES) ? 51 : 0;
		close(fd);
	}
	(void)!write(hs->done_pipe[1], "d", 1);
	return NULL;
}

/* a published port: the engine, a host client, a guest running @gfn after guest_listen() */
static void run_publish(guest_fn gfn, void *(*host_fn)(void *), struct nsess_engine_stats *st)
{
	struct nsess_engine *eng;
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	struct host_side *hs;
	struct harness h;
	struct guest g;
	pthread_t th;

	hs = host_side_new();
	hs->port = free_port(SOCK_STREAM);

	guest_start(&g, guest_listen, gfn, NULL);
	plan_defaults(&p);
	p.publish[0] = (struct nsess_publish){ .host_addr.s_addr = htonl(INADDR_LOOPBACK),
					       .host_port = hs->port,
					       .guest_port = GUEST_PORT };
	p.n_publish = 1;
	cr_assert_eq(nsess_engine_new(&p, g.tap_fd, NULL, &eng, &e), 0, "%s", e.msg);

	harness_init(&h, eng, 2);
	cr_assert_eq(nsess_engine_watch(eng, g.sock, POLLIN, harness_on_guest, &h), 0);
	cr_assert_eq(nsess_engine_watch(eng, hs->done_pipe[0], POLLIN, harness_on_thread, &h), 0);
	cr_assert_eq(pthread_create(&th, NULL, host_fn, hs), 0);
	harness_run(&h);
	cr_assert_eq(pthread_join(th, NULL), 0);

	cr_assert_eq(h.guest_result, 0, "guest side failed at step %d", h.guest_result);
	cr_assert_eq(hs->result, 0, "host side failed at step %d", hs->result);
	nsess_engine_get_stats(eng, st);
	nsess_engine_free(eng);
	guest_finish(&g);
	host_side_free(hs);
}

Test(engine, publish_reaches_guest)
{
	NSESS_TEST_DEADLINE(30);
	struct nsess_engine_stats st;

	NSESS_TEST_NEED_ROOT();
	run_publish(guest_serve, host_client_thread, &st);
	cr_assert_gt(st.frames_in, 0);
	cr_assert_gt(st.frames_out, 0);
}

/*
 * Through a published port the session's answer is libslirp's TCP, and the
 * session's kernel hands it over in GSO frames of several segments (TSO on
 * the TAP): the engine cuts them for libslirp, and the host gets every
 * byte in order.
 */
Test(engine, publish_carries_a_bulk_answer_cut_from_gso_frames)
{
	NSESS_TEST_DEADLINE(60);
	struct nsess_engine_stats st;

	NSESS_TEST_NEED_ROOT();
	guest_mss = 9000;
	run_publish(guest_serve_bulk, host_bulk_client_thread, &st);
	cr_expect_gt(st.frames_segmented, 0, "no GSO frame from the session was cut for libslirp "
		     "(is TSO on the TAP in effect?)");
	cr_expect_eq(st.frames_malformed, 0);
}

/*
 * DNS: libslirp forwards queries for 10.0.2.3 to the first nameserver of
 * the host's /etc/resolv.conf. This test process gets a private mount
 * namespace with a resolv.conf naming 127.0.0.153, where a thread answers,
 * so it also shows a host resolver on loopback (systemd-resolved, dnsmasq)
 * stays usable while host loopback itself is denied.
 */
#define DNS_TEST_RESOLVER "127.0.0.153"

static int dns_sock = -1;

static void *host_dns_thread(void *arg)
{
	struct host_side *hs = arg;
	struct pollfd pfd = { .fd = dns_sock, .events = POLLIN };
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	unsigned char buf[512];
	ssize_t n;

	hs->result = 70;
	if (poll(&pfd, 1, 5000) == 1) {
		n = recvfrom(dns_sock, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
		if (n >= 12) {
			hs->accepted = true;
			buf[2] |= 0x80; /* QR: a response; no answers, that is enough */
			hs->result = sendto(dns_sock, buf, (size_t)n, 0, (struct sockaddr *)&from,
					    flen) == n ? 0 : 71;
		}
	}
	(void)!write(hs->done_pipe[1], "d", 1);
	return NULL;
}

static int guest_dns_query(void *arg)
{
	static const unsigned char q[] = {
		0x4e, 0x53, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		8, 'n', 's', 'e', 's', 's', 'i', 'o', 'n', 4, 't', 'e', 's', 't', 0,
		0x00, 0x01, 0x00, 0x01,
	};
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(53) };
	unsigned char buf[512];
	ssize_t n;
	int fd;

	(void)arg;
	inet_pton(AF_INET, "10.0.2.3", &sa.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 80;
	set_timeouts(fd, 3);
	if (sendto(fd, q, sizeof(q), 0, (struct sockaddr *)&sa, sizeof(sa)) != sizeof(q))
		return 81;
	n = recv(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n != sizeof(q))
		return 82;
	if (buf[0] != q[0] || buf[1] != q[1] || !(buf[2] & 0x80))
		return 83;
	return 0;
}

static void private_resolv_conf(const char *nameserver)
{
	char path[] = "/tmp/nsess-test-resolv.XXXXXX";
	char line[64];
	int fd, len;

	cr_assert_eq(unshare(CLONE_NEWNS), 0, "unshare(CLONE_NEWNS): %s", strerror(errno));
	/* a type string though the kernel ignores it here: valgrind 3.19 flags NULL */
	cr_assert_eq(mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL), 0);
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	len = snprintf(line, sizeof(line), "nameserver %s\n", nameserver);
	cr_assert_eq(write(fd, line, (size_t)len), len);
	close(fd);
	cr_assert_eq(mount(path, "/etc/resolv.conf", "none", MS_BIND, NULL), 0,
		     "bind mount over /etc/resolv.conf: %s", strerror(errno));
	unlink(path); /* the mount keeps the file */
}

Test(engine, dns_forwarder_answers)
{
	NSESS_TEST_DEADLINE(30);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(53) };
	struct nsess_engine_stats st;
	struct nsess_engine *eng;
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	struct host_side *hs;
	struct harness h;
	struct guest g;
	pthread_t th;

	NSESS_TEST_NEED_ROOT();
	/* this Criterion worker process only: its mounts die with it */
	private_resolv_conf(DNS_TEST_RESOLVER);
	inet_pton(AF_INET, DNS_TEST_RESOLVER, &sa.sin_addr);
	dns_sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(dns_sock, 0);
	cr_assert_eq(bind(dns_sock, (struct sockaddr *)&sa, sizeof(sa)), 0,
		     "bind %s:53: %s", DNS_TEST_RESOLVER, strerror(errno));

	hs = host_side_new();
	cr_assert_eq(pthread_create(&th, NULL, host_dns_thread, hs), 0);
	guest_start(&g, NULL, guest_dns_query, NULL);
	plan_defaults(&p); /* host loopback denied */
	cr_assert_eq(nsess_engine_new(&p, g.tap_fd, NULL, &eng, &e), 0, "%s", e.msg);

	harness_init(&h, eng, 2);
	cr_assert_eq(nsess_engine_watch(eng, g.sock, POLLIN, harness_on_guest, &h), 0);
	cr_assert_eq(nsess_engine_watch(eng, hs->done_pipe[0], POLLIN, harness_on_thread, &h), 0);
	harness_run(&h);
	cr_assert_eq(pthread_join(th, NULL), 0);

	cr_assert(hs->accepted, "the query never reached the host resolver");
	cr_assert_eq(hs->result, 0, "resolver side failed at step %d", hs->result);
	cr_assert_eq(h.guest_result, 0, "guest side failed at step %d", h.guest_result);
	/* the session's kernel left the query's UDP checksum to the engine (vnet.h) */
	nsess_engine_get_stats(eng, &st);
	cr_expect_geq(st.frames_finished, 1, "no checksum was left to the engine: the "
		      "TAP's TUN_F_CSUM offload is not in effect");
	cr_expect_eq(st.frames_malformed, 0);

	nsess_engine_free(eng);
	guest_finish(&g);
	host_side_free(hs);
	close(dns_sock);
}

/*
 * ---- frames to host loopback and link-local (SECURITY-CHECKS 6) ----------
 * Root in a session has CAP_NET_RAW over its network, so a frame to
 * 127.0.0.1 or ::1 does not need the session's routes: the guest writes
 * them by hand with a packet socket on tap0 and the engine must refuse
 * them (an ICMP "administratively prohibited" comes back) instead of
 * libslirp opening a host socket to the host's own loopback.
 */
static uint16_t crafted_udp4, crafted_tcp4, crafted_udp6;

static void craft_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* the checksum field's value: the complement of the folded sum */
static uint16_t craft_sum(uint32_t s, const uint8_t *p, size_t n)
{
	return (uint16_t)~nsess_test_fold(nsess_test_sum16(s, p, n));
}

/* Ethernet from tap0's address to the engine's; Return: 0 or -1 */
static int craft_eth(int s, uint8_t *f, uint16_t type)
{
	static const uint8_t gw[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
	struct ifreq ifr = { 0 };

	strcpy(ifr.ifr_name, "tap0");
	if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0)
		return -1;
	memcpy(f, gw, 6);
	memcpy(f + 6, ifr.ifr_hwaddr.sa_data, 6);
	craft_put16(f + 12, type);
	return 0;
}

/* IPv4 from 10.0.2.100 to @dst: a UDP datagram "x" or a TCP SYN, to @port */
static size_t craft4(int s, uint8_t *f, const char *dst, uint8_t proto, uint16_t port)
{
	uint8_t *ip = f + 14, *l4 = ip + 20, ph[12];
	size_t l4len = proto == IPPROTO_TCP ? 20 : 9;

	memset(f, 0, 14 + 20 + 20);
	if (craft_eth(s, f, 0x0800) < 0)
		return 0;
	ip[0] = 0x45;
	craft_put16(ip + 2, (uint16_t)(20 + l4len));
	craft_put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = proto;
	inet_pton(AF_INET, "10.0.2.100", ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	craft_put16(ip + 10, craft_sum(0, ip, 20));
	craft_put16(l4, 40123);
	craft_put16(l4 + 2, port);
	if (proto == IPPROTO_TCP) {
		l4[7] = 1;		/* seq 1 */
		l4[12] = 5 << 4;
		l4[13] = 0x02;		/* SYN */
		craft_put16(l4 + 14, 64240);
	} else {
		craft_put16(l4 + 4, (uint16_t)l4len);
		l4[8] = 'x';
	}
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = proto;
	craft_put16(ph + 10, (uint16_t)l4len);
	craft_put16(l4 + (proto == IPPROTO_TCP ? 16 : 6),
		    craft_sum(craft_sum(0, ph, 12) ^ 0xffff, l4, l4len));
	return 14 + 20 + l4len;
}

/* IPv6 UDP "x" from fd00::100 to @dst:@port */
static size_t craft6(int s, uint8_t *f, const char *dst, uint16_t port)
{
	uint8_t *ip = f + 14, *u = ip + 40, ph[40] = { 0 };

	memset(f, 0, 14 + 40 + 9);
	if (craft_eth(s, f, 0x86dd) < 0)
		return 0;
	ip[0] = 0x60;
	craft_put16(ip + 4, 9);
	ip[6] = IPPROTO_UDP;
	ip[7] = 64;
	inet_pton(AF_INET6, "fd00::100", ip + 8);
	inet_pton(AF_INET6, dst, ip + 24);
	craft_put16(u, 40123);
	craft_put16(u + 2, port);
	craft_put16(u + 4, 9);
	u[8] = 'x';
	memcpy(ph, ip + 8, 32);
	craft_put16(ph + 34, 9);
	ph[39] = IPPROTO_UDP;
	craft_put16(u + 6, craft_sum(craft_sum(0, ph, 40) ^ 0xffff, u, 9));
	return 14 + 40 + 9;
}

/*
 * guest: send the three crafted frames, then count the ICMP refusals that
 * come back; an application's connect() to the metadata address must fail
 * at once too. Return: 0 when all three were answered as refused; 40 + the
 * number answered otherwise; 3x for setup steps.
 */
static int guest_crafted(void *arg)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	uint8_t f[256];
	int s, got4 = 0, got6 = 0, fd;
	struct timespec t0, t;
	size_t n;

	(void)arg;
	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (s < 0)
		return 30;
	sll.sll_ifindex = (int)if_nametoindex("tap0");
	if (!sll.sll_ifindex || bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return 31;
	if (!(n = craft4(s, f, "127.0.0.1", IPPROTO_UDP, crafted_udp4)) || send(s, f, n, 0) < 0)
		return 32;
	if (!(n = craft4(s, f, "127.0.0.1", IPPROTO_TCP, crafted_tcp4)) || send(s, f, n, 0) < 0)
		return 33;
	if (!(n = craft6(s, f, "::1", crafted_udp6)) || send(s, f, n, 0) < 0)
		return 34;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = { .fd = s, .events = POLLIN };
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t r;

		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > 1500 ||
		    (got4 == 2 && got6 == 1))
			break;
		if (poll(&pfd, 1, 100) != 1)
			continue;
		r = recvfrom(s, f, sizeof(f), 0, (struct sockaddr *)&from, &fl);
		if (r < 14 || from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (f[12] == 0x08 && f[13] == 0x00 && r >= 14 + 20 + 8 && f[23] == IPPROTO_ICMP &&
		    f[34] == 3 && f[35] == 13)
			got4++;
		if (f[12] == 0x86 && f[13] == 0xdd && r >= 14 + 40 + 8 &&
		    f[20] == IPPROTO_ICMPV6 && f[54] == 1 && f[55] == 1)
			got6++;
	}
	close(s);
	if (got4 != 2 || got6 != 1)
		return 40 + got4 + got6;
	/* what an application sees: no route, at once (not a 2-minute SYN timeout) */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = guest_connect("169.254.169.254", 80, 3000);
	clock_gettime(CLOCK_MONOTONIC, &t);
	if (fd >= 0) {
		close(fd);
		return 50;
	}
	return (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 2500 ? 0
											  : 51;
}

struct crafted_host {
	int udp4, tcp4, udp6;
};

static int crafted_bind(int family, int type, uint16_t *port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	cr_assert_geq(fd, 0);
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0, "bind: %s", strerror(errno));
	if (type == SOCK_STREAM)
		cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* Runs the guest against an engine; Return: the guest's result. */
static int run_crafted(bool allow, struct crafted_host *ch, struct nsess_engine_stats *st,
		       struct nsess_log_capture *cap)
{
	struct nsess_engine *eng;
	struct nsess_netplan p;
	struct nsess_error e = { 0 };
	struct nsess_log log;
	struct harness h;
	struct guest g;

	ch->udp4 = crafted_bind(AF_INET, SOCK_DGRAM, &crafted_udp4);
	ch->tcp4 = crafted_bind(AF_INET, SOCK_STREAM, &crafted_tcp4);
	ch->udp6 = crafted_bind(AF_INET6, SOCK_DGRAM, &crafted_udp6);
	guest_start(&g, NULL, guest_crafted, NULL);
	nsess_log_capture_init(&log, cap);
	plan_defaults(&p);
	p.allow_host_loopback = allow;
	cr_assert_eq(nsess_engine_new(&p, g.tap_fd, &log, &eng, &e), 0, "%s", e.msg);
	harness_init(&h, eng, 1);
	cr_assert_eq(nsess_engine_watch(eng, g.sock, POLLIN, harness_on_guest, &h), 0);
	harness_run(&h);
	nsess_engine_get_stats(eng, st);
	nsess_engine_free(eng);
	guest_finish(&g);
	return h.guest_result;
}

static void crafted_close(struct crafted_host *ch)
{
	close(ch->udp4);
	close(ch->tcp4);
	close(ch->udp6);
}

static bool crafted_arrived(int fd, bool stream)
{
	char b[16];
	int c;

	if (!stream)
		return recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0;
	c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (c >= 0)
		close(c);
	return c >= 0;
}

Test(engine, crafted_frames_to_host_loopback_are_refused)
{
	NSESS_TEST_DEADLINE(30);
	struct nsess_log_capture cap;
	struct nsess_engine_stats st;
	struct crafted_host ch;
	int res;

	NSESS_TEST_NEED_ROOT();
	res = run_crafted(false, &ch, &st, &cap);
	cr_expect_not(crafted_arrived(ch.udp4, false), "UDP from the session reached 127.0.0.1");
	cr_expect_not(crafted_arrived(ch.tcp4, true), "TCP from the session reached 127.0.0.1");
	cr_expect_not(crafted_arrived(ch.udp6, false), "UDP from the session reached ::1");
	cr_expect_eq(res, 0, "guest result %d (4x: x refusals answered of 3; 50: connected to "
		     "169.254.169.254; 51: refused only after the timeout)", res);
	/* the three frames and the connect()'s SYN */
	cr_expect_geq(st.frames_refused, 4, "%" PRIu64 " frames refused", st.frames_refused);
	cr_expect(strstr(cap.buf, "refused a packet from the session to 127.0.0.1"),
		  "the first refusal is not logged with its address: %s", cap.buf);
	cr_expect(strstr(cap.buf, "allow_host_loopback"), "the log does not name the option");
	crafted_close(&ch);
}

Test(engine, crafted_frames_reach_host_loopback_when_allowed)
{
	NSESS_TEST_DEADLINE(30);
	struct nsess_log_capture cap;
	struct nsess_engine_stats st;
	struct crafted_host ch;
	int res;

	NSESS_TEST_NEED_ROOT();
	res = run_crafted(true, &ch, &st, &cap);
	/* nothing refused, so the guest saw no answers */
	cr_expect_eq(res, 40, "guest result %d", res);
	cr_expect_eq(st.frames_refused, 0);
	cr_expect(crafted_arrived(ch.udp4, false), "the control datagram never reached 127.0.0.1");
	cr_expect(crafted_arrived(ch.udp6, false), "the control datagram never reached ::1");
	crafted_close(&ch);
}
