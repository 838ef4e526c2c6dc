/* SPDX-License-Identifier: GPL-2.0 */
/* Policy decisions, as xfrm_lookup() (out) and xfrm_policy_check() (in,
 * fwd) make them.
 *
 * Lookup: the first policy of a direction whose selector matches the flow,
 * in the order user space keeps (priority, then age: the rank). Two places
 * hold them (espx_policy.h):
 *  - espx_policy_hash: one lookup per class present (prefix lengths and
 *    exact protocol/ports: a handful at most, whatever the number of
 *    policies) finds the policies of that class that can match, a short
 *    chain when they differ only in port ranges;
 *  - the slots of espx_policy (what the hash cannot hold): candidates from
 *    two trie lookups (espx_pol_lpm: prefixes containing the addresses) and
 *    up to three bin lookups (espx_pol_bin: protocol and ports), then the
 *    candidates in order, matched in full.
 * The lower rank of the two answers wins. A packet no policy covers costs a
 * handful of lookups whatever the table holds.
 *
 * Judging: what the policy found means for the packet, in one of three
 * modes: out (protect with the template's SA, pass, or drop), in for
 * plaintext (a template that is not optional means it had to arrive as
 * ESP), and in after decryption (the template must match the SA that
 * decrypted it, xfrm_state_ok(); tunnel mode needs a policy at all).
 *
 * The table changes by read-copy-update (user/platform/pol_store.c): the
 * inactive half is rewritten, then espx_config.active, a generation whose
 * low bit names the live half, moves on by one. A lookup that began before
 * a switch may read a half that the next change is rewriting, so every
 * lookup reads the generation before and after (pol_gen): a lookup that saw
 * it move is not trusted (policy_any answers "maybe", policy_decide asks
 * for a retry, and a second change during the retry drops the packet as
 * policy-changed).
 *
 * Packets without ports (fragments after the first whose first fragment
 * was not seen) are decided without them: when the first policy that
 * could select them has a port selector, the verdict would be a guess and
 * the packet is dropped (fail closed). */
#ifndef ESPX_BPF_POLICY_H
#define ESPX_BPF_POLICY_H

#include "maps.h"
#include "parse.h"
#include "selector.h"
#include "acquire.h"

enum pol_action {
	PV_PASS = 0,
	PV_DROP = 1,
	PV_PROTECT = 2,
};

/* What a packet gets: pass, drop for a reason, or protect with an SA. */
struct pol_verdict {
	__u8  action;		/* enum pol_action */
	__u8  reason;		/* PV_DROP: enum espx_drop_reason */
	__u8  pad[2];
	struct espx_sa_key sa;	/* PV_PROTECT */
};

enum pol_mode {
	PM_OUT = 0,		/* leaving: protect, pass, drop */
	PM_IN_PLAIN = 1,	/* arrived in plaintext */
	PM_IN_SA = 2,		/* arrived as ESP, decrypted by an SA */
};

/* What the inbound check needs of the SA that decrypted a packet (a copy:
 * the SA itself holds a kptr, which no function argument may point into). */
struct pol_sa {
	__u32 saddr[4];
	__u32 daddr[4];
	__u32 spi;		/* network order */
	__u32 reqid;
	__u8  mode;
	__u8  family;
	__u8  pad[2];
};

#include "verdict_cache.h"

/* Per-CPU room for the lookup keys and candidates: the transmit path has
 * no stack left for them. */
struct pol_scratch {
	struct espx_pol_hash_key hk;
	struct espx_pol_hash_key hitk;	/* policy_hash: where its best hit is */
	__u32 hc, hseq;		/* policy_hash's class and chain place */
	__u32 hrank;		/* rank of the best hit, ~0: none */
	__u32 hdef;		/* it matches whatever the unknown ports are */
	struct espx_pol_lpm_key lk;
	struct espx_pol_bin_key bk;
	struct espx_pol_bits cand;
	struct espx_ike_key ik;
	struct espx_acq_key ak;
	struct pv_cache_key ck;	/* policy_decide's question (verdict_cache.h) */
	__u32 cidx;		/* ... and its slot */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pol_scratch);
} espx_pol_scratch SEC(".maps");

static __always_inline void pol_sa_of(struct pol_sa *ps, const struct espx_sa *sa,
				      const struct espx_sa_key *key)
{
	__builtin_memcpy(ps->saddr, sa->saddr, sizeof(ps->saddr));
	__builtin_memcpy(ps->daddr, sa->daddr, sizeof(ps->daddr));
	ps->spi = key->spi;
	ps->reqid = sa->reqid;
	ps->mode = sa->mode;
	ps->family = sa->family;
}

