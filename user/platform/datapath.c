// SPDX-License-Identifier: GPL-2.0
/* The datapath handle (datapath.h): opening the objects of objects.h,
 * loading and pinning the BPF object, removing every pin, and walking the
 * SA map. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "espx.skel.h"
#include "common/log.h"
#include "common/util.h"
#include "model/sa_table.h"
#include "platform/datapath.h"
#include "platform/devcfg.h"
#include "platform/kcheck.h"
#include "platform/lock.h"
#include "platform/nsstate.h"
#include "platform/pins.h"
#include "platform/sa_install.h"
#include "platform/segment.h"

void espx_dp_init(struct espx_dp *dp)
{
	size_t i;

	for (i = 0; i < ESPX_OBJ__COUNT; i++)
		dp->fd[i] = -1;
}

int espx_dp_fd(struct espx_dp *dp, enum espx_obj o)
{
	if (dp->fd[o] < 0)
		dp->fd[o] = espx_obj_open(o);
	return dp->fd[o];
}

int espx_dp_try(struct espx_dp *dp, enum espx_obj o)
{
	char path[400];

	if (dp->fd[o] < 0) {
		espx_obj_path(path, sizeof(path), o);
		dp->fd[o] = bpf_obj_get(path);
		if (dp->fd[o] < 0)
			dp->fd[o] = -errno;
	}
	return dp->fd[o];
}

void espx_dp_close(struct espx_dp *dp)
{
	size_t i;

	for (i = 0; i < ESPX_OBJ__COUNT; i++) {
		if (dp->fd[i] >= 0)
			close(dp->fd[i]);
		dp->fd[i] = -1;
	}
}

int espx_dp_sa_fds(struct espx_dp *dp, struct espx_sa_fds *fds, int install)
{
	fds->sa_map = fds->setup_map = fds->crypto_init_prog = fds->ghash_init_prog = -1;
	fds->hwm_map = -1;
	fds->sa_map = espx_dp_fd(dp, ESPX_MAP_SA);
	if (fds->sa_map < 0)
		return fds->sa_map;
	/* absent in pins of an older espx: numbers then start where asked */
	fds->hwm_map = espx_dp_fd(dp, ESPX_MAP_SA_HWM);
	if (!install) {
		/* for ending AEAD contexts of deleted SAs, where there are any */
		fds->setup_map = espx_dp_try(dp, ESPX_MAP_SA_SETUP);
		fds->crypto_init_prog = espx_dp_try(dp, ESPX_PROG_SA_CRYPTO_INIT);
		return 0;
	}
	if ((fds->setup_map = espx_dp_fd(dp, ESPX_MAP_SA_SETUP)) < 0)
		return fds->setup_map;
	if ((fds->crypto_init_prog = espx_dp_fd(dp, ESPX_PROG_SA_CRYPTO_INIT)) < 0)
		return fds->crypto_init_prog;
	if ((fds->ghash_init_prog = espx_dp_fd(dp, ESPX_PROG_SA_GHASH_INIT)) < 0)
		return fds->ghash_init_prog;
	return 0;
}

/* Create dir with mode 0700, or tighten an existing one to 0700. */
static int mkdir_private(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		pr_warn("cannot create %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		pr_warn("%s is not a directory\n", dir);
		return -ENOTDIR;
	}
	if ((st.st_mode & 0777) != 0700 && chmod(dir, 0700)) {
		pr_warn("cannot make %s private: %s\n", dir, strerror(errno));
		return -errno;
	}
	return 0;
}

static int ensure_pin_dirs(void)
{
	char progs[300], links[300];
	int err;

	err = nsstate_bpffs(1);
	if (err)
		return err;
	espx_pin_path(progs, sizeof(progs), NULL, ESPX_PIN_PROGS);
	espx_pin_path(links, sizeof(links), NULL, ESPX_PIN_LINKS);
	/* the anchor first: a directory without one is never taken for dead */
	if ((err = mkdir_private(ESPX_PIN_DIR)) || (err = nsstate_prepare(espx_pin_root(), espx_dp_anchor_link)) ||
	    (err = mkdir_private(espx_pin_root())) || (err = mkdir_private(progs)) ||
	    (err = mkdir_private(links)))
		return err;
	return 0;
}

/* Pin a set-up program, replacing an older version's pin (links hold their own program). */
static int pin_prog(struct espx *skel, enum espx_obj o)
{
	struct bpf_program *prog = espx_obj_skel(skel, o);
	char path[256];

	espx_obj_path(path, sizeof(path), o);
	unlink(path);	/* a previous version's program; links keep theirs */
	if (bpf_program__pin(prog, path)) {
		pr_warn("pinning %s: %s\n", path, strerror(errno));
		return -errno;
	}
	return 0;
}

