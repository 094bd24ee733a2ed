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
#include <dirent.h>
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

/* Read a small /proc file below @root; bytes read or -errno. */
static ssize_t state_read_small(const char *root, const char *path, char *buf, size_t len)
{
	_cleanup_close_ int fd = -1;
	char full[256];
	ssize_t n;

	snprintf(full, sizeof(full), "%s%s", root, path);
	fd = open(full, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

bool nsess_state_pid_alive(const char *root, pid_t pid, int64_t started)
{
	char path[64], buf[4096], *p;
	unsigned long long ticks = 0, btime = 0;
	struct stat st;
	long hz;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "%s/proc/%d", root, (int)pid);
	if (lstat(path, &st) < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (state_read_small(root, path, buf, sizeof(buf)) > 0 && (p = strstr(buf, "\nState:"))) {
		p += 7;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == 'Z' || *p == 'X')
			return false;
	}
	/* field 22 of stat: start time in clock ticks after boot */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (state_read_small(root, path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return true;
	for (int field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	ticks = strtoull(p, NULL, 10);
	if (state_read_small(root, "/proc/stat", buf, sizeof(buf)) > 0 && (p = strstr(buf, "btime ")))
		btime = strtoull(p + 6, NULL, 10);
	hz = sysconf(_SC_CLK_TCK);
	if (!btime || hz <= 0)
		return true;
	return (int64_t)(btime + ticks / (unsigned long long)hz) <= started + 2;
}

int nsess_state_reclaim(int rootfd)
{
	DIR *dir;
	struct dirent *de;
	int fd, removed = 0;

	fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -ENOMEM;
	}
	while ((de = readdir(dir))) {
		struct nsess_state_info info;
		_cleanup_close_ int dfd = -1, ffd = -1;
		char text[512];
		ssize_t n;

		if (!nsess_state_name_valid(de->d_name))
			continue;
		dfd = openat(rootfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			continue;
		ffd = openat(dfd, "session", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (ffd < 0)
			continue;
		n = read(ffd, text, sizeof(text) - 1);
		if (n <= 0)
			continue;
		text[n] = '\0';
		if (nsess_state_parse(text, &info) < 0)
			continue;
		/* the engine exits with its holder, so the holder decides */
		if (nsess_state_pid_alive("", info.holder_pid, info.started))
			continue;
		if (nsess_state_remove(rootfd, de->d_name) == 0)
			removed++;
	}
	closedir(dir);
	return removed;
}
