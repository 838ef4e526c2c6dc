// SPDX-License-Identifier: GPL-2.0
/* `espx status` and `espx status --all` (status.h). */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cmd/status.h"
#include "common/json.h"
#include "common/log.h"
#include "common/print.h"
#include "platform/datapath.h"
#include "platform/heartbeat.h"
#include "platform/nsstate.h"
#include "platform/pins.h"
#include "platform/xdp_dispatch.h"
#include "platform/transition.h"

static long count_sas(void)
{
	char path[300];

	espx_obj_path(path, sizeof(path), ESPX_MAP_SA);
	return nsstate_count_sas(path);
}

/* Program id behind a pinned link, and its device; -1 if not there. The
 * receive program in libxdp's dispatcher is pinned itself (*in_disp = 1):
 * its device is the one of the pin's name. */
static int pinned_link(const char *ifname, const char *kind, unsigned int *ifindex, int *in_disp)
{
	char path[300];
	int fd, id, prog;

	espx_link_pin_path(path, sizeof(path), ifname, kind);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -1;
	prog = xdp_dispatch_is_prog(fd);
	id = link_prog_id(fd, ifindex);
	close(fd);
	if (prog && ifindex)
		*ifindex = if_nametoindex(ifname);
	if (in_disp)	/* libxdp attaches alone where the kernel refuses its dispatcher */
		*in_disp = prog && ifindex && *ifindex && xdp_dispatch_present(*ifindex);
	return id;
}

int espx_status(int json)
{
	struct espx_daemon_hb hb;
	enum hb_state hs = HB_NONE;
	__u64 age_ms = 0;
	int alive = 0;
	char line[512];
	char links[300];
	struct dirent *de;
	struct jw w;
	DIR *d = NULL;
	long sas = -1;

	if (!nsstate_bpffs(0)) {
		nsstate_warn_old();
		sas = count_sas();
		espx_pin_path(links, sizeof(links), NULL, ESPX_PIN_LINKS);
		d = opendir(links);
		hs = hb_now(&hb, &age_ms, &alive);
	} else {
		memset(&hb, 0, sizeof(hb));
	}
	jw_init(&w, stdout);
	if (json) {
		jw_obj_open(&w, NULL);
		jw_bool(&w, "loaded", sas >= 0);
		jw_str(&w, "pin_dir", espx_pin_root());
		jw_int(&w, "sa_count", sas < 0 ? 0 : sas);
		jw_obj_open(&w, "daemon");
		jw_str(&w, "state", hb_state_name(hs));
		jw_int(&w, "pid", hs == HB_NONE ? 0 : hb.pid);
		jw_bool(&w, "pid_alive", hs != HB_NONE && alive);
		jw_u64(&w, "heartbeat_age_ms", age_ms);
		jw_int(&w, "interval_ms", hs == HB_NONE ? 0 : hb.interval_ms);
		jw_u64(&w, "stale_after_ms", hs == HB_NONE ? 0 : hb_stale_after_ms(hb.interval_ms));
		jw_obj_close(&w);
		jw_arr_open(&w, "devices");
	} else if (sas < 0) {
		printf("espx is not loaded (no maps in %s)\n", espx_pin_root());
	} else {
		printf("maps in %s, %ld SA(s)\n", espx_pin_root(), sas);
		hb_describe(line, sizeof(line), hs, &hb, age_ms, alive);
		printf("%s\n", line);
	}
	while (d && (de = readdir(d))) {
		LIBBPF_OPTS(bpf_xdp_query_opts, q);
		char dev[IF_NAMESIZE + 8], kind[8], now[IF_NAMESIZE + 1] = "";
		unsigned int ifindex = 0;
		int xid, tid, rid, disp = 0;

		/* one entry per device, keyed by its xdp link */
		if (espx_link_pin_parse(de->d_name, dev, sizeof(dev), kind, sizeof(kind)) ||
		    strcmp(kind, "xdp"))
			continue;
		xid = pinned_link(dev, "xdp", &ifindex, &disp);
		tid = pinned_link(dev, "tc", NULL, NULL);
		rid = pinned_link(dev, "rx", NULL, NULL);
		if (ifindex && if_indextoname(ifindex, now))
			bpf_xdp_query((int)ifindex, 0, &q);
		if (json) {
			jw_obj_open(&w, NULL);
			jw_str(&w, "dev", dev);
			jw_int(&w, "ifindex", ifindex);
			jw_str(&w, "ifname_now", now);
			jw_str(&w, "xdp_mode", xdp_mode_name(q.attach_mode));
			jw_int(&w, "xdp_prog_id", xid);
			jw_bool(&w, "xdp_dispatcher", disp);
			jw_int(&w, "tc_prog_id", tid);
			jw_int(&w, "tc_ingress_prog_id", rid);
			jw_obj_close(&w);
		} else {
			printf("%s: xdp %s prog %d%s, tc egress (tcx) prog %d, tc ingress (tcx) prog %d%s\n",
			       dev, xdp_mode_name(q.attach_mode), xid,
			       disp ? " (in libxdp's dispatcher)" : "", tid, rid,
			       !now[0] ? " (device gone)" :
			       strcmp(now, dev) ? " (device renamed)" : "");
		}
	}
	if (json) {
		jw_arr_close(&w);
		jw_arr_open(&w, "fast_path");
	}
	/* pods' veths with the fast path (podpath.h), keyed by their pod link */
	if (d)
		rewinddir(d);
	while (d && (de = readdir(d))) {
		char dev[IF_NAMESIZE + 8], kind[8], now[IF_NAMESIZE + 1] = "";
		unsigned int ifindex = 0;
		int pid;

		if (espx_link_pin_parse(de->d_name, dev, sizeof(dev), kind, sizeof(kind)) ||
		    strcmp(kind, "pod"))
			continue;
		pid = pinned_link(dev, "pod", &ifindex, NULL);
		if (ifindex)
			if_indextoname(ifindex, now);
		if (json) {
			jw_obj_open(&w, NULL);
			jw_str(&w, "dev", dev);
			jw_int(&w, "ifindex", ifindex);
			jw_str(&w, "ifname_now", now);
			jw_int(&w, "tc_ingress_prog_id", pid);
			jw_obj_close(&w);
		} else {
			printf("%s: pod fast path, tc ingress (tcx) prog %d%s\n", dev, pid,
			       !now[0] ? " (device gone)" : strcmp(now, dev) ? " (device renamed)" : "");
		}
	}
	if (d)
		closedir(d);
	if (json) {
		jw_arr_close(&w);
		jw_obj_close(&w);
		jw_end(&w);
	}
	return 0;
}

