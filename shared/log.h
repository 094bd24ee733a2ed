/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.h - the one logging sink of a context. The PAM module plugs in
 * pam_syslog, the CLI a "nsession: " stderr writer, tests a capture buffer.
 * Only orchestration code (session.c) and the front ends log; pure code
 * returns struct nsess_error instead.
 */
#ifndef NSESS_LOG_H
#define NSESS_LOG_H

#include <stdarg.h>
#include <syslog.h>

/*
 * struct nsess_log - where messages go
 * @emit: called with a syslog priority and one finished line (no newline)
 * @data: passed back to @emit
 * @max_prio: messages with a priority above this (less important) are dropped
 */
struct nsess_log {
	void (*emit)(void *data, int prio, const char *line);
	void *data;
	int max_prio;
};

/**
 * nsess_log() - format and emit one line through a sink
 * @log: the sink; NULL drops the message
 * @prio: LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO or LOG_DEBUG
 * @fmt: printf format; arguments that come from users or files must
 *       already have gone through nsess_escape()
 */
void nsess_log(const struct nsess_log *log, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

void nsess_vlog(const struct nsess_log *log, int prio, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/**
 * nsess_log_stderr() - a sink that prints "nsession: [warning: ]LINE" on stderr
 * @log: filled in
 * @verbose: also emit LOG_INFO and LOG_DEBUG lines
 */
void nsess_log_stderr(struct nsess_log *log, int verbose);

/*
 * struct nsess_log_capture - a sink that keeps lines in memory (tests,
 * and the CLI's "collect then print once" paths)
 */
struct nsess_log_capture {
	char buf[16384];
	size_t len;
	int lines;
	int worst_prio; /* lowest number (most severe) seen; LOG_DEBUG+1 if none */
};

void nsess_log_capture_init(struct nsess_log *log, struct nsess_log_capture *cap);

/*
 * struct nsess_log_syslog - a sink that sends "<PRI>IDENT[PID]: LINE"
 * datagrams to the syslog socket, connected once: a process under a
 * seccomp filter that allows no new sockets (the engine) opens it first.
 * When the syslog daemon restarts, its socket is a new one at the same
 * path: the sink connects the same fd to it again (connect() needs no new
 * socket) and sends the line once more. A message the socket does not take
 * (no syslog daemon, a full queue) is dropped; nothing blocks.
 */
struct nsess_log_syslog {
	int fd;
	int facility;
	char ident[32];
	char path[108];		/* the socket, for connecting again */
};

/**
 * nsess_log_syslog_open() - connect a syslog sink
 * @log: filled in when it succeeds
 * @st: the sink's state; must outlive @log
 * @path: the socket; NULL means /dev/log
 * @ident: the tag of each line (truncated to 31 bytes)
 * @facility: LOG_AUTHPRIV, LOG_DAEMON, ...
 * @verbose: also send LOG_INFO and LOG_DEBUG lines (else LOG_NOTICE and above)
 * Return: 0, or -errno (no socket there): @log is then left alone.
 */
int nsess_log_syslog_open(struct nsess_log *log, struct nsess_log_syslog *st, const char *path,
			  const char *ident, int facility, int verbose);

/** nsess_log_syslog_close() - close the socket; fine to call twice */
void nsess_log_syslog_close(struct nsess_log_syslog *st);

#endif
