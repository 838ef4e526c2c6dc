// SPDX-License-Identifier: GPL-2.0
/* SA churn on the live, pinned datapath of the current network namespace,
 * for tests/test_sa_churn.py: CYCLES times, on SPI BASE + (cycle % POOL),
 *   add      what `espx state add` does: the words parsed by
 *            xp_parse_state_add, under espx_lock(), refused if the SA exists,
 *            espx_sa_install(), policy_sync();
 *   replace  a new key over the existing entry, as the daemon's update does
 *            (espx_sa_install with replace: the old context is released);
 *   delete   what `espx state del` does: espx_sa_remove() (its number into
 *            espx_sa_hwm), policy_sync().
 * `espx state add` also loads the datapath on every call (70 ms here, most
 * of it the skeleton), which is not what churn is about and would make
 * 10^5 cycles take hours; the rest is the same library code.
 *
 *   sa_churn --src ADDR --dst ADDR --cycles N [--pool P] [--spi-base S]
 *            [--reqid R] [--bits 128|256] [--esn]
 *
 * Keys are fresh random bytes for every add and replace, never printed.
 * Prints one line of JSON: {"cycles":N,"seconds":T} or says which step of
 * which cycle failed and exits 1. The datapath must be loaded (espx attach). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <bpf/bpf.h>
#include "platform/datapath.h"
#include "platform/lock.h"
#include "platform/pol_store.h"
#include "platform/sa_install.h"
#include "common/util.h"
#include "model/xfrm_parse.h"

struct churn {
	const char *src, *dst;
	unsigned long cycles, pool, base, reqid;
	int bits, esn;
	struct espx_dp dp;
	struct espx_sa_fds fds;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Parse an add line for spi with a fresh key into st. */
static int parse_add(const struct churn *c, unsigned long spi, struct xp_state *st)
{
	uint8_t raw[36];
	char key[2 + 2 * sizeof(raw) + 1], sspi[16], sreq[16];
	size_t klen = (size_t)c->bits / 8 + 4, i;
	char *argv[32];
	struct xp_err perr;
	int argc = 0, err;

	if (getrandom(raw, klen, 0) != (ssize_t)klen) {
		fprintf(stderr, "sa_churn: getrandom: %s\n", strerror(errno));
		return -EIO;
	}
	key[0] = '0';
	key[1] = 'x';
	for (i = 0; i < klen; i++)
		snprintf(key + 2 + 2 * i, 3, "%02x", raw[i]);
	snprintf(sspi, sizeof(sspi), "0x%lx", spi);
	snprintf(sreq, sizeof(sreq), "%lu", c->reqid);
#define W(x) (argv[argc++] = (char *)(x))
	W("src"); W(c->src); W("dst"); W(c->dst); W("proto"); W("esp"); W("spi"); W(sspi);
	W("reqid"); W(sreq); W("mode"); W("tunnel"); W("replay-window"); W("128");
	W("aead"); W("rfc4106(gcm(aes))"); W(key); W("128");
	if (c->esn) {
		W("flag"); W("esn");
	}
#undef W
	err = xp_parse_state_add(argc, argv, st, &perr);
	wipe(raw, sizeof(raw));
	wipe(key, sizeof(key));
	if (err)
		fprintf(stderr, "sa_churn: %s\n", perr.msg);
	return err ? -EINVAL : 0;
}

enum step { ADD, REPLACE, DEL };
static const char *const step_name[] = { "add", "replace", "delete" };

