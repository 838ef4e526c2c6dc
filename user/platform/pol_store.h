/* SPDX-License-Identifier: GPL-2.0 */
/* The policy table in the pinned maps: reading the active half, publishing
 * a new one (espx_policy, espx_policy_hash, the espx_pol_lpm and
 * espx_pol_bin bins, then espx_config in one write) and the IKE pairs of
 * espx_ike. The rules themselves are model/pol_table.h's. */
#ifndef ESPX_POL_STORE_H
#define ESPX_POL_STORE_H

#include <stddef.h>
#include "espx_policy.h"

struct pol_table;	/* model/pol_table.h */

/* Resolve every policy's template to the newest usable SA again and
 * publish the table and the IKE pairs. Run after every SA change, so a
 * deleted SA is never used again (fail closed) and a new one's IKE passes.
 * The caller holds espx_lock(). 0, or -errno after printing why. */
int policy_sync(void);

/* Replace the whole table with pols (any order: it is sorted as XFRM
 * orders policies), resolve templates and publish. The netlink daemon's
 * way in. Caller holds espx_lock(). 0, -ENOSPC if a direction had more
 * than ESPX_MAX_POLICY (the first ESPX_MAX_POLICY - 1 are kept and a
 * block-everything policy ends the direction: fail closed), or -errno. */
int policy_publish(const struct espx_policy *pols, size_t n);
/* The same, resolving templates as if the nhide SAs in hide were gone
 * (the kernel deleted them; their entries go after this switch). */
int policy_publish_hiding(const struct espx_policy *pols, size_t n,
			  const struct espx_sa_key *hide, size_t nhide);

/* The active table, in XFRM order (*t malloc'd, the caller frees it).
 * 0 or -errno (message printed). */
int policy_read(struct pol_table **t);

/* Run change(t, arg) on the active table under espx_lock() and publish
 * the result. 0 or -errno (message printed). */
int policy_change(int (*change)(struct pol_table *t, void *arg), void *arg);

#endif
