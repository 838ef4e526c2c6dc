/* SPDX-License-Identifier: GPL-2.0 */
/* `espx status`: where espx is attached in this namespace, its SA count
 * and the daemon's heartbeat, as text or JSON. */
#ifndef ESPX_STATUS_H
#define ESPX_STATUS_H

int espx_status(int json);

#endif