/* xfrm_state_ok(): does the SA that decrypted a packet satisfy the
 * template (ESP is the only protocol either side has). */
static __always_inline int tmpl_ok(const struct espx_tmpl *t, const struct pol_sa *sa)
{
	if (t->spi && t->spi != sa->spi)
		return 0;
	if (t->reqid && t->reqid != sa->reqid)
		return 0;
	if (t->mode != sa->mode)
		return 0;
	if (sa->mode == ESPX_MODE_TRANSPORT)
		return 1;
	/* tunnel: same outer destination; same source unless a wildcard */
	if (t->family != sa->family ||
	    t->daddr[0] != sa->daddr[0] || t->daddr[1] != sa->daddr[1] ||
	    t->daddr[2] != sa->daddr[2] || t->daddr[3] != sa->daddr[3])
		return 0;
	if (!(t->saddr[0] | t->saddr[1] | t->saddr[2] | t->saddr[3]))
		return 1;
	return t->saddr[0] == sa->saddr[0] && t->saddr[1] == sa->saddr[1] &&
	       t->saddr[2] == sa->saddr[2] && t->saddr[3] == sa->saddr[3];
}

static __always_inline void pv_set(struct pol_verdict *v, __u8 action, __u8 reason)
{
	__builtin_memset(v, 0, sizeof(*v));
	v->action = action;
	v->reason = reason;
}

/* What policy p (NULL: none matched) means for the packet. */
static __always_inline void pol_judge(const struct espx_policy *p, __u32 mode,
				      const struct pol_sa *sa, struct pol_verdict *v)
{
	int tunnel = sa && sa->mode == ESPX_MODE_TUNNEL;

	pv_set(v, PV_PASS, 0);
	if (!p) {
		/* xfrm_policy_check(): a tunnel-mode packet needs a policy */
		if (mode == PM_IN_SA && tunnel)
			pv_set(v, PV_DROP, ESPX_DROP_IN_NO_POLICY);
		return;
	}
	if (p->action == ESPX_POL_BLOCK) {
		pv_set(v, PV_DROP, ESPX_DROP_POLICY_BLOCK);
		return;
	}
	if (mode == PM_OUT) {
		if (!(p->flags & ESPX_POL_F_TMPL))
			return;
		if (p->sa.spi) {
			v->action = PV_PROTECT;
			v->sa = p->sa;
		} else if (!p->tmpl.optional) {
			pv_set(v, PV_DROP, ESPX_DROP_NO_SA_OUT);
		}
		return;
	}
	if (mode == PM_IN_PLAIN) {
		if ((p->flags & ESPX_POL_F_TMPL) && !p->tmpl.optional)
			pv_set(v, PV_DROP, ESPX_DROP_PLAINTEXT);
		return;
	}
	/* PM_IN_SA: the template must name this SA; a tunnel SA nobody's
	 * template accepts is refused even when the template is optional */
	if (!sa)
		return;
	if (p->flags & ESPX_POL_F_TMPL) {
		if (tmpl_ok(&p->tmpl, sa))
			return;
		if (!tunnel && p->tmpl.optional)
			return;
	} else if (!tunnel) {
		return;
	}
	pv_set(v, PV_DROP, ESPX_DROP_IN_TMPL);
}

/* Count of trailing zero bits of a non-zero word, without branches: BPF
 * has no instruction for it (clang 16 cannot lower __builtin_ctzll), and a
 * branch per bit would multiply the verifier's states by 64. */
static __always_inline __u64 ctz64(__u64 x)
{
	__u64 v = (x & -x) - 1;		/* the trailing zeros, as ones */

	v = v - ((v >> 1) & 0x5555555555555555ULL);
	v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
	v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (v * 0x0101010101010101ULL) >> 56;
}

/* 1 if x is zero, 0 otherwise, without a branch. */
static __always_inline __u64 is_zero64(__u64 x)
{
	return 1 - ((x | -x) >> 63);
}

/* A selector against a flow whose ports are unknown: 0 no match, 1 a
 * match if the ports fit, 2 a match whatever the ports. */
static __always_inline int sel_match_noports(const struct espx_sel *sel, const struct flow *f)
{
	if (sel->family && sel->family != f->family)
		return 0;
	if (sel->proto && sel->proto != f->proto)
		return 0;
	if (!prefix_match(f->daddr, sel->daddr, sel->prefixlen_d, f->family) ||
	    !prefix_match(f->saddr, sel->saddr, sel->prefixlen_s, f->family))
		return 0;
	return sel->sport_mask || sel->dport_mask ? 1 : 2;
}

