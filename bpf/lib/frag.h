/* SPDX-License-Identifier: GPL-2.0 */
/* Fragments: every fragment of a datagram gets the verdict its datagram
 * gets. XFRM decides on the whole datagram (before fragmenting on output,
 * after reassembly on local input); espx sees fragments. The first one
 * carries the ports and is decided in full; its verdict is remembered by
 * (addresses, protocol, IP ID, what decided it), and later fragments take
 * it. A later fragment whose first was not seen is decided without ports
 * (policy_decide's noports), which drops it unless every policy its ports
 * could select agrees. */
#ifndef ESPX_BPF_FRAG_H
#define ESPX_BPF_FRAG_H

#include "parse.h"
#include "policy.h"

struct frag_key {
	__u32 saddr[4];
	__u32 daddr[4];
	__u32 id;		/* IPv4 ID or IPv6 fragment header ID */
	__u32 spi;		/* decided after decryption by this SA; 0: not */
	__u8  family;
	__u8  proto;
	__u8  mode;		/* enum pol_mode */
	__u8  pad;
};

/* Datagrams in flight: a few thousand at once is far more than any
 * reassembly queue keeps; the oldest go first. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct frag_key);
	__type(value, struct pol_verdict);
} espx_frag SEC(".maps");

/* tag: mode << 32 | SPI (what decided the verdict) */
static __always_inline void frag_key_of(struct frag_key *k, const struct l3 *h,
					const struct flow *f, __u64 tag)
{
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->saddr, f->saddr, sizeof(k->saddr));
	__builtin_memcpy(k->daddr, f->daddr, sizeof(k->daddr));
	k->id = h->frag_id;
	k->spi = (__u32)tag;
	k->family = f->family;
	k->proto = h->proto;
	k->mode = (__u8)(tag >> 32);
}

/* The verdict of a first fragment, for the rest of its datagram. */
static __noinline void frag_remember(const struct l3 *h, const struct flow *f, __u64 tag,
				     const struct pol_verdict *v)
{
	struct frag_key k;

	if (!h || !f || !v || !h->frag || h->later)
		return;
	frag_key_of(&k, h, f, tag);
	bpf_map_update_elem(&espx_frag, &k, v, BPF_ANY);
}

/* A later fragment: the verdict its first fragment got. 0: not known. */
static __noinline int frag_recall(const struct l3 *h, const struct flow *f, __u64 tag,
				  struct pol_verdict *v)
{
	struct pol_verdict *got;
	struct frag_key k;

	if (!h || !f || !v)
		return 0;
	frag_key_of(&k, h, f, tag);
	got = bpf_map_lookup_elem(&espx_frag, &k);
	if (!got)
		return 0;
	*v = *got;
	return 1;
}

/* The verdict for a packet that may be a fragment. */
static __always_inline void decide(const struct l3 *h, const struct flow *f, __u32 dir,
				   __u32 mode, const struct pol_sa *sa, struct pol_verdict *v)
{
	__u64 tag = (__u64)mode << 32 | (sa ? sa->spi : 0);

	if (h->later && frag_recall(h, f, tag, v))
		return;
	/* a global function: verified once, whatever the call sites. The
	 * table switched during the lookup: once more (then policy-changed) */
	if (policy_decide(f, PD_OPTS(dir, mode, h->noports), sa, v))
		policy_decide(f, PD_OPTS(dir, mode, h->noports), sa, v);
	if (!h->later)
		frag_remember(h, f, tag, v);
}

#endif
