// SPDX-License-Identifier: GPL-2.0
/* The datapath onto devices and off again (transition.h). */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "espx.skel.h"
#include "espx_common.h"
#include "espx_policy.h"
#include "common/log.h"
#include "platform/datapath.h"
#include "platform/sa_install.h"
#include "platform/devcfg.h"
#include "platform/handover.h"
#include "platform/lock.h"
#include "platform/nsstate.h"
#include "platform/pins.h"
#include "platform/podpath.h"
#include "platform/segment.h"
#include "platform/transition.h"
#include "platform/xdp_dispatch.h"
#include "platform/xfrm_nl.h"

/* How long a transition may hold protected traffic back: long enough for
 * thousands of SAs' netlink hand-over under load, short enough that a
 * command killed in between does not leave traffic blocked for long. */
#define GUARD_NS	(60ULL * 1000000000ULL)

/* Arm or clear the transition guard (espx_config.guard_until): while it
 * holds, transmit drops what a policy protects. */
static int guard_set(int cfg_fd, int on)
{
	struct espx_config cfg;
	struct timespec ts;
	__u32 zero = 0;

	if (cfg_fd < 0 || bpf_map_lookup_elem(cfg_fd, &zero, &cfg))
		return -ENOENT;
	cfg.guard_until = 0;
	if (on && !clock_gettime(CLOCK_BOOTTIME, &ts))
		cfg.guard_until = (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec + GUARD_NS;
	if (bpf_map_update_elem(cfg_fd, &zero, &cfg, BPF_ANY)) {
		pr_warn("%s the transition guard: %s\n", on ? "arming" : "clearing", strerror(errno));
		return -errno;
	}
	return 0;
}

static int count_out_policy(const struct nlmsghdr *nlh, void *data)
{
	struct xnl_pol p;

	/* a bypass (allow without template) protects nothing */
	if (nlh->nlmsg_type == XFRM_MSG_NEWPOLICY && !xnl_pol_decode(nlh, &p) && !p.skip &&
	    p.pol.dir == ESPX_POL_OUT &&
	    (p.pol.action == ESPX_POL_BLOCK || (p.pol.flags & ESPX_POL_F_TMPL)))
		(*(int *)data)++;
	return 0;
}

/* Outbound policies the kernel has while espx has none: attaching would
 * turn the kernel's IPsec off on the device (disable_xfrm) with nothing in
 * its place, and what they protect would leave in plaintext (an attach
 * after `espx unload`, or before the daemon's first sync). Their number,
 * 0 when espx has outbound policies or the kernel has no XFRM. */
static int kernel_out_uncovered(int cfg_fd)
{
	struct espx_config cfg;
	struct nl nl;
	__u32 zero = 0, h;
	int n = 0;

	if (bpf_map_lookup_elem(cfg_fd, &zero, &cfg))
		return 0;
	h = cfg.active & 1;
	if (cfg.count[h][ESPX_POL_OUT] || cfg.nhash[h][ESPX_POL_OUT] || xnl_open(&nl, 0, 0))
		return 0;
	if (nl_dump(&nl, XFRM_MSG_GETPOLICY, count_out_policy, &n))
		n = 0;
	nl_close(&nl);
	return n;
}

const char *xdp_mode_name(int attach_mode)
{
	switch (attach_mode) {
	case XDP_ATTACHED_DRV: return "native";
	case XDP_ATTACHED_SKB: return "generic";
	case XDP_ATTACHED_HW: return "offload";
	case XDP_ATTACHED_MULTI: return "multi";
	}
	return "none";
}

/* The kernel policy that accepts the IPv6 espx decrypted (ESPX_RX_MARK in
 * espx_common.h; xnl_rx_mark_policy), when a kernel policy would check it
 * (xnl_rx_mark_needed; the daemon follows later changes). Without XFRM
 * netlink or IPv6 there is no kernel check to pass. Should it fail, espx
 * carries on, saying that such IPv6 stays dropped by the kernel for
 * addresses on other devices than espx's. */
static void rx_mark_policy_set(void)
{
	int err = xnl_rx_mark_needed();

	if (!err)
		return;		/* no kernel policy checks what espx decrypts */
	err = xnl_rx_mark_policy(1);
	if (err && err != -EPROTONOSUPPORT && err != -EAFNOSUPPORT)
		pr_warn("adding the kernel policy that accepts the IPv6 espx decrypted (dir in, mark 0x%08x): %s; the kernel's inbound check may drop it for addresses on other devices than espx's\n",
			ESPX_RX_MARK, strerror(-err));
}

static void rx_mark_policy_clear(void)
{
	int err = xnl_rx_mark_policy(0);

	if (err && err != -EPROTONOSUPPORT && err != -EAFNOSUPPORT)
		pr_warn("removing espx's kernel policy (dir in, mark 0x%08x): %s; 'ip xfrm policy delete dir in src ::/0 dst ::/0 mark 0x%08x' removes it\n",
			ESPX_RX_MARK, strerror(-err), ESPX_RX_MARK);
}

int espx_attach(const char *ifname, enum espx_xdp_mode mode, unsigned int flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, xo);
	char xpath[256], tpath[256], rpath[256];
	struct espx *skel = NULL;
	int xfd = -1, tfd = -1, rfd = -1, lock, err, fresh = 0, devcfg_done = 0, cfg_fd = -1;
	int guarded = 0, joined = 0;
	unsigned int ifindex;
	struct stat st;

	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		pr_warn("no device named '%s'\n", ifname);
		return -ENODEV;
	}
	lock = espx_load_lock();
	if (lock < 0)
		return lock;
	espx_link_pin_path(xpath, sizeof(xpath), ifname, "xdp");
	espx_link_pin_path(tpath, sizeof(tpath), ifname, "tc");
	espx_link_pin_path(rpath, sizeof(rpath), ifname, "rx");
	nsstate_bpffs(0);
	nsstate_warn_old();
	if (!stat(xpath, &st) || !stat(tpath, &st) || !stat(rpath, &st)) {
		pr_warn("espx is already attached to %s; run 'espx detach %s' first\n",
			ifname, ifname);
		err = -EEXIST;
		goto out;
	}
	fresh = stat(espx_pin_root(), &st) != 0;
	skel = espx_dp_load(1, &err);
	if (!skel)
		goto out;
	/* Order (docs/architecture.md, "Transitions"): guard, numbers and
	 * window from the kernel, links, the kernel's IPsec off here, numbers
	 * again (final: the kernel stopped), segmenter, pins, guard off. In
	 * between, protected traffic is encrypted by the kernel or dropped by
	 * the guard, never sent plaintext, never numbered by both. */
	cfg_fd = bpf_map__fd(skel->maps.espx_config);
	err = kernel_out_uncovered(cfg_fd);
	if (err > 0) {
		pr_warn("the kernel has %d outbound IPsec policies that protect or block, and espx none: attaching would turn the kernel's IPsec off on %s with nothing in its place, and what they protect would leave in plaintext; run 'espx daemon dev %s' (it mirrors them before it attaches) or add them with 'espx policy add'\n",
			err, ifname, ifname);
		err = -EPERM;
		goto out;
	}
	err = guard_set(cfg_fd, 1);
	if (err)
		goto out;
	guarded = 1;
	err = handover_take();	/* the window before XDP decrypts anything */
	if (err < 0)
		goto out;

	if (mode == ESPX_XDP_NATIVE)
		xo.flags = XDP_FLAGS_DRV_MODE;
	else if (mode == ESPX_XDP_GENERIC)
		xo.flags = XDP_FLAGS_SKB_MODE;
	if ((flags & ESPX_ATTACH_DISPATCHER) || xdp_dispatch_present(ifindex)) {
		/* beside other XDP programs: libxdp's dispatcher, which loads
		 * a second open of the object as its extension */
		struct espx *rx = espx_dp_open_rx(&err);

		if (!rx)
			goto out;
		xfd = xdp_dispatch_join(ifname, ifindex, rx->obj, "espx_xdp_rx", xo.flags);
		espx__destroy(rx);
		if (xfd < 0) {
			err = xfd;
			goto out;
		}
		joined = 1;
	} else {
		xfd = bpf_link_create(bpf_program__fd(skel->progs.espx_xdp_rx), (int)ifindex, BPF_XDP, &xo);
	}
	if (xfd < 0) {
		err = -errno;
		if (err == -EBUSY || err == -EEXIST)
			pr_warn("%s already has an XDP program, not in libxdp's dispatcher; remove it first (ip link set dev %s xdp off, or xdp-loader unload %s --all)\n",
				ifname, ifname, ifname);
		else if (mode == ESPX_XDP_NATIVE && err == -EOPNOTSUPP)
			pr_warn("%s's driver has no native XDP; use --xdp-mode generic or auto\n", ifname);
		else
			pr_warn("attaching XDP to %s: %s\n", ifname, strerror(-err));
		goto out;
	}
	tfd = bpf_link_create(bpf_program__fd(skel->progs.espx_tc_tx), (int)ifindex,
			      BPF_TCX_EGRESS, NULL);
	if (tfd < 0) {
		err = -errno;
		pr_warn("attaching tcx egress to %s: %s\n", ifname, strerror(-err));
		goto out;
	}
	/* the IPv6 XDP decrypts gets the mark the kernel's check accepts */
	rfd = bpf_link_create(bpf_program__fd(skel->progs.espx_tc_rx), (int)ifindex,
			      BPF_TCX_INGRESS, NULL);
	if (rfd < 0) {
		err = -errno;
		pr_warn("attaching tcx ingress to %s: %s\n", ifname, strerror(-err));
		goto out;
	}
	rx_mark_policy_set();
	err = devcfg_apply(ifname);
	if (err)
		goto out;
	devcfg_done = 1;
	/* the kernel stopped encrypting here (devcfg): continue above its numbers */
	err = handover_take();
	if (err < 0)
		goto out;
	err = seg_create(ifname, bpf_program__fd(skel->progs.espx_seg_rx),
			 bpf_map__fd(skel->maps.espx_seg));
	if (err)
		goto out;
	if (bpf_obj_pin(xfd, xpath) || bpf_obj_pin(tfd, tpath) || bpf_obj_pin(rfd, rpath)) {
		err = -errno;
		pr_warn("pinning links for %s: %s\n", ifname, strerror(-err));
		unlink(xpath);
		unlink(tpath);
		unlink(rpath);
		seg_destroy(ifindex, bpf_map__fd(skel->maps.espx_seg));
		goto out;
	}
	{
		LIBBPF_OPTS(bpf_xdp_query_opts, q);

		bpf_xdp_query((int)ifindex, 0, &q);
		printf("attached to %s: xdp %s (%s%s, prog id %d), tc egress %s (tcx, prog id %d), tc ingress %s (tcx, prog id %d); maps in %s\n",
		       ifname, bpf_program__name(skel->progs.espx_xdp_rx),
		       xdp_mode_name(q.attach_mode),
		       !joined ? "" : xdp_dispatch_present(ifindex) ? ", in libxdp's dispatcher" :
		       ", through libxdp but alone: the kernel refused its dispatcher",
		       link_prog_id(xfd, NULL),
		       bpf_program__name(skel->progs.espx_tc_tx), link_prog_id(tfd, NULL),
		       bpf_program__name(skel->progs.espx_tc_rx), link_prog_id(rfd, NULL),
		       espx_pin_root());
	}
	err = 0;