int espx_dp_anchor_link(void)
{
	struct bpf_program *anchor, *p;
	struct bpf_map *m;
	struct espx *skel = espx__open();
	int netns = -1, link = -1, err;

	if (!skel) {
		err = -errno;
		pr_warn("opening the BPF object: %s\n", strerror(-err));
		return err;
	}
	anchor = espx_obj_skel(skel, ESPX_LINK_ANCHOR);
	bpf_object__for_each_program(p, skel->obj)
		bpf_program__set_autoload(p, p == anchor);
	/* none of espx's maps; .rodata stays (libbpf binds it to every
	 * program it loads, and warns when it does not exist) */
	bpf_object__for_each_map(m, skel->obj)
		if (!bpf_map__is_internal(m))
			bpf_map__set_autocreate(m, false);
	err = espx__load(skel);
	if (err)
		pr_warn("loading the namespace anchor (sk_lookup): %s\n", strerror(-err));
	else if ((netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0 ||
		 (link = bpf_link_create(bpf_program__fd(anchor), netns, BPF_SK_LOOKUP, NULL)) < 0) {
		err = -errno;
		pr_warn("attaching the namespace anchor to this network namespace: %s\n",
			strerror(-err));
	}
	if (netns >= 0)
		close(netns);
	espx__destroy(skel);	/* the link holds the program */
	return err ? err : link;
}

static int access_pinned(enum espx_obj o)
{
	char path[400];

	espx_obj_path(path, sizeof(path), o);
	return access(path, F_OK);
}

/* The kernel adds BPF_F_RDONLY_PROG to every devmap it creates (and refuses
 * it at creation). Whether libbpf's check of a pinned map expects the flag
 * depends on its version (1.4 wants it set by hand; 1.5 as Debian 13 ships
 * it, and upstream since 1.7, ignore it and then refuse a map set by hand).
 * So espx_redirect is not reused by pin: a pinned one is taken by fd, as it
 * is, and a new one is pinned by espx after the load (redirect_pin). */
static int redirect_reuse(struct espx *skel)
{
	struct bpf_map *m = skel->maps.espx_redirect;
	char path[400];
	int fd, err;

	bpf_map__set_pin_path(m, NULL);
	espx_obj_path(path, sizeof(path), ESPX_MAP_REDIRECT);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	err = bpf_map__reuse_fd(m, fd);
	close(fd);
	if (err)
		pr_warn("reusing %s: %s\n", path, strerror(-err));
	return err;
}

static int redirect_pin(struct espx *skel)
{
	char path[400];
	int err;

	if (!access_pinned(ESPX_MAP_REDIRECT))
		return 0;
	espx_obj_path(path, sizeof(path), ESPX_MAP_REDIRECT);
	err = bpf_map__pin(skel->maps.espx_redirect, path);
	if (err)
		pr_warn("pinning %s: %s\n", path, strerror(-err));
	return err;
}

/* The object opened with its maps pinned (reusing pinned ones), the anchor
 * left out (espx_dp_anchor_link). NULL and *err on failure. */
static struct espx *dp_open(int *err)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	struct espx *skel;
	const char *env;

	*err = ensure_pin_dirs();
	if (*err)
		return NULL;
	oo.pin_root_path = espx_pin_root();
	skel = espx__open_opts(&oo);
	if (!skel) {
		*err = -errno;
		pr_warn("opening the BPF object: %s\n", strerror(-*err));
		return NULL;
	}
	*err = redirect_reuse(skel);
	if (*err) {
		espx__destroy(skel);
		return NULL;
	}
	bpf_program__set_autoload(skel->progs.espx_anchor, false);
	/* for benchmarks of the policy lookup itself (docs/benchmarks.md) */
	env = getenv("ESPX_VERDICT_CACHE");
	skel->rodata->espx_pv_cache_off = env && !strcmp(env, "off");
	return skel;
}

struct espx *espx_dp_open_rx(int *err)
{
	struct espx *skel = dp_open(err);
	struct bpf_program *p;

	if (!skel)
		return NULL;
	bpf_object__for_each_program(p, skel->obj)
		bpf_program__set_autoload(p, p == skel->progs.espx_xdp_rx);
	return skel;
}

struct espx *espx_dp_load(int links, int *err)
{
	struct espx *skel;
	int o;