/* One namespace of `status --all`, text or JSON. */
static void print_ns(struct pw *p, const struct ns_entry *e, unsigned long self)
{
	int i;

	pw_obj_open(p, NULL);
	pw_u64(p, PRINT_ANY, "netns_ino", "net-%llu", e->ino);
	pw_str(p, PRINT_ANY, "name", e->name[0] ? " (%s)" : "%s", e->name);
	pw_bool(p, PRINT_JSON, "self", NULL, e->ino == self);
	if (e->ino == self)
		pw_text(p, " [this namespace]");
	pw_str(p, PRINT_ANY, "state", ": %s", e->alive ? "alive" : "released");
	pw_u64(p, PRINT_ANY, "sa_count", ", %llu SA(s)", e->sas < 0 ? 0 : (unsigned long long)e->sas);
	pw_text(p, ", devices:");
	pw_arr_open(p, "devices");
	for (i = 0; i < e->ndevs; i++)
		pw_str(p, PRINT_ANY, NULL, " %s", e->devs[i]);
	pw_arr_close(p);
	if (!e->ndevs)
		pw_text(p, " none");
	pw_text(p, "\n");
	pw_obj_close(p);
}

int espx_status_all(int json)
{
	const struct ns_entry *gone;
	struct ns_entry *live = NULL;
	unsigned long self = espx_netns_ino();
	size_t nlive = 0, ngone, i;
	struct pw p;
	int err;

	/* no bpffs: no state anywhere */
	if (!nsstate_bpffs(0)) {
		nsstate_warn_old();
		err = nsstate_list(&live, &nlive);
		if (err) {
			pr_warn("listing the namespaces espx has state for: %s\n", strerror(-err));
			return err;
		}
	}
	gone = nsstate_released(&ngone);
	pw_init(&p, stdout, json);
	pw_arr_open(&p, NULL);
	for (i = 0; i < nlive; i++)
		print_ns(&p, &live[i], self);
	for (i = 0; i < ngone; i++)
		print_ns(&p, &gone[i], self);
	pw_arr_close(&p);
	if (!json && !nlive && !ngone)
		printf("espx has no state in any network namespace\n");
	pw_end(&p);
	free(live);
	return 0;
}