static int one_step(struct churn *c, enum step s, unsigned long spi)
{
	struct xp_state *st = calloc(1, sizeof(*st));
	struct espx_sa *old = malloc(sizeof(*old));
	int lock, err = 0;

	if (!st || !old) {
		free(st);
		free(old);
		return -ENOMEM;
	}
	if (s != DEL) {
		err = parse_add(c, spi, st);
	} else {
		/* `state del dst ADDR proto esp spi SPI` */
		char sspi[16], *w[] = { "dst", (char *)c->dst, "proto", "esp", "spi", sspi };
		struct xp_err perr;

		snprintf(sspi, sizeof(sspi), "0x%lx", spi);
		err = xp_parse_state_id(6, w, &st->key, &perr) ? -EINVAL : 0;
		if (err)
			fprintf(stderr, "sa_churn: %s\n", perr.msg);
	}
	if (err)
		goto out;
	lock = espx_lock();
	if (lock < 0) {
		err = lock;
		goto out;
	}
	if (s == ADD) {
		/* `state add` refuses an SA that exists */
		err = bpf_map_lookup_elem(c->fds.sa_map, &st->key, old) ? -errno : -EEXIST;
		if (err == -ENOENT)
			err = espx_sa_install(&c->fds, &st->key, &st->sa, st->aes_key,
					      st->aes_key_len, st->driver, 0);
	} else if (s == REPLACE) {
		err = bpf_map_lookup_elem(c->fds.sa_map, &st->key, old) ? -errno : 0;
		if (!err)
			err = espx_sa_install(&c->fds, &st->key, &st->sa, st->aes_key,
					      st->aes_key_len, st->driver, 1);
	} else {
		err = espx_sa_remove(&c->fds, &st->key);
	}
	if (!err)
		err = policy_sync();
	espx_unlock(lock);
out:
	xp_state_wipe(st);
	free(st);
	wipe(old, sizeof(*old));
	free(old);
	return err;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "src", 1, 0, 's' }, { "dst", 1, 0, 'd' }, { "cycles", 1, 0, 'n' },
		{ "pool", 1, 0, 'p' }, { "spi-base", 1, 0, 'b' }, { "reqid", 1, 0, 'r' },
		{ "bits", 1, 0, 'k' }, { "esn", 0, 0, 'e' }, { 0 }
	};
	struct churn c = { .pool = 256, .base = 0x50000, .reqid = 50, .bits = 128 };
	unsigned long i;
	double t0;
	int o, err;

	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 's': c.src = optarg; break;
		case 'd': c.dst = optarg; break;
		case 'n': c.cycles = strtoul(optarg, NULL, 0); break;
		case 'p': c.pool = strtoul(optarg, NULL, 0); break;
		case 'b': c.base = strtoul(optarg, NULL, 0); break;
		case 'r': c.reqid = strtoul(optarg, NULL, 0); break;
		case 'k': c.bits = atoi(optarg); break;
		case 'e': c.esn = 1; break;
		default: goto usage;
		}
	}
	if (!c.src || !c.dst || !c.cycles || !c.pool || (c.bits != 128 && c.bits != 256))
		goto usage;
	espx_dp_init(&c.dp);
	err = espx_dp_sa_fds(&c.dp, &c.fds, 1);
	if (err) {
		fprintf(stderr, "sa_churn: the datapath is not loaded here (espx attach first)\n");
		return 1;
	}
	t0 = now();
	for (i = 0; i < c.cycles; i++) {
		unsigned long spi = c.base + i % c.pool;
		enum step s;

		for (s = ADD; s <= DEL; s++) {
			err = one_step(&c, s, spi);
			if (err) {
				fprintf(stderr, "sa_churn: cycle %lu, %s of SPI 0x%lx: %s\n", i,
					step_name[s], spi, strerror(-err));
				espx_dp_close(&c.dp);
				return 1;
			}
		}
	}
	printf("{\"cycles\":%lu,\"seconds\":%.3f}\n", c.cycles, now() - t0);
	espx_dp_close(&c.dp);
	return 0;
usage:
	fprintf(stderr, "usage: sa_churn --src ADDR --dst ADDR --cycles N [--pool P] [--spi-base S]\n"
		"                [--reqid R] [--bits 128|256] [--esn]\n");
	return 2;
}
