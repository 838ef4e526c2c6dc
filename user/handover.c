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

/* espx's number and window -> the kernel, never lowering the kernel's. */
static int give_one(const struct espx_sa_key *key, const struct espx_sa *sa, void *ctx)
{
	struct ho *h = ctx;
	struct xnl_ae ae;
	int err;

	if (xnl_getae(&h->nl, key, &ae))
		return 0;
	if (sa->oseq > ae.oseq)
		ae.oseq = sa->oseq;
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

static int run(sa_fn fn, int need_prog)
{
	struct ho h = { .prog = -1 };
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
		pr_info("%s the kernel's ESP: %d SAs\n", need_prog ? "took sequence numbers over from" :
			"handed sequence numbers back to", h.n);
	return err ? err : h.n;
}

int handover_take(void)
{
	return run(take_one, 1);
}

int handover_give(void)
{
	return run(give_one, 0);
}
