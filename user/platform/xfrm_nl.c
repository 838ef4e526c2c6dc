// SPDX-License-Identifier: GPL-2.0
/* XFRM netlink: sockets, requests and the codec between kernel messages and espx structs (xfrm_nl.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/udp.h>
#include "espx_common.h"
#include "common/util.h"
#include "platform/xfrm_nl.h"
#include "model/xfrm_parse.h"

/* Open an XFRM socket (xfrm_nl.h). */
int xnl_open(struct nl *x, unsigned int groups, int rcvbuf)
{
	return nl_open(x, NETLINK_XFRM, groups, rcvbuf);
}

/* --- decoding ----------------------------------------------------------- */

static void addr_copy(__u32 dst[4], const xfrm_address_t *a, unsigned int family)
{
	memset(dst, 0, 16);
	if (family == AF_INET6)
		memcpy(dst, a->a6, 16);
	else
		dst[0] = a->a4;
}

static void sel_copy(struct espx_sel *s, const struct xfrm_selector *x)
{
	memset(s, 0, sizeof(*s));
	s->family = (__u8)x->family;
	addr_copy(s->daddr, &x->daddr, x->family);
	addr_copy(s->saddr, &x->saddr, x->family);
	s->dport = x->dport;
	s->dport_mask = x->dport_mask;
	s->sport = x->sport;
	s->sport_mask = x->sport_mask;
	s->prefixlen_d = x->prefixlen_d;
	s->prefixlen_s = x->prefixlen_s;
	s->proto = x->proto;
}

static void why(char w[ESPX_WHY_LEN], const char *fmt, const char *arg)
{
	if (!w[0])	/* the first reason found is the one reported */
		snprintf(w, ESPX_WHY_LEN, fmt, arg ? arg : "");
}

struct attrs {
	const struct nlattr *a[XFRMA_MAX + 1];
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	struct attrs *t = data;
	int type = mnl_attr_get_type(attr);

	if (type > 0 && type <= XFRMA_MAX)
		t->a[type] = attr;
	return MNL_CB_OK;
}

static int parse_attrs(const struct nlmsghdr *nlh, size_t hdr, struct attrs *t)
{
	memset(t, 0, sizeof(*t));
	if (nlh->nlmsg_len < NLMSG_LENGTH(hdr))
		return -EINVAL;
	return mnl_attr_parse(nlh, (unsigned int)hdr, attr_cb, t) < 0 ? -EINVAL : 0;
}

/* Netlink aligns messages and attributes to 4 bytes only, so a struct
 * with 64-bit members (xfrm_usersa_info, xfrm_userpolicy_info,
 * xfrm_lifetime_cur) may sit at an address its type does not allow: such
 * structs are copied out (memcpy) before their fields are read. */
static const void *attr_data(const struct attrs *t, int type, size_t min)
{
	const struct nlattr *a = t->a[type];

	if (!a || mnl_attr_get_payload_len(a) < min)
		return NULL;
	return mnl_attr_get_payload(a);
}

static int mark_set(const struct attrs *t)
{
	const struct xfrm_mark *m = attr_data(t, XFRMA_MARK, sizeof(*m));

	return m && (m->v || m->m);
}

static int if_id_set(const struct attrs *t)
{
	const __u32 *id = attr_data(t, XFRMA_IF_ID, sizeof(*id));

	return id && *id;
}

/* The kernel's replay state attribute, into ae (seq numbers and window). */
static void replay_decode(const struct attrs *t, struct xnl_ae *ae)
{
	const struct xfrm_replay_state_esn *e =
		attr_data(t, XFRMA_REPLAY_ESN_VAL, sizeof(struct xfrm_replay_state_esn));
	const struct xfrm_replay_state *r = attr_data(t, XFRMA_REPLAY_VAL, sizeof(*r));

	/* taken only if whole, within what espx keeps, and with the window
	 * inside the bitmap (as the kernel's verify_replay() demands): kbit()
	 * indexes the bitmap by (s - 1) % window */
	if (e && mnl_attr_get_payload_len(t->a[XFRMA_REPLAY_ESN_VAL]) >=
		     sizeof(*e) + e->bmp_len * sizeof(__u32) &&
	    e->bmp_len <= ESPX_REPLAY_MAX / 32 && e->replay_window <= e->bmp_len * 32) {
		ae->esn_attr = 1;
		ae->bmp_len = e->bmp_len;
		ae->window = e->replay_window;
		ae->oseq = (__u64)e->oseq_hi << 32 | e->oseq;
		ae->seq = (__u64)e->seq_hi << 32 | e->seq;
		memcpy(ae->bmp, e->bmp, e->bmp_len * sizeof(__u32));
	} else if (r) {
		ae->esn_attr = 0;
		ae->bmp_len = 1;
		ae->oseq = r->oseq;
		ae->seq = r->seq;
		ae->bmp[0] = r->bitmap;
	}
}

