// SPDX-License-Identifier: GPL-2.0
/* Kernel feature check (see kcheck.h). Everything is found out without
 * changing system state: BTF look-ups, libbpf's load-only probes (the probe
 * programs are never attached), /proc/crypto and statfs(). */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "common/json.h"
#include "platform/kcheck.h"

#define VMLINUX_BTF	"/sys/kernel/btf/vmlinux"
#define BPFFS_DIR	"/sys/fs/bpf"
#define PROC_CRYPTO	"/proc/crypto"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC	0xcafe4a11
#endif
#ifndef CAP_BPF
#define CAP_BPF		38	/* Linux 5.8; older kernels need CAP_SYS_ADMIN */
#endif

/* Shared by all checks: vmlinux BTF is parsed once (it is ~5 MiB). */
struct kctx {
	struct btf *btf;
	int btf_err;		/* errno when btf is NULL */
	int can_probe;		/* privileged enough to load probe programs */
};

struct kcheck_def {
	const char *name;
	const char *why;
	const char *since;
	const char *config;
	int required;
	void (*fn)(struct kctx *c, struct kcheck_item *it);
};

static void set_detail(struct kcheck_item *it, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_detail(struct kcheck_item *it, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(it->detail, sizeof(it->detail), fmt, ap);
	va_end(ap);
}

/* Append to a comma-separated list in detail; ends in "..." when full. */
static void add_detail(struct kcheck_item *it, const char *s)
{
	size_t len = strlen(it->detail), room = sizeof(it->detail) - len;
	int n;

	n = snprintf(it->detail + len, room, "%s%s",
		     len && it->detail[len - 1] != ' ' ? ", " : "", s);
	if (n >= 0 && (size_t)n >= room)
		strcpy(it->detail + sizeof(it->detail) - 4, "...");
}

static int has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return !!(d[cap >> 5].effective & (1u << (cap & 31)));
}

/* libbpf's probes cannot tell "no permission" from "not supported": an
 * EPERM load reads as 0 (prog type) or as 1 (helper, no verifier log). So
 * decide up front whether we may load XDP/TC/syscall programs at all:
 * CAP_SYS_ADMIN, or CAP_BPF together with CAP_NET_ADMIN. */
static int may_load_progs(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

	if (syscall(SYS_capget, &hdr, data))
		return geteuid() == 0;
	return has_cap(data, CAP_SYS_ADMIN) ||
	       (has_cap(data, CAP_BPF) && has_cap(data, CAP_NET_ADMIN));
}

static int btf_has(const struct btf *btf, const char *name, int kind)
{
	return btf__find_by_name_kind(btf, name, kind) > 0;
}

/* Without BTF nothing can be looked up; the BTF item already fails, so the
 * dependent items only say they could not be checked. */
static int need_btf(struct kctx *c, struct kcheck_item *it)
{
	if (c->btf)
		return 1;
	it->ok = KCHECK_UNKNOWN;
	set_detail(it, "cannot check without vmlinux BTF");
	return 0;
}

/* Items whose presence is a list of kfuncs in vmlinux BTF. */
static void check_funcs(struct kctx *c, struct kcheck_item *it,
			const char *const *names)
{
	int missing = 0;

	if (!need_btf(c, it))
		return;
	for (; *names; names++) {
		if (btf_has(c->btf, *names, BTF_KIND_FUNC))
			continue;
		if (!missing++)
			set_detail(it, "absent from vmlinux BTF: ");
		add_detail(it, *names);
	}
	it->ok = missing ? KCHECK_MISSING : KCHECK_OK;
}

static void probe_result(struct kctx *c, struct kcheck_item *it, int ret)
{
	if (!c->can_probe) {
		it->ok = KCHECK_UNKNOWN;
		set_detail(it, "not probed: loading BPF programs needs root");
	} else if (ret == 1) {
		it->ok = KCHECK_OK;
		set_detail(it, "probe program loads");
	} else if (ret == 0) {
		it->ok = KCHECK_MISSING;
		set_detail(it, "kernel rejects the probe program");
	} else {
		it->ok = KCHECK_UNKNOWN;
		set_detail(it, "probe failed: %s", strerror(-ret));
	}
}

