/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>
#include <string.h>
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