static int kbit(const struct xnl_ae *ae, uint64_t s)
{
	uint64_t nr;

	if (!ae->esn_attr) {	/* legacy: bit i is top - i */
		nr = ae->seq - s;
		return nr < 32 && (ae->bmp[0] >> nr & 1);
	}
	nr = (s - 1) % ae->window;
	return ae->bmp[nr / 32] >> (nr % 32) & 1;
}

static uint32_t kwindow(const struct xnl_ae *ae)
{
	uint32_t w = ae->window;

	if (!ae->esn_attr && (!w || w > 32))
		w = 32;
	if (w > ESPX_REPLAY_MAX)
		w = ESPX_REPLAY_MAX;
	return w;
}

void xnl_window_to_espx(const struct xnl_ae *ae, __u64 replay[ESPX_REPLAY_WORDS])
{
	uint32_t w = kwindow(ae), i;
	uint64_t s;

	memset(replay, 0, ESPX_REPLAY_WORDS * sizeof(*replay));
	if (!w)
		return;
	for (i = 0; i < w && i < ae->seq; i++) {
		s = ae->seq - i;
		if (kbit(ae, s))
			replay[(s % ESPX_REPLAY_MAX) / 64] |= 1ULL << (s % 64);
	}
}

void xnl_window_from_espx(struct xnl_ae *ae, uint64_t top,
			  const __u64 replay[ESPX_REPLAY_WORDS])
{
	uint32_t w = kwindow(ae), i;
	uint64_t s, nr;

	memset(ae->bmp, 0, sizeof(ae->bmp));
	ae->seq = top;
	for (i = 0; w && i < w && i < top; i++) {
		s = top - i;
		if (!(replay[(s % ESPX_REPLAY_MAX) / 64] >> (s % 64) & 1))
			continue;
		nr = ae->esn_attr ? (s - 1) % ae->window : i;
		ae->bmp[nr / 32] |= 1U << (nr % 32);
	}
}

/* XFRM_STATE_* and XFRM_SA_XFLAG_* onto the SA (user/xfrm_parse.c says
 * what espx does with each): the ECN/DSCP/DF flags are the datapath's;
 * af-unspec has already shaped the selector the kernel reports, align4
 * concerns AH only; what espx cannot do as the kernel does leaves the SA
 * to the kernel. All eight XFRM_STATE_* bits are known; extra flags may
 * grow. */
static void sa_flags_decode(struct xnl_sa *s, __u8 flags, const __u32 *extra)
{
	struct espx_sa *sa = &s->sa;
	__u32 x = extra ? *extra : 0;
	char hex[16];

	if (flags & XFRM_STATE_NOECN)
		sa->flags |= ESPX_SA_F_NOECN;
	if (flags & XFRM_STATE_DECAP_DSCP)
		sa->flags |= ESPX_SA_F_DECAP_DSCP;
	if (flags & XFRM_STATE_NOPMTUDISC)
		sa->flags |= ESPX_SA_F_NOPMTUDISC;
	if (x & XFRM_SA_XFLAG_DONT_ENCAP_DSCP)
		sa->flags |= ESPX_SA_F_DONT_ENCAP_DSCP;
	if (flags & XFRM_STATE_WILDRECV)
		why(s->why, "flag wildrecv (Mobile IPv6 wildcard receive)", NULL);
	if (flags & XFRM_STATE_ICMP)
		why(s->why, "flag icmp (ICMP errors by their embedded packet)", NULL);
	if (x & XFRM_SA_XFLAG_OSEQ_MAY_WRAP)
		why(s->why, "extra-flag oseq-may-wrap (espx never wraps)", NULL);
	x &= ~(__u32)(XFRM_SA_XFLAG_DONT_ENCAP_DSCP | XFRM_SA_XFLAG_OSEQ_MAY_WRAP);
	if (x) {
		snprintf(hex, sizeof(hex), "0x%x", x);
		why(s->why, "extra-flag %s unknown to espx", hex);
	}
}

