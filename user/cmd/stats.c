// SPDX-License-Identifier: GPL-2.0
/* `espx stats`: SA counters and drop/pass-through reasons. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <stdio.h>
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
#include "platform/heartbeat.h"
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

/* --- Prometheus text exposition format (version 0.0.4) ------------------ */

/* What the exposition needs of one SA (no key material). */
struct prom_sa {
	struct espx_sa_key key;
	__u64 packets, bytes, replay, integrity;
	__u32 flags;
	int in;			/* its destination is an address of this namespace */
};

/* Is addr one of this namespace's own addresses? (an SA towards us is
 * inbound; XFRM itself keeps no direction on pre-6.10 kernels either) */
static int addr_is_local(const struct ifaddrs *ifa, const struct espx_sa_key *k)
{
	for (; ifa; ifa = ifa->ifa_next) {
		const struct sockaddr *sa = ifa->ifa_addr;

		if (!sa || sa->sa_family != k->family)
			continue;
		if (sa->sa_family == AF_INET &&
		    ((const struct sockaddr_in *)sa)->sin_addr.s_addr == k->daddr[0])
			return 1;
		if (sa->sa_family == AF_INET6 &&
		    !memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr, k->daddr, 16))
			return 1;
	}
	return 0;
}

static int prom_sas_read(struct prom_sa **out, size_t *nout)
{
	struct espx_sa_key *keys = NULL;
	struct ifaddrs *ifa = NULL;
	struct prom_sa *ps = NULL;
	struct espx_sa *sa;
	size_t n = 0, i, m = 0;
	int fd, err;

	fd = espx_obj_open(ESPX_MAP_SA);
	if (fd < 0)
		return fd;
	sa = malloc(sizeof(*sa));
	err = sa ? sa_keys_sorted(fd, &keys, &n) : -ENOMEM;
	if (!err && n && !(ps = calloc(n, sizeof(*ps))))
		err = -ENOMEM;
	if (!err && getifaddrs(&ifa))
		ifa = NULL;	/* no direction then: every SA says "out" */
	for (i = 0; !err && i < n; i++) {
		if (bpf_map_lookup_elem_flags(fd, &keys[i], sa, BPF_F_LOCK))
			continue;	/* deleted meanwhile */
		ps[m] = (struct prom_sa){
			.key = keys[i], .packets = sa->packets, .bytes = sa->bytes,
			.replay = sa->replay_drops, .integrity = sa->integrity_failed,
			.flags = sa->flags, .in = addr_is_local(ifa, &keys[i]),
		};
		m++;
	}
	if (ifa)
		freeifaddrs(ifa);
	if (sa)
		wipe(sa, sizeof(*sa));
	free(sa);
	free(keys);
	close(fd);
	if (err) {
		free(ps);
		return err;
	}
	*out = ps;
	*nout = m;
	return 0;
}

static void prom_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

enum prom_sa_field { PS_PACKETS, PS_BYTES, PS_REPLAY, PS_INTEGRITY, PS_SOFT, PS_HARD };

static __u64 prom_sa_value(const struct prom_sa *p, enum prom_sa_field fld)
{
	switch (fld) {
	case PS_PACKETS: return p->packets;
	case PS_BYTES: return p->bytes;
	case PS_REPLAY: return p->replay;
	case PS_INTEGRITY: return p->integrity;
	case PS_SOFT: return !!(p->flags & ESPX_SA_F_SOFT_SENT);
	case PS_HARD: return !!(p->flags & ESPX_SA_F_HARD_SENT);
	}
	return 0;
}

/* What a reason means for a packet in a direction: a drop, a pass-through
 * to the kernel untouched, or taken by the pod fast path (espx_drop.h). */
static const char *prom_verdict(unsigned int r, unsigned int d)
{
	if (r == ESPX_DROP_FAST_PATH)
		return "fast-path";
	if (r == ESPX_DROP_BYPASS ||
	    (d == ESPX_DIR_IN && (r == ESPX_DROP_NO_SA || r == ESPX_DROP_FRAGMENT)))
		return "pass";
	return "drop";
}

