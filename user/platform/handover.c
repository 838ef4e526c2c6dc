// SPDX-License-Identifier: GPL-2.0
/* Sequence numbers handed between espx and the kernel's ESP (handover.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "common/log.h"
#include "model/sa_table.h"
#include "platform/handover.h"
#include "platform/datapath.h"
#include "platform/xfrm_nl.h"

struct ho {
	struct nl nl;
	int prog;		/* espx_sa_sync */
	int split;		/* espx keeps sending elsewhere */
	int split_fd;		/* espx_sa_split; -1 if absent */
	int n;
};

/* Where espx continues above the kernel's last output number at a
 * takeover. The kernel can still number packets after espx read its
 * counter (GETAE): ones that passed the policy lookup before disable_xfrm
 * went on and are still on their way through XFRM output (async crypto, the
 * policy's hold queue). Numbers skipped are harmless to the receiver; a
 * number sent by both is a GCM nonce used twice. */
#define TAKEOVER_MARGIN	1024
/* espx_sa_sync loses its compare-and-swap only to the datapath taking
 * numbers at that instant; a few rounds of it, then give up loudly. */
#define SYNC_ROUNDS	8

/* Run espx_sa_sync, again while the datapath wins (-EAGAIN). 0 or -errno. */
static int sync_run(struct ho *h, struct espx_sa_sync_req *req)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);
	int round;

	o.ctx_in = req;	/* a syscall program's context is copied back */
	o.ctx_size_in = sizeof(*req);
	for (round = 0; round < SYNC_ROUNDS; round++) {
		req->err = 0;
		if (bpf_prog_test_run_opts(h->prog, &o))
			return -errno;
		if (req->err != -EAGAIN)
			break;
		usleep(1000);
	}
	return req->err;
}

/* The kernel's number (plus TAKEOVER_MARGIN) and window -> espx
 * (espx_sa_sync only raises). An error stops the attach: espx must not
 * send on an SA whose numbers it could not move above the kernel's. */
static int take_one(const struct espx_sa_key *key, const struct espx_sa *sa, void *ctx)
{
	struct espx_sa_sync_req req;
	struct ho *h = ctx;
	struct xnl_ae ae;
	__u64 want;
	int err;

	if (xnl_getae(&h->nl, key, &ae))
		return 0;	/* not the kernel's SA */
	want = ae.oseq + TAKEOVER_MARGIN;
	if (!(sa->flags & ESPX_SA_F_ESN) && want > 0xffffffffULL) {
		/* no 32-bit number is left that the kernel cannot also have
		 * used: espx takes the last one (sends nothing) and says so */
		pr_warn("SA spi 0x%08x: the kernel has sent up to %llu of 2^32-1 sequence numbers, too close to the end to take over safely; espx will not send on it: rekey it (or use ESN)\n",
			ntohl(key->spi), (unsigned long long)ae.oseq);
		want = 0xffffffffULL;
	}
	memset(&req, 0, sizeof(req));
	req.sa = *key;
	req.oseq_min = want;
	if (ae.seq > sa->seq) {
		req.seq = ae.seq;
		/* the ESN bitmap is laid out by the kernel's own window (in
		 * the attribute); the legacy one carries none: it is the SA's */
		if (!ae.esn_attr)
			ae.window = sa->replay_window;
		xnl_window_to_espx(&ae, req.replay);
	}
	err = sync_run(h, &req);
	if (err) {
		pr_warn("taking over SA spi 0x%08x from the kernel: %s; not attaching (espx must not send below the kernel's sequence numbers)\n",
			ntohl(key->spi), err == -EAGAIN ?
			"its sequence number could not be raised (the datapath kept taking numbers)" :
			strerror(-err));
		return -EIO;
	}
	if (want > sa->oseq || req.seq)
		pr_debug("SA spi 0x%08x: output continues above %llu (the kernel's %llu + %d), window at %llu (kernel's)\n",
			 ntohl(key->spi), (unsigned long long)want, (unsigned long long)ae.oseq,
			 TAKEOVER_MARGIN, (unsigned long long)ae.seq);
	h->n++;
	return 0;
}

/* Raise espx's output number to oseq + gap; the last number it took
 * before that (it may have sent a few since sa was read) in *last. */
static int jump(struct ho *h, const struct espx_sa_key *key, __u64 want, __u64 *last)
{
	struct espx_sa_sync_req req;

	memset(&req, 0, sizeof(req));
	req.sa = *key;
	req.oseq_min = want;
	if (sync_run(h, &req))
		return -EIO;
	*last = req.prev_oseq;
	return 0;
}