out:
	/* Closing the link fds leaves the pinned links in place; on failure
	 * nothing was pinned, so closing them detaches what was attached. */
	if (err && joined)
		xdp_dispatch_leave(ifname, xfd);	/* not held by a link of espx's */
	if (xfd >= 0)
		close(xfd);
	if (tfd >= 0)
		close(tfd);
	if (rfd >= 0)
		close(rfd);
	if (err && rfd >= 0 && !espx_attached_count(NULL))
		rx_mark_policy_clear();	/* set by this attach, nothing else uses it */
	if (err && devcfg_done)
		devcfg_restore(ifname);
	if (guarded)
		guard_set(cfg_fd, 0);
	espx__destroy(skel);
	if (err && fresh)	/* leave nothing half-installed */
		espx_remove_all_pins();
	espx_unlock(lock);
	return err;
}

int espx_detach(const char *ifname)
{
	char xpath[300], tpath[300], rpath[300];
	int lock, a, b, c, cfg_fd, split;
	unsigned int idx = if_nametoindex(ifname);
	struct espx_dp dp;
	struct stat st;

	if (nsstate_bpffs(0)) {
		pr_warn("espx is not attached to %s (no bpffs, nothing pinned)\n", ifname);
		return -ENOENT;
	}
	a = pod_detach(ifname);		/* a pod's veth with the fast path */
	if (a != -ENOENT)
		return a;
	lock = espx_lock();
	if (lock < 0)
		return -EBUSY;
	espx_link_pin_path(xpath, sizeof(xpath), ifname, "xdp");
	espx_link_pin_path(tpath, sizeof(tpath), ifname, "tc");
	espx_link_pin_path(rpath, sizeof(rpath), ifname, "rx");
	if (stat(xpath, &st) && stat(tpath, &st) && stat(rpath, &st)) {
		espx_unlock(lock);
		pr_warn("espx is not attached to %s ('espx status' lists where it is)\n", ifname);
		return -ENOENT;
	}
	/* Order (docs/architecture.md, "Transitions"): guard (espx sends
	 * nothing protected from here), the segmenter gone (nothing comes back
	 * around it), XDP gone (espx's window stops moving), numbers and
	 * window to the kernel, the kernel's IPsec on here, TC gone, guard
	 * off. The hand-back is the last NEWAE while the kernel cannot send
	 * here: NEWAE sets its number, and one sent while it sends would set
	 * it back. Interrupted anywhere, a second detach redoes what is left;
	 * every step is safe to repeat. */
	espx_dp_init(&dp);
	cfg_fd = espx_dp_fd(&dp, ESPX_MAP_CONFIG);
	guard_set(cfg_fd, 1);
	if (idx)
		seg_destroy(idx, espx_dp_fd(&dp, ESPX_MAP_SEG));
	a = espx_drop_link(xpath);
	/* espx stopped sending here: the kernel continues above espx's numbers
	 * (below a jump of espx's, if espx still sends on other devices) */
	split = espx_attached_count(ifname) > 0;
	handover_give(split);
	if (devcfg_restore(ifname))
		pr_warn("%s's settings could not all be restored (above); what was not stays saved in %s\n",
			ifname, ESPX_RUN_DIR);
	b = espx_drop_link(tpath);
	c = espx_drop_link(rpath);	/* after XDP: nothing decrypted comes any more */
	if (!espx_attached_count(NULL))
		rx_mark_policy_clear();
	guard_set(cfg_fd, 0);
	espx_dp_close(&dp);
	espx_unlock(lock);
	if (a < 0 || b < 0 || c < 0)
		return a < 0 ? a : b < 0 ? b : c;
	printf("detached from %s\n", ifname);
	return 0;
}

