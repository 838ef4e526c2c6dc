// SPDX-License-Identifier: GPL-2.0
/* The SA table's pure rules (sa_table.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include "model/sa_table.h"

const char *espx_aes_driver_algo(enum espx_aes_driver d)
{
	return d == ESPX_AES_GENERIC ? "ecb(aes-generic)" : "ecb(aes)";
}

int espx_aes_driver_parse(const char *s, enum espx_aes_driver *d)
{
	if (!strcmp(s, "kernel")) {
		*d = ESPX_AES_KERNEL;
		return 0;
	}
	if (!strcmp(s, "generic")) {
		*d = ESPX_AES_GENERIC;
		return 0;
	}
	return -EINVAL;
}

__u64 espx_hwm_start(__u64 want, __u64 hwm, int have)
{
	__u64 floor;

	if (!have)
		return want;
	floor = hwm > ~0ULL - ESPX_HWM_MARGIN ? ~0ULL : hwm + ESPX_HWM_MARGIN;
	return want > floor ? want : floor;
}

__u64 sa_split_gap(const struct espx_sa *sa)
{
	__u64 room;

	if (sa->flags & ESPX_SA_F_ESN)
		return 1ULL << 40;
	room = sa->oseq < 0xffffffffULL ? 0xffffffffULL - sa->oseq : 0;
	return room / 2 < (1ULL << 28) ? room / 2 : 1ULL << 28;
}

int handover_split_exhausted(__u64 at, __u64 k_oseq, __u64 step)
{
	if (step > 0xffffffffULL)
		step = 0xffffffffULL;	/* no ESN: 2^32 numbers in all */
	return k_oseq >= at || at - k_oseq <= SPLIT_STOP_MARGIN + 4 * step;
}

int sa_key_cmp(const void *a, const void *b)
{
	const struct espx_sa_key *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(x->daddr, y->daddr, sizeof(x->daddr));
	if (c)
		return c;
	return ntohl(x->spi) < ntohl(y->spi) ? -1 : ntohl(x->spi) > ntohl(y->spi);
}
