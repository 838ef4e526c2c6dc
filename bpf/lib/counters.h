/* SPDX-License-Identifier: GPL-2.0 */
/* Per-reason packet counters (espx_drops), read by `espx stats`, and the
 * result every datapath step returns (esp_rx.h, esp_tx.h):
 *   0                  go on with the next step
 *   -ESPX_DROP_x       drop the packet, counted under x
 *   STEP_PASS(x)       not espx's to change: let it through, counted under
 *                      x (ESPX_DROP_NONE: not counted)
 *   STEP_REDIRECT      tx only: the step chose another device (tx_scratch)
 * Steps never count; the entry functions esp_rx() and esp_tx() turn the
 * result into counters (step_account) and an XDP or TC verdict. */
#ifndef ESPX_BPF_COUNTERS_H
#define ESPX_BPF_COUNTERS_H

#include "maps.h"

#define STEP_PASS(reason)	(0x100 | (reason))
#define STEP_REDIRECT		0x200
#define STEP_REASON(r)		((__u32)(r) & 0xff)

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

/* A drop for a reason a policy verdict carries; never 0, which would
 * read as "go on". */
static __always_inline int step_drop(__u8 reason)
{
	return reason ? -(int)reason : -ESPX_DROP_INTERNAL;
}

/* Count a step's result (a drop, or a pass with a reason) over bytes. */
static __always_inline void step_account(int r, enum espx_dir dir, __u32 bytes)
{
	__u32 reason = r < 0 ? (__u32)-r : STEP_REASON(r);

	if (reason)
		count_reason(reason, dir, bytes);
}

#endif