struct pol_scan {
	struct pol_scratch *s;
	const struct flow *f;
	struct espx_pol_bits *cand;
	struct espx_policy *hit;	/* the first match */
	__u32 base;
	__u32 stop_rank;		/* a hashed policy comes first */
	__u8  noports;
	__u8  definite;			/* ports unknown: hit matches whatever they are */
};

/* One candidate per call, lowest slot (= XFRM order) first. */
static int pol_scan_cb(__u32 i, void *data)
{
	struct pol_scan *ps = data;
	struct espx_policy *p;
	__u64 x, z0, z1, z2;
	__u32 w, slot;
	int m;

	/* the first non-empty word, branch-free (see ctz64) */
	z0 = is_zero64(ps->cand->w[0]);
	z1 = z0 & is_zero64(ps->cand->w[1]);
	z2 = z1 & is_zero64(ps->cand->w[2]);
	w = (__u32)(z0 + z1 + z2) & 3;
	x = ps->cand->w[w];
	if (!x)
		return 1;
	ps->cand->w[w] = x & (x - 1);
	slot = ps->base + w * 64 + (__u32)ctz64(x);
	p = bpf_map_lookup_elem(&espx_policy, &slot);
	if (!p || p->rank > ps->stop_rank)
		return 1;
	if (!ps->noports) {
		if (!sel_match(&p->sel, ps->f))
			return 0;
		ps->hit = p;
		return 1;
	}
	m = sel_match_noports(&p->sel, ps->f);
	if (!m)
		return 0;
	ps->hit = p;
	ps->definite = m == 2;
	return 1;
}

/* cand &= the bin of (kind, value), or of its ANY kind when no selector
 * names the value. 0: no candidate left. */
static __always_inline int pol_bin_and(struct pol_scratch *s, __u32 dir, __u32 half, __u32 kind,
				       __u16 value)
{
	struct espx_pol_bin_key *k = &s->bk;
	struct espx_pol_bits *b;

	__builtin_memset(k, 0, sizeof(*k));
	k->half = (__u8)half;
	k->dir = (__u8)dir;
	k->kind = (__u8)kind;
	k->value = value;
	b = bpf_map_lookup_elem(&espx_pol_bin, k);
	if (!b) {
		k->kind = (__u8)(kind + 1);	/* the _ANY kind */
		k->value = 0;
		b = bpf_map_lookup_elem(&espx_pol_bin, k);
		if (!b)
			return 0;
	}
	s->cand.w[0] &= b->w[0];
	s->cand.w[1] &= b->w[1];
	s->cand.w[2] &= b->w[2];
	s->cand.w[3] &= b->w[3];
	return !!(s->cand.w[0] | s->cand.w[1] | s->cand.w[2] | s->cand.w[3]);
}

/* How much of the flow is known, for candidates: all of it, all but the
 * ports (a later fragment), or only the addresses (an IPv6 header chain
 * not walked to its end). */
enum pol_known {
	PK_ALL = 0,
	PK_NO_PORTS = 1,
	PK_ADDRS = 2,
};

/* Candidates among the scanned policies (into s->cand): those whose
 * destination and source prefixes contain the flow's addresses and whose
 * protocol and port selectors admit its protocol and ports. Each step is
 * one lookup; the first that leaves nothing ends it. 0: none. */
static __always_inline int pol_candidates(struct pol_scratch *s, const struct flow *f,
					  __u32 dir, __u32 half, __u32 known)
{
	struct espx_pol_lpm_key *k = &s->lk;
	struct espx_pol_bits *d, *src;

	__builtin_memset(k, 0, sizeof(*k));
	k->prefixlen = ESPX_LPM_HDR_BITS + (f->family == AF_INET ? 32 : 128);
	k->family = f->family;
	k->dir = (__u8)dir;
	k->half = (__u8)half;
	k->which = ESPX_LPM_DADDR;
	__builtin_memcpy(k->addr, f->daddr, sizeof(k->addr));
	d = bpf_map_lookup_elem(&espx_pol_lpm, k);
	if (!d)
		return 0;
	k->which = ESPX_LPM_SADDR;
	__builtin_memcpy(k->addr, f->saddr, sizeof(k->addr));
	src = bpf_map_lookup_elem(&espx_pol_lpm, k);
	if (!src)
		return 0;
	s->cand.w[0] = d->w[0] & src->w[0];
	s->cand.w[1] = d->w[1] & src->w[1];
	s->cand.w[2] = d->w[2] & src->w[2];
	s->cand.w[3] = d->w[3] & src->w[3];
	if (!(s->cand.w[0] | s->cand.w[1] | s->cand.w[2] | s->cand.w[3]))
		return 0;
	if (known == PK_ADDRS)
		return 1;
	if (!pol_bin_and(s, dir, half, ESPX_BIN_PROTO, f->proto))
		return 0;
	if (known == PK_NO_PORTS)
		return 1;
	return pol_bin_and(s, dir, half, ESPX_BIN_DPORT, f->dport) &&
	       pol_bin_and(s, dir, half, ESPX_BIN_SPORT, f->sport);
}