/* Before the pins go: hand every attached device back to the kernel in
 * detach's order (guard, segmenters, numbers, the kernel's IPsec, links,
 * window), so an unload never lets the kernel reuse espx's numbers. */
static int unload_handback(void)
{
	char dir[256], path[512], dev[IF_NAMESIZE + 8], kind[8];
	int cfg_fd, n = espx_attached_count(NULL), pass, unrestored = 0;
	struct espx_dp dp;
	struct dirent *de;
	DIR *d;

	if (!n)
		return 0;
	espx_dp_init(&dp);
	cfg_fd = espx_dp_fd(&dp, ESPX_MAP_CONFIG);
	guard_set(cfg_fd, 1);
	espx_pin_path(dir, sizeof(dir), ESPX_PIN_LINKS, "");
	/* pass 0: segmenters and XDP links; the hand-back; pass 1: the
	 * kernel's IPsec back and the TC links (the hand-back is the last
	 * NEWAE while the kernel cannot send: see espx_detach) */
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1)
			handover_give(0);
		d = opendir(dir);
		while (d && (de = readdir(d))) {
			if (espx_link_pin_parse(de->d_name, dev, sizeof(dev), kind, sizeof(kind)) ||
			    strcmp(kind, pass == 0 ? "xdp" : "tc") || !strncmp(dev, "espxs", 5))
				continue;
			if (pass == 0 && if_nametoindex(dev))
				seg_destroy(if_nametoindex(dev), -1);
			if (pass == 1 && devcfg_restore(dev))
				unrestored++;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			espx_drop_link(path);
		}
		if (d)
			closedir(d);
	}
	guard_set(cfg_fd, 0);
	espx_dp_close(&dp);
	return unrestored;
}

