// SPDX-License-Identifier: GPL-2.0
/* The pod fast path on a pod's veth (podpath.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <libmnl/libmnl.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include "espx.skel.h"
#include "common/log.h"
#include "platform/datapath.h"
#include "platform/lock.h"
#include "platform/nl.h"
#include "platform/nsstate.h"
#include "platform/pins.h"
#include "platform/podpath.h"

#define POD_KIND	"pod"

/* A device as rtnetlink describes it: its kind and, for a veth, where the
 * other end is (ifindex in the peer's namespace, that namespace's id as
 * seen from here; -1: this namespace). */
struct link_desc {
	char kind[16];
	int peer_ifindex;
	int peer_nsid;
};

static int linkinfo_cb(const struct nlattr *a, void *data)
{
	struct link_desc *d = data;

	if (mnl_attr_get_type(a) == IFLA_INFO_KIND)
		snprintf(d->kind, sizeof(d->kind), "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_desc *d = data;
	struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	mnl_attr_for_each(a, nlh, sizeof(struct ifinfomsg)) {
		switch (mnl_attr_get_type(a)) {
		case IFLA_LINK:
			d->peer_ifindex = (int)mnl_attr_get_u32(a);
			break;
		case IFLA_LINK_NETNSID:
			d->peer_nsid = (int)mnl_attr_get_u32(a);
			break;
		case IFLA_LINKINFO:
			mnl_attr_parse_nested(a, linkinfo_cb, d);
			break;
		}
	}
	return 1;
}

static int link_describe(unsigned int ifindex, struct link_desc *d)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct nl nl;
	int err;

	memset(d, 0, sizeof(*d));
	d->peer_nsid = -1;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	err = nl_open(&nl, NETLINK_ROUTE, 0, 0);
	if (err)
		return err;
	err = nl_request(&nl, nlh, link_cb, d);
	nl_close(&nl);
	return err;
}

static int nsid_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWNSID)
		return 0;
	mnl_attr_for_each(a, nlh, sizeof(struct rtgenmsg))
		if (mnl_attr_get_type(a) == NETNSA_NSID)
			*(int *)data = (int)mnl_attr_get_u32(a);
	return 1;
}

/* The id this namespace knows the namespace of fd by; -1 if none. */
static int nsid_of(struct nl *nl, int fd)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtgenmsg *g;
	int id = -1;

	nlh->nlmsg_type = RTM_GETNSID;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NETNSA_FD, (__u32)fd);
	if (nl_request(nl, nlh, nsid_cb, &id))
		return -1;
	return id;
}

/* Is the namespace at path the one with id nsid? Its fd if so, else -1.
 * seen/nseen: inodes already tried (each namespace is asked once). */
static int ns_try(struct nl *nl, const char *path, int nsid, unsigned long *seen, size_t *nseen)
{
	struct stat st;
	size_t i;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st))
		goto no;
	for (i = 0; i < *nseen; i++)
		if (seen[i] == st.st_ino)
			goto no;
	if (*nseen < 4096)
		seen[(*nseen)++] = st.st_ino;
	if (nsid_of(nl, fd) == nsid)
		return fd;
no:
	close(fd);
	return -1;
}

/* An fd of the namespace this namespace calls nsid (-1: this one): named
 * namespaces first, then those of running processes (a container's).
 * -errno if none is found. */
