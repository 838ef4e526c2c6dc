/* SPDX-License-Identifier: GPL-2.0 */
/* Policy lookup: the first policy of a direction whose selector matches the
 * flow, in the order user space keeps (priority, then age), as
 * xfrm_policy_lookup() picks. A bpf_loop callback so that 256 policies
 * verify once. */
#ifndef ESPX_BPF_POLICY_H
#define ESPX_BPF_POLICY_H

#include "maps.h"
#include "selector.h"

struct pol_scan {
	const struct flow *f;
	struct espx_policy *hit;
	__u32 base;
};

static int pol_scan_cb(__u32 i, void *data)
{
	struct pol_scan *ps = data;
	__u32 slot = ps->base + i;
	struct espx_policy *p = bpf_map_lookup_elem(&espx_policy, &slot);

	if (!p)
		return 1;
	if (!sel_match(&p->sel, ps->f))
		return 0;
	ps->hit = p;
	return 1;
}

/* The host-to-host policy for exactly this flow's addresses, if any. */
static __always_inline struct espx_policy *policy_host(const struct flow *f, __u32 dir, __u32 half)
{
	struct espx_pol_host_key *k;
	__u32 zero = 0;

	k = bpf_map_lookup_elem(&espx_pol_key, &zero);
	if (!k)
		return NULL;
	__builtin_memcpy(k->saddr, f->saddr, sizeof(k->saddr));
	__builtin_memcpy(k->daddr, f->daddr, sizeof(k->daddr));
	k->family = f->family;
	k->dir = (__u8)dir;
	k->half = (__u8)half;
	k->pad = 0;
	return bpf_map_lookup_elem(&espx_policy_host, k);
}

static __always_inline struct espx_policy *policy_lookup(const struct flow *f, __u32 dir)
{
	struct pol_scan ps = { .f = f };
	struct espx_policy *host = NULL;
	struct espx_config *cfg;
	__u32 zero = 0, half, n;

	cfg = bpf_map_lookup_elem(&espx_config, &zero);
	if (!cfg)
		return NULL;
	half = cfg->active & 1;
	dir = dir < ESPX_POL__MAX ? dir : 0;
	if (cfg->nhost[half][dir])
		host = policy_host(f, dir, half);
	n = cfg->count[half][dir];
	if (n > ESPX_MAX_POLICY)
		n = ESPX_MAX_POLICY;
	if (n) {
		ps.base = ESPX_POL_SLOT(half, dir, 0);
		bpf_loop(n, pol_scan_cb, &ps, 0);
	}
	/* both matched: the one XFRM would have tried first */
	if (host && (!ps.hit || host->rank < ps.hit->rank))
		return host;
	return ps.hit;
}

#endif
