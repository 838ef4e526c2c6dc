// SPDX-License-Identifier: GPL-2.0
/* Where espx pins things (pins.h): bpffs, the pin root, pin paths. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "espx_common.h"
#include "common/log.h"
#include "platform/pins.h"
#include "platform/xdp_dispatch.h"

#define BPFFS		ESPX_BPFFS
#define BPFFS_MAGIC	0xcafe4a11u

static int is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && (uint32_t)st.f_type == BPFFS_MAGIC;
}

static int same_ns(const char *a, const char *b)
{
	struct stat sa, sb;

	return !stat(a, &sa) && !stat(b, &sb) && sa.st_ino == sb.st_ino &&
	       sa.st_dev == sb.st_dev;
}

static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	int ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	/* "pid (comm) state ppid ...": comm may hold spaces and ')' */
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		sscanf(p + 1, " %*c %d", &ppid);
	fclose(f);
	return (pid_t)ppid;
}

/* The nearest ancestor in another mount namespace: where `ip netns exec`
 * (or unshare -m) was run from. 0 if none. */
static pid_t outer_mnt_ns_pid(void)
{
	char path[64];
	pid_t pid = getppid();
	int hops;

	for (hops = 0; pid > 1 && hops < 32; hops++, pid = parent_of(pid)) {
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
		if (access(path, F_OK))
			return 0;
		if (!same_ns("/proc/self/ns/mnt", path))
			return pid;
	}
	return 0;
}

static int join_mnt_ns(pid_t pid)
{
	char path[64];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNS))
		err = -errno;
	if (fd >= 0)
		close(fd);
	if (err)
		pr_warn("cannot join the mount namespace of PID %d (to reach its bpffs): %s\n",
			(int)pid, strerror(-err));
	return err;
}

int espx_pins_bpffs(int mount_it)
{
	char path[96];
	pid_t outer;

	if (is_bpffs(BPFFS))
		return 0;
	/* `ip netns exec` runs espx with a fresh /sys and no bpffs: a bpffs
	 * mounted there would go, with every pin, when espx exits. Use the
	 * caller's mount namespace instead, as if espx had been run there. */
	outer = outer_mnt_ns_pid();
	if (outer) {
		snprintf(path, sizeof(path), "/proc/%d/root%s", (int)outer, BPFFS);
		if ((is_bpffs(path) || mount_it) && !join_mnt_ns(outer)) {
			pr_debug("using the bpffs of PID %d's mount namespace\n", (int)outer);
			if (is_bpffs(BPFFS))
				return 0;
		}
	}
	if (!mount_it)
		return -ENOENT;
	if (mount("bpf", BPFFS, "bpf", 0, "mode=0700")) {
		pr_warn("mounting bpffs on %s: %s; mount it by hand: mount -t bpf bpf %s\n",
			BPFFS, strerror(errno), BPFFS);
		return -errno;
	}
	pr_info("mounted bpffs on %s\n", BPFFS);
	return 0;
}

const char *espx_pin_root(void)
{
	static char root[256];

	if (!root[0])
		snprintf(root, sizeof(root), "%s/" ESPX_NS_DIR_PREFIX "%lu", ESPX_PIN_DIR,
			 espx_netns_ino());
	return root;
}

void espx_pin_path(char *buf, size_t n, const char *sub, const char *name)
{
	if (sub)
		snprintf(buf, n, "%s/%s/%s", espx_pin_root(), sub, name);
	else
		snprintf(buf, n, "%s/%s", espx_pin_root(), name);
}

void espx_link_pin_name(char *buf, size_t n, const char *ifname, const char *kind)
{
	size_t i, len = strlen(ifname);

	if (!n)
		return;
	snprintf(buf, n, "%s:%s", ifname, kind);
	for (i = 0; buf[i] && i < len; i++)
		if (buf[i] == '.')
			buf[i] = ':';
}

void espx_link_pin_path(char *buf, size_t n, const char *ifname, const char *kind)
{
	char name[64];

	espx_link_pin_name(name, sizeof(name), ifname, kind);
	espx_pin_path(buf, n, ESPX_PIN_LINKS, name);
}

