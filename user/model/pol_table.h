/* SPDX-License-Identifier: GPL-2.0 */
/* The policy table's rules, with no map or netlink calls (unit-tested
 * without root, tests/unit/test_pol_table.c): the table as user space
 * edits it, XFRM's order, which policies are hashed and how,
 * template resolution to the newest usable SA, fail-closed truncation of a
 * table too large for the maps, XFRM's index scheme, and the IKE address
 * pairs. Reading and publishing the maps is platform/pol_store.h's. */
#ifndef ESPX_POL_TABLE_H
#define ESPX_POL_TABLE_H

#include <stddef.h>
#include "espx_policy.h"
#include "espx_sa.h"

struct xp_policy;	/* model/xfrm_parse.h */

/* The table as user space edits it: one direction's policies in order,
 * in slots and hashed ones together. */
struct pol_table {
	struct espx_config cfg;
	__u32 n[ESPX_POL__MAX];
	struct espx_policy p[ESPX_POL__MAX][ESPX_POL_TABLE_MAX];
};

/* What a template needs to know about each SA. */
struct sa_brief {
	struct espx_sa_key key;
	__u32 flags;
	__u32 reqid;
	__u32 saddr[4];
	__u64 add_time;
	__u8 mode;
};

/* SAs as templates see them; sorted by sa_list_sort for pol_resolve. */
struct sa_list {
	struct sa_brief *v;
	size_t n, cap;
};

/* espx_ike's address pairs: sorted by ike_key_cmp, without repeats. */
struct ike_set {
	struct espx_ike_key *v;
	size_t n, cap;
};

static inline int addr_is_zero(const __u32 a[4])
{
	return !(a[0] | a[1] | a[2] | a[3]);
}

/* A selector of one family (not "any"): such a policy can be hashed. */
int pol_is_hashable(const struct espx_policy *p);
/* Which of protocol and ports its selector names exactly (ESPX_PK_*). */
__u8 pol_kflags(const struct espx_policy *p);
/* Its espx_policy_hash key in table half `half`, place seq in its chain
 * (or one of its summaries' keys: ESPX_SEQ_ADDRS, ESPX_SEQ_NOPORTS). */
void pol_hash_key(struct espx_pol_hash_key *k, const struct espx_policy *p, __u32 half,
		  __u32 seq);
/* Which of one direction's policies (sorted, ranked) go into
 * espx_policy_hash: sets ESPX_POL_F_HASH and ESPX_POL_F_MORE, each one's
 * place in its chain (seq[i]) and the classes per family (0: IPv4, 1:
 * IPv6) in order of best rank. Classes beyond ESPX_POL_CLASSES, chains
 * beyond ESPX_POL_DEPTH and hashable policies beyond ESPX_MAX_HASH_POLICY
 * stay out (they go to slots). The number hashed, or -ENOMEM. */
int pol_place(struct espx_policy *v, __u32 n, __u8 *seq, __u8 ncls[2],
	      struct espx_pol_class cls[2][ESPX_POL_CLASSES]);
/* qsort order by rank: a half read back from the maps, into XFRM order. */
int pol_rank_cmp(const void *a, const void *b);
/* XFRM's order: priority ascending, equal priorities in age order (stable). */
void pol_sort(struct espx_policy *p, __u32 n);

/* Add an SA to l (what its templates need of it). 0 or -ENOMEM. */
int sa_list_add(struct sa_list *l, const struct espx_sa_key *key, const struct espx_sa *sa);
/* Sort l by (family, daddr), as pol_resolve needs. */
void sa_list_sort(struct sa_list *l);
/* p->sa := the newest usable SA the template allows (as the kernel prefers
 * the newest state during a rekey), or none (spi 0). */
void pol_resolve(struct espx_policy *p, const struct sa_list *l);

/* Too many policies for the table: keep what XFRM would try first, every
 * one pol_place() hashes and up to ESPX_MAX_POLICY others, sorted. Out:
 * when any had to go, the last slot blocks everything else (fail closed);
 * in and fwd keep what fits. The new count; *full: some went. */
__u32 pol_truncate(struct espx_policy *v, __u32 n, __u8 dir, int *full);

/* Append p to its direction (an index chosen as XFRM would if it has
 * none). -EEXIST (same selector, or index in use) or -ENOSPC, message
 * printed. */
int pol_insert(struct pol_table *t, struct espx_policy *p);
/* Remove the first policy q names (selector and dir, or index). -ENOENT,
 * message printed, if none. */
int pol_remove(struct pol_table *t, const struct xp_policy *q);

int ike_key_cmp(const void *a, const void *b);
/* The set: the outer addresses of every SA and the endpoints of every
 * template (t may be NULL: no policies). 0 or -ENOMEM. */
int ike_collect(struct ike_set *s, const struct pol_table *t, const struct sa_list *sas);

#endif
