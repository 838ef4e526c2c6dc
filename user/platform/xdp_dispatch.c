// SPDX-License-Identifier: GPL-2.0
/* espx's receive program in libxdp's dispatcher (xdp_dispatch.h). */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <xdp/libxdp.h>
#include "common/log.h"
#include "platform/xdp_dispatch.h"

#define DISPATCHER_NAME	"xdp_dispatcher"

/* libxdp's warnings with -v, the rest with -vv, as libbpf's (log.c): espx
 * says what failed */
static int libxdp_print_fn(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	if (espx_log_get_level() < (level == LIBXDP_WARN ? LOG_INFO : LOG_DEBUG))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static __u32 prog_id_of(int fd, char *name, size_t n)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_prog_get_info_by_fd(fd, &info, &len))
		return 0;
	if (name)
		snprintf(name, n, "%s", info.name);
	return info.id;
}

int xdp_dispatch_is_prog(int fd)
{
	char path[64], what[64];
	ssize_t n;

	/* BPF_OBJ_GET_INFO_BY_FD answers for any BPF object (a link's info
	 * read as a program's would pass), so ask the file what it is */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, what, sizeof(what) - 1);
	if (n < 0)
		return 0;
	what[n] = 0;
	return !strcmp(what, "anon_inode:bpf-prog");
}

int xdp_dispatch_present(unsigned int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	char name[BPF_OBJ_NAME_LEN] = "";
	__u32 id;
	int fd;

	if (bpf_xdp_query((int)ifindex, 0, &q))
		return 0;
	id = q.prog_id ? q.prog_id : q.skb_prog_id ? q.skb_prog_id : q.drv_prog_id;
	fd = id ? bpf_prog_get_fd_by_id(id) : -1;
	if (fd < 0)
		return 0;
	prog_id_of(fd, name, sizeof(name));
	close(fd);
	return !strcmp(name, DISPATCHER_NAME);
}

/* The mode to ask libxdp for: the dispatcher's own where there is one and
 * the caller left it open (a dispatcher has one mode for all). */
static enum xdp_attach_mode libxdp_mode(unsigned int ifindex, __u32 xdp_flags)
{
	struct xdp_multiprog *mp;
	enum xdp_attach_mode m = XDP_MODE_UNSPEC;

	if (xdp_flags & XDP_FLAGS_DRV_MODE)
		return XDP_MODE_NATIVE;
	if (xdp_flags & XDP_FLAGS_SKB_MODE)
		return XDP_MODE_SKB;
	mp = xdp_multiprog__get_from_ifindex((int)ifindex);
	if (!libxdp_get_error(mp) && mp) {
		m = xdp_multiprog__attach_mode(mp);
		xdp_multiprog__close(mp);
	}
	return m;
}

/* The id of a program named prog already in ifindex's dispatcher, or 0 */
static __u32 already_there(unsigned int ifindex, const char *prog)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex((int)ifindex);
	struct xdp_program *p = NULL;
	__u32 id = 0;

	if (libxdp_get_error(mp) || !mp)
		return 0;
	if (!xdp_multiprog__is_legacy(mp))
		while (!id && (p = xdp_multiprog__next_prog(p, mp)))
			if (!strcmp(xdp_program__name(p), prog))
				id = xdp_program__id(p);
	xdp_multiprog__close(mp);
	return id;
}

int xdp_dispatch_join(const char *ifname, unsigned int ifindex, struct bpf_object *obj,
		      const char *prog, __u32 xdp_flags)
{
	DECLARE_LIBXDP_OPTS(xdp_program_opts, xo, .obj = obj, .prog_name = prog);
	enum xdp_attach_mode mode = libxdp_mode(ifindex, xdp_flags);
	struct xdp_program *xp;
	__u32 other;
	int err, fd;

	libxdp_set_print(libxdp_print_fn);
	/* two receive programs would each count and decrypt what reaches it */
	other = already_there(ifindex, prog);
	if (other) {
		pr_warn("the XDP dispatcher on %s already runs espx's receive program (id %u: loaded by xdp-loader, or left by an attach that was killed); take it out first: xdp-loader unload %s -i %u\n",
			ifname, other, ifname, other);
		return -EEXIST;
	}
	xp = xdp_program__create(&xo);
	err = (int)libxdp_get_error(xp);
	if (err) {
		pr_warn("libxdp cannot take espx's receive program: %s\n", strerror(-err));
		return err;
	}
	err = xdp_program__attach(xp, (int)ifindex, mode, 0);
	if (err) {
		if (err == -EINVAL)
			pr_warn("joining libxdp's dispatcher on %s failed: %s; a libxdp older than 1.5.5 cannot host espx on a kernel that checks extension programs for packet-data changes (6.12 does): use a newer libxdp, or espx attach %s without other XDP programs (run with -v for libxdp's log)\n",
				ifname, strerror(-err), ifname);
		else if (err == -EEXIST || err == -EBUSY)
			pr_warn("joining libxdp's dispatcher on %s failed: %s; the XDP program there is not libxdp's dispatcher, or it runs in another mode (--xdp-mode; run with -v for libxdp's log)\n",
				ifname, strerror(-err));
		else
			pr_warn("joining libxdp's dispatcher on %s failed: %s (run with -v for libxdp's log)\n",
				ifname, strerror(-err));
		fd = err;
	} else {
		fd = fcntl(xdp_program__fd(xp), F_DUPFD_CLOEXEC, 0);
		if (fd < 0) {
			fd = -errno;
			xdp_program__detach(xp, (int)ifindex, mode, 0);
		}
	}
	xdp_program__close(xp);
	return fd;
}

int xdp_dispatch_leave(const char *ifname, int prog_fd)
{
	unsigned int ifindex = if_nametoindex(ifname);
	struct xdp_program *p = NULL;
	struct xdp_multiprog *mp;
	__u32 id = prog_id_of(prog_fd, NULL, 0);
	int err = 0;

	if (!ifindex || !id)
		return 0;	/* the device went, and its dispatcher with it */
	libxdp_set_print(libxdp_print_fn);
	mp = xdp_multiprog__get_from_ifindex((int)ifindex);
	if (libxdp_get_error(mp) || !mp)
		return 0;	/* no XDP program there any more */
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		if (p && xdp_program__id(p) != id)
			p = NULL;
	} else {
		while ((p = xdp_multiprog__next_prog(p, mp)))
			if (xdp_program__id(p) == id)
				break;
	}
	if (p)
		err = xdp_program__detach(p, (int)ifindex, xdp_multiprog__attach_mode(mp), 0);
	if (err)
		pr_warn("taking espx's program (id %u) out of %s's XDP dispatcher: %s (run with -v for libxdp's log; xdp-loader unload %s -i %u does the same)\n",
			id, ifname, strerror(-err), ifname, id);
	xdp_multiprog__close(mp);
	return err;
}