int espx_link_pin_parse(const char *pin, char *ifname, size_t n, char *kind, size_t kn)
{
	const char *sep = strrchr(pin, ':');
	size_t len, i;

	if (!sep || sep == pin || (strcmp(sep + 1, "xdp") && strcmp(sep + 1, "tc") &&
				     strcmp(sep + 1, "rx") && strcmp(sep + 1, "pod")))
		return -EINVAL;
	len = (size_t)(sep - pin);
	if (len >= n || strlen(sep + 1) >= kn)
		return -EINVAL;
	for (i = 0; i < len; i++)
		ifname[i] = pin[i] == ':' ? '.' : pin[i];
	ifname[len] = '\0';
	snprintf(kind, kn, "%s", sep + 1);
	return 0;
}

int espx_pinned_fd(const char *sub, const char *name)
{
	char path[400];
	int fd;

	if (espx_pins_bpffs(0)) {
		pr_warn("espx is not loaded (no bpffs mounted); 'espx attach DEV' loads it\n");
		return -ENOENT;
	}
	espx_pin_path(path, sizeof(path), sub, name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		int err = -errno;

		if (err == -ENOENT)
			pr_warn("espx is not loaded here (no %s); 'espx attach DEV' loads it\n", path);
		else
			pr_warn("opening %s: %s\n", path, strerror(-err));
		return err;
	}
	return fd;
}

unsigned long espx_netns_ino(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : (unsigned long)st.st_ino;
}

int espx_drop_link(const char *path)
{
	int fd = bpf_obj_get(path);

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		pr_warn("opening %s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (xdp_dispatch_is_prog(fd)) {
		/* a program, not a link: espx's member of libxdp's dispatcher */
		const char *base = strrchr(path, '/');
		char dev[IF_NAMESIZE + 8], kind[8];
		int err = 0;

		if (!espx_link_pin_parse(base ? base + 1 : path, dev, sizeof(dev), kind, sizeof(kind)))
			err = xdp_dispatch_leave(dev, fd);
		if (err) {
			close(fd);
			return err;	/* the pin stays: a second detach tries again */
		}
	} else if (bpf_link_detach(fd) && errno != ENOLINK && errno != EINVAL) {
		/* detached even if someone else holds the link open */
		pr_debug("link detach %s: %s\n", path, strerror(errno));
	}
	close(fd);
	if (unlink(path)) {
		pr_warn("removing %s: %s\n", path, strerror(errno));
		return -errno;
	}
	return 1;
}

int espx_attached_count(const char *except)
{
	char dir[320], dev[IF_NAMESIZE + 8], kind[8];
	struct dirent *de;
	DIR *d;
	int n = 0;

	espx_pin_path(dir, sizeof(dir), ESPX_PIN_LINKS, "");
	d = opendir(dir);
	while (d && (de = readdir(d)))
		if (!espx_link_pin_parse(de->d_name, dev, sizeof(dev), kind, sizeof(kind)) &&
		    !strcmp(kind, "tc") && (!except || strcmp(dev, except)) &&
		    strncmp(dev, "espxs", 5))	/* not the GSO segmenters */
			n++;
	if (d)
		closedir(d);
	return n;
}

int link_prog_id(int link_fd, unsigned int *ifindex)
{
	struct bpf_link_info info = { 0 };
	__u32 len = sizeof(info);

	if (xdp_dispatch_is_prog(link_fd)) {
		/* espx's member of libxdp's dispatcher: the program itself */
		struct bpf_prog_info pi = { 0 };

		len = sizeof(pi);
		if (bpf_prog_get_info_by_fd(link_fd, &pi, &len))
			return -errno;
		if (ifindex)
			*ifindex = 0;	/* the caller knows the device by the pin's name */
		return (int)pi.id;
	}
	if (bpf_link_get_info_by_fd(link_fd, &info, &len))
		return -errno;
	if (ifindex)
		*ifindex = info.type == BPF_LINK_TYPE_XDP ? info.xdp.ifindex : info.tcx.ifindex;
	return (int)info.prog_id;
}
