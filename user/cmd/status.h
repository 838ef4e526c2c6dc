/* SPDX-License-Identifier: GPL-2.0 */
/* `espx status`: where espx is attached in this namespace, its SA count
 * and the daemon's heartbeat, as text or JSON. */
#ifndef ESPX_STATUS_H
#define ESPX_STATUS_H

int espx_status(int json);
/* `espx status --all`: every network namespace espx has state for (its
 * inode, name under /run/netns, devices, SA count), alive, or released by
 * this command's sweep (nsstate.h). */
int espx_status_all(int json);

#endif
