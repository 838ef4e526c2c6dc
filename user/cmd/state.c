// SPDX-License-Identifier: GPL-2.0
/* `espx state add|del|list|flush` (state.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "common/json.h"
#include "common/log.h"
#include "platform/datapath.h"
#include "platform/lock.h"
#include "platform/pol_store.h"
#include "platform/sa_install.h"
#include "cmd/state.h"
#include "common/util.h"
#include "model/xfrm_parse.h"

void state_usage(FILE *f)
{
	fprintf(f,
		"Usage: espx state add src ADDR dst ADDR proto esp spi SPI\n"
		"                      aead 'rfc4106(gcm(aes))' 0xKEYSALT ICVBITS\n"
		"                      [ mode { transport | tunnel } ] [ reqid N ]\n"
		"                      [ replay-window N ] [ replay-seq N ] [ replay-oseq N ]\n"
		"                      [ replay-seq-hi N ] [ replay-oseq-hi N ]\n"
		"                      [ flag FLAG... ] [ extra-flag dont-encap-dscp ]\n"
		"                      [ encap espinudp SPORT DPORT OADDR ]\n"
		"                      [ limit { byte-soft | byte-hard | packet-soft | packet-hard } N ]...\n"
		"                      [ sel [ src PREFIX ] [ dst PREFIX ] [ proto P [ sport N ] [ dport N ] ] ]\n"
		"                      [ aes-driver { kernel | generic } ]\n"
		"       espx state { del | delete } dst ADDR proto esp spi SPI\n"
		"       espx state { list | show } [ -j ]\n"
		"       espx state flush\n"
		"FLAG := esn | noecn | decap-dscp | nopmtudisc | af-unspec | align4\n"
		"0xKEYSALT: AES-128/192/256 key then 4 bytes of salt (40, 56 or 72 hex digits);\n"
		"ICVBITS: 64, 96 or 128. espx keeps no copy of the key.\n");
}

static const char *key_str(const struct espx_sa_key *key, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	snprintf(buf, n, "dst %s spi 0x%08x",
		 addr_str(key->daddr, key->family, a, sizeof(a)), ntohl(key->spi));
	return buf;
}

/* With the lock held: install, then let the policies see the new SA. */
static int install_locked(const struct xp_state *st)
{
	struct espx_sa_fds fds;
	struct espx_sa *old;
	struct espx_dp dp;
	char what[80];
	int err;

	espx_dp_init(&dp);
	err = espx_dp_sa_fds(&dp, &fds, 1);
	if (err)
		goto out;
	old = malloc(sizeof(*old));
	if (!old) {
		err = -ENOMEM;
		goto out;
	}
	err = bpf_map_lookup_elem(fds.sa_map, &st->key, old) ? -errno : -EEXIST;
	free(old);
	if (err == -EEXIST) {
		pr_warn("state add: SA exists (%s proto esp); delete it first\n",
			key_str(&st->key, what, sizeof(what)));
		goto out;
	}
	err = espx_sa_install(&fds, &st->key, &st->sa, st->aes_key, st->aes_key_len,
			      st->driver, 0);
	if (!err)
		err = policy_sync();
out:
	espx_dp_close(&dp);
	return err;
}

static int state_add(int argc, char **argv)
{
	struct xp_state *st = malloc(sizeof(*st));
	struct xp_err perr;
	int err, lock;

	if (!st) {
		pr_warn("state add: out of memory\n");
		return 1;
	}
	err = xp_parse_state_add(argc, argv, st, &perr);
	/* the key is in argv too: keep it out of /proc/PID/cmdline from now */
	if (st->key_arg >= 0)
		wipe(argv[st->key_arg], strlen(argv[st->key_arg]));
	if (err) {
		pr_warn("%s\n", perr.msg);
		free(st);
		return 2;
	}
	st->sa.add_time = boot_ns();
	/* configuration may come before `espx attach` */
	err = espx_load();
	if (!err) {
		lock = espx_lock();
		err = lock < 0 ? -EBUSY : install_locked(st);
		espx_unlock(lock);
	}
	xp_state_wipe(st);
	free(st);
	return err ? 1 : 0;
}

