/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

void nsess_vlog(const struct nsess_log *log, int prio, const char *fmt, va_list ap)
{
	char line[2048];

	if (!log || !log->emit || prio > log->max_prio)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	log->emit(log->data, prio, line);
}

void nsess_log(const struct nsess_log *log, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	nsess_vlog(log, prio, fmt, ap);
	va_end(ap);
}

static void log_stderr_emit(void *data, int prio, const char *line)
{
	const char *tag = "";

	if (prio <= LOG_ERR)
		tag = "error: ";
	else if (prio == LOG_WARNING)
		tag = "warning: ";
	/* one write per line so concurrent writers do not interleave mid-line */
	dprintf(STDERR_FILENO, "nsession: %s%s\n", tag, line);
}

void nsess_log_stderr(struct nsess_log *log, int verbose)
{
	log->emit = log_stderr_emit;
	log->data = NULL;
	log->max_prio = verbose ? LOG_DEBUG : LOG_NOTICE;
}

static void log_capture_emit(void *data, int prio, const char *line)
{
	struct nsess_log_capture *cap = data;
	size_t len = strlen(line), room;

	if (prio < cap->worst_prio)
		cap->worst_prio = prio;
	cap->lines++;
	room = sizeof(cap->buf) - cap->len;
	if (room <= 1)
		return;
	if (len + 1 >= room)
		len = room - 2;
	memcpy(cap->buf + cap->len, line, len);
	cap->len += len;
	cap->buf[cap->len++] = '\n';
	cap->buf[cap->len] = '\0';
}

void nsess_log_capture_init(struct nsess_log *log, struct nsess_log_capture *cap)
{
	memset(cap, 0, sizeof(*cap));
	cap->worst_prio = LOG_DEBUG + 1;
	log->emit = log_capture_emit;
	log->data = cap;
	log->max_prio = LOG_DEBUG;
}

static int log_syslog_connect(int fd, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	return connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
}

static void log_syslog_emit(void *data, int prio, const char *line)
{
	struct nsess_log_syslog *st = data;
	char msg[2200];
	int n;

	if (st->fd < 0)
		return;
	n = snprintf(msg, sizeof(msg), "<%d>%s[%d]: %s", st->facility | prio, st->ident,
		     (int)getpid(), line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(msg))
		n = (int)sizeof(msg) - 1;
	/* best effort: without a reader the line is lost, never waited for */
	if (send(st->fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
		return;
	/*
	 * The daemon's socket went away (ECONNREFUSED the first time, then
	 * ENOTCONN): a restarted daemon listens on a new one at the same path.
	 */
	if ((errno == ECONNREFUSED || errno == ENOTCONN) && log_syslog_connect(st->fd, st->path) == 0)
		(void)send(st->fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

int nsess_log_syslog_open(struct nsess_log *log, struct nsess_log_syslog *st, const char *path,
			  const char *ident, int facility, int verbose)
{
	int fd, r;

	if (!path)
		path = "/dev/log";
	if (strlen(path) >= sizeof(st->path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = log_syslog_connect(fd, path);
	if (r < 0) {
		close(fd);
		return r;
	}
	st->fd = fd;
	memcpy(st->path, path, strlen(path) + 1);
	st->facility = facility & LOG_FACMASK;
	snprintf(st->ident, sizeof(st->ident), "%s", ident);
	log->emit = log_syslog_emit;
	log->data = st;
	log->max_prio = verbose ? LOG_DEBUG : LOG_NOTICE;
	return 0;
}

void nsess_log_syslog_close(struct nsess_log_syslog *st)
{
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
}
