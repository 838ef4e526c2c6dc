/* SPDX-License-Identifier: GPL-2.0 */
/* Logging for the espx binary and its library. Messages go to stderr with an
 * "espx: " prefix; libbpf's own output is shown only with -v, since espx
 * prints one better message naming the object and the errno string.
 * Key material must never be passed to these functions. */
#ifndef ESPX_LOG_H
#define ESPX_LOG_H

#include <stdio.h>

enum espx_log_level { LOG_WARN = 0, LOG_INFO = 1, LOG_DEBUG = 2 };

void espx_log_set_level(enum espx_log_level level);
enum espx_log_level espx_log_get_level(void);
void espx_log(enum espx_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Route libbpf's messages through espx_log (debug level only shown with -v). */
void espx_log_setup_libbpf(void);

#define pr_warn(...)  espx_log(LOG_WARN, __VA_ARGS__)
#define pr_info(...)  espx_log(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) espx_log(LOG_DEBUG, __VA_ARGS__)

#endif