	skel = dp_open(err);
	if (!skel)
		return NULL;
	if (!links) {
		bpf_program__set_autoload(skel->progs.espx_xdp_rx, false);
		bpf_program__set_autoload(skel->progs.espx_tc_tx, false);
		bpf_program__set_autoload(skel->progs.espx_seg_rx, false);
		bpf_program__set_autoload(skel->progs.espx_pod_tx, false);
		bpf_program__set_autoload(skel->progs.espx_tc_rx, false);
	}
	*err = espx__load(skel);
	if (*err) {
		pr_warn("loading the datapath failed: %s%s\n", strerror(-*err),
			*err == -EINVAL ? " (pinned maps of another espx version? 'espx unload' removes them; run with -v for the verifier log)"
					: " (run with -v for libbpf's log)");
		goto fail;
	}
	*err = redirect_pin(skel);
	if (*err)
		goto fail;
	for (o = 0; o < ESPX_OBJ__COUNT; o++)
		if (espx_obj_sub((enum espx_obj)o) && (*err = pin_prog(skel, (enum espx_obj)o)))
			goto fail;
	return skel;
fail:
	espx__destroy(skel);
	return NULL;
}

int espx_load_lock(void)
{
	int err = kcheck_require(), lock;

	if (err)
		return err;
	lock = espx_lock();
	return lock < 0 ? -EBUSY : lock;
}

int espx_load(void)
{
	struct espx *skel;
	struct stat st;
	int lock, err, fresh;

	lock = espx_load_lock();
	if (lock < 0)
		return lock;
	nsstate_bpffs(0);
	fresh = stat(espx_pin_root(), &st) != 0;
	skel = espx_dp_load(0, &err);
	espx__destroy(skel);
	if (err && fresh)
		espx_remove_all_pins();
	espx_unlock(lock);
	return err;
}

/* Remove every pin in dir (links are detached first), then dir itself. */
static int remove_dir_pins(const char *dir, int links)
{
	struct dirent *de;
	char path[512];
	DIR *d = opendir(dir);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type == DT_DIR)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (links) {
			char dev[IF_NAMESIZE + 8], kind[8];

			espx_drop_link(path);
			if (!espx_link_pin_parse(de->d_name, dev, sizeof(dev), kind, sizeof(kind)) &&
			    !strcmp(kind, "xdp")) {
				devcfg_restore(dev);
				if (if_nametoindex(dev))
					seg_destroy(if_nametoindex(dev), -1);
			}
		}
		else if (unlink(path))
			pr_warn("removing %s: %s\n", path, strerror(errno));
	}
	closedir(d);
	if (rmdir(dir) && errno != ENOENT) {
		pr_warn("removing %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	return 0;
}

int espx_remove_all_pins(void)
{
	char links[300], progs[300];

	espx_pin_path(links, sizeof(links), NULL, ESPX_PIN_LINKS);
	espx_pin_path(progs, sizeof(progs), NULL, ESPX_PIN_PROGS);
	remove_dir_pins(links, 1);
	remove_dir_pins(progs, 0);
	return remove_dir_pins(espx_pin_root(), 0);
}

int sa_foreach(int sa_fd, sa_fn fn, void *ctx)
{
	struct espx_sa_key key, next, *prev = NULL;
	struct espx_sa *sa = malloc(sizeof(*sa));
	int err = 0;

	if (!sa)
		return -ENOMEM;
	while (!bpf_map_get_next_key(sa_fd, prev, &next)) {
		key = next;
		prev = &key;
		/* gone since get_next_key: deleted meanwhile, skip it */
		if (bpf_map_lookup_elem_flags(sa_fd, &key, sa, BPF_F_LOCK))
			continue;
		err = fn(&key, sa, ctx);
		if (err)
			break;
	}
	if (!err && errno != ENOENT)
		err = -errno;
	wipe(sa, sizeof(*sa));	/* the GHASH table is key material */
	free(sa);
	return err;
}

int sa_keys_sorted(int sa_fd, struct espx_sa_key **keys, size_t *n)
{
	struct espx_sa_key key, *prev = NULL, *k = NULL;
	size_t cap = 0, cnt = 0;

	while (!bpf_map_get_next_key(sa_fd, prev, &key)) {
		if (array_grow((void **)&k, &cap, cnt + 1, sizeof(*k), 64)) {
			free(k);
			return -ENOMEM;
		}
		k[cnt] = key;
		prev = &k[cnt++];
	}
	if (errno != ENOENT) {
		free(k);
		return -errno;
	}
	if (cnt)
		qsort(k, cnt, sizeof(*k), sa_key_cmp);
	*keys = k;
	*n = cnt;
	return 0;
}
