/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sync.c - the parent/child protocol; see sync.h.
 *
 * Wire header, little-endian as the host is (both ends are the same binary
 * on the same machine, the version field guards against anything else):
 *   u32 magic | u16 version | u16 type | i32 stage | i32 err | u32 text_len
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "sync.h"

static const char *const sync_stage_names[NSESS_STAGE_MAX] = {
	[NSESS_STAGE_NONE] = "setup",
	[NSESS_STAGE_USERNS] = "creating the user namespace",
	[NSESS_STAGE_MAPS] = "writing id maps",
	[NSESS_STAGE_SETID] = "switching ids",
	[NSESS_STAGE_MOUNTS] = "setting up mounts",
	[NSESS_STAGE_NET] = "configuring the network",
	[NSESS_STAGE_TAP] = "creating the TAP device",
	[NSESS_STAGE_JOIN] = "joining the namespaces",
	[NSESS_STAGE_EXEC] = "running the command",
	[NSESS_STAGE_ENGINE] = "starting the network engine",
};

const char *nsess_stage_name(int stage)
{
	if (stage < 0 || stage >= NSESS_STAGE_MAX)
		return "unknown stage";
	return sync_stage_names[stage];
}

static void sync_put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t sync_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

size_t nsess_sync_encode(const struct nsess_sync_msg *m, uint8_t *buf)
{
	size_t tl = m->text_len > NSESS_SYNC_TEXT_MAX ? NSESS_SYNC_TEXT_MAX : m->text_len;
	uint16_t v16;

	sync_put32(buf, NSESS_SYNC_MAGIC);
	v16 = NSESS_SYNC_VERSION;
	memcpy(buf + 4, &v16, 2);
	memcpy(buf + 6, &m->type, 2);
	sync_put32(buf + 8, (uint32_t)m->stage);
	sync_put32(buf + 12, (uint32_t)m->err);
	sync_put32(buf + 16, (uint32_t)tl);
	memcpy(buf + NSESS_SYNC_HEADER, m->text, tl);
	return NSESS_SYNC_HEADER + tl;
}

int nsess_sync_decode(const uint8_t *buf, size_t len, struct nsess_sync_msg *out)
{
	struct nsess_sync_msg m;
	uint16_t version;
	uint32_t tl;
	int32_t stage, err;

	if (len < NSESS_SYNC_HEADER || len > NSESS_SYNC_WIRE_MAX)
		return -EBADMSG;
	if (sync_get32(buf) != NSESS_SYNC_MAGIC)
		return -EBADMSG;
	memcpy(&version, buf + 4, 2);
	if (version != NSESS_SYNC_VERSION)
		return -EBADMSG;
	memset(&m, 0, sizeof(m));
	memcpy(&m.type, buf + 6, 2);
	if (m.type < NSESS_SYNC_ERROR || m.type >= NSESS_SYNC_TYPE_MAX)
		return -EBADMSG;
	stage = (int32_t)sync_get32(buf + 8);
	err = (int32_t)sync_get32(buf + 12);
	if (stage < 0 || stage >= NSESS_STAGE_MAX || err < 0 || err > 4095)
		return -EBADMSG;
	tl = sync_get32(buf + 16);
	if (tl > NSESS_SYNC_TEXT_MAX || (size_t)tl != len - NSESS_SYNC_HEADER)
		return -EBADMSG;
	if (memchr(buf + NSESS_SYNC_HEADER, '\0', tl))
		return -EBADMSG;
	m.stage = stage;
	m.err = err;
	memcpy(m.text, buf + NSESS_SYNC_HEADER, tl);
	m.text[tl] = '\0';
	m.text_len = tl;
	*out = m;
	return 0;
}

int nsess_sync_send(int sock, int type, int stage, int err, int fd, const char *fmt, ...)
{
	struct nsess_sync_msg m = { .type = (uint16_t)type, .stage = stage, .err = err < 0 ? -err : err };
	uint8_t buf[NSESS_SYNC_WIRE_MAX];
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr mh = { 0 };
	va_list ap;
	ssize_t n;

	if (fmt) {
		int len;

		va_start(ap, fmt);
		len = vsnprintf(m.text, sizeof(m.text), fmt, ap);
		va_end(ap);
		if (len < 0)
			len = 0;
		m.text_len = (size_t)len > NSESS_SYNC_TEXT_MAX ? NSESS_SYNC_TEXT_MAX : (size_t)len;
	}
	iov.iov_base = buf;
	iov.iov_len = nsess_sync_encode(&m, buf);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return 0;
}

int nsess_sync_recv(int sock, pid_t peer, struct nsess_sync_msg *m, int *fd_out)
{
	uint8_t buf[NSESS_SYNC_WIRE_MAX + 1];
	union {
		/* room for a credential and more fds than allowed, so extras are seen and closed */
		char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { 0 };
	struct cmsghdr *c;
	int fds[8], n_fds = 0, i, r = 0;
	bool have_cred = false;
	struct ucred cred = { 0 };
	ssize_t n;

	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.b;
	mh.msg_controllen = sizeof(ctl.b);
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;

	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t j = 0; j < k; j++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + j * sizeof(int), sizeof(int));
				if (n_fds < (int)NSESS_ARRAY_SIZE(fds))
					fds[n_fds++] = fd;
				else
					close(fd);
			}
		} else if (c->cmsg_type == SCM_CREDENTIALS &&
			   c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			have_cred = true;
		}
	}

	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		r = -EBADMSG;
	else if (peer > 0 && (!have_cred || cred.pid != peer))
		r = -EPERM;
	else if (n_fds > 1 || (n_fds == 1 && !fd_out))
		r = -EBADMSG;
	else
		r = nsess_sync_decode(buf, (size_t)n, m);

	if (r < 0) {
		for (i = 0; i < n_fds; i++)
			close(fds[i]);
		return r;
	}
	if (fd_out)
		*fd_out = n_fds == 1 ? fds[0] : -1;
	return 0;
}

int nsess_sync_expect(int sock, pid_t peer, int type, int *fd_out, struct nsess_error *e)
{
	struct nsess_sync_msg m;
	int r, fd = -1;

	for (;;) {
		r = nsess_sync_recv(sock, peer, &m, fd_out ? &fd : NULL);
		if (r == -EPIPE)
			return nsess_error_set(e, EPIPE, "the setup process died unexpectedly");
		if (r < 0)
			return nsess_error_set(e, -r, "reading from the setup process: %s", strerror(-r));
		if (m.type == NSESS_SYNC_WARNING) {
			/* warnings are only expected before a step; keep reading */
			if (fd >= 0)
				close(fd);
			fd = -1;
			continue;
		}
		break;
	}
	if (m.type == NSESS_SYNC_ERROR) {
		if (fd >= 0)
			close(fd);
		if (m.stage != NSESS_STAGE_NONE)
			return nsess_error_set(e, m.err ? m.err : EIO, "%s: %s",
					       nsess_stage_name(m.stage), m.text);
		return nsess_error_set(e, m.err ? m.err : EIO, "%s", m.text);
	}
	if (m.type != type) {
		if (fd >= 0)
			close(fd);
		return nsess_error_set(e, EPROTO, "protocol error: expected message %d, got %d", type,
				       m.type);
	}
	if (fd_out)
		*fd_out = fd;
	return 0;
}

int nsess_sync_pair(int sv[2])
{
	int one = 1;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
		int r = -errno;

		close(sv[0]);
		close(sv[1]);
		return r;
	}
	return 0;
}