static int state_del(int argc, char **argv)
{
	struct espx_sa_key key;
	struct espx_sa_fds fds;
	struct espx_dp dp;
	struct xp_err perr;
	char what[80];
	int err, lock;

	if (xp_parse_state_id(argc, argv, &key, &perr)) {
		pr_warn("%s\n", perr.msg);
		return 2;
	}
	lock = espx_lock();
	if (lock < 0)
		return 1;
	espx_dp_init(&dp);
	err = espx_dp_sa_fds(&dp, &fds, 0);
	if (!err) {
		err = espx_sa_remove(&fds, &key);
		if (err == -ENOENT)
			pr_warn("state del: no SA %s proto esp\n", key_str(&key, what, sizeof(what)));
		else if (err)
			pr_warn("state del: deleting %s: %s\n", key_str(&key, what, sizeof(what)),
				strerror(-err));
		else
			err = policy_sync();
	}
	espx_dp_close(&dp);
	espx_unlock(lock);
	return err ? 1 : 0;
}

static int state_flush(int argc, char **argv)
{
	struct espx_sa_key *keys = NULL;
	struct espx_sa_fds fds;
	struct espx_dp dp;
	struct xp_err perr;
	size_t n = 0, i;
	int err, lock;

	if (xp_parse_state_flush(argc, argv, &perr)) {
		pr_warn("%s\n", perr.msg);
		return 2;
	}
	lock = espx_lock();
	if (lock < 0)
		return 1;
	espx_dp_init(&dp);
	err = espx_dp_sa_fds(&dp, &fds, 0);
	if (!err)
		err = sa_keys_sorted(fds.sa_map, &keys, &n);
	for (i = 0; !err && i < n; i++) {
		err = espx_sa_remove(&fds, &keys[i]);
		if (err == -ENOENT)
			err = 0;
		else if (err)
			pr_warn("state flush: %s\n", strerror(-err));
	}
	/* even after a failure: what was deleted must not stay in use */
	if (fds.sa_map >= 0 && policy_sync() && !err)
		err = -EIO;
	free(keys);
	espx_dp_close(&dp);
	espx_unlock(lock);
	return err ? 1 : 0;
}

/* ---- listing ---- */

static const char *limit_str(__u64 v, char *buf, size_t n)
{
	if (v == ESPX_INF)
		snprintf(buf, n, "(INF)");
	else
		snprintf(buf, n, "%llu", (unsigned long long)v);
	return buf;
}

static void sel_text(const struct espx_sel *s)
{
	char a[INET6_ADDRSTRLEN], p[8];

	if (!s->family) {
		printf("src any dst any");
	} else {
		printf("src %s/%u ", addr_str(s->saddr, s->family, a, sizeof(a)), s->prefixlen_s);
		printf("dst %s/%u", addr_str(s->daddr, s->family, a, sizeof(a)), s->prefixlen_d);
	}
	if (s->proto)
		printf(" proto %s", xp_proto_name(s->proto, p, sizeof(p)));
	if (s->sport_mask)
		printf(" %s %u", s->proto == 1 || s->proto == 58 ? "type" : "sport", ntohs(s->sport));
	if (s->dport_mask)
		printf(" %s %u", s->proto == 1 || s->proto == 58 ? "code" : "dport", ntohs(s->dport));
}

/* The SA's flags of one ip xfrm table, as ip xfrm state list prints
 * them: "flag noecn decap-dscp esn", "extra_flag dont-encap-dscp". */
static void flags_text(const char *title, const struct xp_flag_name *t, __u32 flags)
{
	int any = 0;

	for (; t->name; t++) {
		if (!t->flag || !(flags & t->flag))
			continue;
		printf("%s %s", any ? "" : title, t->name);
		any = 1;
	}
}