/* The walk of policy_hash over the classes. What changes from step to step
 * (class, chain place, best hit) lives in the scratch map, not here: values
 * on the stack would make the verifier walk the steps apart. */
struct pol_hash_walk {
	struct pol_scratch *s;
	const struct flow *f;
	const struct espx_pol_class *cls;	/* the (half, dir, family)'s classes */
	__u32 ncls;
	__u8  dir;
	__u8  half;
	__u8  known;				/* enum pol_known */
	__u8  pad;
};

static __always_inline void pol_hash_next_class(struct pol_scratch *s)
{
	s->hc++;
	s->hseq = 0;
}

static __always_inline void pol_hash_hit(struct pol_scratch *s, const struct espx_policy *p,
					 __u32 definite)
{
	__builtin_memcpy(&s->hitk, &s->hk, sizeof(s->hitk));
	s->hrank = p->rank;
	s->hdef = definite;
	pol_hash_next_class(s);
}

/* What the key of a hashed policy does not hold of its selector: port
 * ranges (masks that are not all ones). The key holds the family, the
 * prefixes, the protocol when the selector names one, and each port whose
 * mask is all ones. 2: the flow matches; 1: it does if its unknown ports
 * fit; 0: it does not. */
static __always_inline int pol_hash_rest(const struct espx_sel *sel, const struct flow *f,
					 __u32 known)
{
	if (known == PK_ALL)
		return ((f->sport ^ sel->sport) & sel->sport_mask) ||
		       ((f->dport ^ sel->dport) & sel->dport_mask) ? 0 : 2;
	if (known == PK_NO_PORTS)
		return sel->sport_mask || sel->dport_mask ? 1 : 2;
	return 2;
}

/* One chain entry per call: the first entry of a class builds its key from
 * the packet's addresses masked to the class's prefix lengths, and its
 * protocol and ports where the class names them exactly. Where the class
 * names what the packet does not tell (enum pol_known), its summary is
 * looked up instead: the first policy that could select the packet, which
 * is then not a definite match. */
static int pol_hash_cb(__u32 i, void *data)
{
	struct pol_hash_walk *w = data;
	struct pol_scratch *s = w->s;
	struct espx_pol_hash_key *k = &s->hk;
	const struct espx_pol_class *cl;
	const struct flow *f = w->f;
	struct espx_policy *p;
	__u32 j, c = s->hc, seq = s->hseq, kf;
	int m, summary = 0;

	if (c >= w->ncls || c >= ESPX_POL_CLASSES)
		return 1;
	cl = &w->cls[c & (ESPX_POL_CLASSES - 1)];
	/* classes come in order of their best rank: none further can win */
	if (cl->best_rank > s->hrank)
		return 1;
	kf = cl->kflags;
	if (w->known == PK_ADDRS && (kf & ESPX_PK_PROTO))
		summary = ESPX_SEQ_ADDRS;
	else if (w->known == PK_NO_PORTS && (kf & (ESPX_PK_DPORT | ESPX_PK_SPORT)))
		summary = ESPX_SEQ_NOPORTS;
	if (!seq) {
		__builtin_memset(k, 0, sizeof(*k));
#pragma unroll
		for (j = 0; j < 4; j++) {
			k->daddr[j] = f->daddr[j] & cl->dmask[j];
			k->saddr[j] = f->saddr[j] & cl->smask[j];
		}
		k->family = f->family;
		k->dir = w->dir;
		k->half = w->half;
		k->prefixlen_d = cl->prefixlen_d;
		k->prefixlen_s = cl->prefixlen_s;
		k->kflags = (__u8)kf;
		if ((kf & ESPX_PK_PROTO) && summary != ESPX_SEQ_ADDRS)
			k->proto = f->proto;
		if ((kf & ESPX_PK_DPORT) && !summary)
			k->dport = f->dport;
		if ((kf & ESPX_PK_SPORT) && !summary)
			k->sport = f->sport;
	}
	k->seq = summary ? (__u8)summary : (__u8)seq;
	p = bpf_map_lookup_elem(&espx_policy_hash, k);
	if (!p || p->rank > s->hrank) {
		pol_hash_next_class(s);
		return 0;
	}
	if (summary) {
		pol_hash_hit(s, p, summary == ESPX_SEQ_ADDRS);	/* policy_any asks no more */
		return 0;
	}
	m = pol_hash_rest(&p->sel, f, w->known);
	if (m)
		pol_hash_hit(s, p, m == 2);
	else if ((p->flags & ESPX_POL_F_MORE) && seq + 1 < ESPX_POL_DEPTH)
		s->hseq = seq + 1;
	else
		pol_hash_next_class(s);
	return 0;
}

