// SPDX-License-Identifier: GPL-2.0
/* Device settings espx changes while attached, and giving them back (devcfg.h). */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include "platform/devcfg.h"
#include "platform/lock.h"
#include "common/log.h"
#include "platform/nl.h"
#include "platform/pins.h"

#define RUN_DIR	ESPX_RUN_DIR

struct gso_get {
	__u32 *val;
	int found;
};

static int gso_cb(const struct nlmsghdr *nlh, void *data)
{
	struct gso_get *g = data;
	struct nlattr *attr;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	mnl_attr_for_each(attr, nlh, sizeof(struct ifinfomsg))
		if (mnl_attr_get_type(attr) == IFLA_GSO_MAX_SEGS) {
			*g->val = mnl_attr_get_u32(attr);
			g->found = 1;
		}
	return 0;
}

/* IFLA_GSO_MAX_SEGS of a device, read (get) or written (set), over
 * rtnetlink. 0 or -errno. */
int devcfg_gso_max_segs(const char *ifname, __u32 *val, int set)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct gso_get g = { .val = val };
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int ifindex = (int)if_nametoindex(ifname), err;
	struct nl nl;

	if (!ifindex)
		return -ENODEV;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = set ? RTM_NEWLINK : RTM_GETLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (set)
		mnl_attr_put_u32(nlh, IFLA_GSO_MAX_SEGS, *val);
	err = nl_open(&nl, NETLINK_ROUTE, 0, 0);
	if (err)
		return err;
	/* a get answers RTM_NEWLINK, then the ack; a set only the ack */
	err = nl_request(&nl, nlh, set ? NULL : gso_cb, &g);
	nl_close(&nl);
	if (!err && !set && !g.found)
		err = -ENOENT;
	return err;
}

/* One file per namespace's pin directory and device. */
static void state_path(char *buf, size_t n, const char *ifname)
{
	const char *root = strrchr(espx_pin_root(), '/');

	snprintf(buf, n, RUN_DIR "/%s.%s.gso_max_segs", root ? root + 1 : "espx", ifname);
}

/* The file holds "ifindex value"; is it about this very device? A crash
 * between apply and attach leaves it, and the next attach must keep the
 * value it saved rather than save the changed one. */
static int saved_for(const char *path, const char *ifname)
{
	unsigned int idx = 0, v;
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return 0;
	ok = fscanf(f, "%u %u", &idx, &v) == 2 && idx == if_nametoindex(ifname);
	fclose(f);
	return ok;
}

/* The kernel's own IPsec on this device, off while espx carries it:
 * disable_xfrm (IPv4: no outbound policy lookup, so no second encryption)
 * and disable_policy (IPv4 and IPv6: no inbound policy check, which would
 * drop espx-decrypted packets for lacking a secpath; espx checks inbound
 * policy itself). IPv6 has no disable_xfrm: see docs/strongswan.md. */
static const char *const xfrm_knobs[] = {
	"ipv4/conf/%s/disable_xfrm",
	"ipv4/conf/%s/disable_policy",
	"ipv6/conf/%s/disable_policy",
};
#define N_KNOBS (sizeof(xfrm_knobs) / sizeof(xfrm_knobs[0]))

const char *devcfg_proc_sys_net(void)
{
	const char *p = getenv("ESPX_PROC_SYS_NET");

	return p && p[0] == '/' ? p : "/proc/sys/net";
}

static void knob_file(char *buf, size_t n, unsigned int k, const char *ifname)
{
	int len = snprintf(buf, n, "%s/", devcfg_proc_sys_net());

	if (len > 0 && (size_t)len < n)
		snprintf(buf + len, n - (size_t)len, xfrm_knobs[k], ifname);
}

static int knob_io(unsigned int k, const char *ifname, int *val, int set)
{
	char path[320];
	FILE *f;
	int ok;

	knob_file(path, sizeof(path), k, ifname);
	f = fopen(path, set ? "we" : "re");
	if (!f)
		return -errno;
	ok = set ? fprintf(f, "%d\n", *val) > 0 : fscanf(f, "%d", val) == 1;
	if (fclose(f) || !ok)
		return -EIO;
	return 0;
}

static void knob_path(char *buf, size_t n, const char *ifname)
{
	const char *root = strrchr(espx_pin_root(), '/');

	snprintf(buf, n, RUN_DIR "/%s.%s.xfrm", root ? root + 1 : "espx", ifname);
}

/* Save (unless saved for this very device) and set every knob to 1. A
 * knob the kernel lacks (no IPv6) is left out. */
