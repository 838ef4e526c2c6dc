/* SPDX-License-Identifier: GPL-2.0 */
/* A per-CPU cache of policy verdicts by flow (policy_decide, policy.h).
 * Most packets belong to a flow whose verdict was just computed, and the
 * lookup (a hash per class, the slots' tries and bins, the judging) costs
 * several times a hit here. XFRM keeps its answer with the socket's route
 * (the dst cache); this is the same idea for packets that bring no route
 * with them.
 *
 * An entry holds the whole question (flow, direction, mode, the SA that
 * decrypted the packet) and the policy tables' generation
 * (espx_config.active) it was answered in. Every change to the policies,
 * and to the SAs their templates name, switches the generation
 * (user/platform/pol_store.c), so no answer outlives the tables it was read
 * from. Direct mapped, PV_CACHE_SIZE entries per CPU: a collision
 * replaces, nothing is allocated, a flood of new flows only costs lookups.
 * Not cached: packets decided without ports (fragments, unwalked IPv6
 * chains), answers whose lookup saw the tables switch, and answers with a
 * side effect (an acquire). */
#ifndef ESPX_BPF_VERDICT_CACHE_H
#define ESPX_BPF_VERDICT_CACHE_H

#include "compat.h"
#include "selector.h"

#define PV_CACHE_SIZE	256	/* a power of 2 */

/* Set by the loader when ESPX_VERDICT_CACHE=off (user/platform/datapath.c):
 * every packet then takes the full lookup, which is what the policy
 * benchmark measures as a flow's first packet. */
const volatile __u32 espx_pv_cache_off = 0;

struct pv_cache_key {
	struct flow f;
	__u32 sa_saddr[4];	/* struct pol_sa, 0 without one */
	__u32 sa_daddr[4];
	__u32 sa_spi;
	__u32 sa_reqid;
	__u8  sa_mode;
	__u8  sa_family;
	__u8  dir;
	__u8  mode;
	__u32 gen;		/* espx_config.active when answered */
};

#define PV_KEY_WORDS	(sizeof(struct pv_cache_key) / 8)
_Static_assert(sizeof(struct pv_cache_key) % 8 == 0, "pv_cache_key: whole words");

struct pv_cache_ent {
	struct pv_cache_key k;
	struct pol_verdict v;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PV_CACHE_SIZE);
	__type(key, __u32);
	__type(value, struct pv_cache_ent);
} espx_verdict_cache SEC(".maps");

/* The question, every byte of it set (pads zero), and its slot. A global
 * function, verified on its own: a branch on sa inline would split every
 * path of policy_decide after it in two (twice the verifier's work). */
__noinline __u32 pv_key(struct pv_cache_key *k, const struct flow *f, __u32 dir_mode,
			const struct pol_sa *sa, __u32 gen)
{
	__u32 dir = dir_mode & 0xff, mode = dir_mode >> 8 & 0xff, h = 0;
	int i;

	if (!k || !f)
		return 0;
	__builtin_memset(k, 0, sizeof(*k));
	if (sa) {
		__builtin_memcpy(k->sa_saddr, sa->saddr, sizeof(k->sa_saddr));
		__builtin_memcpy(k->sa_daddr, sa->daddr, sizeof(k->sa_daddr));
		k->sa_spi = sa->spi;
		k->sa_reqid = sa->reqid;
		k->sa_mode = sa->mode;
		k->sa_family = sa->family;
	}
#pragma unroll
	for (i = 0; i < 4; i++) {
		k->f.saddr[i] = f->saddr[i];
		k->f.daddr[i] = f->daddr[i];
		h ^= f->saddr[i] ^ f->daddr[i];
	}
	k->f.sport = f->sport;
	k->f.dport = f->dport;
	k->f.family = f->family;
	k->f.proto = f->proto;
	k->dir = dir;
	k->mode = mode;
	k->gen = gen;
	h ^= ((__u32)f->sport << 16 | f->dport) ^ k->sa_spi ^ (f->proto << 8 | dir << 16 | mode << 24);
	return (h * 0x9e3779b1U) >> 24 & (PV_CACHE_SIZE - 1);
}

/* The cached answer to question k in slot idx, or NULL. */
static __always_inline struct pv_cache_ent *pv_get(const struct pv_cache_key *k, __u32 idx)
{
	struct pv_cache_ent *e = bpf_map_lookup_elem(&espx_verdict_cache, &idx);
	const __u64 *a = (const __u64 *)k, *b;
	__u64 diff = 0;
	int i;

	if (!e)
		return NULL;
	b = (const __u64 *)&e->k;
#pragma unroll
	for (i = 0; i < PV_KEY_WORDS; i++)
		diff |= a[i] ^ b[i];
	return diff ? NULL : e;
}

/* Keep the answer v to question k in slot idx. Global, like pv_key: it
 * ends many of policy_decide's paths. */
__noinline int pv_put(const struct pv_cache_key *k, __u32 idx, const struct pol_verdict *v)
{
	struct pv_cache_ent *e = bpf_map_lookup_elem(&espx_verdict_cache, &idx);

	if (!e || !k || !v)
		return 0;
	__builtin_memcpy(&e->k, k, sizeof(*k));
	__builtin_memcpy(&e->v, v, sizeof(*v));
	return 0;
}

#endif
