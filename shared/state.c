/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * state.c - see state.h.
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "state.h"

int nsess_state_format(const struct nsess_state_info *info, char *buf, size_t len)
{
	char user[80];
	int n;

	nsess_escape(info->user, (size_t)-1, user, sizeof(user));
	n = snprintf(buf, len,
		     "user=%s\nuid=%" PRIu32 "\nholder_pid=%d\nengine_pid=%d\nopener_pid=%d\n"
		     "started=%" PRId64 "\n",
		     user, info->uid, (int)info->holder_pid, (int)info->engine_pid,
		     (int)info->opener_pid, info->started);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

int nsess_state_parse(const char *text, struct nsess_state_info *out)
{
	struct nsess_state_info in;
	unsigned int seen = 0;
	const char *p = text;

	memset(&in, 0, sizeof(in));
	while (*p) {
		const char *nl = strchr(p, '\n'), *eq;
		char key[32], val[256];
		size_t kl, vl;
		unsigned int v;

		if (!nl)
			return -EINVAL;
		eq = memchr(p, '=', (size_t)(nl - p));
		if (!eq)
			return -EINVAL;
		kl = (size_t)(eq - p);
		vl = (size_t)(nl - eq - 1);
		if (kl == 0 || kl >= sizeof(key) || vl >= sizeof(val))
			return -EINVAL;
		memcpy(key, p, kl);
		key[kl] = '\0';
		memcpy(val, eq + 1, vl);
		val[vl] = '\0';
		p = nl + 1;
		if (strcmp(key, "user") == 0) {
			if (!vl)
				return -EINVAL;
			strcpy(in.user, val);
			seen |= 1;
			continue;
		}
		if (nsess_parse_u32(val, &v) < 0)
			return -EINVAL;
		if (strcmp(key, "uid") == 0) {
			in.uid = v;
			seen |= 2;
		} else if (strcmp(key, "holder_pid") == 0 && v <= INT32_MAX) {
			in.holder_pid = (pid_t)v;
			seen |= 4;
		} else if (strcmp(key, "engine_pid") == 0 && v <= INT32_MAX) {
			in.engine_pid = (pid_t)v;
			seen |= 8;
		} else if (strcmp(key, "opener_pid") == 0 && v <= INT32_MAX) {
			in.opener_pid = (pid_t)v;
			seen |= 16;
		} else if (strcmp(key, "started") == 0) {
			in.started = v;
			seen |= 32;
		} else {
			return -EINVAL;
		}
	}
	if (seen != 63)
		return -EINVAL;
	*out = in;
	return 0;
}

int nsess_state_name_valid(const char *name)
{
	size_t i;

	for (i = 0; name[i]; i++) {
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	}
	return i == NSESS_STATE_NAME_LEN;
}

int nsess_state_open_root(const char *rundir, int *fd_out, struct nsess_error *e)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (mkdir(rundir, 0700) < 0 && errno != EEXIST)
		return nsess_error_set(e, errno, "creating %s: %s", rundir, strerror(errno));
	fd = open(rundir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return nsess_error_set(e, errno, "opening %s: %s%s", rundir, strerror(errno),
				       errno == ELOOP || errno == ENOTDIR ? " (a symlink or a file is "
									    "in its place: remove it)"
									  : "");
	if (fstat(fd, &st) < 0)
		return nsess_error_set(e, errno, "stat %s: %s", rundir, strerror(errno));
	if (st.st_uid != geteuid() || (st.st_mode & 07777) != 0700)
		return nsess_error_set(e, EPERM,
				       "%s is owned by uid %u with mode %04o; it must be owned by "
				       "uid %u with mode 0700 (someone else created it: remove it "
				       "and retry)",
				       rundir, (unsigned int)st.st_uid, (unsigned int)(st.st_mode & 07777),
				       (unsigned int)geteuid());
	*fd_out = TAKE_FD(fd);
	return 0;
}

int nsess_state_create(int rootfd, const struct nsess_state_info *info, char *name_out,
		       struct nsess_error *e)
{
	char name[NSESS_STATE_NAME_LEN + 1], text[512];
	_cleanup_close_ int dfd = -1, ffd = -1;
	int n, tries;

	n = nsess_state_format(info, text, sizeof(text));
	if (n < 0)
		return nsess_error_set(e, -n, "formatting the session record");
	for (tries = 0; tries < 8; tries++) {
		uint64_t rnd;

		if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return nsess_error_set(e, errno ? errno : EIO, "getrandom: %s", strerror(errno));
		snprintf(name, sizeof(name), "%016" PRIx64, rnd);
		if (mkdirat(rootfd, name, 0700) == 0)
			break;
		if (errno != EEXIST)
			return nsess_error_set(e, errno, "creating a session record: %s",
					       strerror(errno));
	}
	if (tries == 8)
		return nsess_error_set(e, EEXIST, "creating a session record: no free name");
	dfd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd >= 0)
		ffd = openat(dfd, "session", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dfd < 0 || ffd < 0 || write(ffd, text, (size_t)n) != n) {
		int err = errno ? errno : EIO;

		if (dfd >= 0)
			unlinkat(dfd, "session", 0);
		unlinkat(rootfd, name, AT_REMOVEDIR);
		return nsess_error_set(e, err, "writing the session record: %s", strerror(err));
	}
	memcpy(name_out, name, sizeof(name));
	return 0;
}

int nsess_state_remove(int rootfd, const char *name)
{
	_cleanup_close_ int dfd = -1;

	if (!nsess_state_name_valid(name))
		return -EINVAL;
	dfd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (unlinkat(dfd, "session", 0) < 0 && errno != ENOENT)
		return -errno;
	if (unlinkat(rootfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}
