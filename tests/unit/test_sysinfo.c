/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_sysinfo.c - machine probes and findings: fixture roots under
 * tests/fixtures/sysinfo (ok, zero, absent, junk, values), pure judgement
 * tables for /dev/net/tun and the id-map helpers, the wrappers on files made
 * at test time, and the text/JSON/summary renderers against hostile text.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "testlib.h"
#include "sysinfo.h"
#include "util.h"

#define SYSINFO_FIX NSESS_FIXTURES "/sysinfo"

static const struct nsess_finding *find(const struct nsess_findings *fs, const char *id)
{
	static const struct nsess_finding none = { .status = -1 };
	unsigned int i;

	for (i = 0; i < fs->n; i++)
		if (strcmp(fs->f[i].id, id) == 0)
			return &fs->f[i];
	cr_assert_fail("no finding with id %s", id);
	return &none;
}

static void probe(const char *fixture, bool as_root, struct nsess_findings *fs)
{
	char root[512];
	struct nsess_sysinfo_opts o = {
		.root = root,
		.newuidmap = "/usr/bin/newuidmap",
		.newgidmap = "/usr/bin/newgidmap",
		.as_root = as_root,
	};

	snprintf(root, sizeof(root), "%s/%s", SYSINFO_FIX, fixture);
	nsess_findings_init(fs);
	cr_assert_eq(nsess_sysinfo_probe_all(&o, fs), 0);
}

static void expect_status(const struct nsess_findings *fs, const char *id, int status)
{
	const struct nsess_finding *f = find(fs, id);

	cr_expect_eq(f->status, status, "%s: status %s, expected %s (seen: %s)", id,
		     nsess_finding_status_name(f->status), nsess_finding_status_name(status),
		     f->seen);
}

static void expect_has(const char *hay, const char *needle)
{
	cr_expect(strstr(hay, needle) != NULL, "\"%s\" not in \"%s\"", needle, hay);
}

/* ---- temp roots ---------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void tmp_root(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/nsess-sysinfo-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void tmp_root_free(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void tmp_mkdirs(const char *root, const char *rel)
{
	char path[512], *p;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
	}
	mkdir(path, 0755);
}

static void tmp_write(const char *root, const char *rel, const char *data, size_t len,
		      mode_t mode)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0, "create %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	cr_assert_eq(chmod(path, mode), 0);
}

/* ---- the strict number reader -------------------------------------------- */

Test(sysinfo, read_u32_table)
{
	static const struct {
		const char *file;
		int ret;
		unsigned int val;
	} t[] = {
		{ "plain_nl", 0, 5 },
		{ "plain", 0, 5 },
		{ "zero", 0, 0 },
		{ "max", 0, 4294967295u },
		{ "overflow", -EINVAL, 0 },
		{ "empty", -EINVAL, 0 },
		{ "only_nl", -EINVAL, 0 },
		{ "crlf", -EINVAL, 0 },
		{ "two_nl", -EINVAL, 0 },
		{ "negative", -EINVAL, 0 },
		{ "plus", -EINVAL, 0 },
		{ "space", -EINVAL, 0 },
		{ "leading_zero", -EINVAL, 0 },
		{ "trailing_space", -EINVAL, 0 },
		{ "nul", -EINVAL, 0 },
		{ "hex", -EINVAL, 0 },
		{ "long_63", -EINVAL, 0 },
		{ "long_64", -EFBIG, 0 },
		{ "dir", -EBADF, 0 },
		{ "does_not_exist", -ENOENT, 0 },
	};
	char path[128];
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(t); i++) {
		unsigned int v = 12345;
		int r;

		snprintf(path, sizeof(path), "/values/%s", t[i].file);
		r = nsess_sysinfo_read_u32(SYSINFO_FIX, path, &v, NULL, 0);
		cr_expect_eq(r, t[i].ret, "%s: got %d, expected %d", t[i].file, r, t[i].ret);
		if (t[i].ret == 0)
			cr_expect_eq(v, t[i].val, "%s: value %u", t[i].file, v);
		else
			cr_expect_eq(v, 12345u, "%s: output written on failure", t[i].file);
	}
}

/* made at run time: a release tarball stores symlinks as the files they name */
Test(sysinfo, read_u32_refuses_symlink)
{
	char dir[] = "/tmp/nsess-sysinfo-XXXXXX", path[96];
	unsigned int v = 12345;
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/plain", dir);
	f = fopen(path, "we");
	cr_assert_not_null(f);
	fputs("5\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/link", dir);
	cr_assert_eq(symlink("plain", path), 0);
	cr_expect_eq(nsess_sysinfo_read_u32(dir, "/link", &v, NULL, 0), -ELOOP);
	cr_expect_eq(v, 12345u, "output written on failure");
	cr_expect_eq(nsess_sysinfo_read_u32(dir, "/plain", &v, NULL, 0), 0);
	cr_expect_eq(v, 5u);
	unlink(path);
	snprintf(path, sizeof(path), "%s/plain", dir);
	unlink(path);
	rmdir(dir);
}

Test(sysinfo, read_u32_raw_and_relative_path)
{
	char raw[16];
	unsigned int v;

	cr_expect_eq(nsess_sysinfo_read_u32(SYSINFO_FIX, "/values/nul", &v, raw, sizeof(raw)),
		     -EINVAL);
	cr_expect_str_eq(raw, "5?\n");
	cr_expect_eq(nsess_sysinfo_read_u32(SYSINFO_FIX, "/values/long_64", &v, raw, sizeof(raw)),
		     -EFBIG);
	cr_expect_str_eq(raw, "111111111111111");
	cr_expect_eq(nsess_sysinfo_read_u32(SYSINFO_FIX, "values/plain", &v, raw, sizeof(raw)),
		     -EINVAL);
}