int xnl_sa_decode(const struct nlmsghdr *nlh, struct xnl_sa *s)
{
	struct xfrm_usersa_info pc;	/* aligned copy */
	const struct xfrm_usersa_info *p = &pc;
	const struct xfrm_algo_aead *aead;
	const struct xfrm_encap_tmpl *enc;
	struct espx_sa *sa = &s->sa;
	struct xnl_ae ae = { 0 };
	struct attrs t;
	size_t klen;

	memset(s, 0, sizeof(*s));
	if (parse_attrs(nlh, sizeof(*p), &t))
		return -EINVAL;
	memcpy(&pc, mnl_nlmsg_get_payload(nlh), sizeof(pc));
	if (p->family != AF_INET && p->family != AF_INET6)
		return -EINVAL;
	s->proto = p->id.proto;
	s->reqid = p->reqid;
	s->key.family = (__u8)p->family;
	s->key.spi = p->id.spi;
	addr_copy(s->key.daddr, &p->id.daddr, p->family);
	s->k_bytes = p->curlft.bytes;
	s->k_packets = p->curlft.packets;
	s->k_add_time = p->curlft.add_time;
	s->k_use_time = p->curlft.use_time;

	sa->family = (__u8)p->family;
	memcpy(sa->daddr, s->key.daddr, sizeof(sa->daddr));
	addr_copy(sa->saddr, &p->saddr, p->family);
	sa->reqid = p->reqid;
	sa->mode = p->mode;
	sel_copy(&sa->sel, &p->sel);
	sa->lft.soft_bytes = p->lft.soft_byte_limit;
	sa->lft.hard_bytes = p->lft.hard_byte_limit;
	sa->lft.soft_packets = p->lft.soft_packet_limit;
	sa->lft.hard_packets = p->lft.hard_packet_limit;
	if (p->flags & XFRM_STATE_ESN)
		sa->flags |= ESPX_SA_F_ESN;

	replay_decode(&t, &ae);
	s->esn_attr = ae.esn_attr;
	s->bmp_len = ae.bmp_len;
	s->k_window = ae.esn_attr ? ae.window : p->replay_window;
	sa->replay_window = (__u16)(s->k_window > ESPX_REPLAY_MAX ? 0 : s->k_window);
	sa->oseq = ae.oseq;
	sa->seq = ae.seq;
	ae.window = s->k_window;
	xnl_window_to_espx(&ae, sa->replay);

	if (p->id.proto != IPPROTO_ESP)
		why(s->why, "proto %s (espx carries ESP only)",
		    p->id.proto == IPPROTO_AH ? "ah" : p->id.proto == IPPROTO_COMP ? "comp" : "other");
	if (p->mode != XFRM_MODE_TRANSPORT && p->mode != XFRM_MODE_TUNNEL)
		why(s->why, "mode %s (espx does transport and tunnel)",
		    p->mode == XFRM_MODE_BEET ? "beet" : "other");
	if (s->k_window > ESPX_REPLAY_MAX)
		why(s->why, "replay-window above 4096", NULL);
	if (t.a[XFRMA_REPLAY_ESN_VAL] && !ae.esn_attr)
		why(s->why, "ESN replay window above 4096, or malformed", NULL);
	if (t.a[XFRMA_ALG_CRYPT] || t.a[XFRMA_ALG_AUTH] || t.a[XFRMA_ALG_AUTH_TRUNC]) {
		const struct xfrm_algo *a = attr_data(&t, XFRMA_ALG_CRYPT, sizeof(*a));

		if (!a)
			a = attr_data(&t, XFRMA_ALG_AUTH_TRUNC, sizeof(*a));
		if (!a)
			a = attr_data(&t, XFRMA_ALG_AUTH, sizeof(*a));
		why(s->why, "enc/auth %.24s (espx: AES-GCM only)", a ? a->alg_name : "?");
	}
	if (t.a[XFRMA_ALG_COMP])
		why(s->why, "IPcomp", NULL);
	aead = attr_data(&t, XFRMA_ALG_AEAD, sizeof(*aead));
	if (aead) {
		klen = (aead->alg_key_len + 7) / 8;
		if (mnl_attr_get_payload_len(t.a[XFRMA_ALG_AEAD]) < sizeof(*aead) + klen)
			return -EINVAL;
		if (strncmp(aead->alg_name, XP_AEAD_NAME, sizeof(aead->alg_name)))
			why(s->why, "aead %.24s (espx: AES-GCM only)", aead->alg_name);
		else if (aead->alg_key_len != 160 && aead->alg_key_len != 224 &&
			 aead->alg_key_len != 288)
			why(s->why, "AES-GCM key of an unsupported length", NULL);
		else if (aead->alg_icv_len != 64 && aead->alg_icv_len != 96 &&
			 aead->alg_icv_len != 128)
			why(s->why, "AES-GCM ICV of an unsupported length", NULL);
		else {
			s->aes_key_len = klen - ESPX_GCM_SALT_LEN;
			memcpy(s->aes_key, aead->alg_key, s->aes_key_len);
			memcpy(sa->salt, aead->alg_key + s->aes_key_len, ESPX_GCM_SALT_LEN);
			sa->key_len = (__u8)s->aes_key_len;
			sa->icv_len = (__u8)(aead->alg_icv_len / 8);
		}
	} else if (p->id.proto == IPPROTO_ESP && !t.a[XFRMA_ALG_CRYPT]) {
		why(s->why, "no algorithm yet (larval SA)", NULL);
	}
	enc = attr_data(&t, XFRMA_ENCAP, sizeof(*enc));
	if (enc) {
		if (enc->encap_type != UDP_ENCAP_ESPINUDP)
			why(s->why, "UDP encapsulation other than espinudp", NULL);
		else if (p->family == AF_INET6)
			why(s->why, "espinudp over IPv6", NULL);
		sa->flags |= ESPX_SA_F_ENCAP;
		sa->encap_sport = enc->encap_sport;
		sa->encap_dport = enc->encap_dport;
	}
	if (mark_set(&t))
		why(s->why, "mark (espx does not match marks)", NULL);
	if (t.a[XFRMA_SET_MARK])
		why(s->why, "output-mark", NULL);
	if (if_id_set(&t))
		why(s->why, "if_id (an xfrm interface's SA)", NULL);
	if (t.a[XFRMA_OFFLOAD_DEV])
		why(s->why, "offloaded to a device", NULL);
	if (t.a[XFRMA_SEC_CTX])
		why(s->why, "security context", NULL);
	if (t.a[XFRMA_COADDR])
		why(s->why, "care-of address", NULL);
	{
		const __u32 *tfc = attr_data(&t, XFRMA_TFCPAD, sizeof(*tfc));

		if (tfc && *tfc)
			why(s->why, "tfcpad", NULL);
	}
	if (p->sel.ifindex)
		why(s->why, "selector bound to a device", NULL);
	sa_flags_decode(s, p->flags, attr_data(&t, XFRMA_SA_EXTRA_FLAGS, sizeof(__u32)));
	if (s->why[0])
		xnl_sa_wipe_key(s);
	return 0;
}

