/* SPDX-License-Identifier: GPL-2.0 */
/* The entries of espx_pol_lpm (include/espx_policy.h) for one direction of
 * one table half, computed from the selectors of its scanned policies.
 * Pure: no maps, no root; tests/unit/test_pol_lpm.c checks it. */
#ifndef ESPX_POL_LPM_H
#define ESPX_POL_LPM_H

#include <linux/types.h>
#include "espx_policy.h"

struct pol_lpm_entry {
	struct espx_pol_lpm_key key;
	struct espx_pol_bits bits;
};

/* At most one entry per policy and (family, which): 2 x 2 x n. */
#define POL_LPM_ENTRIES_MAX	(2 * 2 * ESPX_MAX_POLICY)

/* sel[i]: the selector of scanned slot i (ESPX_POL_SLOT(half, dir, i)),
 * n <= ESPX_MAX_POLICY. Writes one entry per distinct (family, which,
 * prefix) into out (room for POL_LPM_ENTRIES_MAX), whose bits are the slots
 * whose prefix contains it. A family 0 selector is in both families' tables
 * as /0 (its full selector decides). Returns the number of entries, or
 * -EINVAL if n is too large. */
int pol_lpm_build(const struct espx_sel *sel, __u32 n, __u8 half, __u8 dir,
		  struct pol_lpm_entry *out);

/* The prefix policy sel puts into the (family, which) table: 0 and
 * addr/plen (addr masked to plen, IPv4 in addr[0]), or -1 if the policy
 * is not in that table (another family). */
int pol_lpm_prefix(const struct espx_sel *sel, __u8 family, __u8 which, __u32 addr[4],
		   __u32 *plen);

/* Does prefix a/alen contain b/blen (both masked, same family)? */
int pol_lpm_contains(const __u32 a[4], __u32 alen, const __u32 b[4], __u32 blen);

#endif