Test(sysinfo, read_u32_fifo_does_not_block)
{
	char dir[64], path[128];
	unsigned int v;

	tmp_root(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	cr_assert_eq(mkfifo(path, 0644), 0);
	cr_expect_eq(nsess_sysinfo_read_u32(dir, "/fifo", &v, NULL, 0), -EBADF);
	tmp_root_free(dir);
}

/* ---- fixture roots ---------------------------------------------------------- */

Test(sysinfo, probe_all_ids_in_order)
{
	static const char *const ids[] = {
		"max_user_namespaces", "unprivileged_userns_clone", "apparmor_userns",
		"max_net_namespaces", "max_mnt_namespaces", "ns_user", "ns_net", "ns_mnt",
		"newuidmap", "newgidmap", "tun", "no_new_privs", "seccomp", "container",
	};
	struct nsess_findings fs;
	size_t i;

	probe("ok", false, &fs);
	cr_assert_eq(fs.n, NSESS_ARRAY_SIZE(ids));
	for (i = 0; i < NSESS_ARRAY_SIZE(ids); i++)
		cr_expect_str_eq(fs.f[i].id, ids[i]);
}

Test(sysinfo, ok_root)
{
	struct nsess_findings fs;

	probe("ok", false, &fs);
	expect_status(&fs, "max_user_namespaces", NSESS_OK);
	cr_expect_str_eq(find(&fs, "max_user_namespaces")->seen, "user.max_user_namespaces=96365");
	expect_status(&fs, "unprivileged_userns_clone", NSESS_OK);
	expect_status(&fs, "apparmor_userns", NSESS_OK);
	expect_status(&fs, "max_net_namespaces", NSESS_OK);
	expect_status(&fs, "max_mnt_namespaces", NSESS_OK);
	expect_status(&fs, "ns_user", NSESS_OK);
	expect_status(&fs, "ns_net", NSESS_OK);
	expect_status(&fs, "ns_mnt", NSESS_OK);
	expect_status(&fs, "no_new_privs", NSESS_OK);
	expect_status(&fs, "seccomp", NSESS_OK);
	expect_status(&fs, "container", NSESS_OK);
	/* no helpers and no tun node can live in git */
	expect_status(&fs, "newuidmap", NSESS_FAIL);
	expect_has(find(&fs, "newuidmap")->fix, "apt-get install uidmap");
	expect_status(&fs, "tun", NSESS_FAIL);
	expect_has(find(&fs, "tun")->fix, "modprobe tun");
}

Test(sysinfo, zero_root_rootless)
{
	struct nsess_findings fs;
	const struct nsess_finding *f;

	probe("zero", false, &fs);
	f = find(&fs, "max_user_namespaces");
	cr_expect_eq(f->status, NSESS_FAIL);
	expect_has(f->fix, "sysctl -w user.max_user_namespaces=15000");
	expect_has(f->fix, "/etc/sysctl.d/");
	f = find(&fs, "unprivileged_userns_clone");
	cr_expect_eq(f->status, NSESS_FAIL);
	expect_has(f->fix, "sysctl -w kernel.unprivileged_userns_clone=1");
	f = find(&fs, "apparmor_userns");
	cr_expect_eq(f->status, NSESS_FAIL);
	expect_has(f->fix, "profile nsession /usr/bin/nsession");
	expect_has(f->fix, "userns,");
	expect_has(f->fix, "kernel.apparmor_restrict_unprivileged_userns=0");
	/* "0" without a newline is still a number */
	f = find(&fs, "max_net_namespaces");
	cr_expect_eq(f->status, NSESS_FAIL);
	expect_has(f->fix, "user.max_net_namespaces=15000");
	expect_status(&fs, "max_mnt_namespaces", NSESS_FAIL);
	expect_status(&fs, "ns_user", NSESS_OK);
	expect_status(&fs, "ns_net", NSESS_FAIL);
	expect_has(find(&fs, "ns_net")->fix, "CONFIG_NET_NS");
	expect_status(&fs, "no_new_privs", NSESS_WARN);
	expect_has(find(&fs, "no_new_privs")->seen, "newuidmap");
	expect_status(&fs, "seccomp", NSESS_WARN);
	f = find(&fs, "container");
	cr_expect_eq(f->status, NSESS_INFO);
	expect_has(f->seen, "container=podman");
	expect_has(f->seen, "/.dockerenv");
	expect_has(f->seen, "/run/.containerenv");
	expect_has(f->seen, "cgroup /docker-");
	cr_expect_eq(nsess_findings_worst(&fs), NSESS_FAIL);
}

Test(sysinfo, zero_root_as_root)
{
	struct nsess_findings fs;

	probe("zero", true, &fs);
	/* the namespace limit binds root too; the unprivileged switches do not */
	expect_status(&fs, "max_user_namespaces", NSESS_FAIL);
	expect_status(&fs, "unprivileged_userns_clone", NSESS_WARN);
	expect_status(&fs, "apparmor_userns", NSESS_WARN);
	expect_has(find(&fs, "apparmor_userns")->seen, "root is fine");
	expect_status(&fs, "no_new_privs", NSESS_INFO);
}

Test(sysinfo, absent_root)
{
	struct nsess_findings fs;

	probe("absent", false, &fs);
	expect_status(&fs, "max_user_namespaces", NSESS_FAIL);
	expect_has(find(&fs, "max_user_namespaces")->seen, "CONFIG_USER_NS");
	expect_status(&fs, "unprivileged_userns_clone", NSESS_OK);
	expect_has(find(&fs, "unprivileged_userns_clone")->seen, "absent");
	expect_status(&fs, "apparmor_userns", NSESS_OK);
	expect_status(&fs, "max_net_namespaces", NSESS_INFO);
	expect_status(&fs, "max_mnt_namespaces", NSESS_INFO);
	expect_status(&fs, "ns_user", NSESS_FAIL);
	expect_status(&fs, "ns_net", NSESS_FAIL);
	expect_status(&fs, "ns_mnt", NSESS_FAIL);
	expect_status(&fs, "no_new_privs", NSESS_INFO);
	expect_status(&fs, "seccomp", NSESS_INFO);
	expect_status(&fs, "container", NSESS_OK);
}

Test(sysinfo, junk_root)
{
	static const char *const ids[] = {
		"max_user_namespaces", "unprivileged_userns_clone", "apparmor_userns",
		"max_net_namespaces", "max_mnt_namespaces", "no_new_privs", "seccomp",
	};
	struct nsess_findings fs;
	size_t i;

	probe("junk", false, &fs);
	for (i = 0; i < NSESS_ARRAY_SIZE(ids); i++)
		expect_status(&fs, ids[i], NSESS_WARN);
	cr_expect_str_eq(find(&fs, "max_user_namespaces")->seen,
			 "user.max_user_namespaces: unreadable value \"abc\" in "
			 "/proc/sys/user/max_user_namespaces");
	/* raw bytes are kept in the finding; the renderers escape them */
	expect_has(find(&fs, "apparmor_userns")->seen, "\"\033[31m1\"\\\"");
	cr_expect_str_eq(find(&fs, "apparmor_userns")->fact,
			 "kernel.apparmor_restrict_unprivileged_userns=?");
}

Test(sysinfo, unreadable_sysctl_is_a_warning)
{
	char dir[64];
	struct nsess_findings fs;
	struct nsess_sysinfo_opts o = { .root = dir };

	tmp_root(dir, sizeof(dir));
	tmp_mkdirs(dir, "proc/sys/user/max_user_namespaces");
	nsess_findings_init(&fs);
	nsess_sysinfo_probe_all(&o, &fs);
	expect_status(&fs, "max_user_namespaces", NSESS_WARN);
	expect_has(find(&fs, "max_user_namespaces")->seen, "cannot read /proc/sys/user/max_user_namespaces: not a regular file");
	tmp_root_free(dir);
}

/* ---- /dev/net/tun ----------------------------------------------------------- */

static struct stat mkst(mode_t mode, uid_t uid, unsigned int maj, unsigned int min)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_mode = mode;
	st.st_uid = uid;
	st.st_rdev = makedev(maj, min);
	return st;
}