void xnl_sa_wipe_key(struct xnl_sa *s)
{
	wipe(s->aes_key, sizeof(s->aes_key));
	s->aes_key_len = 0;
}

void xnl_sa_wipe(struct xnl_sa *s)
{
	wipe(s, sizeof(*s));
}

int xnl_sa_id_decode(const struct nlmsghdr *nlh, struct espx_sa_key *key, uint8_t *proto)
{
	const struct xfrm_usersa_id *id = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*id)) ||
	    (id->family != AF_INET && id->family != AF_INET6))
		return -EINVAL;
	memset(key, 0, sizeof(*key));
	key->family = (__u8)id->family;
	key->spi = id->spi;
	addr_copy(key->daddr, &id->daddr, id->family);
	*proto = id->proto;
	return 0;
}

int xnl_pol_decode(const struct nlmsghdr *nlh, struct xnl_pol *p)
{
	struct xfrm_userpolicy_info uc;	/* aligned copy */
	const struct xfrm_userpolicy_info *u = &uc;
	const struct xfrm_userpolicy_type *pt;
	const struct xfrm_user_tmpl *tm;
	struct espx_policy *pol = &p->pol;
	struct attrs t;
	size_t n;

	memset(p, 0, sizeof(*p));
	if (parse_attrs(nlh, sizeof(*u), &t))
		return -EINVAL;
	memcpy(&uc, mnl_nlmsg_get_payload(nlh), sizeof(uc));
	if (u->dir >= XFRM_POLICY_MAX) {	/* a socket's own policy */
		p->skip = 1;
		return 0;
	}
	pt = attr_data(&t, XFRMA_POLICY_TYPE, sizeof(*pt));
	if (pt && pt->type != XFRM_POLICY_TYPE_MAIN) {
		p->skip = 1;
		return 0;
	}
	if (xnl_pol_is_rx_mark(u, attr_data(&t, XFRMA_MARK, sizeof(struct xfrm_mark)),
			       t.a[XFRMA_TMPL] ? 1 : 0)) {
		p->skip = 1;	/* espx's own (xnl_rx_mark_policy) */
		return 0;
	}
	sel_copy(&pol->sel, &u->sel);
	pol->priority = u->priority;
	pol->index = u->index;
	pol->dir = u->dir;
	pol->action = u->action == XFRM_POLICY_BLOCK ? ESPX_POL_BLOCK : ESPX_POL_ALLOW;
	n = t.a[XFRMA_TMPL] ? mnl_attr_get_payload_len(t.a[XFRMA_TMPL]) / sizeof(*tm) : 0;
	if (n) {
		tm = mnl_attr_get_payload(t.a[XFRMA_TMPL]);
		pol->flags |= ESPX_POL_F_TMPL;
		pol->tmpl.family = (__u8)tm->family;
		addr_copy(pol->tmpl.saddr, &tm->saddr, tm->family);
		addr_copy(pol->tmpl.daddr, &tm->id.daddr, tm->family);
		pol->tmpl.spi = tm->id.spi;
		pol->tmpl.reqid = tm->reqid;
		pol->tmpl.mode = tm->mode;
		pol->tmpl.optional = tm->optional;
		if (n > 1)
			why(p->why, "more than one template (a bundle)", NULL);
		else if (tm->id.proto != IPPROTO_ESP)
			why(p->why, "template proto %s (espx carries ESP only)",
			    tm->id.proto == IPPROTO_AH ? "ah" : "comp");
		else if (tm->mode != XFRM_MODE_TRANSPORT && tm->mode != XFRM_MODE_TUNNEL)
			why(p->why, "template mode other than transport or tunnel", NULL);
	}
	if (mark_set(&t))
		why(p->why, "mark (espx does not match marks)", NULL);
	if (if_id_set(&t))
		why(p->why, "if_id (an xfrm interface's policy)", NULL);
	if (t.a[XFRMA_SEC_CTX])
		why(p->why, "security context", NULL);
	if (u->sel.ifindex)
		why(p->why, "selector bound to a device", NULL);
	return 0;
}

