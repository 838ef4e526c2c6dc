/* SPDX-License-Identifier: GPL-2.0 */
/* The SA table's pure rules, with no map or netlink calls (unit-tested
 * without root): the order SAs are listed in, the sequence-number
 * high-water mark and split arithmetic, and the names of the AES drivers an SA may
 * ask for. Reading and writing the espx_sa map is platform/datapath.h's
 * and platform/sa_install.h's. */
#ifndef ESPX_SA_TABLE_H
#define ESPX_SA_TABLE_H

#include <linux/types.h>
#include "espx_sa.h"

/* Which AES implementation the kernel uses under ecb(aes). */
enum espx_aes_driver {
	/* "ecb(aes)": the kernel's highest-priority AES cipher. On kernels
	 * without AES-NI that is aes-fixed-time (constant time); with AES-NI
	 * it is aes-aesni. Never aes-generic while aes-fixed-time is built. */
	ESPX_AES_KERNEL = 0,
	/* "ecb(aes-generic)": table-driven, about 2x faster than
	 * aes-fixed-time, but its memory accesses depend on the key and data
	 * (cache-timing side channel). Opt-in only. */
	ESPX_AES_GENERIC = 1,
};

const char *espx_aes_driver_algo(enum espx_aes_driver d);
/* "kernel" or "generic" -> enum; -EINVAL otherwise. */
int espx_aes_driver_parse(const char *s, enum espx_aes_driver *d);

/* Numbers an SA may still take after its oseq was read for the high-water
 * mark: the delete reads oseq and unlinks the entry under the bucket lock
 * (lookup-and-delete), but a tc program that looked the entry up just
 * before can still take one number on it (one per packet, one packet per
 * program run, at most one run per CPU). 1024 covers that on any machine
 * espx runs on, and the lookup-then-delete fallback's few microseconds. */
#define ESPX_HWM_MARGIN	1024

/* Where an install of an SA identity whose high-water mark is hwm (have:
 * one is recorded) starts numbering: want, or above the mark if want is
 * not already (saturating at 2^64-1). */
__u64 espx_hwm_start(__u64 want, __u64 hwm, int have);

/* How far espx jumps ahead of the kernel when the two split an SA's
 * numbers (handover_give(1)): 2^40 with ESN; without, half of what is
 * left below 2^32, at most 2^28. */
__u64 sa_split_gap(const struct espx_sa *sa);

/* Numbers the kernel keeps in hand at least, below a split's jump. */
#define SPLIT_STOP_MARGIN	1024
/* Must the kernel stop sending on a split SA without ESN? Its share ends
 * at `at` (espx's jump, espx_sa_split) and nothing in the kernel stops it
 * there: the daemon ends the SA (hard expire) once what is left would not
 * outlast four more intervals at the rate just seen (`step`: how far the
 * kernel's number moved in the last one), or SPLIT_STOP_MARGIN numbers. */
int handover_split_exhausted(__u64 at, __u64 k_oseq, __u64 step);

/* qsort order of SA keys: family, destination address, SPI (host order). */
int sa_key_cmp(const void *a, const void *b);

#endif
