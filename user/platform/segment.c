// SPDX-License-Identifier: GPL-2.0
/* The GSO segmenter pair beside an attached device (segment.h). */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include "common/log.h"
#include "platform/devcfg.h"
#include "platform/nl.h"
#include "platform/pins.h"
#include "platform/segment.h"

#define SEG_NAME_LEN	24	/* "espxs" + ifindex + a/b: under IFNAMSIZ in practice */

static void seg_names(unsigned int dev_ifindex, char *a, char *b)
{
	snprintf(a, SEG_NAME_LEN, "espxs%ua", dev_ifindex);
	snprintf(b, SEG_NAME_LEN, "espxs%ub", dev_ifindex);
}

/* Send one rtnetlink request and wait for its ack: 0 or -errno. */
static int rtnl_talk(struct nlmsghdr *nlh)
{
	struct nl nl;
	int err;

	err = nl_open(&nl, NETLINK_ROUTE, 0, 0);
	if (err)
		return err;
	err = nl_request(&nl, nlh, NULL, NULL);
	nl_close(&nl);
	return err;
}

static int veth_pair_add(const char *a, const char *b, unsigned int mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlattr *linkinfo, *data, *peer;
	struct ifinfomsg *ifi, *pifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, a);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	mnl_attr_put_u32(nlh, IFLA_GSO_MAX_SEGS, 1);	/* segment on the way out */
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	pifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifi));
	pifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, b);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	return rtnl_talk(nlh);
}

static int link_up(const char *name)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)if_nametoindex(name);
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return ifi->ifi_index ? rtnl_talk(nlh) : -ENODEV;
}

static int link_del(const char *name)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_DELLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)if_nametoindex(name);
	return ifi->ifi_index ? rtnl_talk(nlh) : 0;
}

/* No IPv6 (no link-local address, no router solicitations) on the pair. */
static void no_ipv6(const char *name)
{
	char path[320];
	FILE *f;

	snprintf(path, sizeof(path), "%s/ipv6/conf/%s/disable_ipv6", devcfg_proc_sys_net(), name);
	f = fopen(path, "we");
	if (f) {
		fputs("1\n", f);
		fclose(f);
	}
}


int seg_create(const char *dev, int prog_fd, int map_fd)
{
	char pin_path[300];
	unsigned int di = if_nametoindex(dev), ai, bi, mtu = 1500;
	char a[SEG_NAME_LEN], b[SEG_NAME_LEN];
	int err, lfd = -1;
	FILE *f;
	char path[128];

	if (!di)
		return -ENODEV;
	seg_names(di, a, b);
	link_del(a);	/* left by a crash */
	snprintf(path, sizeof(path), "/sys/class/net/%s/mtu", dev);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%u", &mtu) != 1)
			mtu = 1500;
		fclose(f);
	}
	err = veth_pair_add(a, b, mtu);
	if (err) {
		pr_warn("creating the GSO segmenter %s/%s for %s: %s\n", a, b, dev, strerror(-err));
		return err;
	}
	no_ipv6(a);
	no_ipv6(b);
	ai = if_nametoindex(a);
	bi = if_nametoindex(b);
	espx_link_pin_path(pin_path, sizeof(pin_path), b, "tc");
	unlink(pin_path);
	if ((err = link_up(a)) || (err = link_up(b))) {
		pr_warn("bringing up %s/%s: %s\n", a, b, strerror(-err));
		goto fail;
	}
	lfd = bpf_link_create(prog_fd, (int)bi, BPF_TCX_INGRESS, NULL);
	if (lfd < 0 || bpf_obj_pin(lfd, pin_path)) {
		err = -errno;
		pr_warn("attaching the segmenter's return path on %s: %s\n", b, strerror(-err));
		goto fail;
	}
	close(lfd);
	if (bpf_map_update_elem(map_fd, &di, &ai, BPF_ANY) ||
	    bpf_map_update_elem(map_fd, &bi, &di, BPF_ANY)) {
		err = -errno;
		unlink(pin_path);
		goto fail;
	}
	return 0;
fail:
	if (lfd >= 0)
		close(lfd);
	link_del(a);
	return err;
}

void seg_destroy(unsigned int dev_ifindex, int map_fd)
{
	char a[SEG_NAME_LEN], b[SEG_NAME_LEN];
	unsigned int bi;

	char pin_path[300];

	seg_names(dev_ifindex, a, b);
	bi = if_nametoindex(b);
	espx_link_pin_path(pin_path, sizeof(pin_path), b, "tc");
	unlink(pin_path);
	if (map_fd >= 0) {
		bpf_map_delete_elem(map_fd, &dev_ifindex);
		if (bi)
			bpf_map_delete_elem(map_fd, &bi);
	}
	link_del(a);	/* takes b with it */
}