/* The same as a JSON array of names. */
static void flags_json(struct jw *w, const char *key, const struct xp_flag_name *t, __u32 flags)
{
	jw_arr_open(w, key);
	for (; t->name; t++)
		if (t->flag && (flags & t->flag))
			jw_str(w, NULL, t->name);
	jw_arr_close(w);
}

static void sa_text(const struct espx_sa_key *id, const struct espx_sa *sa)
{
	char a[INET6_ADDRSTRLEN], l1[24], l2[24];
	int esn = sa->flags & ESPX_SA_F_ESN;

	printf("src %s ", addr_str(sa->saddr, sa->family, a, sizeof(a)));
	printf("dst %s\n", addr_str(id->daddr, id->family, a, sizeof(a)));
	printf("\tproto esp spi 0x%08x reqid %u mode %s\n", ntohl(id->spi), sa->reqid,
	       xp_mode_name(sa->mode));
	printf("\treplay-window %u ", sa->replay_window);
	if (esn)
		printf("seq 0x%016llx oseq 0x%016llx", (unsigned long long)sa->seq,
		       (unsigned long long)sa->oseq);
	else
		printf("seq 0x%08llx oseq 0x%08llx", (unsigned long long)sa->seq,
		       (unsigned long long)sa->oseq);
	flags_text(" flag", xp_sa_flags, sa->flags);
	flags_text(" extra_flag", xp_sa_extra_flags, sa->flags);
	printf("\n");
	printf("\taead " XP_AEAD_NAME " <key not kept> %u\n", sa->icv_len * 8);
	if (sa->flags & ESPX_SA_F_ENCAP)
		printf("\tencap type espinudp sport %u dport %u\n", ntohs(sa->encap_sport),
		       ntohs(sa->encap_dport));
	printf("\tsel ");
	sel_text(&sa->sel);
	printf("\n\tlifetime config:\n");
	printf("\t  limit: soft %s(bytes), hard %s(bytes)\n",
	       limit_str(sa->lft.soft_bytes, l1, sizeof(l1)),
	       limit_str(sa->lft.hard_bytes, l2, sizeof(l2)));
	printf("\t  limit: soft %s(packets), hard %s(packets)\n",
	       limit_str(sa->lft.soft_packets, l1, sizeof(l1)),
	       limit_str(sa->lft.hard_packets, l2, sizeof(l2)));
	printf("\tlifetime current:\n");
	printf("\t  %llu(bytes), %llu(packets)\n", (unsigned long long)sa->bytes,
	       (unsigned long long)sa->packets);
	printf("\t  add %s ", boot_time_str(sa->add_time, l1, sizeof(l1)));
	printf("use %s\n", boot_time_str(sa->use_time, l1, sizeof(l1)));
	printf("\tstats:\n\t  replay-window %u replay %llu failed %llu\n", sa->replay_window,
	       (unsigned long long)sa->replay_drops, (unsigned long long)sa->integrity_failed);
	printf("\tespx: aes-%u%s%s%s\n", sa->key_len * 8,
	       sa->flags & ESPX_SA_F_READY ? " ready" : " not-ready",
	       sa->flags & ESPX_SA_F_SOFT_SENT ? " soft-expired" : "",
	       sa->flags & ESPX_SA_F_HARD_SENT ? " hard-expired" : "");
}

