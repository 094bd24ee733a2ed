/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

int nsess_error_set(struct nsess_error *e, int err, const char *fmt, ...)
{
	va_list ap;

	if (err < 0)
		err = -err;
	if (e) {
		e->err = err;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return -err;
}

void nsess_error_prefix(struct nsess_error *e, const char *fmt, ...)
{
	char head[512], old[sizeof(e->msg)];
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	snprintf(e->msg, sizeof(e->msg), "%s: %s", head, old);
}

int nsess_parse_u32(const char *s, unsigned int *out)
{
	unsigned long long v = 0;
	const char *p;

	if (!s || !*s)
		return -EINVAL;
	/* "0" is a number; "007" is a typo we refuse rather than guess at. */
	if (s[0] == '0' && s[1] != '\0')
		return -EINVAL;
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned int)(*p - '0');
		if (v > 0xffffffffULL)
			return -ERANGE;
	}
	*out = (unsigned int)v;
	return 0;
}

char *nsess_escape(const char *in, size_t inlen, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (outlen < 4) {
		if (outlen)
			out[0] = '\0';
		return out;
	}
	for (i = 0; in && (inlen == (size_t)-1 ? in[i] != '\0' : i < inlen); i++) {
		unsigned char c = (unsigned char)in[i];
		size_t need = (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : 4;

		/* keep room for "..." and the NUL */
		if (o + need + 4 > outlen) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (need == 1) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

int nsess_read_line(FILE *f, char *buf, size_t cap, size_t *len, bool *overlong, size_t *total,
		    size_t max_total)
{
	bool any = false;
	int c;

	*len = 0;
	*overlong = false;
	for (;;) {
		c = getc(f);
		if (c == EOF) {
			if (ferror(f))
				return -EIO;
			break;
		}
		if (++*total > max_total)
			return -EFBIG;
		any = true;
		if (c == '\n')
			break;
		if (*len < cap - 1)
			buf[(*len)++] = (char)c;
		else
			*overlong = true;
	}
	buf[*len] = '\0';
	return any ? 1 : 0;
}

const char *nsess_file_type_name(mode_t m)
{
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}
