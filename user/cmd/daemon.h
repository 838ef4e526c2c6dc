/* SPDX-License-Identifier: GPL-2.0 */
/* `espx daemon`: the kernel's XFRM database mirrored into espx (daemon.c). */
#ifndef ESPX_DAEMON_H
#define ESPX_DAEMON_H

/* Exit code: 0, 1 (runtime error) or 2 (usage error). */
int daemon_cmd(int argc, char **argv);

#endif
