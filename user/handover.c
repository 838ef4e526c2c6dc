// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "handover.h"
#include "log.h"
#include "pins.h"
#include "state.h"
#include "xfrm_nl.h"

struct ho {
	struct xnl nl;
	int prog;		/* espx_sa_sync */
	int split;		/* espx keeps sending elsewhere */
	int n;
};

/* The kernel's number and window -> espx (espx_sa_sync only raises). */
static int take_one(const struct espx_sa_key *key, const struct espx_sa *sa, void *ctx)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);
	struct espx_sa_sync_req req;
	struct ho *h = ctx;
	struct xnl_ae ae;

	if (xnl_getae(&h->nl, key, &ae))
		return 0;	/* not the kernel's SA */
	memset(&req, 0, sizeof(req));
	req.sa = *key;
	req.oseq_min = ae.oseq;
	if (ae.seq > sa->seq) {
		req.seq = ae.seq;
		ae.window = sa->replay_window;
		xnl_window_to_espx(&ae, req.replay);
	}
	o.ctx_in = &req;	/* a syscall program's context is copied back */
	o.ctx_size_in = sizeof(req);
	if (bpf_prog_test_run_opts(h->prog, &o) || req.err) {
		pr_warn("taking over SA spi 0x%08x from the kernel: %s\n", ntohl(key->spi),
			strerror(req.err ? -req.err : errno));
		return -EIO;
	}
	if (ae.oseq > sa->oseq || req.seq)
		pr_debug("SA spi 0x%08x: output continues above %llu, window at %llu (kernel's)\n",
			 ntohl(key->spi), (unsigned long long)ae.oseq, (unsigned long long)ae.seq);
	h->n++;
	return 0;
}

/* How far espx jumps when it keeps sending beside the kernel. */
static __u64 split_gap(const struct espx_sa *sa)
{
	__u64 room;

	if (sa->flags & ESPX_SA_F_ESN)
		return 1ULL << 40;
	room = sa->oseq < 0xffffffffULL ? 0xffffffffULL - sa->oseq : 0;
	return room / 2 < (1ULL << 28) ? room / 2 : 1ULL << 28;
}

/* Raise espx's output number to oseq + gap; the last number it took
 * before that (it may have sent a few since sa was read) in *last. */
static int jump(struct ho *h, const struct espx_sa_key *key, __u64 want, __u64 *last)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);
	struct espx_sa_sync_req req;

	memset(&req, 0, sizeof(req));
	req.sa = *key;
	req.oseq_min = want;
	o.ctx_in = &req;
	o.ctx_size_in = sizeof(req);
	if (bpf_prog_test_run_opts(h->prog, &o) || req.err)
		return -EIO;
	*last = req.prev_oseq;
	return 0;
}

/* espx's number and window -> the kernel, never lowering the kernel's. */
static int give_one(const struct espx_sa_key *key, const struct espx_sa *sa, void *ctx)
{
	struct ho *h = ctx;
	__u64 last = sa->oseq;
	struct xnl_ae ae;
	int err;

	if (xnl_getae(&h->nl, key, &ae))
		return 0;
	if (h->split && jump(h, key, sa->oseq + split_gap(sa), &last)) {
		pr_warn("SA spi 0x%08x: espx could not move its sequence numbers ahead of the kernel's; not handed back (delete the SA or detach everywhere)\n",
			ntohl(key->spi));
		return 0;
	}
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
	h->n++;
	return 0;
}

static int run(sa_fn fn, int need_prog, int split)
{
	struct ho h = { .prog = -1, .split = split };
	int sa_fd, err;

	sa_fd = espx_pinned_fd(NULL, "espx_sa");
	if (sa_fd < 0)
		return 0;
	if (xnl_open(&h.nl, 0, 0)) {	/* no XFRM netlink: no kernel SAs */
		close(sa_fd);
		return 0;
	}
	if (need_prog) {
		h.prog = espx_pinned_fd("progs", "espx_sa_sync");
		if (h.prog < 0) {
			xnl_close(&h.nl);
			close(sa_fd);
			return h.prog;
		}
	}
	err = sa_foreach(sa_fd, fn, &h);
	if (h.prog >= 0)
		close(h.prog);
	xnl_close(&h.nl);
	close(sa_fd);
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