Test(sysinfo, tun_judgement_table)
{
	static const struct {
		const char *name;
		bool have_st;
		mode_t mode;
		uid_t uid;
		unsigned int maj, min;
		int err;
		bool as_root;
		int status;
		const char *seen, *fix, *fact;
	} t[] = {
		{ "missing", false, 0, 0, 0, 0, ENOENT, false, NSESS_FAIL,
		  "is missing", "modprobe tun", "/dev/net/tun missing" },
		{ "missing as root", false, 0, 0, 0, 0, ENOENT, true, NSESS_FAIL,
		  "is missing", "mknod -m 0666 /dev/net/tun c 10 200", "/dev/net/tun missing" },
		{ "no /dev/net", false, 0, 0, 0, 0, ENOTDIR, false, NSESS_FAIL,
		  "is missing", "modprobe tun", NULL },
		{ "unstattable", false, 0, 0, 0, 0, EACCES, false, NSESS_WARN,
		  "Permission denied", NULL, "/dev/net/tun unreadable" },
		{ "regular file", true, S_IFREG | 0666, 0, 0, 0, 0, false, NSESS_FAIL,
		  "not a character device", "mknod", "/dev/net/tun not a char device" },
		{ "directory", true, S_IFDIR | 0755, 0, 0, 0, 0, true, NSESS_FAIL,
		  "not a character device (drwxr-xr-x)", "mknod", NULL },
		{ "symlink", true, S_IFLNK | 0777, 0, 0, 0, 0, false, NSESS_FAIL,
		  "not a character device", NULL, NULL },
		{ "wrong device", true, S_IFCHR | 0666, 0, 1, 3, 0, false, NSESS_FAIL,
		  "1:3, not the tun device 10:200", "mknod", "/dev/net/tun is 1:3" },
		{ "0600 user", true, S_IFCHR | 0600, 0, 10, 200, 0, false, NSESS_FAIL,
		  "crw------- root: only root may open it",
		  "chmod 0666 /dev/net/tun; make it last with a udev rule: KERNEL==\"tun\", MODE=\"0666\"",
		  "/dev/net/tun crw------- root" },
		{ "0600 root", true, S_IFCHR | 0600, 0, 10, 200, 0, true, NSESS_WARN,
		  "root is fine", "chmod 0666 /dev/net/tun", "/dev/net/tun crw------- root" },
		{ "0660 group user", true, S_IFCHR | 0660, 0, 10, 200, 0, false, NSESS_FAIL,
		  "crw-rw----", "udev rule", NULL },
		{ "0606 other rw only", true, S_IFCHR | 0606, 0, 10, 200, 0, false, NSESS_OK,
		  "any user may open it", NULL, NULL },
		{ "0644 other read only", true, S_IFCHR | 0644, 0, 10, 200, 0, false, NSESS_FAIL,
		  "crw-r--r--", NULL, NULL },
		{ "0666 user", true, S_IFCHR | 0666, 0, 10, 200, 0, false, NSESS_OK,
		  "crw-rw-rw- root: any user may open it", NULL, "/dev/net/tun crw-rw-rw- root" },
		{ "0666 root", true, S_IFCHR | 0666, 0, 10, 200, 0, true, NSESS_OK,
		  "crw-rw-rw-", NULL, NULL },
		{ "0600 owned by a user", true, S_IFCHR | 0600, 1000, 10, 200, 0, false, NSESS_FAIL,
		  "uid 1000: only its owner may open it", NULL, "/dev/net/tun crw------- uid 1000" },
	};
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(t); i++) {
		struct stat st = mkst(t[i].mode, t[i].uid, t[i].maj, t[i].min);
		struct nsess_finding f;

		memset(&f, 0x5a, sizeof(f));
		nsess_sysinfo_judge_tun(t[i].have_st ? &st : NULL, t[i].err, t[i].as_root, &f);
		cr_expect_str_eq(f.id, "tun", "%s", t[i].name);
		cr_expect_eq(f.status, t[i].status, "%s: status %d (%s)", t[i].name, f.status,
			     f.seen);
		cr_expect(strstr(f.seen, t[i].seen) != NULL, "%s: seen \"%s\"", t[i].name, f.seen);
		if (t[i].fix)
			cr_expect(strstr(f.fix, t[i].fix) != NULL, "%s: fix \"%s\"", t[i].name,
				  f.fix);
		if (t[i].status == NSESS_OK)
			cr_expect_str_empty(f.fix, "%s: OK with a fix", t[i].name);
		if (t[i].fact)
			cr_expect_str_eq(f.fact, t[i].fact, "%s", t[i].name);
	}
}

