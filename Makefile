# SPDX-License-Identifier: GPL-2.0
# espx: IPsec ESP datapath in eBPF.
#   make            build everything into build/
#   make demo       the main job on its embedded default (see README)
#   make test       install deps if needed, build, run the whole suite
#   make vmtest     the VM suite only (tests/test_vm_*: qemu with a kernel that has ESP)
#   make bench      crypto core (BPF_PROG_TEST_RUN), live traffic through veth, policy lookup,
#                   the pod fast path against the normal path; JSON in build/bench/
#                   (POLICY_BENCH_ARGS="--old DIR" also times the tree built in DIR)
#   make ab         A/B of kernel XFRM against espx (tests/bench/bench-ab.sh, AB_ARGS="-r 3 -s 5")
#   make soak       10^7 checked packets through one ESN tunnel across 2^32, two CPUs on one SA,
#                   10^5 SA churn cycles under traffic (SOAK_PACKETS=, SOAK_CPU_PACKETS=,
#                   SOAK_CYCLES=); in the VM, 100 daemon kill -9 restarts and SA churn by
#                   ip xfrm (SOAK_VM_RESTARTS=, SOAK_VM_CYCLES=); make test runs short versions
#   make deps       install build/test dependencies (Debian, root)
#   make fuzz       libFuzzer harnesses (tests/fuzz/), each FUZZ_SECONDS (default 60) from its
#                   corpus; a crash fails and stays in build/fuzz/crash-* (docs/testing.md)
#   make fuzz-capture  real XFRM netlink datagrams from the VM into the netlink corpus
#   make install    the binary, espx(8), bash completion, espx-daemon.service and
#                   /etc/default/espx (PREFIX=/usr/local, DESTDIR=; make uninstall)
#   make deb        a Debian package, build/espx_VER_ARCH.deb (scripts/mkdeb.sh: dpkg-deb,
#                   dependencies from dpkg-shlibdeps)
#   make module     the optional AEAD backend, bpf/kmod/espx_aead.ko, for the running kernel
#                   (KDIR=/lib/modules/$(uname -r)/build, or another kernel's headers) into
#                   build/kmod/<release>/; load it with insmod before espx attaches;
#                   make install-dkms puts its sources where DKMS builds them per kernel
#   V=1             show commands
BUILD    ?= build
CLANG    ?= clang-16
BPFTOOL  ?= bpftool
CC       ?= gcc
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) \
	      -I$(BUILD) -Iinclude -Ibpf -Wall -Wno-unused-function
