/* SPDX-License-Identifier: GPL-2.0 */
/* Netlink sockets (libmnl) for every protocol espx speaks: XFRM
 * (xfrm_nl.h) and rtnetlink (devcfg.h, segment.h). One request/ack and
 * dump loop: only messages from the kernel (port 0) are taken, answers to
 * an abandoned request (another sequence number) are skipped, and what
 * was read is wiped (SA messages carry keys). */
#ifndef ESPX_NL_H
#define ESPX_NL_H

#include <linux/netlink.h>

struct mnl_socket;

struct nl {
	struct mnl_socket *nl;
	unsigned int portid;
	unsigned int seq;
};

/* proto: NETLINK_XFRM, NETLINK_ROUTE. groups: a mask of (1 << (group - 1));
 * 0 for a request socket. rcvbuf: the subscribed socket's receive buffer
 * in bytes (0: 8 MiB). 0 or -errno. */
int nl_open(struct nl *x, int proto, unsigned int groups, int rcvbuf);
void nl_close(struct nl *x);
int nl_fd(const struct nl *x);

/* Called per message; return < 0 to stop with that error, > 0 when it was
 * the answer nl_ask waits for, else 0. */
typedef int (*nl_cb)(const struct nlmsghdr *nlh, void *data);

/* Dump (e.g. XFRM_MSG_GETSA). 0, -EINTR when the kernel flagged the dump
 * as interrupted (NLM_F_DUMP_INTR: redo it), or -errno. */
int nl_dump(struct nl *x, int type, nl_cb cb, void *data);

/* Send one request and wait for its ack (or, with cb, its answer, then
 * the ack). 0 or the kernel's -errno. */
int nl_request(struct nl *x, struct nlmsghdr *nlh, nl_cb cb, void *data);

/* Send one request without NLM_F_ACK (its answer is the reply, e.g.
 * XFRM_MSG_GETAE) and wait until cb returns > 0 for it. 0 or -errno. */
int nl_ask(struct nl *x, struct nlmsghdr *nlh, nl_cb cb, void *data);

/* Read what is queued on a subscribed socket without blocking; cb per
 * message sent by the kernel. 0 when drained, -ENOBUFS if the kernel
 * dropped messages (the caller resyncs), other -errno. */
int nl_drain(struct nl *x, nl_cb cb, void *data);

/* The messages of one datagram (buf, len bytes as received), in order: cb
 * for each, skipping those of another sequence number when seq is not 0.
 * NLMSG_DONE and NLMSG_ERROR end it (*done = 1); *intr = 1 if one carried
 * NLM_F_DUMP_INTR. 0, the error an NLMSG_ERROR carried, or cb's < 0.
 * No socket involved: tests/fuzz/fuzz_xfrm_nl.c feeds it arbitrary bytes. */
int nl_run_msgs(const void *buf, size_t len, unsigned int seq, nl_cb cb, void *data,
		int *done, int *intr);

#endif