Test(sysinfo, tun_wrapper_on_files)
{
	char dir[64], path[128];
	struct nsess_sysinfo_opts o = { .root = dir };
	struct nsess_finding f;

	tmp_root(dir, sizeof(dir));
	cr_expect_eq(nsess_sysinfo_probe_tun(&o, &f), 0);
	cr_expect_eq(f.status, NSESS_FAIL);
	cr_expect_str_eq(f.fact, "/dev/net/tun missing");

	tmp_mkdirs(dir, "dev/net");
	tmp_write(dir, "/dev/net/tun", "", 0, 0666);
	cr_expect_eq(nsess_sysinfo_probe_tun(&o, &f), 0);
	cr_expect_eq(f.status, NSESS_FAIL);
	expect_has(f.seen, "not a character device");

	/* a symlink to a good node is not followed */
	snprintf(path, sizeof(path), "%s/dev/net/tun", dir);
	unlink(path);
	cr_assert_eq(symlink("/dev/null", path), 0);
	cr_expect_eq(nsess_sysinfo_probe_tun(&o, &f), 0);
	cr_expect_eq(f.status, NSESS_FAIL);
	tmp_root_free(dir);
}

Test(sysinfo, tun_wrapper_on_device_node)
{
	char dir[64], path[128];
	struct nsess_sysinfo_opts o = { .root = dir };
	struct nsess_finding f;

	NSESS_TEST_NEED_ROOT();
	tmp_root(dir, sizeof(dir));
	tmp_mkdirs(dir, "dev/net");
	snprintf(path, sizeof(path), "%s/dev/net/tun", dir);
	NSESS_TEST_NEED(mknod(path, S_IFCHR | 0600, makedev(10, 200)) == 0,
			"mknod refused (no CAP_MKNOD here)");
	cr_assert_eq(chmod(path, 0600), 0);
	cr_expect_eq(nsess_sysinfo_probe_tun(&o, &f), 0);
	cr_expect_eq(f.status, NSESS_FAIL);
	cr_expect_str_eq(f.fact, "/dev/net/tun crw------- root");
	o.as_root = true;
	cr_expect_eq(nsess_sysinfo_probe_tun(&o, &f), 0);
	cr_expect_eq(f.status, NSESS_WARN);
	cr_assert_eq(chmod(path, 0666), 0);
	o.as_root = false;
	cr_expect_eq(nsess_sysinfo_probe_tun(&o, &f), 0);
	cr_expect_eq(f.status, NSESS_OK);
	tmp_root_free(dir);
}

/* ---- newuidmap / newgidmap ------------------------------------------------- */