int xnl_pol_age_cmp(const struct xnl_pol *a, const struct xnl_pol *b)
{
	__u32 x = a->pol.index, y = b->pol.index;

	return x < y ? -1 : x > y;
}

static int pol_age_cmp(const void *a, const void *b)
{
	return xnl_pol_age_cmp(a, b);
}

void xnl_pol_sort_age(struct xnl_pol *p, size_t n)
{
	if (n > 1)	/* indexes are unique: the order is fully determined */
		qsort(p, n, sizeof(*p), pol_age_cmp);
}

int xnl_pol_id_decode(const struct nlmsghdr *nlh, struct espx_sel *sel, uint32_t *index,
		      uint8_t *dir)
{
	const struct xfrm_userpolicy_id *id = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*id)))
		return -EINVAL;
	sel_copy(sel, &id->sel);
	*index = id->index;
	*dir = id->dir;
	return 0;
}

/* --- asking and telling the kernel -------------------------------------- */

static void sa_id_put(struct xfrm_usersa_id *id, const struct espx_sa_key *key)
{
	memset(id, 0, sizeof(*id));
	if (key->family == AF_INET6)
		memcpy(id->daddr.a6, key->daddr, 16);
	else
		id->daddr.a4 = key->daddr[0];
	id->spi = key->spi;
	id->family = key->family;
	id->proto = IPPROTO_ESP;
}

int xnl_ae_decode(const struct nlmsghdr *nlh, struct xnl_ae *ae)
{
	struct xfrm_lifetime_cur lt;
	struct attrs t;

	if (nlh->nlmsg_type != XFRM_MSG_NEWAE ||
	    parse_attrs(nlh, sizeof(struct xfrm_aevent_id), &t))
		return -EINVAL;
	replay_decode(&t, ae);
	ae->valid = 1;
	if (attr_data(&t, XFRMA_LTIME_VAL, sizeof(lt))) {
		memcpy(&lt, mnl_attr_get_payload(t.a[XFRMA_LTIME_VAL]), sizeof(lt));
		ae->bytes = lt.bytes;
		ae->packets = lt.packets;
		ae->add_time = lt.add_time;
		ae->use_time = lt.use_time;
	}
	return 0;
}

