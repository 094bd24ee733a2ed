/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests of the parent/child protocol: the pure decoder, and the receive
 * path's refusals (no fd where one is needed, two fds, an fd where none may
 * come, a message from the wrong pid, a truncated datagram).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "sync.h"
#include "testlib.h"

static size_t enc(uint16_t type, int stage, int err, const char *text, uint8_t *buf)
{
	struct nsess_sync_msg m = { .type = type, .stage = stage, .err = err };

	if (text) {
		strcpy(m.text, text);
		m.text_len = strlen(text);
	}
	return nsess_sync_encode(&m, buf);
}

Test(sync, roundtrip)
{
	uint8_t buf[NSESS_SYNC_WIRE_MAX];
	struct nsess_sync_msg m;
	size_t n = enc(NSESS_SYNC_ERROR, NSESS_STAGE_TAP, EACCES, "no tun", buf);

	cr_assert_eq(nsess_sync_decode(buf, n, &m), 0);
	cr_assert_eq(m.type, NSESS_SYNC_ERROR);
	cr_assert_eq(m.stage, NSESS_STAGE_TAP);
	cr_assert_eq(m.err, EACCES);
	cr_assert_str_eq(m.text, "no tun");
}

struct bad_case {
	const char *name;
	size_t off;	/* byte to change, or (size_t)-1 */
	uint8_t val;
	ssize_t len_delta;
};

Test(sync, decoder_refuses_malformed)
{
	static const struct bad_case cases[] = {
		{ "bad magic", 0, 0x00, 0 },
		{ "bad version", 4, 0x09, 0 },
		{ "type 0", 6, 0x00, 0 },
		{ "type past the last", 6, 0x7f, 0 },
		{ "negative stage", 11, 0x80, 0 },
		{ "stage past the last", 8, 0x7f, 0 },
		{ "errno too large", 13, 0x7f, 0 },
		{ "length says more than sent", 16, 0x09, 0 },
		{ "truncated header", (size_t)-1, 0, -(NSESS_SYNC_HEADER + 3) + 10 },
		{ "truncated text", (size_t)-1, 0, -1 },
		{ "NUL in the text", NSESS_SYNC_HEADER + 1, 0x00, 0 },
	};

	for (size_t i = 0; i < NSESS_ARRAY_SIZE(cases); i++) {
		uint8_t buf[NSESS_SYNC_WIRE_MAX];
		struct nsess_sync_msg m;
		size_t n = enc(NSESS_SYNC_WARNING, NSESS_STAGE_NET, 5, "abc", buf);

		if (cases[i].off != (size_t)-1)
			buf[cases[i].off] = cases[i].val;
		n = (size_t)((ssize_t)n + cases[i].len_delta);
		cr_expect_eq(nsess_sync_decode(buf, n, &m), -EBADMSG, "%s was accepted", cases[i].name);
	}
}

Test(sync, decoder_refuses_oversized)
{
	uint8_t buf[NSESS_SYNC_WIRE_MAX + 8];
	struct nsess_sync_msg m;

	memset(buf, 'a', sizeof(buf));
	enc(NSESS_SYNC_WARNING, 0, 0, "x", buf);
	cr_assert_eq(nsess_sync_decode(buf, sizeof(buf), &m), -EBADMSG);
}

/* Send raw ancillary data the way a hostile or broken peer would. */
static void send_fds(int sock, const int *fds, int n, const uint8_t *data, size_t len)
{
	union {
		char b[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (n > 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)n * sizeof(int));
	}
	cr_assert_geq(sendmsg(sock, &mh, 0), 0);
}

static int count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

Test(sync, fd_rules)
{
	uint8_t buf[NSESS_SYNC_WIRE_MAX];
	struct nsess_sync_msg m;
	int sv[2], fd, two[2], before;
	size_t n = enc(NSESS_SYNC_NET_READY, 0, 0, NULL, buf);

	cr_assert_eq(nsess_sync_pair(sv), 0);
	two[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	two[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	before = count_fds();

	/* one fd where one may come: accepted, close-on-exec */
	send_fds(sv[1], two, 1, buf, n);
	cr_assert_eq(nsess_sync_recv(sv[0], getpid(), &m, &fd), 0);
	cr_assert_geq(fd, 0);
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "received fd is not close-on-exec");
	close(fd);

	/* two fds: refused, both closed */
	send_fds(sv[1], two, 2, buf, n);
	cr_assert_eq(nsess_sync_recv(sv[0], getpid(), &m, &fd), -EBADMSG);
	cr_assert_eq(count_fds(), before, "a refused message leaked fds");

	/* an fd where none may come: refused and closed */
	send_fds(sv[1], two, 1, buf, n);
	cr_assert_eq(nsess_sync_recv(sv[0], getpid(), &m, NULL), -EBADMSG);
	cr_assert_eq(count_fds(), before);

	/* no fd: fd_out says -1 */
	send_fds(sv[1], NULL, 0, buf, n);
	cr_assert_eq(nsess_sync_recv(sv[0], getpid(), &m, &fd), 0);
	cr_assert_eq(fd, -1);

	/* a truncated (garbage) datagram: refused */
	send_fds(sv[1], NULL, 0, buf, 7);
	cr_assert_eq(nsess_sync_recv(sv[0], getpid(), &m, &fd), -EBADMSG);

	/* EOF: the peer is gone */
	close(sv[1]);
	cr_assert_eq(nsess_sync_recv(sv[0], getpid(), &m, &fd), -EPIPE);
	close(sv[0]);
	close(two[0]);
	close(two[1]);
}

Test(sync, wrong_peer_refused)
{
	uint8_t buf[NSESS_SYNC_WIRE_MAX];
	struct nsess_sync_msg m;
	int sv[2];
	pid_t pid;
	size_t n = enc(NSESS_SYNC_USERNS_READY, 0, 0, NULL, buf);

	cr_assert_eq(nsess_sync_pair(sv), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		send(sv[1], buf, n, 0);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	/* the message came from the child, but we expect ourselves */
	cr_assert_eq(nsess_sync_recv(sv[0], getpid(), &m, NULL), -EPERM);
	close(sv[0]);
	close(sv[1]);
}

Test(sync, expect_turns_peer_error_into_message)
{
	struct nsess_error e = { 0 };
	int sv[2];

	cr_assert_eq(nsess_sync_pair(sv), 0);
	cr_assert_eq(nsess_sync_send(sv[1], NSESS_SYNC_ERROR, NSESS_STAGE_TAP, EACCES, -1,
				     "opening /dev/net/tun: %s", "Permission denied"),
		     0);
	cr_assert_eq(nsess_sync_expect(sv[0], getpid(), NSESS_SYNC_NET_READY, NULL, &e), -EACCES);
	cr_assert_str_eq(e.msg, "creating the TAP device: opening /dev/net/tun: Permission denied");
	close(sv[1]);
	cr_assert_eq(nsess_sync_expect(sv[0], getpid(), NSESS_SYNC_NET_READY, NULL, &e), -EPIPE);
	cr_assert(strstr(e.msg, "died"));
	close(sv[0]);
}
