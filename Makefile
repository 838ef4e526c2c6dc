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
#   make deps       install build/test dependencies (Debian, root)
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
LDLIBS   := -lbpf -lelf -lz -lmnl

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
# libFuzzer harnesses (clang-16 -fsanitize=fuzzer; Debian's libclang-rt-16-dev)
FUZZ_CC     ?= clang-16
FUZZ_CFLAGS ?= -g -O1 -fsanitize=fuzzer
FUZZ_BINS   += $(BUILD)/fuzz/fuzz_datapath

.DELETE_ON_ERROR:
# objects and skeletons are kept: user code and tests are built from them
.SECONDARY: $(BPF_OBJS) $(SKELS) $(BUILD)/vmlinux.h
.PHONY: all deps demo test vmtest bench clean help check-deps

all: check-deps $(BUILD)/espx $(UNIT_BINS) $(TOOL_BINS) $(FUZZ_BINS)

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

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

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

# fuzz_datapath: the real XDP and TC programs through BPF_PROG_TEST_RUN, as
# root (tests/test_fuzz_datapath.sh, docs/testing.md "Datapath fuzzing")
$(BUILD)/fuzz/fuzz_datapath: tests/fuzz/fuzz_datapath.c $(wildcard include/*.h)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Wall -Wextra -Wno-unused-parameter -Iinclude -D_GNU_SOURCE \
		$< -o $@ -lbpf

demo: deps all
	$(Q)scripts/demo.sh

test: deps all
	$(Q)tests/run.sh

vmtest: deps all
	$(Q)tests/run.sh test_vm_

# each part also writes its figures as JSON into build/bench/, to compare runs
bench: deps all
	$(Q)mkdir -p $(BUILD)/bench
	$(Q)/usr/bin/python3 tests/bench/crypto_bench.py --json $(BUILD)/bench/crypto.json
	$(Q)/usr/bin/python3 tests/bench/ecb_fit.py --json $(BUILD)/bench/ecb_fit.json
	$(Q)/usr/bin/python3 tests/bench/live_bench.py --json $(BUILD)/bench/live.json
	$(Q)/usr/bin/python3 tests/bench/policy_bench.py --json $(BUILD)/bench/policy.json $(POLICY_BENCH_ARGS)
	$(Q)/usr/bin/python3 tests/bench/pods_bench.py --json $(BUILD)/bench/pods.json
	$(Q)if scripts/vmtest.sh -t 300 -- tests/bench/daemon_scale.sh 10000 >$(BUILD)/bench/daemon.txt; then \
		cat $(BUILD)/bench/daemon.txt; sed -n 's/^json: //p' $(BUILD)/bench/daemon.txt >$(BUILD)/bench/daemon.json; \
	else cat $(BUILD)/bench/daemon.txt; echo "bench: daemon scale skipped (no VM here)"; fi

clean:
	rm -rf $(BUILD)

# A/B of kernel XFRM against espx (docs/benchmarks.md); e.g. make ab AB_ARGS="-r 3 -s 5"
.PHONY: ab
ab: deps all
	$(Q)tests/bench/bench-ab.sh $(AB_ARGS)