int stats_prometheus(FILE *f)
{
	static const struct {
		const char *name, *type, *help;
		enum prom_sa_field fld;
	} sa_metrics[] = {
		{ "espx_sa_packets_total", "counter", "Packets carried by the SA (XFRM curlft packets).", PS_PACKETS },
		{ "espx_sa_bytes_total", "counter", "Payload bytes carried by the SA, as XFRM counts them.", PS_BYTES },
		{ "espx_sa_replay_drops_total", "counter", "Packets the SA's replay window dropped.", PS_REPLAY },
		{ "espx_sa_integrity_failures_total", "counter", "Packets that failed the SA's ICV check.", PS_INTEGRITY },
		{ "espx_sa_soft_expired", "gauge", "1 once the SA reached a soft lifetime limit (event sent).", PS_SOFT },
		{ "espx_sa_hard_expired", "gauge", "1 once the SA reached a hard lifetime limit (unusable).", PS_HARD },
	};
	struct espx_drop_count sum[N_SLOTS];
	struct espx_daemon_hb hb;
	struct prom_sa *ps = NULL;
	__u64 age_ms = 0, nsoft = 0, nhard = 0;
	size_t n = 0, i, m;
	unsigned int r, d;
	int err, alive;
	enum hb_state hs;

	err = drops_read(sum);
	if (!err)
		err = prom_sas_read(&ps, &n);
	if (err)
		return err;
	for (m = 0; m < sizeof(sa_metrics) / sizeof(sa_metrics[0]); m++) {
		prom_head(f, sa_metrics[m].name, sa_metrics[m].type, sa_metrics[m].help);
		for (i = 0; i < n; i++) {
			char a[INET6_ADDRSTRLEN];

			fprintf(f, "%s{spi=\"0x%08x\",dst=\"%s\",dir=\"%s\"} %llu\n",
				sa_metrics[m].name, ntohl(ps[i].key.spi),
				addr_str(ps[i].key.daddr, ps[i].key.family, a, sizeof(a)),
				ps[i].in ? "in" : "out",
				(unsigned long long)prom_sa_value(&ps[i], sa_metrics[m].fld));
		}
	}
	for (i = 0; i < n; i++) {
		nsoft += !!(ps[i].flags & ESPX_SA_F_SOFT_SENT);
		nhard += !!(ps[i].flags & ESPX_SA_F_HARD_SENT);
	}
	prom_head(f, "espx_sas", "gauge", "SAs in espx's maps.");
	fprintf(f, "espx_sas %zu\n", n);
	prom_head(f, "espx_sas_expired", "gauge", "SAs past a soft or hard lifetime limit.");
	fprintf(f, "espx_sas_expired{limit=\"soft\"} %llu\n", (unsigned long long)nsoft);
	fprintf(f, "espx_sas_expired{limit=\"hard\"} %llu\n", (unsigned long long)nhard);
	for (m = 0; m < 2; m++) {
		prom_head(f, m ? "espx_datapath_bytes_total" : "espx_datapath_packets_total",
			  "counter", m ? "Bytes the datapath dropped or passed, by reason and direction." :
			  "Packets the datapath dropped or passed, by reason and direction.");
		for (d = 0; d < ESPX_DIR__MAX; d++) {
			for (r = 1; r < ESPX_DROP__MAX; r++) {
				const struct espx_drop_count *c = &sum[r * ESPX_DIR__MAX + d];

				fprintf(f, "%s{dir=\"%s\",reason=\"%s\",verdict=\"%s\"} %llu\n",
					m ? "espx_datapath_bytes_total" : "espx_datapath_packets_total",
					dir_name(d), espx_drop_name(r), prom_verdict(r, d),
					(unsigned long long)(m ? c->bytes : c->packets));
			}
		}
	}
	hs = hb_now(&hb, &age_ms, &alive);
	prom_head(f, "espx_daemon_running", "gauge",
		  "1 while an espx daemon beats here (espx status: running), else 0.");
	fprintf(f, "espx_daemon_running %d\n", hs == HB_RUNNING);
	if (hs != HB_NONE) {
		prom_head(f, "espx_daemon_heartbeat_age_seconds", "gauge",
			  "Seconds since the espx daemon's last heartbeat.");
		fprintf(f, "espx_daemon_heartbeat_age_seconds %.3f\n", (double)age_ms / 1000.0);
	}
	free(ps);
	return ferror(f) ? -EIO : 0;
}

int stats_metrics_file(const char *path)
{
	char tmp[4096];
	FILE *f;
	int fd, err;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	err = stats_prometheus(f);
	if (fflush(f) && !err)
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	/* rename: a reader (node_exporter) sees the old file or the new, whole */
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int stats_cmd(int argc, char **argv, int json)
{
	struct espx_drop_count sum[N_SLOTS];
	struct pw p;
	int err;

	if (argc == 2 && !strcmp(argv[1], "--prometheus")) {
		if (json) {
			pr_warn("stats: --prometheus and -j are two formats; choose one\n");
			return 2;
		}
		err = stats_prometheus(stdout);
		if (err)
			pr_warn("stats: %s\n", strerror(-err));
		return err ? 1 : 0;
	}
	if (argc > 1) {
		pr_warn("stats: unexpected '%s'; it takes only -j or --prometheus\n", argv[1]);
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