static void sel_json(struct jw *w, const struct espx_sel *s)
{
	char a[INET6_ADDRSTRLEN + 4], buf[INET6_ADDRSTRLEN + 8], p[8];

	jw_obj_open(w, "sel");
	jw_str(w, "family", s->family == AF_INET6 ? "inet6" : s->family ? "inet" : "any");
	snprintf(buf, sizeof(buf), "%s/%u", addr_str(s->saddr, s->family, a, sizeof(a)),
		 s->prefixlen_s);
	jw_str(w, "src", s->family ? buf : "any");
	snprintf(buf, sizeof(buf), "%s/%u", addr_str(s->daddr, s->family, a, sizeof(a)),
		 s->prefixlen_d);
	jw_str(w, "dst", s->family ? buf : "any");
	jw_str(w, "proto", s->proto ? xp_proto_name(s->proto, p, sizeof(p)) : "any");
	if (s->sport_mask)
		jw_u64(w, s->proto == 1 || s->proto == 58 ? "type" : "sport", ntohs(s->sport));
	if (s->dport_mask)
		jw_u64(w, s->proto == 1 || s->proto == 58 ? "code" : "dport", ntohs(s->dport));
	jw_obj_close(w);
}

static void sa_json(struct jw *w, const struct espx_sa_key *key, const struct espx_sa *sa)
{
	char a[INET6_ADDRSTRLEN];

	jw_obj_open(w, NULL);
	jw_str(w, "src", addr_str(sa->saddr, sa->family, a, sizeof(a)));
	jw_str(w, "dst", addr_str(key->daddr, key->family, a, sizeof(a)));
	jw_str(w, "family", key->family == AF_INET6 ? "inet6" : "inet");
	jw_str(w, "proto", "esp");
	jw_u64(w, "spi", ntohl(key->spi));
	jw_u64(w, "reqid", sa->reqid);
	jw_str(w, "mode", xp_mode_name(sa->mode));
	jw_u64(w, "replay_window", sa->replay_window);
	jw_u64(w, "seq", sa->seq);
	jw_u64(w, "oseq", sa->oseq);
	jw_bool(w, "esn", !!(sa->flags & ESPX_SA_F_ESN));
	flags_json(w, "flags", xp_sa_flags, sa->flags);
	flags_json(w, "extra_flags", xp_sa_extra_flags, sa->flags);
	jw_obj_open(w, "aead");
	jw_str(w, "name", XP_AEAD_NAME);
	jw_u64(w, "key_bits", sa->key_len * 8);
	jw_u64(w, "icv_bits", sa->icv_len * 8);
	jw_obj_close(w);
	if (sa->flags & ESPX_SA_F_ENCAP) {
		jw_obj_open(w, "encap");
		jw_str(w, "type", "espinudp");
		jw_u64(w, "sport", ntohs(sa->encap_sport));
		jw_u64(w, "dport", ntohs(sa->encap_dport));
		jw_obj_close(w);
	}
	sel_json(w, &sa->sel);
	jw_obj_open(w, "lifetime");
	jw_u64(w, "byte_soft", sa->lft.soft_bytes);
	jw_u64(w, "byte_hard", sa->lft.hard_bytes);
	jw_u64(w, "packet_soft", sa->lft.soft_packets);
	jw_u64(w, "packet_hard", sa->lft.hard_packets);
	jw_u64(w, "packets", sa->packets);
	jw_u64(w, "bytes", sa->bytes);
	jw_u64(w, "add_time_ns", sa->add_time);
	jw_u64(w, "use_time_ns", sa->use_time);
	jw_obj_close(w);
	jw_obj_open(w, "stats");
	jw_u64(w, "replay", sa->replay_drops);
	jw_u64(w, "integrity_failed", sa->integrity_failed);
	jw_obj_close(w);
	jw_bool(w, "ready", !!(sa->flags & ESPX_SA_F_READY));
	jw_bool(w, "soft_expired", !!(sa->flags & ESPX_SA_F_SOFT_SENT));
	jw_bool(w, "hard_expired", !!(sa->flags & ESPX_SA_F_HARD_SENT));
	jw_obj_close(w);
}

