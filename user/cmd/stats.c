// SPDX-License-Identifier: GPL-2.0
/* `espx stats`: SA counters and drop/pass-through reasons. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "espx_drop.h"
#include "cmd/show.h"
#include "common/json.h"
#include "common/log.h"
#include "platform/datapath.h"
#include "cmd/stats.h"
#include "common/util.h"
#include "model/xfrm_parse.h"

#define N_SLOTS (ESPX_DROP__MAX * ESPX_DIR__MAX)

static const char *dir_name(unsigned int dir)
{
	return dir == ESPX_DIR_IN ? "in" : "out";
}

/* Sum the per-CPU counters of every (reason, dir) slot. */
static int drops_read(struct espx_drop_count sum[N_SLOTS])
{
	struct espx_drop_count *v;
	int fd, ncpu, cpu, err = 0;
	__u32 key;

	memset(sum, 0, N_SLOTS * sizeof(sum[0]));
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0) {
		pr_warn("stats: cannot count possible CPUs: %s\n", strerror(-ncpu));
		return ncpu ? ncpu : -EINVAL;
	}
	fd = espx_obj_open(ESPX_MAP_DROPS);
	if (fd < 0)
		return fd;
	/* per-CPU values come back one per possible CPU, 8-byte aligned */
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v) {
		close(fd);
		return -ENOMEM;
	}
	for (key = 0; key < N_SLOTS; key++) {
		if (bpf_map_lookup_elem(fd, &key, v)) {
			err = -errno;
			pr_warn("stats: reading espx_drops[%u]: %s\n", key, strerror(-err));
			break;
		}
		for (cpu = 0; cpu < ncpu; cpu++) {
			sum[key].packets += v[cpu].packets;
			sum[key].bytes += v[cpu].bytes;
		}
	}
	free(v);
	close(fd);
	return err;
}

static void drops_text(const struct espx_drop_count sum[N_SLOTS])
{
	unsigned int r, d, any = 0;

	for (r = 0; r < ESPX_DROP__MAX; r++) {
		for (d = 0; d < ESPX_DIR__MAX; d++) {
			const struct espx_drop_count *c = &sum[r * ESPX_DIR__MAX + d];

			if (!c->packets && !c->bytes)
				continue;
			if (!any++)
				printf("drops and pass-throughs:\n  %-3s %-32s %14s %16s\n",
				       "dir", "reason", "packets", "bytes");
			printf("  %-3s %-32s %14llu %16llu\n", dir_name(d), espx_drop_name(r),
			       (unsigned long long)c->packets, (unsigned long long)c->bytes);
		}
	}
	if (!any)
		printf("drops and pass-throughs: none\n");
}

static void drops_json(struct jw *w, const struct espx_drop_count sum[N_SLOTS])
{
	unsigned int r, d;

	jw_obj_open(w, "drops");
	for (d = 0; d < ESPX_DIR__MAX; d++) {
		jw_obj_open(w, dir_name(d));
		for (r = 0; r < ESPX_DROP__MAX; r++) {
			jw_obj_open(w, espx_drop_name(r));
			jw_u64(w, "packets", sum[r * ESPX_DIR__MAX + d].packets);
			jw_u64(w, "bytes", sum[r * ESPX_DIR__MAX + d].bytes);
			jw_obj_close(w);
		}
		jw_obj_close(w);
	}
	jw_obj_close(w);
}

static int sas_print(struct pw *p)
{
	struct espx_sa_key *keys = NULL;
	struct espx_sa *sa;
	size_t n = 0, i;
	int fd, err;

	fd = espx_obj_open(ESPX_MAP_SA);
	if (fd < 0)
		return fd;
	sa = malloc(sizeof(*sa));
	err = sa ? sa_keys_sorted(fd, &keys, &n) : -ENOMEM;
	pw_arr_open(p, "sas");
	for (i = 0; !err && i < n; i++) {
		if (bpf_map_lookup_elem_flags(fd, &keys[i], sa, BPF_F_LOCK))
			continue;	/* deleted meanwhile */
		sa_stats_print(p, &keys[i], sa);
	}
	pw_arr_close(p);
	if (err)
		pr_warn("stats: reading espx_sa: %s\n", strerror(-err));
	if (sa)
		wipe(sa, sizeof(*sa));
	free(sa);
	free(keys);
	close(fd);
	return err;
}

int stats_cmd(int argc, char **argv, int json)
{
	struct espx_drop_count sum[N_SLOTS];
	struct pw p;
	int err;

	if (argc > 1) {
		pr_warn("stats: unexpected '%s'; it takes no arguments (only -j)\n", argv[1]);
		return 2;
	}
	/* read the counters first: on error print nothing half-done */
	err = drops_read(sum);
	if (err)
		return 1;
	pw_init(&p, stdout, json);
	pw_obj_open(&p, NULL);
	err = sas_print(&p);
	if (json) {
		drops_json(&p.w, sum);
		pw_obj_close(&p);
		pw_end(&p);
	} else if (!err) {
		drops_text(sum);
	}
	return err ? 1 : 0;
}
