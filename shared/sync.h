/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sync.h - the parent/child protocol over a SOCK_SEQPACKET socketpair.
 *
 * Every message is one datagram: a fixed header (magic, version, type,
 * stage, errno, text length) and an optional text. A message may carry
 * exactly one fd (SCM_RIGHTS). The receiver enables SO_PASSCRED so every
 * message also carries the sender's pid/uid as the kernel saw them, and
 * refuses a message from any pid but the expected one. EOF means the peer
 * died (or exec'd: the socket is close-on-exec), and is reported as such.
 */
#ifndef NSESS_SYNC_H
#define NSESS_SYNC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define NSESS_SYNC_MAGIC 0x6e736573u /* "nses" */
#define NSESS_SYNC_VERSION 1
#define NSESS_SYNC_TEXT_MAX 960

enum nsess_sync_type {
	NSESS_SYNC_ERROR = 1,	 /* stage + errno + text: the sender failed */
	NSESS_SYNC_USERNS_READY, /* child: unshared, write my maps */
	NSESS_SYNC_MAPS_DONE,	 /* parent: maps written; text = "uid gid layout" inside ids */
	NSESS_SYNC_NET_READY,	 /* child: namespaces set up; carries the TAP fd with --net=slirp */
	NSESS_SYNC_GO,		 /* parent: go on (exec / hold) */
	NSESS_SYNC_WARNING,	 /* either side: a non-fatal note to log (text) */
	NSESS_SYNC_TYPE_MAX
};

/* Where in the open path something failed; crosses the process boundary. */
enum nsess_stage {
	NSESS_STAGE_NONE = 0,
	NSESS_STAGE_USERNS,
	NSESS_STAGE_MAPS,
	NSESS_STAGE_SETID,
	NSESS_STAGE_MOUNTS,
	NSESS_STAGE_NET,
	NSESS_STAGE_TAP,
	NSESS_STAGE_JOIN,
	NSESS_STAGE_EXEC,
	NSESS_STAGE_ENGINE,
	NSESS_STAGE_MAX
};

const char *nsess_stage_name(int stage);

struct nsess_sync_msg {
	uint16_t type;
	int32_t stage;
	int32_t err;	/* positive errno */
	char text[NSESS_SYNC_TEXT_MAX + 1];
	size_t text_len;
};

/**
 * nsess_sync_encode() - lay out a message for the wire
 * @m: message; text truncated to NSESS_SYNC_TEXT_MAX
 * @buf: output, at least NSESS_SYNC_WIRE_MAX bytes
 * Return: number of bytes.
 */
#define NSESS_SYNC_HEADER 20
#define NSESS_SYNC_WIRE_MAX (NSESS_SYNC_HEADER + NSESS_SYNC_TEXT_MAX)
size_t nsess_sync_encode(const struct nsess_sync_msg *m, uint8_t *buf);

/**
 * nsess_sync_decode() - parse and check one datagram (pure; fuzzed)
 * @buf: bytes received
 * @len: their number
 * @out: written on success; text NUL-terminated
 * Return: 0, or -EBADMSG (bad magic, version, type, length, or a NUL in the text).
 */
int nsess_sync_decode(const uint8_t *buf, size_t len, struct nsess_sync_msg *out);

/**
 * nsess_sync_send() - send a message, optionally with one fd
 * @sock: the socket
 * @type, @stage, @err: header fields
 * @fd: fd to pass, or -1
 * @fmt: printf format for the text, or NULL
 * Return: 0 or -errno.
 */
int nsess_sync_send(int sock, int type, int stage, int err, int fd, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/**
 * nsess_sync_recv() - receive one message
 * @sock: the socket (SO_PASSCRED set by nsess_sync_pair() on the parent end)
 * @peer: expected sender pid (0: do not check)
 * @m: the message
 * @fd_out: where a passed fd goes; NULL when no fd may come. Any fd that
 *          arrives unexpectedly, or a second fd, is closed and the message refused.
 * Return: 0; -EPIPE on EOF (the peer is gone); -EBADMSG for a malformed,
 * truncated or fd-carrying-when-not-allowed message; -EPERM for a message
 * from another pid; -errno otherwise. EINTR is retried.
 */
int nsess_sync_recv(int sock, pid_t peer, struct nsess_sync_msg *m, int *fd_out);

/**
 * nsess_sync_expect() - receive a message of one type; an ERROR message
 * from the peer becomes @e ("<stage>: <text>") with its errno
 * Return: 0 or -errno.
 */
int nsess_sync_expect(int sock, pid_t peer, int type, int *fd_out, struct nsess_error *e);

/**
 * nsess_sync_pair() - a close-on-exec SEQPACKET socketpair; @sv[0] is the
 * parent's end (SO_PASSCRED on), @sv[1] the child's
 */
int nsess_sync_pair(int sv[2]);

#endif