static int knobs_apply(const char *ifname)
{
	int orig[N_KNOBS], one = 1, err;
	unsigned int k, idx = 0;
	char path[256];
	FILE *f;

	knob_path(path, sizeof(path), ifname);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%u", &idx) != 1)
			idx = 0;
		fclose(f);
	}
	if (idx != if_nametoindex(ifname)) {
		for (k = 0; k < N_KNOBS; k++)
			if (knob_io(k, ifname, &orig[k], 0))
				orig[k] = -1;
		f = fopen(path, "we");
		if (!f) {
			pr_warn("saving %s's settings in %s: %s\n", ifname, path, strerror(errno));
			return -errno;
		}
		fprintf(f, "%u", if_nametoindex(ifname));
		for (k = 0; k < N_KNOBS; k++)
			fprintf(f, " %d", orig[k]);
		fputc('\n', f);
		if (fclose(f)) {
			unlink(path);
			return -EIO;
		}
	}
	for (k = 0; k < N_KNOBS; k++) {
		err = knob_io(k, ifname, &one, 1);
		if (err && err != -ENOENT) {
			char file[320];

			knob_file(file, sizeof(file), k, ifname);
			pr_warn("setting %s to 1: %s%s\n", file, strerror(-err),
				err == -EROFS ? " (a container's read-only /proc/sys: bind-mount the host's "
						"/proc/sys/net writable and set ESPX_PROC_SYS_NET to it, "
						"docs/containers.md)" : "");
			return err;
		}
	}
	return 0;
}

static int knobs_restore(const char *ifname)
{
	unsigned int idx = 0, k;
	int v, err = 0;
	char path[256], file[320];
	FILE *f;

	knob_path(path, sizeof(path), ifname);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%u", &idx) != 1)
		idx = 0;
	for (k = 0; k < N_KNOBS && fscanf(f, "%d", &v) == 1; k++) {
		int e;

		if (!idx || idx != if_nametoindex(ifname) || v < 0 || !(e = knob_io(k, ifname, &v, 1)))
			continue;
		knob_file(file, sizeof(file), k, ifname);
		pr_warn("restoring %s to %d: %s%s\n", file, v, strerror(-e),
			e == -EROFS ? " (a container's read-only /proc/sys: bind-mount the host's "
				      "/proc/sys/net writable and set ESPX_PROC_SYS_NET to it)" : "");
		err = -EIO;
	}
	fclose(f);
	if (!err)
		unlink(path);
	return err;
}

int devcfg_apply(const char *ifname)
{
	__u32 orig = 0, one = 1;
	char path[256];
	FILE *f;
	int err;

	err = devcfg_gso_max_segs(ifname, &orig, 0);
	if (err) {
		pr_warn("reading %s's gso_max_segs: %s\n", ifname, strerror(-err));
		return err;
	}
	err = espx_run_dir();	/* root's alone: settings are restored from there */
	if (err)
		return err;
	state_path(path, sizeof(path), ifname);
	f = fopen(path, "wx");
	if (!f && errno == EEXIST && !saved_for(path, ifname))
		f = fopen(path, "w");	/* left by a device of that name now gone */
	if (f) {
		fprintf(f, "%u %u\n", if_nametoindex(ifname), orig);
		if (fclose(f)) {
			unlink(path);
			return -EIO;
		}
	} else if (errno != EEXIST) {	/* EEXIST: saved by an earlier attach */
		pr_warn("saving %s's settings in %s: %s\n", ifname, path, strerror(errno));
		return -errno;
	}
	err = devcfg_gso_max_segs(ifname, &one, 1);
	if (err) {
		pr_warn("setting gso_max_segs 1 on %s: %s\n", ifname, strerror(-err));
		if (f)
			unlink(path);
		return err;
	}
	pr_debug("%s: gso_max_segs %u -> 1 while espx is attached\n", ifname, orig);
	err = knobs_apply(ifname);
	if (err) {
		knobs_restore(ifname);
		devcfg_restore(ifname);
	}
	return err;
}

int devcfg_restore(const char *ifname)
{
	char path[256];
	unsigned int idx = 0, v;
	__u32 val;
	FILE *f;
	int err = 0;

	err = knobs_restore(ifname);
	state_path(path, sizeof(path), ifname);
	f = fopen(path, "re");
	if (!f)
		return err;
	if (fscanf(f, "%u %u", &idx, &v) != 2)
		v = 0;
	fclose(f);
	val = v;
	if (val && idx == if_nametoindex(ifname)) {	/* gone: nothing to put back */
		int e = devcfg_gso_max_segs(ifname, &val, 1);

		if (e)
			err = e;
		else
			unlink(path);
	} else {
		unlink(path);
	}
	return err;
}

void devcfg_forget_all(void)
{
	const char *root = strrchr(espx_pin_root(), '/');
	char prefix[128], path[512];
	struct dirent *de;
	DIR *d = opendir(RUN_DIR);

	snprintf(prefix, sizeof(prefix), "%s.", root ? root + 1 : "espx");
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(path, sizeof(path), RUN_DIR "/%s", de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
}

