/* SPDX-License-Identifier: GPL-2.0 */
/* Per-reason packet counters (espx_drops), read by `espx stats`. */
#ifndef ESPX_BPF_COUNTERS_H
#define ESPX_BPF_COUNTERS_H

#include "maps.h"

static __always_inline void count_reason(enum espx_drop_reason r, enum espx_dir dir,
					 __u32 bytes)
{
	__u32 key = (__u32)r * ESPX_DIR__MAX + dir;
	struct espx_drop_count *c = bpf_map_lookup_elem(&espx_drops, &key);

	if (c) {	/* per-CPU slot: no atomics needed */
		c->packets++;
		c->bytes += bytes;
	}
}

#endif