static void probe_prog(struct kctx *c, struct kcheck_item *it,
		       enum bpf_prog_type type)
{
	probe_result(c, it, c->can_probe ?
		     libbpf_probe_bpf_prog_type(type, NULL) : 0);
}

static void check_btf(struct kctx *c, struct kcheck_item *it)
{
	/* The sysfs file itself is what the kernel needs for kfunc calls;
	 * libbpf could fall back to a /boot/vmlinux-* that the kernel
	 * does not have, so test the file first. */
	if (access(VMLINUX_BTF, R_OK)) {
		set_detail(it, "%s: %s", VMLINUX_BTF, strerror(errno));
		return;
	}
	if (!c->btf) {
		set_detail(it, "cannot parse %s: %s", VMLINUX_BTF,
			   strerror(c->btf_err));
		return;
	}
	it->ok = KCHECK_OK;
	set_detail(it, "%u types", btf__type_cnt(c->btf) - 1);
}

static void check_crypto(struct kctx *c, struct kcheck_item *it)
{
	static const char *const funcs[] = {
		"bpf_crypto_ctx_create", "bpf_crypto_ctx_release",
		"bpf_crypto_encrypt", "bpf_crypto_decrypt", NULL,
	};
	int id;

	check_funcs(c, it, funcs);
	if (it->ok == KCHECK_UNKNOWN)
		return;
	/* espx fills this struct for bpf_crypto_ctx_create(). */
	id = btf__find_by_name_kind(c->btf, "bpf_crypto_params",
				    BTF_KIND_STRUCT);
	if (id <= 0) {
		if (it->ok == KCHECK_OK)
			set_detail(it, "absent from vmlinux BTF: ");
		add_detail(it, "struct bpf_crypto_params");
		it->ok = KCHECK_MISSING;
		return;
	}
	if (it->ok == KCHECK_OK)
		set_detail(it, "4 kfuncs, struct bpf_crypto_params (%u bytes)",
			   btf__type_by_id(c->btf, id)->size);
}

static void check_dynptr(struct kctx *c, struct kcheck_item *it)
{
	static const char *const funcs[] = {
		"bpf_dynptr_from_skb", "bpf_dynptr_from_xdp", NULL,
	};

	check_funcs(c, it, funcs);
	if (it->ok == KCHECK_OK)
		set_detail(it, "2 kfuncs in vmlinux BTF");
}

static void check_loop(struct kctx *c, struct kcheck_item *it)
{
	probe_result(c, it, c->can_probe ?
		     libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS,
					     BPF_FUNC_loop, NULL) : 0);
	if (it->ok == KCHECK_OK)
		set_detail(it, "verifier knows helper #%d", BPF_FUNC_loop);
}

static void check_xdp(struct kctx *c, struct kcheck_item *it)
{
	probe_prog(c, it, BPF_PROG_TYPE_XDP);
}

static void check_tc(struct kctx *c, struct kcheck_item *it)
{
	probe_prog(c, it, BPF_PROG_TYPE_SCHED_CLS);
}

static void check_syscall(struct kctx *c, struct kcheck_item *it)
{
	probe_prog(c, it, BPF_PROG_TYPE_SYSCALL);
}

static int enum_has(const struct btf *btf, const char *type, const char *val)
{
	const struct btf_type *t;
	const struct btf_enum *e;
	int id, i;

	id = btf__find_by_name_kind(btf, type, BTF_KIND_ENUM);
	if (id <= 0)
		return 0;
	t = btf__type_by_id(btf, id);
	e = btf_enum(t);
	for (i = 0; i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(btf, e[i].name_off), val))
			return 1;
	return 0;
}

/* tcx is detected from BTF rather than by creating a link, which would need
 * a device and change state. tcx_init() is __init and so never appears in
 * BTF; instead we want both:
 *  - BPF_TCX_EGRESS in enum bpf_attach_type: the kernel's UAPI knows tcx;
 *  - FUNC tcx_link_attach: kernel/bpf/tcx.c is built (CONFIG_NET_XGRESS),
 *    since the enum value exists even when it is not. */