CFLAGS   ?= -O2 -g
CFLAGS   += -Wall -Wextra -Wno-unused-parameter -Iinclude -Iuser -I$(BUILD) -D_GNU_SOURCE
LDLIBS   := -lbpf -lxdp -lelf -lz -lmnl

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS    := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
BPF_HDRS := $(wildcard bpf/lib/*.h) $(wildcard include/*.h)
# user/ in layers (each may include only those after it): cmd/ (the
# commands), platform/ (maps, pins, netlink, devices), model/ (pure rules,
# unit-tested without root), common/ (log, JSON, util); see README.md.
USER_LAYERS := cmd platform model common
USER_HDRS := $(foreach l,$(USER_LAYERS),$(wildcard user/$(l)/*.h)) $(wildcard include/*.h)

# user/espx.c is the entry point (the command table); user/<layer>/*.c form
# a library shared with the test programs.
LIB_SRCS := $(foreach l,$(USER_LAYERS),$(wildcard user/$(l)/*.c))
LIB_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(LIB_SRCS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tests/%,$(TOOL_SRCS))

.DELETE_ON_ERROR:
# objects and skeletons are kept: user code and tests are built from them
.SECONDARY: $(BPF_OBJS) $(SKELS) $(BUILD)/vmlinux.h
.PHONY: all deps demo test vmtest bench soak clean help check-deps fuzz fuzz-build

all: check-deps $(BUILD)/espx $(UNIT_BINS) $(TOOL_BINS)

help:
	@sed -n 's/^#   //p' Makefile

deps:
	$(Q)scripts/deps.sh

check-deps:
	$(Q)scripts/deps.sh --check

$(BUILD) $(BUILD)/user $(BUILD)/tests:
	$(Q)mkdir -p $@

$(BUILD)/vmlinux.h: | $(BUILD)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(BUILD)/vmlinux.h | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# libbpf in bpftool does not know libxdp's .xdp_run_config section (the
# program's priority for xdp-loader's dispatcher): that notice is not a
# problem and is dropped; anything else bpftool says is shown.
$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@ 2>$@.log; rc=$$?; \
		grep -v 'skipping unrecognized data section.*\.xdp_run_config' $@.log >&2; \
		rm -f $@.log; exit $$rc

$(BUILD)/user/%.o: user/%.c $(USER_HDRS) $(SKELS) | $(BUILD)/user
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/espx: $(BUILD)/user/espx.o $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS) $(USER_HDRS) $(wildcard tests/unit/*.h) | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< $(LIB_OBJS) -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/tools/%.c $(LIB_OBJS) $(USER_HDRS) $(SKELS) | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< $(LIB_OBJS) -o $@ $(LDLIBS)

# libFuzzer harnesses: tests/fuzz/fuzz_<name>.c -> $(BUILD)/fuzz/fuzz_<name>, linked
# with the user/ sources it exercises, listed in FUZZ_DEPS_<name> (built again
# with the sanitizers into $(BUILD)/fuzz/obj/). clang's fuzzer runtime comes
# with libclang-rt-16-dev (scripts/deps.sh).
FUZZ_CC      ?= $(CLANG)
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) -Wall -Wextra \
		-Wno-unused-parameter -Iinclude -Iuser -Ibpf -I$(BUILD) -D_GNU_SOURCE
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRCS))
FUZZ_BINS    := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_NAMES))
FUZZ_DEPS_xfrm_parse := user/model/xfrm_parse.c user/model/sa_table.c user/common/util.c
FUZZ_DEPS_xfrm_nl    := user/platform/xfrm_nl.c user/platform/nl.c user/model/xfrm_parse.c \
			user/model/sa_table.c user/common/util.c
FUZZ_DEPS_replay     :=
FUZZ_DEPS_proc_stat  := user/platform/heartbeat.c user/platform/objects.c user/platform/pins.c \
			user/platform/xdp_dispatch.c user/common/util.c user/common/log.c
# fuzz_datapath: the real XDP and TC programs through BPF_PROG_TEST_RUN, as
# root (tests/test_fuzz_datapath.sh, docs/testing.md "Datapath fuzzing")
FUZZ_DEPS_datapath   :=
FUZZ_LDLIBS_datapath := -lbpf
FUZZ_LDLIBS_xfrm_nl  := -lmnl
FUZZ_LDLIBS_proc_stat := -lbpf -lxdp

$(BUILD)/fuzz/obj/%.o: %.c $(USER_HDRS) $(BPF_HDRS) $(SKELS)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

define FUZZ_RULE
$(BUILD)/fuzz/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(FUZZ_DEPS_$(1))) \
		$(USER_HDRS) $(BPF_HDRS) $(wildcard tests/fuzz/*.h)
	$$(call msg,FUZZ,$$@)
	$(Q)mkdir -p $$(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $$(filter %.c %.o,$$^) -o $$@ $(FUZZ_LDLIBS_$(1))
endef
$(foreach n,$(FUZZ_NAMES),$(eval $(call FUZZ_RULE,$(n))))

# clang links -fsanitize=fuzzer with a runtime of its own package
FUZZ_RT = $(shell $(FUZZ_CC) -print-file-name=libclang_rt.fuzzer-$(shell uname -m).a 2>/dev/null)
.PHONY: fuzz-toolchain
fuzz-toolchain:
	$(Q)test -f "$(FUZZ_RT)" || { echo "espx: $(FUZZ_CC) has no libFuzzer runtime ($(FUZZ_RT)): install libclang-rt-16-dev (make deps)" >&2; exit 1; }

$(FUZZ_BINS): | fuzz-toolchain
fuzz-build: $(FUZZ_BINS)

# the committed seeds (seed-*; regress-* are inputs of fixed bugs, kept by hand),
# made again: fuzz_xfrm_nl's by tests/fuzz/gen_nl_seeds.c, the others by gen_seeds.py
$(BUILD)/fuzz/gen_nl_seeds: tests/fuzz/gen_nl_seeds.c $(FUZZ_DEPS_xfrm_nl) $(USER_HDRS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(filter %.c,$^) -o $@ -lmnl

.PHONY: fuzz-seeds
fuzz-seeds: $(BUILD)/fuzz/gen_nl_seeds
	$(Q)mkdir -p tests/fuzz/corpus/xfrm_nl
	$(Q)$(BUILD)/fuzz/gen_nl_seeds tests/fuzz/corpus/xfrm_nl
	$(Q)/usr/bin/python3 tests/fuzz/gen_seeds.py

fuzz: fuzz-build
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) ESPX_BUILD=$(BUILD) tests/fuzz/run.sh

demo: deps all
	$(Q)scripts/demo.sh

test: deps all
	$(Q)tests/run.sh

vmtest: deps all
	$(Q)tests/run.sh test_vm_

# the long versions of tests/test_soak.py, test_two_cpu.py and test_sa_churn.py's traffic
# part (docs/testing.md, "Soak and churn"); each prints PASS/FAIL lines as in make test
SOAK_PACKETS     ?= 10000000
SOAK_CPU_PACKETS ?= 1000000
SOAK_CYCLES      ?= 100000
SOAK_VM_RESTARTS ?= 100
SOAK_VM_CYCLES   ?= 10000
soak: deps all
	$(Q)rc=0; \
	ESPX_SOAK_PACKETS=$(SOAK_PACKETS) /usr/bin/python3 tests/test_soak.py || rc=1; \
	ESPX_TWO_CPU_PACKETS=$(SOAK_CPU_PACKETS) /usr/bin/python3 tests/test_two_cpu.py || rc=1; \
	ESPX_CHURN_CYCLES=$(SOAK_CYCLES) /usr/bin/python3 tests/test_sa_churn.py traffic || rc=1; \
	ESPX_VM_STORM_RESTARTS=$(SOAK_VM_RESTARTS) ESPX_VM_STORM_CYCLES=$(SOAK_VM_CYCLES) \
		ESPX_VM_STORM_TIMEOUT=$${ESPX_VM_STORM_TIMEOUT:-7200} tests/test_vm_storm.sh || rc=1; \
	exit $$rc

# real XFRM netlink datagrams for the fuzz corpus: tests/vm/storm.sh (short) in the VM,
# its capture (tests/vm/nl_capture.py) copied to tests/fuzz/corpus/xfrm_nl/vm-*
.PHONY: fuzz-capture
fuzz-capture: all
	$(Q)ESPX_VM_KEEP=1 ESPX_VM_TCG_THREAD=single scripts/vmtest.sh -t 600 -- \
		env ESPX_VM_STORM_RESTARTS=2 ESPX_VM_STORM_CYCLES=40 tests/vm/storm.sh
	$(Q)ls build/vm/keep/xfrm_nl/vm-* >/dev/null && rm -f tests/fuzz/corpus/xfrm_nl/vm-* && \
		cp build/vm/keep/xfrm_nl/vm-* tests/fuzz/corpus/xfrm_nl/ && \
		echo "fuzz-capture: $$(ls build/vm/keep/xfrm_nl | wc -l) datagrams in tests/fuzz/corpus/xfrm_nl/vm-*"

# each part also writes its figures as JSON into build/bench/, to compare runs
bench: deps all
	$(Q)mkdir -p $(BUILD)/bench
	$(Q)/usr/bin/python3 tests/bench/crypto_bench.py --json $(BUILD)/bench/crypto.json
	$(Q)/usr/bin/python3 tests/bench/ecb_fit.py --json $(BUILD)/bench/ecb_fit.json
	$(Q)/usr/bin/python3 tests/bench/live_bench.py --json $(BUILD)/bench/live.json
	$(Q)/usr/bin/python3 tests/bench/policy_bench.py --json $(BUILD)/bench/policy.json $(POLICY_BENCH_ARGS)
	$(Q)/usr/bin/python3 tests/bench/pods_bench.py --json $(BUILD)/bench/pods.json
	$(Q)/usr/bin/python3 tests/bench/two_cpu_bench.py --json $(BUILD)/bench/two_cpu.json
	$(Q)if scripts/vmtest.sh -t 300 -- tests/bench/daemon_scale.sh 10000 >$(BUILD)/bench/daemon.txt; then \
		cat $(BUILD)/bench/daemon.txt; sed -n 's/^json: //p' $(BUILD)/bench/daemon.txt >$(BUILD)/bench/daemon.json; \
	else cat $(BUILD)/bench/daemon.txt; echo "bench: daemon scale skipped (no VM here)"; fi

clean:
	rm -rf $(BUILD)

# Install (PREFIX, DESTDIR as usual). The BPF objects are inside the binary
# (skeletons); /etc/default/espx is kept if it exists.
PREFIX       ?= /usr/local
SBINDIR      ?= $(PREFIX)/sbin
MANDIR       ?= $(PREFIX)/share/man
BASHCOMPDIR  ?= $(PREFIX)/share/bash-completion/completions
SYSTEMDDIR   ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR   ?= /etc
INSTALLED := $(SBINDIR)/espx $(MANDIR)/man8/espx.8 $(BASHCOMPDIR)/espx \
	     $(SYSTEMDDIR)/espx-daemon.service
# The AEAD kernel module, out of tree, one build directory per kernel release
# (kbuild writes beside its sources): the sources and the two shared headers
# are copied there, as DKMS does (bpf/kmod/dkms.conf).
KDIR ?= /lib/modules/$(shell uname -r)/build
KMOD_SRCS := bpf/kmod/espx_aead.c bpf/kmod/Kbuild
KMOD_HDRS := include/espx_aead.h include/espx_common.h
.PHONY: module
module:
	$(Q)if [ ! -f $(KDIR)/Makefile ]; then \
		echo "make module: no kernel headers in $(KDIR): install linux-headers-$$(uname -r)," \
		     "or set KDIR to another kernel's (scripts/vm/fetch-headers.sh gives the VM's)" >&2; \
		exit 1; fi
	$(Q)if grep -q '^CONFIG_DEBUG_INFO_BTF_MODULES=y' $(KDIR)/.config 2>/dev/null && \
		! command -v pahole >/dev/null; then \
		echo "make module: no pahole: the module's kfuncs need its BTF (apt-get install dwarves)" >&2; \
		exit 1; fi
	$(Q)rel=$$(cat $(KDIR)/include/config/kernel.release) && d=$(CURDIR)/$(BUILD)/kmod/$$rel && \
		mkdir -p $$d/include && cp $(KMOD_SRCS) $$d/ && cp $(KMOD_HDRS) $$d/include/ && \
		$(MAKE) -C $(KDIR) M=$$d modules && echo "module: $$d/espx_aead.ko"

# The module's sources for DKMS on a real host (bpf/kmod/dkms.conf):
# make install-dkms, then dkms install espx-aead/VERSION.
DKMS_VERSION := $(shell sed -n 's/^\#define ESPX_VERSION "\(.*\)"/\1/p' user/espx.c)
DKMS_DIR      = $(DESTDIR)/usr/src/espx-aead-$(DKMS_VERSION)
.PHONY: install-dkms
install-dkms:
	$(Q)install -D -m 0644 -t $(DKMS_DIR) $(KMOD_SRCS)
	$(Q)install -D -m 0644 -t $(DKMS_DIR)/include $(KMOD_HDRS)
	$(Q)sed 's/@VERSION@/$(DKMS_VERSION)/' bpf/kmod/dkms.conf >$(DKMS_DIR)/dkms.conf
	@echo "installed the espx_aead sources in $(DKMS_DIR): dkms install espx-aead/$(DKMS_VERSION)"

.PHONY: install uninstall deb
deb: all
	$(Q)scripts/mkdeb.sh $(BUILD)

install: $(BUILD)/espx
	$(Q)install -D -m 0755 $(BUILD)/espx $(DESTDIR)$(SBINDIR)/espx
	$(Q)install -D -m 0644 docs/espx.8 $(DESTDIR)$(MANDIR)/man8/espx.8
	$(Q)install -D -m 0644 scripts/espx-completion.bash $(DESTDIR)$(BASHCOMPDIR)/espx
	$(Q)install -d $(DESTDIR)$(SYSTEMDDIR)
	$(Q)sed 's|@SBINDIR@|$(SBINDIR)|g' scripts/espx-daemon.service.in \
		>$(DESTDIR)$(SYSTEMDDIR)/espx-daemon.service
	$(Q)chmod 0644 $(DESTDIR)$(SYSTEMDDIR)/espx-daemon.service
	$(Q)[ -e $(DESTDIR)$(SYSCONFDIR)/default/espx ] || \
		install -D -m 0644 scripts/espx.default $(DESTDIR)$(SYSCONFDIR)/default/espx
	@echo "installed espx in $(DESTDIR)$(PREFIX) (man espx; systemctl enable --now espx-daemon after setting $(SYSCONFDIR)/default/espx)"

uninstall:
	$(Q)rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	@echo "removed espx from $(DESTDIR)$(PREFIX) ($(SYSCONFDIR)/default/espx kept)"

# A/B of kernel XFRM against espx (docs/benchmarks.md); e.g. make ab AB_ARGS="-r 3 -s 5"
.PHONY: ab
ab: deps all
	$(Q)tests/bench/bench-ab.sh $(AB_ARGS)