/* The hashed policy of lowest rank that matches the flow as far as it is
 * known, or NULL; *definite: it matches whatever the unknown ports are. */
static __always_inline struct espx_policy *
policy_hash(struct pol_scratch *s, struct espx_config *cfg, const struct flow *f, __u32 dir,
	    __u32 half, __u32 known, __u8 *definite)
{
	struct pol_hash_walk w = { .s = s, .f = f, .known = (__u8)known };
	__u32 fam = f->family == AF_INET6;

	half &= 1;
	dir = dir < ESPX_POL__MAX ? dir : 0;
	w.ncls = cfg->ncls[half][dir][fam];
	if (!w.ncls)
		return NULL;
	w.cls = cfg->cls[half][dir][fam];
	w.dir = (__u8)dir;
	w.half = (__u8)half;
	s->hc = 0;
	s->hseq = 0;
	s->hrank = ~0U;
	bpf_loop(ESPX_POL_CLASSES * ESPX_POL_DEPTH, pol_hash_cb, &w, 0);
	if (s->hrank == ~0U)
		return NULL;
	*definite = !!s->hdef;
	return bpf_map_lookup_elem(&espx_policy_hash, &s->hitk);
}

static __always_inline int ike_port(__u16 port)
{
	return port == bpf_htons(IKE_PORT) || port == bpf_htons(NATT_PORT);
}

/* Is UDP 500/4500 between these addresses IKE (espx_ike)? */
static __always_inline int ike_pair(const __u32 *local, const __u32 *remote, __u8 family)
{
	struct pol_scratch *s;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&espx_pol_scratch, &zero);
	if (!s)
		return 0;
	__builtin_memset(&s->ik, 0, sizeof(s->ik));
	__builtin_memcpy(s->ik.local, local, sizeof(s->ik.local));
	__builtin_memcpy(s->ik.remote, remote, sizeof(s->ik.remote));
	s->ik.family = family;
	return bpf_map_lookup_elem(&espx_ike, &s->ik) != NULL;
}

/* The table's generation, read after the lookups that depend on it. x86
 * keeps loads in order (TSO), so a plain read is enough there; elsewhere a
 * fetch-and-add of 0 is the full barrier BPF offers. */
static __always_inline __u32 pol_gen(struct espx_config *cfg)
{
#ifdef __TARGET_ARCH_x86
	return *(volatile __u32 *)&cfg->active;
#else
	return __sync_fetch_and_add(&cfg->active, 0);
#endif
}

/* Is a transition running (espx_config.guard_until)? */
static __always_inline int transition_guard(void)
{
	struct espx_config *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&espx_config, &zero);
	return cfg && cfg->guard_until && bpf_ktime_get_boot_ns() < cfg->guard_until;
}

/* Does direction dir have any policy at all? */
static __always_inline int policy_table_used(__u32 dir)
{
	struct espx_config *cfg;
	__u32 zero = 0, half;

	cfg = bpf_map_lookup_elem(&espx_config, &zero);
	if (!cfg)
		return 0;
	half = cfg->active & 1;
	dir = dir < ESPX_POL__MAX ? dir : 0;
	return cfg->count[half][dir] || cfg->nhash[half][dir];
}

/* Could any policy of direction dir select this flow, as far as it is
 * known (enum pol_known)? Lookups only: what a packet no policy covers
 * pays. Global, so that the verifier checks it (and the walk it runs)
 * once, not once per caller. */