static int ae_cb(const struct nlmsghdr *nlh, void *data)
{
	return xnl_ae_decode(nlh, data) ? 0 : 1;
}

int xnl_getae(struct nl *x, const struct espx_sa_key *key, struct xnl_ae *ae)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct xfrm_aevent_id *id;
	int err;

	memset(ae, 0, sizeof(*ae));
	nlh->nlmsg_type = XFRM_MSG_GETAE;
	id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	sa_id_put(&id->sa_id, key);
	id->flags = XFRM_AE_RVAL | XFRM_AE_LVAL;
	/* no ACK flag: the answer is the NEWAE itself */
	err = nl_ask(x, nlh, ae_cb, ae);
	if (err)
		return err;
	return ae->valid ? 0 : -ENOENT;
}

int xnl_newae(struct nl *x, const struct espx_sa_key *key, const struct xnl_ae *ae, int replay)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct xfrm_lifetime_cur lt = {
		.bytes = ae->bytes, .packets = ae->packets,
		.add_time = ae->add_time, .use_time = ae->use_time,
	};
	struct xfrm_aevent_id *id;

	nlh->nlmsg_type = XFRM_MSG_NEWAE;
	nlh->nlmsg_flags = NLM_F_REPLACE;
	id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	sa_id_put(&id->sa_id, key);
	mnl_attr_put(nlh, XFRMA_LTIME_VAL, sizeof(lt), &lt);
	if (replay && ae->esn_attr) {
		size_t len = sizeof(struct xfrm_replay_state_esn) + ae->bmp_len * sizeof(__u32);
		char rb[sizeof(struct xfrm_replay_state_esn) + sizeof(ae->bmp)];
		struct xfrm_replay_state_esn *e = (void *)rb;

		memset(rb, 0, sizeof(rb));
		e->bmp_len = ae->bmp_len;
		e->oseq = (__u32)ae->oseq;
		e->oseq_hi = (__u32)(ae->oseq >> 32);
		e->seq = (__u32)ae->seq;
		e->seq_hi = (__u32)(ae->seq >> 32);
		e->replay_window = ae->window;
		memcpy(e->bmp, ae->bmp, ae->bmp_len * sizeof(__u32));
		mnl_attr_put(nlh, XFRMA_REPLAY_ESN_VAL, len, rb);
	} else if (replay) {
		struct xfrm_replay_state r = {
			.oseq = (__u32)ae->oseq, .seq = (__u32)ae->seq, .bitmap = ae->bmp[0],
		};

		mnl_attr_put(nlh, XFRMA_REPLAY_VAL, sizeof(r), &r);
	}
	return nl_request(x, nlh, NULL, NULL);
}

int xnl_expire(struct nl *x, const struct espx_sa_key *key, int hard)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct xfrm_user_expire *ue;

	nlh->nlmsg_type = XFRM_MSG_EXPIRE;
	ue = mnl_nlmsg_put_extra_header(nlh, sizeof(*ue));
	if (key->family == AF_INET6)
		memcpy(ue->state.id.daddr.a6, key->daddr, 16);
	else
		ue->state.id.daddr.a4 = key->daddr[0];
	ue->state.id.spi = key->spi;
	ue->state.id.proto = IPPROTO_ESP;
	ue->state.family = key->family;
	ue->hard = (__u8)!!hard;
	return nl_request(x, nlh, NULL, NULL);
}

static void addr_put(xfrm_address_t *a, const __u32 src[4], unsigned int family)
{
	memset(a, 0, sizeof(*a));
	if (family == AF_INET6)
		memcpy(a->a6, src, 16);
	else
		a->a4 = src[0];
}

static void sel_put(struct xfrm_selector *x, const struct espx_sel *s)
{
	memset(x, 0, sizeof(*x));
	x->family = s->family;
	addr_put(&x->daddr, s->daddr, s->family);
	addr_put(&x->saddr, s->saddr, s->family);
	x->dport = s->dport;
	x->dport_mask = s->dport_mask;
	x->sport = s->sport;
	x->sport_mask = s->sport_mask;
	x->prefixlen_d = s->prefixlen_d;
	x->prefixlen_s = s->prefixlen_s;
	x->proto = s->proto;
}

static void lft_inf(struct xfrm_lifetime_cfg *l)
{
	l->soft_byte_limit = l->hard_byte_limit = XFRM_INF;
	l->soft_packet_limit = l->hard_packet_limit = XFRM_INF;
}

