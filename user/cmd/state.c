// SPDX-License-Identifier: GPL-2.0
/* `espx state add|del|list|flush` (state.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "common/log.h"
#include "platform/datapath.h"
#include "platform/lock.h"
#include "platform/pol_store.h"
#include "platform/sa_install.h"
#include "cmd/show.h"
#include "cmd/subcmd.h"
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
		"                      [ aes-driver { kernel | generic } ] [ backend { auto | aead | bpf } ]\n"
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

/* SAs the netlink daemon left to the kernel: listed, with the reason. */
static void kernel_sas(struct espx_dp *dp, struct pw *p)
{
	int fd = espx_dp_fd(dp, ESPX_MAP_KERNEL_SA);
	struct espx_sa_key *ids = NULL;
	struct espx_kernel_sa ks;
	char a[INET6_ADDRSTRLEN];
	size_t n = 0, i;

	if (fd < 0 || sa_keys_sorted(fd, &ids, &n))
		n = 0;
	for (i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(fd, &ids[i], &ks))
			continue;
		pw_obj_open(p, NULL);
		pw_str(p, PRINT_ANY, "dst", "dst %s", addr_str(ids[i].daddr, ids[i].family, a, sizeof(a)));
		pw_str(p, PRINT_JSON, "family", NULL, ids[i].family == AF_INET6 ? "inet6" : "inet");
		pw_str(p, PRINT_ANY, "proto", " proto %s", ks.proto == IPPROTO_AH ? "ah" :
		       ks.proto == IPPROTO_COMP ? "comp" : "esp");
		pw_uint(p, PRINT_ANY, "spi", " spi 0x%08x", ntohl(ids[i].spi));
		pw_uint(p, PRINT_ANY, "reqid", " reqid %u\n", ks.reqid);
		pw_str(p, PRINT_ANY, "kernel", "\tleft to the kernel: %s\n", ks.why);
		pw_obj_close(p);
	}
	free(ids);
}

static int state_list(int argc, char **argv, int json)
{
	struct espx_sa_key *keys = NULL;
	struct espx_sa *sa = NULL;
	size_t n = 0, i;
	struct espx_dp dp;
	struct pw p;
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
	pw_init(&p, stdout, json);
	if (!err)
		pw_arr_open(&p, NULL);
	for (i = 0; !err && i < n; i++) {
		if (bpf_map_lookup_elem_flags(fd, &keys[i], sa, BPF_F_LOCK))
			continue;	/* deleted meanwhile */
		sa_print(&p, &keys[i], sa);
	}
	if (!err) {
		kernel_sas(&dp, &p);
		pw_arr_close(&p);
		pw_end(&p);
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
	static const struct obj_cmds cmds = {
		.obj = "state",
		.add = state_add,
		.del = state_del,
		.list = state_list,
		.flush = state_flush,
		.usage = state_usage,
		.no_update = ": an SA cannot change in place; delete it and add it again",
	};

	return obj_cmd_run(&cmds, argc, argv, json);
}
