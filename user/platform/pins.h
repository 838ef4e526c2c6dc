/* SPDX-License-Identifier: GPL-2.0 */
/* Where espx pins things, one directory per network namespace identity.
 *
 * The kernel's XFRM database is per network namespace, so is espx: each
 * namespace gets its own maps and links, under
 *   /sys/fs/bpf/espx/net-<inode>   <inode> the namespace's nsfs inode
 *                                  (stat -L -c %i /proc/self/ns/net)
 * whatever its name, if any: the host's, a container's, `ip netns add`'s.
 * Inside that directory (mode 0700, every pin 0600, root only):
 *   anchor              the namespace's anchor link (nsstate.h): tells a
 *                       live namespace's directory from a dead one's
 *   <map>               shared maps, pinned by name
 *   progs/<prog>        SA set-up programs, for later commands
 *   links/<dev>:xdp     XDP link (receive), or the receive program itself
 *                       when it runs in libxdp's dispatcher (xdp_dispatch.h)
 *   links/<dev>:tc      tcx egress link (transmit)
 * bpffs refuses '.' in names, and device names may contain one ("eth0.100")
 * but never ':', so a device name is stored with '.' written as ':'. */
#ifndef ESPX_PINS_H
#define ESPX_PINS_H

#include <stddef.h>

#define ESPX_BPFFS		"/sys/fs/bpf"
#define ESPX_NS_DIR_PREFIX	"net-"
#define ESPX_PIN_ANCHOR		"anchor"
#define ESPX_PIN_PROGS		"progs"
#define ESPX_PIN_LINKS		"links"

/* Make bpffs reachable at /sys/fs/bpf. `ip netns exec` gives the command a
 * fresh /sys without the host's bpffs; pins made in a bpffs mounted there
 * would vanish when the command exits, so espx joins the mount namespace of
 * the process that ran `ip netns exec`. With mount_it set, bpffs is mounted
 * (mode 0700) when none is there. 0, or -ENOENT when none is mounted.
 * Commands call it through nsstate_bpffs(), which also releases the state
 * of namespaces that are gone. */
int espx_pins_bpffs(int mount_it);

/* This network namespace's pin directory (static storage). */
const char *espx_pin_root(void);

/* <root>/<sub>/<name>; sub may be NULL. */
void espx_pin_path(char *buf, size_t n, const char *sub, const char *name);

/* Open a pinned map or program (sub NULL for maps, ESPX_PIN_PROGS for
 * programs); datapath.h names them.
 * -ENOENT with a message saying to attach or load first. */
int espx_pinned_fd(const char *sub, const char *name);

/* Pin name of a device's link: kind is "xdp", "tc" (egress), "rx" (tcx
 * ingress, espx_tc_rx) or "pod" (podpath.h). */
void espx_link_pin_name(char *buf, size_t n, const char *ifname, const char *kind);
/* Its full path under links/. */
void espx_link_pin_path(char *buf, size_t n, const char *ifname, const char *kind);
/* Inverse: device name and kind from a pin name; -EINVAL if not a link. */
int espx_link_pin_parse(const char *pin, char *ifname, size_t n, char *kind, size_t kn);

/* This network namespace's identity: its nsfs inode (the pin root is named
 * after it). */
unsigned long espx_netns_ino(void);
/* Detach and unpin one pinned link; 1 if it existed, 0 if not, -errno. */
int espx_drop_link(const char *path);
/* Devices espx is attached to in this namespace, not counting `except`
 * (NULL: all); the GSO segmenters are not counted. */
int espx_attached_count(const char *except);
/* The program id behind a link, and its device (ifindex may be NULL); for
 * a pinned program (espx in libxdp's dispatcher, xdp_dispatch.h) its own
 * id, and ifindex 0. */
int link_prog_id(int link_fd, unsigned int *ifindex);

#endif