int xnl_acquire_build(struct nlmsghdr *nlh, const struct espx_acquire_event *ev)
{
	const struct espx_tmpl *t = &ev->tmpl;
	struct xfrm_user_acquire *ua;
	struct xfrm_user_tmpl ut;
	struct espx_sel pkt;
	unsigned int pfam, tfam;
	int host = ev->family == AF_INET6 ? 128 : 32;

	if (ev->type != ESPX_EV_ACQUIRE ||
	    (ev->family != AF_INET && ev->family != AF_INET6))
		return -EINVAL;
	/* the kernel's policies always name a family; a static one may not */
	pfam = ev->sel.family ? ev->sel.family : ev->family;
	tfam = t->family ? t->family : ev->family;
	if (t->mode != ESPX_MODE_TRANSPORT && t->mode != ESPX_MODE_TUNNEL)
		return -EINVAL;
	/* verify_newpolicy_info(): the index encodes the direction */
	if (ev->index && (ev->index & 7) != XFRM_POLICY_OUT)
		return -EINVAL;

	/* the packet, as xfrm_init_tempsel() makes the larval SA's selector */
	memset(&pkt, 0, sizeof(pkt));
	pkt.family = ev->family;
	memcpy(pkt.saddr, ev->saddr, 16);
	memcpy(pkt.daddr, ev->daddr, 16);
	pkt.prefixlen_s = pkt.prefixlen_d = (__u8)host;
	pkt.proto = ev->proto;
	pkt.sport = ev->sport;
	pkt.dport = ev->dport;
	pkt.sport_mask = pkt.dport_mask = 0xffff;

	/* the template; in transport mode its addresses are the packet's */
	memset(&ut, 0, sizeof(ut));
	ut.family = (__u16)tfam;
	ut.id.proto = IPPROTO_ESP;
	ut.id.spi = t->spi;
	ut.reqid = t->reqid;
	ut.mode = t->mode;
	ut.optional = t->optional;
	ut.aalgos = ut.ealgos = ut.calgos = ~0U;
	if (t->mode == ESPX_MODE_TRANSPORT) {
		ut.family = ev->family;
		addr_put(&ut.id.daddr, ev->daddr, ev->family);
		addr_put(&ut.saddr, ev->saddr, ev->family);
	} else {
		addr_put(&ut.id.daddr, t->daddr, tfam);
		addr_put(&ut.saddr, t->saddr, tfam);
	}

	nlh->nlmsg_type = XFRM_MSG_ACQUIRE;
	ua = mnl_nlmsg_put_extra_header(nlh, sizeof(*ua));
	ua->id = ut.id;
	ua->saddr = ut.saddr;
	sel_put(&ua->sel, &pkt);
	sel_put(&ua->policy.sel, &ev->sel);
	ua->policy.sel.family = (__u16)pfam;
	lft_inf(&ua->policy.lft);
	ua->policy.priority = ev->priority;
	ua->policy.index = ev->index;
	ua->policy.dir = XFRM_POLICY_OUT;
	ua->policy.action = XFRM_POLICY_ALLOW;
	ua->policy.share = XFRM_SHARE_ANY;
	ua->aalgos = ua->ealgos = ua->calgos = ~0U;
	mnl_attr_put(nlh, XFRMA_TMPL, sizeof(ut), &ut);
	return 0;
}

int xnl_acquire(struct nl *x, const struct espx_acquire_event *ev)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	int err = xnl_acquire_build(nlh, ev);

	return err ? err : nl_request(x, nlh, NULL, NULL);
}

int xnl_expire_decode(const struct nlmsghdr *nlh, struct espx_sa_key *key, int *hard)
{
	struct xfrm_user_expire uec;	/* aligned copy */
	const struct xfrm_user_expire *ue = &uec;

	if (nlh->nlmsg_type != XFRM_MSG_EXPIRE ||
	    nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ue)))
		return -EINVAL;
	memcpy(&uec, mnl_nlmsg_get_payload(nlh), sizeof(uec));
	if (ue->state.family != AF_INET && ue->state.family != AF_INET6)
		return -EINVAL;
	memset(key, 0, sizeof(*key));
	key->family = (__u8)ue->state.family;
	key->spi = ue->state.id.spi;
	addr_copy(key->daddr, &ue->state.id.daddr, ue->state.family);
	*hard = !!ue->hard;
	return 0;
}

int xnl_polexpire_decode(const struct nlmsghdr *nlh, uint32_t *index, uint8_t *dir,
			 struct espx_sel *sel, int *hard)
{
	struct xfrm_user_polexpire pec;	/* aligned copy */
	const struct xfrm_user_polexpire *pe = &pec;