/* The AEAD backend's contexts: the SA map cannot end them when it goes. */
static void unload_aead(void)
{
	struct espx_sa_fds fds;
	struct espx_dp dp;

	espx_dp_init(&dp);
	fds.sa_map = espx_dp_try(&dp, ESPX_MAP_SA);
	fds.setup_map = espx_dp_try(&dp, ESPX_MAP_SA_SETUP);
	fds.crypto_init_prog = espx_dp_try(&dp, ESPX_PROG_SA_CRYPTO_INIT);
	fds.ghash_init_prog = fds.hwm_map = -1;
	if (fds.sa_map >= 0)
		espx_sa_release_all(&fds);
	espx_dp_close(&dp);
}

int espx_unload(void)
{
	int lock, err, unrestored;

	if (nsstate_bpffs(0) || access(espx_pin_root(), F_OK)) {
		pr_warn("espx is not loaded here (nothing in %s)\n", espx_pin_root());
		return -ENOENT;
	}
	lock = espx_lock();
	if (lock < 0)
		return -EBUSY;
	pod_detach_all();
	unrestored = unload_handback();
	unload_aead();
	err = espx_remove_all_pins();
	rx_mark_policy_clear();
	/* what could not be put back stays saved: the next attach keeps it as
	 * the original, the detach after it restores it */
	if (!unrestored)
		devcfg_forget_all();
	espx_unlock(lock);
	if (!err)
		printf("espx unloaded: links, programs and maps removed from %s\n",
		       espx_pin_root());
	if (unrestored) {
		pr_warn("the settings of %d device(s) were not restored (above); the originals stay in %s\n",
			unrestored, ESPX_RUN_DIR);
		err = err ? err : -EIO;
	}
	return err;
}