static void check_tcx(struct kctx *c, struct kcheck_item *it)
{
	int has_enum, has_func;

	if (!need_btf(c, it))
		return;
	has_enum = enum_has(c->btf, "bpf_attach_type", "BPF_TCX_EGRESS");
	has_func = btf_has(c->btf, "tcx_link_attach", BTF_KIND_FUNC);
	if (has_enum && has_func) {
		it->ok = KCHECK_OK;
		set_detail(it, "BPF_TCX_EGRESS and tcx_link_attach in BTF");
	} else if (has_enum) {
		set_detail(it, "built without CONFIG_NET_XGRESS; espx needs tcx links (6.6+)");
	} else {
		set_detail(it, "no BPF_TCX_EGRESS; espx needs tcx links (6.6+)");
	}
}

struct crypto_scan {
	int ecb_lsk;		/* ecb(aes) as lskcipher */
	int ecb_other;		/* ecb(aes) of another type only */
	int aes;		/* the aes block cipher */
	int best_prio;
	char driver[64];	/* highest-priority ecb(aes) lskcipher */
};

struct crypto_rec {
	char name[64], driver[64], type[32];
	int prio, unusable;
};

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

static void scan_record(struct crypto_scan *s, struct crypto_rec *r)
{
	/* Internal or self-test-failed algorithms cannot be allocated. */
	if (r->unusable || !r->name[0])
		goto out;
	if (!strcmp(r->name, "aes") && !strcmp(r->type, "cipher"))
		s->aes = 1;
	if (strcmp(r->name, "ecb(aes)"))
		goto out;
	if (strcmp(r->type, "lskcipher")) {
		s->ecb_other = 1;
		goto out;
	}
	if (!s->ecb_lsk || r->prio > s->best_prio) {
		s->best_prio = r->prio;
		copy_str(s->driver, sizeof(s->driver), r->driver);
	}
	s->ecb_lsk = 1;
out:
	memset(r, 0, sizeof(*r));
}

/* /proc/crypto: records of "key : value" lines, separated by blank lines. */
static int scan_crypto(struct crypto_scan *s)
{
	struct crypto_rec r = {};
	char line[256], *colon, *key, *val;
	FILE *f;

	f = fopen(PROC_CRYPTO, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		colon = strchr(line, ':');
		if (!colon) {
			scan_record(s, &r);
			continue;
		}
		*colon = '\0';
		key = trim(line);
		val = trim(colon + 1);
		if (!strcmp(key, "name"))
			copy_str(r.name, sizeof(r.name), val);
		else if (!strcmp(key, "driver"))
			copy_str(r.driver, sizeof(r.driver), val);
		else if (!strcmp(key, "type"))
			copy_str(r.type, sizeof(r.type), val);
		else if (!strcmp(key, "priority"))
			r.prio = atoi(val);
		else if (!strcmp(key, "internal") || !strcmp(key, "selftest"))
			r.unusable |= !strcmp(val, "yes") ||
				      !strcmp(val, "failed");
	}
	scan_record(s, &r);
	fclose(f);
	return 0;
}

static void check_ecb_aes(struct kctx *c, struct kcheck_item *it)
{
	struct crypto_scan s = {};
	int err;

	(void)c;
	err = scan_crypto(&s);
	if (err) {
		it->ok = KCHECK_UNKNOWN;
		set_detail(it, "cannot read %s: %s", PROC_CRYPTO,
			   strerror(-err));
	} else if (s.ecb_lsk) {
		it->ok = KCHECK_OK;
		set_detail(it, "driver %s", s.driver);
	} else if (s.aes) {
		/* The ecb template is instantiated (and its module loaded)
		 * by the first crypto_alloc_lskcipher("ecb(aes)"). */
		it->ok = KCHECK_UNKNOWN;
		set_detail(it, "unknown (loads on first use): aes cipher present%s",
			   s.ecb_other ? ", ecb(aes) only as skcipher" : "");
	} else {
		set_detail(it, "no aes cipher in %s", PROC_CRYPTO);
	}
}