Test(sysinfo, helper_judgement_table)
{
	static const struct {
		const char *name;
		int which;
		bool have_st;
		mode_t mode;
		uid_t uid;
		int err, has_cap;
		int status;
		const char *seen, *fix, *fact;
	} t[] = {
		{ "missing", NSESS_HELPER_UID, false, 0, 0, ENOENT, 0, NSESS_FAIL,
		  "is missing", "apt-get install uidmap", "/h missing" },
		{ "missing gid", NSESS_HELPER_GID, false, 0, 0, ENOENT, 0, NSESS_FAIL,
		  "is missing", "--with-newgidmap=PATH", NULL },
		{ "unstattable", NSESS_HELPER_UID, false, 0, 0, EACCES, 0, NSESS_FAIL,
		  "cannot inspect /h: Permission denied", NULL, "/h unreadable" },
		{ "symlink", NSESS_HELPER_UID, true, S_IFLNK | 0777, 0, 0, 0, NSESS_WARN,
		  "is a symlink", "readlink -f /h", "/h symlink" },
		{ "directory", NSESS_HELPER_UID, true, S_IFDIR | 04755, 0, 0, 0, NSESS_FAIL,
		  "not a regular file", "--reinstall uidmap", NULL },
		{ "fifo", NSESS_HELPER_GID, true, S_IFIFO | 0755, 0, 0, 1, NSESS_FAIL,
		  "not a regular file (prwxr-xr-x)", NULL, NULL },
		{ "user owned setuid", NSESS_HELPER_UID, true, S_IFREG | 04755, 1000, 0, 0, NSESS_FAIL,
		  "owned by uid 1000", "chown root:root /h", "/h owner uid 1000" },
		{ "group writable", NSESS_HELPER_UID, true, S_IFREG | 04775, 0, 0, 0, NSESS_FAIL,
		  "writable by group or others (-rwsrwxr-x)", "chmod go-w /h", "/h mode 4775" },
		{ "world writable with cap", NSESS_HELPER_GID, true, S_IFREG | 0757, 0, 0, 1, NSESS_FAIL,
		  "writable", "chmod go-w", NULL },
		{ "not executable by others", NSESS_HELPER_UID, true, S_IFREG | 04750, 0, 0, 0,
		  NSESS_FAIL, "not executable by other users (-rwsr-x---)", "chmod 4755 /h",
		  "/h mode 4750" },
		{ "setuid root", NSESS_HELPER_UID, true, S_IFREG | 04755, 0, 0, 0, NSESS_OK,
		  "setuid root (-rwsr-xr-x)", NULL, "/h setuid root" },
		{ "setuid root 4711", NSESS_HELPER_GID, true, S_IFREG | 04711, 0, 0, -EACCES, NSESS_OK,
		  "setuid root", NULL, NULL },
		{ "cap_setuid", NSESS_HELPER_UID, true, S_IFREG | 0755, 0, 0, 1, NSESS_OK,
		  "has cap_setuid in its file capabilities", NULL, "/h cap_setuid" },
		{ "cap_setgid", NSESS_HELPER_GID, true, S_IFREG | 0755, 0, 0, 1, NSESS_OK,
		  "has cap_setgid", NULL, "/h cap_setgid" },
		{ "neither uid", NSESS_HELPER_UID, true, S_IFREG | 0755, 0, 0, 0, NSESS_FAIL,
		  "neither setuid nor has cap_setuid", "chmod u+s /h, or setcap cap_setuid+ep /h",
		  "/h no setuid/cap_setuid" },
		{ "neither gid", NSESS_HELPER_GID, true, S_IFREG | 0755, 0, 0, 0, NSESS_FAIL,
		  "cap_setgid", "setcap cap_setgid+ep /h", NULL },
		{ "caps unreadable", NSESS_HELPER_UID, true, S_IFREG | 0755, 0, 0, -EIO, NSESS_FAIL,
		  "could not be read (Input/output error)", "chmod u+s /h", NULL },
	};
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(t); i++) {
		struct stat st = mkst(t[i].mode, t[i].uid, 0, 0);
		struct nsess_finding f;

		memset(&f, 0x5a, sizeof(f));
		nsess_sysinfo_judge_helper(t[i].which, "/h", t[i].have_st ? &st : NULL, t[i].err,
					   t[i].has_cap, &f);
		cr_expect_str_eq(f.id, t[i].which == NSESS_HELPER_UID ? "newuidmap" : "newgidmap",
				 "%s", t[i].name);
		cr_expect_eq(f.status, t[i].status, "%s: status %d (%s)", t[i].name, f.status,
			     f.seen);
		cr_expect(strstr(f.seen, t[i].seen) != NULL, "%s: seen \"%s\"", t[i].name, f.seen);
		if (t[i].fix)
			cr_expect(strstr(f.fix, t[i].fix) != NULL, "%s: fix \"%s\"", t[i].name,
				  f.fix);
		if (t[i].status == NSESS_OK)
			cr_expect_str_empty(f.fix, "%s: OK with a fix", t[i].name);
		if (t[i].fact)
			cr_expect_str_eq(f.fact, t[i].fact, "%s", t[i].name);
	}
}

Test(sysinfo, helper_wrapper_unprivileged_states)
{
	char dir[64], path[128];
	struct nsess_sysinfo_opts o = {
		.root = dir, .newuidmap = "/usr/bin/newuidmap", .newgidmap = "/usr/bin/newgidmap",
	};
	struct nsess_finding f;

	tmp_root(dir, sizeof(dir));
	cr_expect_eq(nsess_sysinfo_probe_helper(&o, NSESS_HELPER_UID, &f), 0);
	cr_expect_eq(f.status, NSESS_FAIL);
	cr_expect_str_eq(f.fact, "/usr/bin/newuidmap missing");

	tmp_mkdirs(dir, "usr/bin");
	snprintf(path, sizeof(path), "%s/usr/bin/newgidmap", dir);
	cr_assert_eq(symlink("/usr/bin/true", path), 0);
	cr_expect_eq(nsess_sysinfo_probe_helper(&o, NSESS_HELPER_GID, &f), 0);
	cr_expect_eq(f.status, NSESS_WARN);
	cr_expect_str_eq(f.fact, "/usr/bin/newgidmap symlink");

	tmp_write(dir, "/usr/bin/newuidmap", "#!/bin/true\n", 12, 0755);
	cr_expect_eq(nsess_sysinfo_probe_helper(&o, NSESS_HELPER_UID, &f), 0);
	cr_expect_eq(f.status, NSESS_FAIL);
	if (geteuid() == 0)
		cr_expect_str_eq(f.fact, "/usr/bin/newuidmap no setuid/cap_setuid");
	else
		expect_has(f.fact, "owner uid");

	o.newuidmap = "usr/bin/newuidmap";
	cr_expect_eq(nsess_sysinfo_probe_helper(&o, NSESS_HELPER_UID, &f), -EINVAL);
	cr_expect_eq(f.status, NSESS_FAIL);
	expect_has(f.seen, "not absolute");
	cr_expect_eq(nsess_sysinfo_probe_helper(&o, 7, &f), -EINVAL);
	tmp_root_free(dir);
}

