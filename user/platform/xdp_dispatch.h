/* SPDX-License-Identifier: GPL-2.0 */
/* espx's receive program in libxdp's multi-program dispatcher, beside other
 * XDP programs (xdp-loader's), instead of an XDP link of espx's own. libxdp
 * loads the program as an extension of the dispatcher and pins the link that
 * holds it under /sys/fs/bpf/xdp; espx pins the program itself as the
 * device's "xdp" pin (pins.h), which tells espx_drop_link to leave the
 * dispatcher rather than detach a link. On kernels that refuse extension
 * programs libxdp attaches the program alone (its legacy mode). */
#ifndef ESPX_XDP_DISPATCH_H
#define ESPX_XDP_DISPATCH_H

#include <linux/types.h>

struct bpf_object;

/* ifindex's XDP program is libxdp's dispatcher. */
int xdp_dispatch_present(unsigned int ifindex);
/* Put program prog of obj (opened, not loaded: libxdp loads it as an
 * extension of the dispatcher) into ifindex's dispatcher, which libxdp makes
 * if there is none; xdp_flags: XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE or 0
 * (the dispatcher's mode, or the kernel's choice). The program's fd (the
 * caller pins and closes it), or -errno (message printed). */
int xdp_dispatch_join(const char *ifname, unsigned int ifindex, struct bpf_object *obj,
		      const char *prog, __u32 xdp_flags);
/* Take the program prog_fd out of ifname's dispatcher, leaving the others;
 * 0 if it is there no more (or the device is gone), else -errno. */
int xdp_dispatch_leave(const char *ifname, int prog_fd);
/* A pinned object's fd is a program, not a link (a dispatcher's member). */
int xdp_dispatch_is_prog(int fd);

#endif