static int ns_open_by_id(int nsid)
{
	char path[300];
	unsigned long *seen;
	size_t nseen = 0;
	struct dirent *de;
	struct nl nl;
	int fd = -1, pass;
	DIR *d;

	if (nsid < 0) {
		fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	seen = calloc(4096, sizeof(*seen));
	if (!seen || nl_open(&nl, NETLINK_ROUTE, 0, 0)) {
		free(seen);
		return -ENOMEM;
	}
	for (pass = 0; pass < 2 && fd < 0; pass++) {
		d = opendir(pass == 0 ? "/run/netns" : "/proc");
		while (d && fd < 0 && (de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			if (pass == 0)
				snprintf(path, sizeof(path), "/run/netns/%s", de->d_name);
			else if (de->d_name[0] >= '0' && de->d_name[0] <= '9')
				snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
			else
				continue;
			fd = ns_try(&nl, path, nsid, seen, &nseen);
		}
		if (d)
			closedir(d);
	}
	nl_close(&nl);
	free(seen);
	return fd < 0 ? -ESRCH : fd;
}

/* GRO of device ifindex in the namespace nsfd: read into *val, or with
 * set, write *val. 0 or -errno. The process enters that namespace for the
 * ioctl and comes back (espx commands are single-threaded). */
static int gro_io(int nsfd, int ifindex, int *val, int set)
{
	struct ethtool_value ev = { .cmd = set ? ETHTOOL_SGRO : ETHTOOL_GGRO,
				    .data = set ? (__u32)*val : 0 };
	struct ifreq ifr = { 0 };
	int self, sock = -1, err = 0;

	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	if (setns(nsfd, CLONE_NEWNET)) {
		err = -errno;
		close(self);
		return err;
	}
	if (!if_indextoname((unsigned int)ifindex, ifr.ifr_name)) {
		err = -ENODEV;
		goto back;
	}
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		err = -errno;
		goto back;
	}
	ifr.ifr_data = (void *)&ev;
	if (ioctl(sock, SIOCETHTOOL, &ifr))
		err = -errno;
	else if (!set)
		*val = !!ev.data;
	close(sock);
back:
	if (setns(self, CLONE_NEWNET) && !err)
		err = -errno;
	close(self);
	return err;
}

/* The peer's GRO, where the veth dev's other end is: read or write. */
static int peer_gro(unsigned int ifindex, int *val, int set)
{
	struct link_desc d;
	int fd, err;

	err = link_describe(ifindex, &d);
	if (err)
		return err;
	if (strcmp(d.kind, "veth") || !d.peer_ifindex)
		return -ENODEV;
	fd = ns_open_by_id(d.peer_nsid);
	if (fd < 0)
		return fd;
	err = gro_io(fd, d.peer_ifindex, val, set);
	close(fd);
	return err;
}

/* /run/espx/<root>.<dev>.pod: "dev_ifindex gro_was" (gro_was -1: not
 * changed by espx). */
static void saved_path(char *buf, size_t n, const char *ifname)
{
	const char *root = strrchr(espx_pin_root(), '/');

	snprintf(buf, n, ESPX_RUN_DIR "/%s.%s.pod", root ? root + 1 : "espx", ifname);
}

/* Put back the pod end's GRO if espx changed it and the device is the one
 * it was; forget the record. */
static void gro_restore(const char *ifname)
{
	unsigned int idx = 0;
	char path[300];
	int was = -1;
	FILE *f;

	saved_path(path, sizeof(path), ifname);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fscanf(f, "%u %d", &idx, &was) != 2)
		was = -1;
	fclose(f);
	if (was >= 0 && idx && idx == if_nametoindex(ifname) && peer_gro(idx, &was, 1))
		pr_warn("%s: GRO at the pod's end could not be put back (%s)\n", ifname,
			"set it with ethtool -K in the pod's namespace");
	unlink(path);
}

/* GRO on at the pod's end, the old value saved first. */
static int gro_apply(const char *ifname, unsigned int ifindex)
{
	char path[300];
	int was = 0, on = 1, err;
	FILE *f;

	err = peer_gro(ifindex, &was, 0);
	if (err) {
		pr_warn("%s: cannot reach the pod's end of the veth to read its GRO setting: %s\n",
			ifname, strerror(-err));
		return err;
	}
	saved_path(path, sizeof(path), ifname);
	f = fopen(path, "we");
	if (!f) {
		pr_warn("saving %s's pod-end setting in %s: %s\n", ifname, path, strerror(errno));
		return -errno;
	}
	fprintf(f, "%u %d\n", ifindex, was ? -1 : 0);
	if (fclose(f)) {
		unlink(path);
		return -EIO;
	}
	if (was)
		return 0;
	err = peer_gro(ifindex, &on, 1);
	if (err) {
		pr_warn("%s: turning GRO on at the pod's end: %s\n", ifname, strerror(-err));
		unlink(path);
	}
	return err;
}

/* A pinned link whose device is gone (the pod was deleted) is stale. */
static int link_defunct(const char *path)
{
	unsigned int ifindex = 0;
	int fd = bpf_obj_get(path), id;

	if (fd < 0)
		return 0;
	id = link_prog_id(fd, &ifindex);
	close(fd);
	return id >= 0 && !ifindex;
}