__noinline int policy_any(const struct flow *f, __u32 dir, __u32 known)
{
	struct espx_config *cfg;
	struct pol_scratch *s;
	__u32 zero = 0, half, gen;
	__u8 definite;

	cfg = bpf_map_lookup_elem(&espx_config, &zero);
	s = bpf_map_lookup_elem(&espx_pol_scratch, &zero);
	if (!cfg || !s || !f)
		return 0;
	gen = pol_gen(cfg);
	half = gen & 1;
	dir = dir < ESPX_POL__MAX ? dir : 0;
	if (cfg->nhash[half][dir] && policy_hash(s, cfg, f, dir, half, known, &definite))
		return 1;
	if (cfg->count[half][dir] && pol_candidates(s, f, dir, half, known))
		return 1;
	/* "none" read from a half that was switched meanwhile is not known:
	 * the callers then decide in full */
	return pol_gen(cfg) != gen;
}

/* How policy_decide is to judge: direction, mode, ports unknown. (BPF
 * functions take five arguments.) */
#define PD_OPTS(dir, mode, noports)	((dir) | (mode) << 8 | (noports) << 16)

/* The verdict of a direction's policies for flow f (see the top of this
 * file); opts: PD_OPTS(). 1 when the table was switched during the lookup
 * (v is then a policy-changed drop; the caller may try once more), else 0. */
/* Global, so that the verifier checks it once, not once per caller. */
__noinline int policy_decide(const struct flow *f, __u32 opts, const struct pol_sa *sa,
			     struct pol_verdict *v)
{
	__u32 dir = opts & 0xff, mode = (opts >> 8) & 0xff;
	struct pol_scan ps = { .f = f, .noports = !!(opts >> 16), .stop_rank = ~0U };
	struct espx_policy *hashed = NULL, *p;
	struct espx_config *cfg;
	struct pol_scratch *s;
	__u32 zero = 0, half, gen;
	__u8 definite = 1;

	if (!v)
		return 0;
	pv_set(v, PV_DROP, ESPX_DROP_INTERNAL);
	cfg = bpf_map_lookup_elem(&espx_config, &zero);
	s = bpf_map_lookup_elem(&espx_pol_scratch, &zero);
	if (!cfg || !s || !f)
		return 0;
	gen = pol_gen(cfg);
	half = gen & 1;
	dir = dir < ESPX_POL__MAX ? dir : 0;
	if (!ps.noports && !espx_pv_cache_off) {
		struct pv_cache_ent *ce;

		s->cidx = pv_key(&s->ck, f, dir | mode << 8, sa, gen) & (PV_CACHE_SIZE - 1);
		ce = pv_get(&s->ck, s->cidx);
		if (ce) {
			__builtin_memcpy(v, &ce->v, sizeof(*v));
			return 0;
		}
	}
	if (cfg->nhash[half][dir])
		hashed = policy_hash(s, cfg, f, dir, half, ps.noports ? PK_NO_PORTS : PK_ALL,
				     &definite);
	if (hashed)
		ps.stop_rank = hashed->rank;
	ps.s = s;
	ps.cand = &s->cand;
	if (cfg->count[half][dir] &&
	    pol_candidates(s, f, dir, half, ps.noports ? PK_NO_PORTS : PK_ALL)) {
		ps.base = ESPX_POL_SLOT(half, dir, 0);
		bpf_loop(ESPX_MAX_POLICY, pol_scan_cb, &ps, 0);
	}
	/* both matched: the one XFRM would have tried first */
	if (ps.hit && (!hashed || ps.hit->rank < hashed->rank)) {
		p = ps.hit;
		definite = ps.definite;
	} else {
		p = hashed;
	}
	/* ports unknown, and the first policy that could select the packet
	 * depends on them: its datagram's first fragment was not seen, and
	 * nothing is let through on a guess */
	if (ps.noports && p && !definite) {
		pv_set(v, PV_DROP, ESPX_DROP_FRAG_UNDECIDED);
		return 0;
	}
	if (pol_gen(cfg) != gen) {
		pv_set(v, PV_DROP, ESPX_DROP_POLICY_CHANGED);
		return 1;
	}
	pol_judge(p, mode, sa, v);
	/* the kernel would ask the IKE daemon for the SA (acquire.h) */
	if (p && v->action == PV_DROP && v->reason == ESPX_DROP_NO_SA_OUT)
		acq_report(&s->ak, p, f);
	else if (!ps.noports && !espx_pv_cache_off)
		pv_put(&s->ck, s->cidx, v);
	return 0;
}

#endif
