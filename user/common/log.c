// SPDX-License-Identifier: GPL-2.0
/* Messages to stderr by level (log.h). */
#include <stdarg.h>
#include <bpf/libbpf.h>
#include "common/log.h"

static enum espx_log_level log_level = LOG_WARN;

void espx_log_set_level(enum espx_log_level level)
{
	log_level = level;
}

enum espx_log_level espx_log_get_level(void)
{
	return log_level;
}

void espx_log(enum espx_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	fputs("espx: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static int libbpf_print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's warnings (the verifier's log among them) with -v, the rest
	 * with -vv: espx reports failures itself with context. */
	if (log_level < (level == LIBBPF_WARN ? LOG_INFO : LOG_DEBUG))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void espx_log_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print_fn);
}
