// SPDX-License-Identifier: GPL-2.0
/* The one netlink request/ack helper (nl.h). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include "common/util.h"
#include "platform/nl.h"

#define NL_BUF		(64 * 1024)

int nl_open(struct nl *x, int proto, unsigned int groups, int rcvbuf)
{
	unsigned int g;
	int one = 1;

	if (!rcvbuf)
		rcvbuf = 8 << 20;
	memset(x, 0, sizeof(*x));
	x->nl = mnl_socket_open(proto);
	if (!x->nl)
		return -errno;
	if (mnl_socket_bind(x->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	x->portid = mnl_socket_get_portid(x->nl);
	x->seq = (unsigned int)time(NULL);
	mnl_socket_setsockopt(x->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	for (g = 1; g < 32; g++) {
		if (!(groups & (1U << (g - 1))))
			continue;
		if (mnl_socket_setsockopt(x->nl, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0)
			goto fail;
	}
	/* events come in bursts (a flush, an IKE daemon starting): a deep
	 * queue makes ENOBUFS, and with it a full resync, rare */
	if (groups && setsockopt(mnl_socket_get_fd(x->nl), SOL_SOCKET, SO_RCVBUFFORCE,
				 &rcvbuf, sizeof(rcvbuf)))
		setsockopt(mnl_socket_get_fd(x->nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	return 0;
fail:
	g = (unsigned int)errno;
	mnl_socket_close(x->nl);
	x->nl = NULL;
	return -(int)g;
}

void nl_close(struct nl *x)
{
	if (x->nl)
		mnl_socket_close(x->nl);
	x->nl = NULL;
}

int nl_fd(const struct nl *x)
{
	return mnl_socket_get_fd(x->nl);
}

/* One datagram, only if the kernel sent it (port 0): anything else on a
 * netlink socket is a forgery and is dropped. */
static ssize_t recv_kernel(struct nl *x, void *buf, size_t n, int flags)
{
	struct sockaddr_nl sa;
	socklen_t alen;
	ssize_t r;

	for (;;) {
		alen = sizeof(sa);
		r = recvfrom(nl_fd(x), buf, n, flags, (struct sockaddr *)&sa, &alen);
		if (r < 0)
			return -errno;
		if (alen == sizeof(sa) && sa.nl_family == AF_NETLINK && sa.nl_pid == 0)
			return r;
	}
}

int nl_run_msgs(const void *buf, size_t len, unsigned int seq, nl_cb cb, void *data,
		int *done, int *intr)
{
	const struct nlmsghdr *nlh = buf;
	int n = (int)len, err;

	for (; mnl_nlmsg_ok(nlh, n); nlh = mnl_nlmsg_next(nlh, &n)) {
		/* libmnl (1.0.4) compares nlmsg_len as an int: a length of
		 * 2^31 or more passes mnl_nlmsg_ok, and 0xfffffffd..0xffffffff
		 * align to 0, so mnl_nlmsg_next would return the same message
		 * forever */
		if (nlh->nlmsg_len > (unsigned int)n)
			break;
		if (seq && nlh->nlmsg_seq != seq)
			continue;	/* the answer to an earlier, abandoned request */
		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
			*intr = 1;
		if (nlh->nlmsg_type == NLMSG_DONE) {
			*done = 1;
			return 0;
		}
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			*done = 1;
			/* an error too short to hold its code is itself one */
			if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(e->error)))
				return -EBADMSG;
			return e->error;
		}
		if (cb) {
			err = cb(nlh, data);
			if (err < 0)
				return err;
			if (err > 0) {	/* the answer nl_ask waits for */
				*done = 1;
				return 0;
			}
		}
	}
	return 0;
}

static int send_recv(struct nl *x, struct nlmsghdr *nlh, nl_cb cb, void *data, int dump)
{
	static char buf[NL_BUF];
	int done = 0, intr = 0, err = 0, r;
	ssize_t n;

	nlh->nlmsg_seq = ++x->seq;
	nlh->nlmsg_pid = 0;
	if (mnl_socket_sendto(x->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	while (!done) {
		n = recv_kernel(x, buf, sizeof(buf), 0);
		if (n < 0)
			return (int)n;
		r = nl_run_msgs(buf, (size_t)n, x->seq, cb, data, &done, &intr);
		wipe(buf, (size_t)n);	/* SA messages carry keys */
		if (r && !err)
			err = r;	/* keep reading to the end of a dump */
		if (err && !dump)
			break;
	}
	if (!err && intr)
		err = -EINTR;
	return err;
}

int nl_dump(struct nl *x, int type, nl_cb cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = (__u16)type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	return send_recv(x, nlh, cb, data, 1);
}

int nl_request(struct nl *x, struct nlmsghdr *nlh, nl_cb cb, void *data)
{
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	return send_recv(x, nlh, cb, data, 0);
}

int nl_ask(struct nl *x, struct nlmsghdr *nlh, nl_cb cb, void *data)
{
	nlh->nlmsg_flags |= NLM_F_REQUEST;
	return send_recv(x, nlh, cb, data, 0);
}

int nl_drain(struct nl *x, nl_cb cb, void *data)
{
	static char buf[NL_BUF];
	int done = 0, intr = 0, err;
	ssize_t n;

	for (;;) {
		n = recv_kernel(x, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == -EAGAIN || n == -EWOULDBLOCK)
			return 0;
		if (n < 0)
			return (int)n;
		err = nl_run_msgs(buf, (size_t)n, 0, cb, data, &done, &intr);
		wipe(buf, (size_t)n);	/* SA messages carry keys */
		if (err < 0)
			return err;
	}
}