Test(sysinfo, helper_wrapper_setuid_and_caps)
{
	char dir[64], path[128];
	struct nsess_sysinfo_opts o = {
		.root = dir, .newuidmap = "/usr/bin/newuidmap", .newgidmap = "/usr/bin/newgidmap",
	};
	struct nsess_finding f;
	cap_t caps;
	int r;

	NSESS_TEST_NEED_ROOT();
	tmp_root(dir, sizeof(dir));
	tmp_mkdirs(dir, "usr/bin");
	tmp_write(dir, "/usr/bin/newuidmap", "#!/bin/true\n", 12, 04755);
	cr_expect_eq(nsess_sysinfo_probe_helper(&o, NSESS_HELPER_UID, &f), 0);
	cr_expect_eq(f.status, NSESS_OK, "%s", f.seen);
	cr_expect_str_eq(f.fact, "/usr/bin/newuidmap setuid root");

	snprintf(path, sizeof(path), "%s/usr/bin/newuidmap", dir);
	cr_assert_eq(chmod(path, 04750), 0);
	cr_expect_eq(nsess_sysinfo_probe_helper(&o, NSESS_HELPER_UID, &f), 0);
	cr_expect_eq(f.status, NSESS_FAIL);
	cr_assert_eq(chown(path, 1000, 0), 0);
	cr_assert_eq(chmod(path, 04755), 0);
	cr_expect_eq(nsess_sysinfo_probe_helper(&o, NSESS_HELPER_UID, &f), 0);
	cr_expect_eq(f.status, NSESS_FAIL);
	expect_has(f.seen, "owned by uid 1000");

	/* file capabilities instead of setuid: newgidmap needs cap_setgid */
	tmp_write(dir, "/usr/bin/newgidmap", "#!/bin/true\n", 12, 0755);
	snprintf(path, sizeof(path), "%s/usr/bin/newgidmap", dir);
	cr_expect_eq(nsess_sysinfo_probe_helper(&o, NSESS_HELPER_GID, &f), 0);
	cr_expect_eq(f.status, NSESS_FAIL);
	expect_has(f.fix, "setcap cap_setgid+ep");

	caps = cap_from_text("cap_setuid+ep");
	cr_assert_not_null(caps);
	r = cap_set_file(path, caps);
	cap_free(caps);
	NSESS_TEST_NEED(r == 0, "this filesystem refuses file capabilities");
	/* the wrong capability does not count */
	cr_expect_eq(nsess_sysinfo_probe_helper(&o, NSESS_HELPER_GID, &f), 0);
	cr_expect_eq(f.status, NSESS_FAIL);

	caps = cap_from_text("cap_setgid+ep");
	cr_assert_not_null(caps);
	cr_assert_eq(cap_set_file(path, caps), 0);
	cap_free(caps);
	cr_expect_eq(nsess_sysinfo_probe_helper(&o, NSESS_HELPER_GID, &f), 0);
	cr_expect_eq(f.status, NSESS_OK, "%s", f.seen);
	cr_expect_str_eq(f.fact, "/usr/bin/newgidmap cap_setgid");

	/* permitted without effective still counts: the permitted set is the test */
	caps = cap_from_text("cap_setgid+p");
	cr_assert_not_null(caps);
	cr_assert_eq(cap_set_file(path, caps), 0);
	cap_free(caps);
	cr_expect_eq(nsess_sysinfo_probe_helper(&o, NSESS_HELPER_GID, &f), 0);
	cr_expect_eq(f.status, NSESS_OK, "%s", f.seen);
	tmp_root_free(dir);
}

/* ---- findings and renderers ------------------------------------------------ */

Test(sysinfo, json_escape_hostile)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{ "", "" },
		{ "plain text 123", "plain text 123" },
		{ "a\"b", "a\\\"b" },
		{ "back\\slash", "back\\\\slash" },
		{ "\b\f\n\r\t", "\\b\\f\\n\\r\\t" },
		{ "\x01\x1f", "\\u0001\\u001f" },
		{ "\033[2J\033]0;owned\007", "\\u001b[2J\\u001b]0;owned\\u0007" },
		{ "del\x7f", "del\\u007f" },
		{ "\xc3\xa9\xff", "\\u00c3\\u00a9\\u00ff" },
		{ "</script>", "</script>" },
	};
	char out[128];
	size_t i;

	for (i = 0; i < NSESS_ARRAY_SIZE(t); i++) {
		size_t n = nsess_sysinfo_json_escape(t[i].in, out, sizeof(out));

		cr_expect_str_eq(out, t[i].out, "case %zu", i);
		cr_expect_eq(n, strlen(t[i].out), "case %zu length", i);
	}
}

Test(sysinfo, json_escape_never_cuts_an_escape)
{
	char out[8];
	size_t n;

	/* "ab" fits, the 6-byte escape would not: stop before it, and stay stopped */
	n = nsess_sysinfo_json_escape("ab\033cd", out, sizeof(out));
	cr_expect_eq(n, 10);
	cr_expect_str_eq(out, "ab");
	n = nsess_sysinfo_json_escape("abcdefghij", out, sizeof(out));
	cr_expect_eq(n, 10);
	cr_expect_str_eq(out, "abcdefg");
	cr_expect_eq(nsess_sysinfo_json_escape("\"", out, 2), 2);
	cr_expect_str_eq(out, "");
	cr_expect_eq(nsess_sysinfo_json_escape("xyz", NULL, 0), 3);
}

