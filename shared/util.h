/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * util.h - small helpers every file of the core uses: cleanup attributes,
 * fd ownership transfer, the error record that crosses layers.
 */
#ifndef NSESS_UTIL_H
#define NSESS_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <sys/types.h>
#include <stdlib.h>
#include <unistd.h>

#define NSESS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void nsess_freep(void *p)
{
	free(*(void **)p);
}

static inline void nsess_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;

		close(*fd);
		errno = saved;
	}
}

#define _cleanup_free_ __attribute__((cleanup(nsess_freep)))
#define _cleanup_close_ __attribute__((cleanup(nsess_closep)))

/* Hand an fd out of a _cleanup_close_ variable; the variable becomes -1. */
#define TAKE_FD(fd)                  \
	({                           \
		int _fd_ = (fd);     \
		(fd) = -1;           \
		_fd_;                \
	})

#define TAKE_PTR(p)                          \
	({                                   \
		__typeof__(p) _p_ = (p);     \
		(p) = NULL;                  \
		_p_;                         \
	})

/*
 * struct nsess_error - why something failed, in words an admin can act on.
 * @err: positive errno value (0 = no error recorded)
 * @msg: one line: what failed, on which file/line/value, and the fix
 */
struct nsess_error {
	int err;
	char msg[1024];
};

/**
 * nsess_error_set() - record a failure and return it as -errno
 * @e: record to fill (may be NULL)
 * @err: positive errno value
 * @fmt: printf format for the message; no trailing newline
 *
 * Return: -@err, so callers can write "return nsess_error_set(...)".
 */
int nsess_error_set(struct nsess_error *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * nsess_error_prefix() - put context in front of an existing message
 * @e: record with a message
 * @fmt: printf format for the prefix; ": " is added after it
 */
void nsess_error_prefix(struct nsess_error *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * nsess_parse_u32() - strict decimal parser for ids and counts
 * @s: NUL-terminated text: digits only, no sign, no spaces, no leading zeros
 *     except "0" itself
 * @out: the value, written only on success
 *
 * Return: 0, or -EINVAL (not a number) / -ERANGE (above 4294967295).
 */
int nsess_parse_u32(const char *s, unsigned int *out);

/**
 * nsess_escape() - make an untrusted string safe for a log line or terminal
 * @in: bytes to escape (stops at NUL or after @inlen bytes)
 * @inlen: length of @in, or (size_t)-1 for NUL-terminated
 * @out: buffer; always NUL-terminated, truncated with "..." when short
 * @outlen: size of @out (at least 4)
 *
 * Printable ASCII other than backslash passes through; everything else
 * (control bytes, escape sequences, bytes >= 0x7f) becomes \xNN.
 *
 * Return: @out.
 */
char *nsess_escape(const char *in, size_t inlen, char *out, size_t outlen);

/**
 * nsess_file_type_name() - what a non-regular file is, for a refusal message
 * @m: st_mode
 * Return: "a FIFO", "a directory", ... or "not a regular file".
 */
const char *nsess_file_type_name(mode_t m);

/**
 * nsess_read_line() - read one line of an untrusted file, bounded
 * @f: stream
 * @buf: the line, newline dropped, NUL-terminated; NUL bytes inside are
 *       kept, so @len, not strlen(), is its length
 * @cap: size of @buf; bytes past @cap - 1 are consumed, not stored, and
 *       flagged in @overlong
 * @len: bytes stored
 * @overlong: the line was longer than @buf
 * @total: running count of bytes read from @f (start at 0)
 * @max_total: give up past this many bytes
 *
 * Return: 1 a line, 0 end of file, -EIO, -EFBIG past @max_total.
 */
int nsess_read_line(FILE *f, char *buf, size_t cap, size_t *len, bool *overlong, size_t *total,
		    size_t max_total);

#endif
