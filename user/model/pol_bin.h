/* SPDX-License-Identifier: GPL-2.0 */
/* The entries of espx_pol_bin (include/espx_policy.h) for one direction of
 * one table half, computed from the selectors of its scanned policies.
 * Pure: no maps, no root; tests/unit/test_pol_bin.c checks it. */
#ifndef ESPX_POL_BIN_H
#define ESPX_POL_BIN_H

#include <linux/types.h>
#include "espx_policy.h"

struct pol_bin_entry {
	struct espx_pol_bin_key key;
	struct espx_pol_bits bits;
};

/* Per kind (protocol, destination port, source port): at most one exact
 * entry per policy, and one ANY entry. */
#define POL_BIN_ENTRIES_MAX	(3 * (ESPX_MAX_POLICY + 1))

/* sel[i]: the selector of scanned slot i (ESPX_POL_SLOT(half, dir, i)),
 * n <= ESPX_MAX_POLICY. Writes into out (room for max entries;
 * POL_BIN_ENTRIES_MAX always suffices):
 *   PROTO p     for each protocol p some selector names: slots whose
 *               protocol is p or any (0)
 *   PROTO_ANY   slots whose protocol is any, if there is one
 *   DPORT v     for each port v some selector names with a full mask:
 *               slots with no port selector, a partial mask, or port v
 *   DPORT_ANY   slots with no port selector or a partial mask, if any
 *   SPORT v, SPORT_ANY  the same for the source port
 * Ports are taken from espx_sel as they are (network order). A missing ANY
 * entry means no slot, as an all-zero one would. Returns the number of
 * entries, -EINVAL if n is too large, -ENOSPC if max is too small. */
int pol_bin_build(const struct espx_sel *sel, __u32 n, __u8 half, __u8 dir,
		  struct pol_bin_entry *out, __u32 max);

#endif