/* espx's number and window -> the kernel, never lowering the kernel's. */
static int give_one(const struct espx_sa_key *key, const struct espx_sa *sa, void *ctx)
{
	struct ho *h = ctx;
	__u64 last = sa->oseq, at;
	struct xnl_ae ae;
	int err;

	if (xnl_getae(&h->nl, key, &ae))
		return 0;
	if (h->split && jump(h, key, sa->oseq + sa_split_gap(sa), &last)) {
		pr_warn("SA spi 0x%08x: espx could not move its sequence numbers ahead of the kernel's; not handed back (delete the SA or detach everywhere)\n",
			ntohl(key->spi));
		return 0;
	}
	/* The split outlives this command: a daemon started later must leave
	 * the kernel's number below the jump (its per-interval push would
	 * raise it into espx's), so it is recorded before the kernel can
	 * send; once the kernel has everything (no device left) it goes. */
	at = sa->oseq + sa_split_gap(sa);
	if (h->split && (h->split_fd < 0 || bpf_map_update_elem(h->split_fd, key, &at, BPF_ANY)))
		pr_warn("SA spi 0x%08x: recording the split of its numbers: %s; a restarted daemon could raise the kernel's number into espx's: keep the daemon running until the last detach\n",
			ntohl(key->spi), h->split_fd < 0 ? "no espx_sa_split map (pins of an older espx)" : strerror(errno));
	if (last > ae.oseq)
		ae.oseq = last;
	if (sa->seq > ae.seq)
		xnl_window_from_espx(&ae, sa->seq, sa->replay);
	err = xnl_newae(&h->nl, key, &ae, 1);
	if (err) {
		pr_warn("handing SA spi 0x%08x back to the kernel (NEWAE): %s; the kernel may reuse sequence numbers: delete the SA\n",
			ntohl(key->spi), strerror(-err));
		return 0;	/* the others still get theirs */
	}
	if (!h->split && h->split_fd >= 0)
		bpf_map_delete_elem(h->split_fd, key);
	/* Split without ESN: the kernel's share ends at espx's jump (2^28
	 * numbers at most: minutes at a high rate), and nothing in the
	 * kernel stops it there. A soft expire asks the IKE daemon to rekey
	 * now, as it does when a soft limit is reached; with ESN the share is
	 * 2^40 numbers and needs none. */
	if (h->split && !(sa->flags & ESPX_SA_F_ESN)) {
		err = xnl_expire(&h->nl, key, 0);
		pr_warn("SA spi 0x%08x has no ESN and now two senders (the kernel from %llu, espx from %llu): %s\n",
			ntohl(key->spi), (unsigned long long)(last + 1),
			(unsigned long long)(sa->oseq + sa_split_gap(sa) + 1),
			err ? "asking the IKE daemon to rekey it failed; rekey it now" :
			"asked the IKE daemon to rekey it now (soft expire)");
	}
	h->n++;
	return 0;
}

static int run(sa_fn fn, int need_prog, int split)
{
	struct ho h = { .prog = -1, .split = split, .split_fd = -1 };
	struct espx_dp dp;
	int sa_fd, err;

	espx_dp_init(&dp);
	sa_fd = espx_dp_fd(&dp, ESPX_MAP_SA);
	if (sa_fd < 0)
		return 0;
	if (xnl_open(&h.nl, 0, 0)) {	/* no XFRM netlink: no kernel SAs */
		espx_dp_close(&dp);
		return 0;
	}
	if (need_prog) {
		h.prog = espx_dp_fd(&dp, ESPX_PROG_SA_SYNC);
		if (h.prog < 0) {
			nl_close(&h.nl);
			espx_dp_close(&dp);
			return h.prog;
		}
	}
	if (fn == give_one)	/* absent in pins of an older espx: said per SA */
		h.split_fd = espx_dp_try(&dp, ESPX_MAP_SA_SPLIT);
	err = sa_foreach(sa_fd, fn, &h);
	nl_close(&h.nl);
	espx_dp_close(&dp);
	if (!err && h.n)
		pr_info("%s the kernel's ESP: %d SAs\n", fn == take_one ? "took sequence numbers over from" :
			split ? "split sequence numbers with" : "handed sequence numbers back to", h.n);
	return err ? err : h.n;
}

int handover_take(void)
{
	return run(take_one, 1, 0);
}

int handover_give(int split)
{
	return run(give_one, split, split);
}