static void check_bpffs(struct kctx *c, struct kcheck_item *it)
{
	struct statfs st;

	(void)c;
	if (statfs(BPFFS_DIR, &st)) {
		set_detail(it, "%s: %s; create it, then mount -t bpf bpf %s",
			   BPFFS_DIR, strerror(errno), BPFFS_DIR);
		return;
	}
	/* f_type is signed on some ABIs; the magic is a 32-bit value. */
	if ((uint32_t)st.f_type != (uint32_t)BPF_FS_MAGIC) {
		/* espx attach mounts it (as bpftool and xdp-loader do) */
		it->ok = KCHECK_UNKNOWN;
		set_detail(it, "not mounted yet; espx attach mounts it (mount -t bpf bpf %s)",
			   BPFFS_DIR);
		return;
	}
	it->ok = KCHECK_OK;
	set_detail(it, "bpffs mounted");
}

/* The optional AEAD backend: the espx_aead module's kfuncs (its BTF) and
 * the implementation it took (its read-only parameter). */
static void check_aead(struct kctx *c, struct kcheck_item *it)
{
	char drv[128] = "";
	FILE *f;

	(void)c;
	if (access("/sys/kernel/btf/espx_aead", F_OK)) {
		set_detail(it, "not loaded, espx uses its own GCM: make module, "
			   "insmod build/kmod/$(uname -r)/espx_aead.ko, then espx attach");
		return;
	}
	f = fopen("/sys/module/espx_aead/parameters/driver", "r");
	if (f) {
		if (fgets(drv, sizeof(drv), f))
			drv[strcspn(drv, "\n")] = 0;
		fclose(f);
	}
	it->ok = KCHECK_OK;
	set_detail(it, "available: %s", drv[0] ? drv : "?");
}

static const struct kcheck_def checks[] = {
	{ "BTF (" VMLINUX_BTF ")",
	  "kfunc calls and CO-RE relocations need the kernel's BTF",
	  "5.4", "CONFIG_DEBUG_INFO_BTF=y", 1, check_btf },
	{ "BPF crypto kfuncs (bpf_crypto_encrypt...)",
	  "ESP payloads are encrypted and decrypted with them",
	  "6.10", "CONFIG_BPF_CRYPTO=y", 1, check_crypto },
	{ "dynptr kfuncs (bpf_dynptr_from_skb/xdp)",
	  "the crypto kfuncs take packet data as dynptrs",
	  "6.4", NULL, 1, check_dynptr },
	{ "bpf_loop helper",
	  "the AES-GCM loops over packet blocks use it",
	  "5.17", NULL, 1, check_loop },
	{ "XDP programs",
	  "received ESP packets are handled at XDP",
	  "4.8", NULL, 1, check_xdp },
	{ "TC programs (sched_cls)",
	  "outgoing packets are handled at TC egress",
	  "4.1", "CONFIG_NET_CLS_BPF", 1, check_tc },
	{ "syscall programs",
	  "SA set-up creates crypto contexts from a syscall program",
	  "5.14", NULL, 1, check_syscall },
	{ "tcx attach",
	  "espx attaches at TC egress with tcx links (pinned, no qdisc)",
	  "6.6", "CONFIG_NET_XGRESS=y", 1, check_tcx },
	{ "ecb(aes) lskcipher",
	  "the BPF crypto API reaches AES through it",
	  "6.7", "CONFIG_CRYPTO_AES, CONFIG_CRYPTO_ECB", 1, check_ecb_aes },
	{ "bpffs at " BPFFS_DIR,
	  "espx pins its maps, programs and links there",
	  "4.4", NULL, 0, check_bpffs },	/* espx attach mounts it */
	{ "aead backend (espx_aead module)",
	  "optional: SAs then use the kernel's own AES-GCM (AES-NI/VAES) instead of espx's",
	  "6.10", "espx_aead", 0, check_aead },
};

#define NR_CHECKS	((int)(sizeof(checks) / sizeof(checks[0])))

_Static_assert(sizeof(checks) / sizeof(checks[0]) <= KCHECK_MAX_ITEMS,
	       "raise KCHECK_MAX_ITEMS");