Test(sysinfo, findings_json_exact)
{
	struct nsess_findings fs;
	struct nsess_finding f;
	char buf[1024];
	int n;

	nsess_findings_init(&fs);
	n = nsess_findings_to_json(&fs, buf, sizeof(buf));
	cr_expect_str_eq(buf, "{\"findings\":[],\"dropped\":0}\n");
	cr_expect_eq(n, (int)strlen(buf));

	nsess_finding_set(&f, "tun", NSESS_FAIL, "say \"hi\"\\\033[31m\n", "chmod 0666 x");
	cr_assert_eq(nsess_findings_add(&fs, &f), 0);
	nsess_finding_set(&f, "id\"x", NSESS_OK, "fine", NULL);
	cr_assert_eq(nsess_findings_add(&fs, &f), 0);
	nsess_finding_set(&f, "i", NSESS_INFO, "", "");
	cr_assert_eq(nsess_findings_add(&fs, &f), 0);
	nsess_finding_set(&f, "w", NSESS_WARN, "\t", "");
	cr_assert_eq(nsess_findings_add(&fs, &f), 0);
	n = nsess_findings_to_json(&fs, buf, sizeof(buf));
	cr_expect_str_eq(buf,
			 "{\"findings\":["
			 "{\"id\":\"tun\",\"status\":\"fail\","
			 "\"seen\":\"say \\\"hi\\\"\\\\\\u001b[31m\\n\",\"fix\":\"chmod 0666 x\"},"
			 "{\"id\":\"id\\\"x\",\"status\":\"ok\",\"seen\":\"fine\",\"fix\":\"\"},"
			 "{\"id\":\"i\",\"status\":\"info\",\"seen\":\"\",\"fix\":\"\"},"
			 "{\"id\":\"w\",\"status\":\"warn\",\"seen\":\"\\t\",\"fix\":\"\"}"
			 "],\"dropped\":0}\n");
	cr_expect_eq(n, (int)strlen(buf));

	/* a short buffer: terminated, and the full length reported */
	cr_expect_eq(nsess_findings_to_json(&fs, buf, 10), n);
	cr_expect_eq(strlen(buf), 9);
}

Test(sysinfo, findings_json_of_real_probe_has_no_raw_control_bytes)
{
	struct nsess_findings fs;
	char *buf = malloc(NSESS_FINDINGS_JSON_MAX);
	const unsigned char *p;
	int n;

	cr_assert_not_null(buf);
	probe("junk", false, &fs);
	n = nsess_findings_to_json(&fs, buf, NSESS_FINDINGS_JSON_MAX);
	cr_assert_gt(n, 0);
	cr_assert_lt(n, NSESS_FINDINGS_JSON_MAX);
	for (p = (const unsigned char *)buf; *p; p++)
		cr_expect(*p == '\n' ? p[1] == '\0' : (*p >= 0x20 && *p < 0x7f),
			  "raw byte 0x%02x at %td", *p, (const char *)p - buf);
	expect_has(buf, "unreadable value \\\"\\u001b[31m1\\\"\\\\\\\"");
	free(buf);
}

Test(sysinfo, findings_text_render)
{
	struct nsess_findings fs;
	struct nsess_finding f;
	char buf[1024];
	int n;

	nsess_findings_init(&fs);
	nsess_finding_set(&f, "tun", NSESS_FAIL, "bad \033[31mred\\", "chmod 0666 /dev/net/tun");
	nsess_findings_add(&fs, &f);
	nsess_finding_set(&f, "seccomp", NSESS_OK, "Seccomp=0", NULL);
	nsess_findings_add(&fs, &f);
	nsess_finding_set(&f, "container", NSESS_INFO, "inside\n[FAIL] forged: line", "x");
	nsess_findings_add(&fs, &f);
	nsess_finding_set(&f, "nnp", NSESS_WARN, "NoNewPrivs=1", "");
	nsess_findings_add(&fs, &f);
	n = nsess_findings_to_text(&fs, buf, sizeof(buf));
	cr_expect_str_eq(buf,
			 "[FAIL] tun: bad \\x1b[31mred\\x5c\n"
			 "    fix: chmod 0666 /dev/net/tun\n"
			 "[ OK ] seccomp: Seccomp=0\n"
			 "[INFO] container: inside\\x0a[FAIL] forged: line\n"
			 "    fix: x\n"
			 "[WARN] nnp: NoNewPrivs=1\n");
	cr_expect_eq(n, (int)strlen(buf));
	cr_expect_eq(nsess_findings_to_text(&fs, buf, 5), n);
	cr_expect_str_eq(buf, "[FAI");
	cr_expect_eq(nsess_findings_to_text(NULL, buf, sizeof(buf)), -EINVAL);
}