	if (nlh->nlmsg_type != XFRM_MSG_POLEXPIRE ||
	    nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*pe)))
		return -EINVAL;
	memcpy(&pec, mnl_nlmsg_get_payload(nlh), sizeof(pec));
	*index = pe->pol.index;
	*dir = pe->pol.dir;
	sel_copy(sel, &pe->pol.sel);
	*hard = !!pe->hard;
	return 0;
}

/* --- espx's own kernel policy ------------------------------------------- */

int xnl_pol_is_rx_mark(const struct xfrm_userpolicy_info *u, const struct xfrm_mark *m, int ntmpl)
{
	return m && m->v == ESPX_RX_MARK && m->m == 0xffffffffU && !ntmpl &&
	       u->dir == XFRM_POLICY_IN && u->priority == 0 && u->action == XFRM_POLICY_ALLOW &&
	       u->sel.family == AF_INET6 && !u->sel.prefixlen_d && !u->sel.prefixlen_s &&
	       !u->sel.proto && !u->sel.ifindex;
}

int xnl_pol_needs_rx_mark(const struct espx_policy *p)
{
	return p->dir == XFRM_POLICY_IN && (p->flags & ESPX_POL_F_TMPL) && !p->tmpl.optional &&
	       (p->sel.family == AF_INET6 || !p->sel.family);
}

static int need_cb(const struct nlmsghdr *nlh, void *data)
{
	struct xnl_pol p;

	if (nlh->nlmsg_type == XFRM_MSG_NEWPOLICY && !xnl_pol_decode(nlh, &p) && !p.skip &&
	    xnl_pol_needs_rx_mark(&p.pol))
		*(int *)data = 1;
	return MNL_CB_OK;
}

int xnl_rx_mark_needed(void)
{
	struct nl x;
	int err, need = 0;

	err = xnl_open(&x, 0, 0);
	if (err)
		return err;
	err = nl_dump(&x, XFRM_MSG_GETPOLICY, need_cb, &need);
	nl_close(&x);
	return err ? err : need;
}

static int found_cb(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type == XFRM_MSG_NEWPOLICY)
		*(int *)data = 1;
	return MNL_CB_OK;
}

int xnl_rx_mark_policy_get(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct xfrm_mark mark = { .v = ESPX_RX_MARK, .m = 0xffffffffU };
	struct xfrm_userpolicy_id *id;
	struct nl x;
	int err, found = 0;

	nlh->nlmsg_type = XFRM_MSG_GETPOLICY;
	id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	id->sel.family = AF_INET6;
	id->dir = XFRM_POLICY_IN;
	mnl_attr_put(nlh, XFRMA_MARK, sizeof(mark), &mark);
	err = xnl_open(&x, 0, 0);
	if (err)
		return err;
	err = nl_request(&x, nlh, found_cb, &found);
	nl_close(&x);
	return err == -ENOENT ? 0 : err ? err : found;
}

int xnl_rx_mark_policy(int add)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct xfrm_mark mark = { .v = ESPX_RX_MARK, .m = 0xffffffffU };
	struct xfrm_selector sel;
	struct nl x;
	int err;

	memset(&sel, 0, sizeof(sel));
	sel.family = AF_INET6;
	if (add) {
		struct xfrm_userpolicy_info *u;

		nlh->nlmsg_type = XFRM_MSG_UPDPOLICY;	/* create or replace */
		u = mnl_nlmsg_put_extra_header(nlh, sizeof(*u));
		u->sel = sel;
		lft_inf(&u->lft);
		u->lft.soft_add_expires_seconds = u->lft.hard_add_expires_seconds = 0;
		u->priority = 0;
		u->dir = XFRM_POLICY_IN;
		u->action = XFRM_POLICY_ALLOW;
		u->share = XFRM_SHARE_ANY;
	} else {
		struct xfrm_userpolicy_id *id;

		nlh->nlmsg_type = XFRM_MSG_DELPOLICY;
		id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
		id->sel = sel;
		id->dir = XFRM_POLICY_IN;
	}
	mnl_attr_put(nlh, XFRMA_MARK, sizeof(mark), &mark);
	err = xnl_open(&x, 0, 0);
	if (err)
		return err;
	err = nl_request(&x, nlh, NULL, NULL);
	nl_close(&x);
	return !add && err == -ENOENT ? 0 : err;
}