int kcheck_run(struct kcheck_item *items, int max)
{
	libbpf_print_fn_t old_print;
	struct kctx c = {};
	int i, n = max < NR_CHECKS ? max : NR_CHECKS;

	if (n <= 0)
		return 0;
	/* Failed probes are expected here; libbpf must not print them. */
	old_print = libbpf_set_print(NULL);
	c.btf = btf__load_vmlinux_btf();
	c.btf_err = c.btf ? 0 : errno;
	c.can_probe = may_load_progs();

	for (i = 0; i < n; i++) {
		const struct kcheck_def *d = &checks[i];
		struct kcheck_item *it = &items[i];

		memset(it, 0, sizeof(*it));
		it->name = d->name;
		it->why = d->why;
		it->since = d->since;
		it->config = d->config;
		it->required = d->required;
		it->ok = KCHECK_MISSING;
		d->fn(&c, it);
	}

	btf__free(c.btf);
	libbpf_set_print(old_print);
	return n;
}

int kcheck_failed(const struct kcheck_item *items, int n)
{
	int i, failed = 0;

	for (i = 0; i < n; i++)
		failed += items[i].required && items[i].ok == KCHECK_MISSING;
	return failed;
}

static const char *status_word(const struct kcheck_item *it)
{
	if (it->ok == KCHECK_OK)
		return "ok";
	if (it->ok == KCHECK_MISSING && it->required)
		return "MISSING";
	return "WARN";
}

static void report_json(FILE *out, const struct kcheck_item *items, int n)
{
	struct jw w;
	int i;

	jw_init(&w, out);
	jw_arr_open_lines(&w, NULL);
	for (i = 0; i < n; i++) {
		const struct kcheck_item *it = &items[i];

		jw_obj_open(&w, NULL);
		jw_str(&w, "name", it->name);
		if (it->ok == KCHECK_UNKNOWN)	/* could not be decided */
			jw_null(&w, "ok");
		else
			jw_bool(&w, "ok", !!it->ok);
		jw_str(&w, "status", it->ok == KCHECK_OK ? "ok" :
		       it->ok == KCHECK_MISSING ? "missing" : "unknown");
		jw_bool(&w, "required", it->required);
		jw_str(&w, "since", it->since);
		jw_str(&w, "config", it->config);
		jw_str(&w, "why", it->why);
		jw_str(&w, "detail", it->detail);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_end(&w);
}

static void print_needs(FILE *out, const struct kcheck_item *it)
{
	fprintf(out, "needs Linux %s+", it->since);
	if (it->config)
		fprintf(out, " with %s", it->config);
}

static void report_text(FILE *out, const struct kcheck_item *items, int n,
			int verbose)
{
	int i, failed = kcheck_failed(items, n);

	for (i = 0; i < n; i++) {
		const struct kcheck_item *it = &items[i];

		fprintf(out, "  %-8s %s", status_word(it), it->name);
		if (it->ok == KCHECK_MISSING) {
			fputs(" - ", out);
			print_needs(out, it);
		}
		if ((it->ok != KCHECK_OK || verbose) && it->detail[0])
			fprintf(out, ": %s", it->detail);
		if (verbose)
			fprintf(out, " [%s]", it->why);
		fputc('\n', out);
	}
	if (failed)
		fprintf(out, "espx: kernel lacks %d required feature(s)\n",
			failed);
	else
		fprintf(out, "espx: kernel OK\n");
}

int kcheck_report(FILE *out, int json, int verbose)
{
	struct kcheck_item items[KCHECK_MAX_ITEMS];
	int n = kcheck_run(items, KCHECK_MAX_ITEMS);

	if (json)
		report_json(out, items, n);
	else
		report_text(out, items, n, verbose);
	return kcheck_failed(items, n) ? -ENOTSUP : 0;
}

int kcheck_require(void)
{
	struct kcheck_item items[KCHECK_MAX_ITEMS];
	int i, n = kcheck_run(items, KCHECK_MAX_ITEMS);

	for (i = 0; i < n; i++) {
		const struct kcheck_item *it = &items[i];

		if (!it->required || it->ok != KCHECK_MISSING)
			continue;
		fprintf(stderr, "espx: kernel lacks %s (", it->name);
		print_needs(stderr, it);
		fprintf(stderr, "): %s (%s)\n", it->why, it->detail);
	}
	return kcheck_failed(items, n) ? -ENOTSUP : 0;
}