int pod_attach(const char *ifname)
{
	char path[300];
	struct link_desc d;
	struct espx *skel = NULL;
	struct bpf_devmap_val dv = { 0 };
	unsigned int ifindex = if_nametoindex(ifname);
	int lock, err, lfd = -1, gro_done = 0, mapped = 0, map_fd;
	struct stat st;

	if (!ifindex) {
		pr_warn("no device named '%s'\n", ifname);
		return -ENODEV;
	}
	err = link_describe(ifindex, &d);
	if (!err && strcmp(d.kind, "veth")) {
		pr_warn("--redirect is for a pod's veth (its node-side end); %s is %s%s\n", ifname,
			d.kind[0] ? "a " : "not a virtual device", d.kind);
		return -EINVAL;
	}
	if (err) {
		pr_warn("reading %s: %s\n", ifname, strerror(-err));
		return err;
	}
	lock = espx_load_lock();
	if (lock < 0)
		return lock;
	if (nsstate_bpffs(0) || espx_attached_count(NULL) == 0) {
		pr_warn("attach espx to the uplink first ('espx attach UPLINK'): the fast path encrypts for it\n");
		err = -ENOENT;
		goto out;
	}
	espx_link_pin_path(path, sizeof(path), ifname, POD_KIND);
	if (!stat(path, &st)) {
		if (!link_defunct(path)) {
			pr_warn("the fast path is already on for %s; 'espx detach %s' turns it off\n",
				ifname, ifname);
			err = -EEXIST;
			goto out;
		}
		espx_drop_link(path);	/* left by a pod that was deleted */
		gro_restore(ifname);
	}
	skel = espx_dp_load(1, &err);
	if (!skel)
		goto out;
	err = gro_apply(ifname, ifindex);
	if (err)
		goto out;
	gro_done = 1;
	map_fd = bpf_map__fd(skel->maps.espx_redirect);
	dv.ifindex = ifindex;
	if (bpf_map_update_elem(map_fd, &ifindex, &dv, BPF_ANY)) {
		err = -errno;
		pr_warn("adding %s to espx_redirect: %s\n", ifname, strerror(-err));
		goto out;
	}
	mapped = 1;
	lfd = bpf_link_create(bpf_program__fd(skel->progs.espx_pod_tx), (int)ifindex,
			      BPF_TCX_INGRESS, NULL);
	if (lfd < 0) {
		err = -errno;
		pr_warn("attaching tcx ingress to %s: %s\n", ifname, strerror(-err));
		goto out;
	}
	if (bpf_obj_pin(lfd, path)) {
		err = -errno;
		pr_warn("pinning the link for %s: %s\n", ifname, strerror(-err));
		goto out;
	}
	printf("fast path on for %s: XDP redirect target, tcx ingress %s (prog id %d)\n",
	       ifname, bpf_program__name(skel->progs.espx_pod_tx), link_prog_id(lfd, NULL));
	err = 0;
out:
	if (lfd >= 0)
		close(lfd);	/* on failure nothing was pinned: this detaches */
	if (err && mapped)
		bpf_map_delete_elem(bpf_map__fd(skel->maps.espx_redirect), &ifindex);
	if (err && gro_done)
		gro_restore(ifname);
	espx__destroy(skel);
	espx_unlock(lock);
	return err;
}

/* Everything for one device, the lock held. */
static int pod_off(const char *ifname, int map_fd)
{
	char path[300], saved[300];
	unsigned int ifindex = if_nametoindex(ifname);
	struct stat st;
	int r;

	espx_link_pin_path(path, sizeof(path), ifname, POD_KIND);
	saved_path(saved, sizeof(saved), ifname);
	if (stat(path, &st) && stat(saved, &st))
		return -ENOENT;
	if (ifindex && map_fd >= 0)
		bpf_map_delete_elem(map_fd, &ifindex);
	r = espx_drop_link(path);
	gro_restore(ifname);
	return r < 0 ? r : 0;
}

int pod_detach(const char *ifname)
{
	char path[300], saved[300];
	struct espx_dp dp;
	struct stat st;
	int lock, err;

	if (nsstate_bpffs(0))
		return -ENOENT;
	/* a saved GRO record without its pin (espx stopped between the two)
	 * is put back too */
	espx_link_pin_path(path, sizeof(path), ifname, POD_KIND);
	saved_path(saved, sizeof(saved), ifname);
	if (stat(path, &st) && stat(saved, &st))
		return -ENOENT;
	lock = espx_lock();
	if (lock < 0)
		return -EBUSY;
	espx_dp_init(&dp);
	err = pod_off(ifname, espx_dp_try(&dp, ESPX_MAP_REDIRECT));
	espx_dp_close(&dp);
	espx_unlock(lock);
	if (!err)
		printf("fast path off for %s\n", ifname);
	return err;
}

void pod_detach_all(void)
{
	char dir[256], dev[IF_NAMESIZE + 8], kind[8], prefix[96];
	const char *root = strrchr(espx_pin_root(), '/');
	struct espx_dp dp;
	struct dirent *de;
	size_t pl, nl;
	DIR *d;

	espx_pin_path(dir, sizeof(dir), ESPX_PIN_LINKS, "");
	espx_dp_init(&dp);
	d = opendir(dir);
	while (d && (de = readdir(d)))
		if (!espx_link_pin_parse(de->d_name, dev, sizeof(dev), kind, sizeof(kind)) &&
		    !strcmp(kind, POD_KIND))
			pod_off(dev, espx_dp_try(&dp, ESPX_MAP_REDIRECT));
	if (d)
		closedir(d);
	/* saved GRO records whose pin is gone (saved_path: <root>.<dev>.pod) */
	snprintf(prefix, sizeof(prefix), "%s.", root ? root + 1 : "espx");
	pl = strlen(prefix);
	d = opendir(ESPX_RUN_DIR);
	while (d && (de = readdir(d))) {
		nl = strlen(de->d_name);
		if (nl > pl + 4 && nl - pl - 4 < sizeof(dev) && !strncmp(de->d_name, prefix, pl) &&
		    !strcmp(de->d_name + nl - 4, ".pod")) {
			snprintf(dev, sizeof(dev), "%.*s", (int)(nl - pl - 4), de->d_name + pl);
			pod_off(dev, espx_dp_try(&dp, ESPX_MAP_REDIRECT));
		}
	}
	if (d)
		closedir(d);
	espx_dp_close(&dp);
}
