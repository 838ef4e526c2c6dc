// SPDX-License-Identifier: GPL-2.0
/* libFuzzer harness: the XFRM netlink decoders (user/platform/xfrm_nl.c)
 * behind the daemon's message loop (user/platform/nl.c).
 *
 * Input: one datagram as recv() would return it, one or more netlink
 * messages. It goes through nl_run_msgs(), the walk nl_drain() and the
 * dump/request loops run, to a callback that hands each message to the
 * decoder the daemon hands it to (xsync_on_msg, dump_sa_cb, dump_pol_cb in
 * user/platform/xfrm_sync.c; ae_cb of xnl_getae and what handover.c and
 * xfrm_report.c do with its answer). Applying the result needs maps and
 * is not done here. Besides the sanitizers, it aborts when a decoded
 * result breaks what xfrm_nl.h promises:
 *  - an SA left to the kernel (why set) keeps no key bytes;
 *  - an SA espx takes has a 16/24/32-byte key, an ICV of 8/12/16 bytes and
 *    a window within ESPX_REPLAY_MAX;
 *  - reasons are NUL-terminated.
 * Nothing here prints key bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>

#include "platform/nl.h"
#include "platform/xfrm_nl.h"
#include "model/xfrm_parse.h"

#define MAX_POL 64

struct run {
	struct xnl_sa sa;
	struct xnl_pol pol[MAX_POL];
	size_t npol;
};

static void bug(const char *what)
{
	fprintf(stderr, "fuzz_xfrm_nl: %s\n", what);
	abort();
}

static int zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static void sa_msg(struct run *r, const struct nlmsghdr *nlh)
{
	struct xnl_sa *s = &r->sa;

	if (xnl_sa_decode(nlh, s))
		return;
	if (!memchr(s->why, '\0', sizeof(s->why)))
		bug("SA reason not terminated");
	if (s->key.family != AF_INET && s->key.family != AF_INET6)
		bug("SA decoded without a family");
	if (s->why[0] && (s->aes_key_len || !zero(s->aes_key, sizeof(s->aes_key))))
		bug("key bytes kept for an SA left to the kernel");
	if (!s->why[0]) {
		if (s->aes_key_len != 16 && s->aes_key_len != 24 && s->aes_key_len != 32)
			bug("SA taken with a key length other than 16/24/32");
		if (s->sa.key_len != s->aes_key_len)
			bug("sa.key_len differs from the key's length");
		if (s->sa.icv_len != 8 && s->sa.icv_len != 12 && s->sa.icv_len != 16)
			bug("SA taken with an ICV other than 8/12/16 bytes");
		if (s->sa.replay_window > ESPX_REPLAY_MAX)
			bug("SA taken with a window above ESPX_REPLAY_MAX");
	}
	xnl_sa_wipe(s);
}

static void pol_msg(struct run *r, const struct nlmsghdr *nlh)
{
	struct xnl_pol *p = &r->pol[r->npol < MAX_POL ? r->npol : MAX_POL - 1];
	__u32 d[4];
	__u8 f;

	if (xnl_pol_decode(nlh, p))
		return;
	if (!memchr(p->why, '\0', sizeof(p->why)))
		bug("policy reason not terminated");
	if (!p->skip && p->pol.dir > ESPX_POL_FWD)
		bug("policy taken with a direction other than in/out/fwd");
	if (!p->skip && (p->pol.flags & ESPX_POL_F_TMPL))
		xp_tmpl_daddr(&p->pol, d, &f);	/* as the daemon looks for its SA */
	if (r->npol < MAX_POL)
		r->npol++;
}

/* NEWAE, the answer to GETAE, and the window conversions done with it:
 * handover (take over: to espx, give back: from espx) and the daemon's
 * periodic push (from espx). */
static void ae_msg(const struct nlmsghdr *nlh)
{
	__u64 replay[ESPX_REPLAY_WORDS];
	struct xnl_ae ae;

	memset(&ae, 0, sizeof(ae));
	if (xnl_ae_decode(nlh, &ae))
		return;
	if (ae.bmp_len > ESPX_REPLAY_MAX / 32)
		bug("NEWAE decoded with a bitmap longer than espx keeps");
	xnl_window_to_espx(&ae, replay);
	xnl_window_from_espx(&ae, ae.seq + (ae.oseq & 0xfff), replay);
}

static int on_msg(const struct nlmsghdr *nlh, void *data)
{
	struct run *r = data;
	struct espx_sa_key key;
	struct espx_sel sel;
	__u32 index;
	__u8 proto, dir;
	int hard;

	switch (nlh->nlmsg_type) {
	case XFRM_MSG_NEWSA:
	case XFRM_MSG_UPDSA:
		sa_msg(r, nlh);
		break;
	case XFRM_MSG_DELSA:
		xnl_sa_id_decode(nlh, &key, &proto);
		break;
	case XFRM_MSG_NEWPOLICY:
	case XFRM_MSG_UPDPOLICY:
		pol_msg(r, nlh);
		break;
	case XFRM_MSG_DELPOLICY:
		xnl_pol_id_decode(nlh, &sel, &index, &dir);
		break;
	case XFRM_MSG_EXPIRE:
		xnl_expire_decode(nlh, &key, &hard);
		break;
	case XFRM_MSG_POLEXPIRE:
		if (!xnl_polexpire_decode(nlh, &index, &dir, &sel, &hard) && !xp_dir_name(dir))
			bug("no name for a direction");
		break;
	case XFRM_MSG_NEWAE:
		ae_msg(nlh);
		break;
	default:	/* FLUSHSA, FLUSHPOLICY: a resync, nothing decoded */
		break;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run r;
	int done = 0, intr = 0;
	void *buf;

	/* an exact copy, aligned as a receive buffer is: reads past the
	 * datagram are caught */
	buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	memcpy(buf, data, size);
	r.npol = 0;
	/* nl_drain's walk (events: any sequence number) */
	nl_run_msgs(buf, size, 0, on_msg, &r, &done, &intr);
	/* a dump's: the policies in age order, as the daemon sorts them */
	xnl_pol_sort_age(r.pol, r.npol);
	free(buf);
	return 0;
}