Test(sysinfo, findings_add_bounds)
{
	struct nsess_findings fs;
	struct nsess_finding f;
	char buf[256];
	unsigned int i;

	nsess_findings_init(&fs);
	cr_expect_eq(nsess_findings_worst(&fs), NSESS_OK);
	nsess_finding_set(&f, "x", 9, "s", "f");
	cr_expect_eq(nsess_findings_add(&fs, &f), -EINVAL);
	nsess_finding_set(&f, "x", -1, "s", "f");
	cr_expect_eq(nsess_findings_add(&fs, &f), -EINVAL);
	nsess_finding_set(&f, "x", NSESS_INFO, "s", "f");
	for (i = 0; i < NSESS_FINDINGS_MAX; i++)
		cr_assert_eq(nsess_findings_add(&fs, &f), 0);
	cr_expect_eq(nsess_findings_worst(&fs), NSESS_INFO);
	cr_expect_eq(nsess_findings_add(&fs, &f), -ENOSPC);
	cr_expect_eq(fs.n, NSESS_FINDINGS_MAX);
	cr_expect_eq(fs.dropped, 1);
	cr_expect_eq(nsess_findings_worst(&fs), NSESS_FAIL);

	/* unterminated hand-filled fields are cut, not overrun */
	nsess_findings_init(&fs);
	memset(&f, 'A', sizeof(f));
	f.status = NSESS_WARN;
	cr_assert_eq(nsess_findings_add(&fs, &f), 0);
	cr_expect_eq(strlen(fs.f[0].id), NSESS_FINDING_ID_MAX - 1);
	cr_expect_eq(strlen(fs.f[0].seen), NSESS_FINDING_SEEN_MAX - 1);

	/* long strings are truncated on set */
	memset(buf, 'b', sizeof(buf));
	buf[sizeof(buf) - 1] = '\0';
	nsess_finding_set(&f, buf, NSESS_OK, buf, buf);
	cr_expect_eq(strlen(f.id), NSESS_FINDING_ID_MAX - 1);
	cr_expect_eq(strlen(f.seen), NSESS_FINDING_SEEN_MAX - 1);
	cr_expect_eq(strlen(f.fix), sizeof(buf) - 1);
	cr_expect_str_eq(nsess_finding_status_name(42), "unknown");
}

Test(sysinfo, findings_text_reports_dropped)
{
	struct nsess_findings fs;
	struct nsess_finding f;
	char *buf = malloc(NSESS_FINDINGS_TEXT_MAX);
	int n;

	cr_assert_not_null(buf);
	nsess_findings_init(&fs);
	nsess_finding_set(&f, "x", NSESS_OK, "s", NULL);
	while (nsess_findings_add(&fs, &f) == 0)
		;
	nsess_findings_add(&fs, &f);
	n = nsess_findings_to_text(&fs, buf, NSESS_FINDINGS_TEXT_MAX);
	cr_assert_lt(n, NSESS_FINDINGS_TEXT_MAX);
	expect_has(buf, "[FAIL] findings: 2 more findings did not fit");
	n = nsess_findings_to_json(&fs, buf, NSESS_FINDINGS_TEXT_MAX);
	expect_has(buf, "\"dropped\":2}");
	free(buf);
}

/* ---- the one-line summary ---------------------------------------------------- */

static int summary(const char *root, bool as_root, char *buf, size_t len)
{
	struct nsess_sysinfo_opts o = {
		.root = root,
		.newuidmap = "/usr/bin/newuidmap",
		.newgidmap = "/usr/bin/newgidmap",
		.as_root = as_root,
	};

	return nsess_sysinfo_summary(&o, buf, len);
}

Test(sysinfo, summary_ok_fixture)
{
	char buf[512];

	cr_assert_eq(summary(SYSINFO_FIX "/ok", false, buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf,
			 "machine: user.max_user_namespaces=96365, "
			 "kernel.unprivileged_userns_clone=1, "
			 "kernel.apparmor_restrict_unprivileged_userns=0, "
			 "/usr/bin/newuidmap missing, /usr/bin/newgidmap missing, "
			 "/dev/net/tun missing");
}

Test(sysinfo, summary_zero_and_absent_fixtures)
{
	char buf[512];

	cr_assert_eq(summary(SYSINFO_FIX "/zero", false, buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf,
			 "machine: user.max_user_namespaces=0, "
			 "kernel.unprivileged_userns_clone=0, "
			 "kernel.apparmor_restrict_unprivileged_userns=1, "
			 "user.max_net_namespaces=0, user.max_mnt_namespaces=0, "
			 "no /proc/self/ns/net, "
			 "/usr/bin/newuidmap missing, /usr/bin/newgidmap missing, "
			 "/dev/net/tun missing, NoNewPrivs=1, Seccomp=2, container podman");
	cr_assert_eq(summary(SYSINFO_FIX "/absent", false, buf, sizeof(buf)), 0);
	cr_expect_str_eq(buf,
			 "machine: user.max_user_namespaces absent, "
			 "kernel.apparmor_restrict_unprivileged_userns absent, "
			 "no /proc/self/ns/user, no /proc/self/ns/net, no /proc/self/ns/mnt, "
			 "/usr/bin/newuidmap missing, /usr/bin/newgidmap missing, "
			 "/dev/net/tun missing");
}

Test(sysinfo, summary_escapes_untrusted_text)
{
	static const char env[] = "A=1\0container=\033]0;pwn\007\\x\0B=2";
	char dir[64], buf[512];

	tmp_root(dir, sizeof(dir));
	tmp_mkdirs(dir, "proc/1");
	tmp_write(dir, "/proc/1/environ", env, sizeof(env) - 1, 0644);
	cr_assert_eq(summary(dir, false, buf, sizeof(buf)), 0);
	expect_has(buf, "container \\x1b]0;pwn\\x07\\x5cx");
	cr_expect_null(strchr(buf, '\033'));
	tmp_root_free(dir);
}

Test(sysinfo, summary_truncates_visibly)
{
	char buf[40];

	cr_expect_eq(summary(SYSINFO_FIX "/zero", false, buf, sizeof(buf)), -ENOSPC);
	cr_expect_eq(strlen(buf), sizeof(buf) - 1);
	cr_expect_str_eq(buf + sizeof(buf) - 4, "...");
	cr_expect_eq(strncmp(buf, "machine: user.max_user_namespaces=0", 35), 0);
	cr_expect_eq(summary(SYSINFO_FIX "/zero", false, buf, 3), -EINVAL);
}