/* SAs the netlink daemon left to the kernel: listed, with the reason. */
static void kernel_sas(struct espx_dp *dp, struct jw *w, int json)
{
	int fd = espx_dp_fd(dp, ESPX_MAP_KERNEL_SA);
	struct espx_sa_key *ids = NULL;
	struct espx_kernel_sa ks;
	char a[INET6_ADDRSTRLEN];
	size_t n = 0, i;

	if (fd < 0 || sa_keys_sorted(fd, &ids, &n))
		n = 0;
	for (i = 0; i < n; i++) {
		const char *proto;

		if (bpf_map_lookup_elem(fd, &ids[i], &ks))
			continue;
		proto = ks.proto == IPPROTO_AH ? "ah" : ks.proto == IPPROTO_COMP ? "comp" : "esp";
		if (json) {
			jw_obj_open(w, NULL);
			jw_str(w, "dst", addr_str(ids[i].daddr, ids[i].family, a, sizeof(a)));
			jw_str(w, "family", ids[i].family == AF_INET6 ? "inet6" : "inet");
			jw_str(w, "proto", proto);
			jw_u64(w, "spi", ntohl(ids[i].spi));
			jw_u64(w, "reqid", ks.reqid);
			jw_str(w, "kernel", ks.why);
			jw_obj_close(w);
		} else {
			printf("dst %s proto %s spi 0x%08x reqid %u\n\tleft to the kernel: %s\n",
			       addr_str(ids[i].daddr, ids[i].family, a, sizeof(a)), proto,
			       ntohl(ids[i].spi), ks.reqid, ks.why);
		}
	}
	free(ids);
}

static int state_list(int argc, char **argv, int json)
{
	struct espx_sa_key *keys = NULL;
	struct espx_sa *sa = NULL;
	size_t n = 0, i;
	struct espx_dp dp;
	struct jw w;
	int fd, err;

	if (argc > 0) {
		pr_warn("state list: unexpected '%s'; it takes no filters (only -j)\n", argv[0]);
		return 2;
	}
	espx_dp_init(&dp);
	fd = espx_dp_fd(&dp, ESPX_MAP_SA);
	if (fd < 0)
		return 1;
	err = sa_keys_sorted(fd, &keys, &n);
	sa = malloc(sizeof(*sa));
	if (!err && !sa)
		err = -ENOMEM;
	jw_init(&w, stdout);
	if (!err && json)
		jw_arr_open(&w, NULL);
	for (i = 0; !err && i < n; i++) {
		if (bpf_map_lookup_elem_flags(fd, &keys[i], sa, BPF_F_LOCK))
			continue;	/* deleted meanwhile */
		if (json)
			sa_json(&w, &keys[i], sa);
		else
			sa_text(&keys[i], sa);
	}
	if (!err)
		kernel_sas(&dp, &w, json);
	if (!err && json) {
		jw_arr_close(&w);
		jw_end(&w);
	}
	if (err)
		pr_warn("state list: reading espx_sa: %s\n", strerror(-err));
	if (sa)
		wipe(sa, sizeof(*sa));
	free(sa);
	free(keys);
	espx_dp_close(&dp);
	return err ? 1 : 0;
}

int state_cmd(int argc, char **argv, int json)
{
	const char *sub = argc > 1 ? argv[1] : "list";

	argc -= 2;
	argv += 2;
	if (argc < 0)
		argc = 0;
	if (!strcmp(sub, "add"))
		return state_add(argc, argv);
	if (!strcmp(sub, "del") || !strcmp(sub, "delete"))
		return state_del(argc, argv);
	if (!strcmp(sub, "list") || !strcmp(sub, "show"))
		return state_list(argc, argv, json);
	if (!strcmp(sub, "flush"))
		return state_flush(argc, argv);
	if (!strcmp(sub, "help")) {
		state_usage(stdout);
		return 0;
	}
	if (!strcmp(sub, "update")) {
		pr_warn("state update is not supported: an SA cannot change in place; delete it and add it again\n");
		return 2;
	}
	pr_warn("state: unknown command '%s'; expected add, del, list or flush\n", sub);
	return 2;
}
