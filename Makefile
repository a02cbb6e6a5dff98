# modelux build. Chain: bpf/*.bpf.c -> .bpf.o -> .skel.h (bpftool) -> userspace.
# `make run` and `make test` do all set-up (Debian packages) first; see README.md.
.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:

O        ?= build
SAN      ?=
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE \
	    -fno-strict-aliasing -I$(O) -Iuserspace -Ibpf
LDLIBS   := -lbpf -lelf -lz -lnetfilter_queue -lmnl -ljansson -lnghttp2 -lsqlite3 -lhs -lssl -lcrypto -lpthread -lm
ifeq ($(SAN),1)
CC       := $(CLANG)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif

ifneq ($(findstring clang,$(CC)),clang)
CFLAGS   += -Wno-format-truncation  # gcc: snprintf truncation here is deliberate and checked
endif

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(O)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS:= $(patsubst bpf/%.bpf.c,$(O)/%.skel.h,$(BPF_SRCS))

# Every userspace/*.c except the program entry points goes into the library.
MAINS    := userspace/agent_main.c userspace/modeluxctl.c
LIB_SRCS := $(filter-out $(MAINS),$(wildcard userspace/*.c))
LIB_OBJS := $(patsubst userspace/%.c,$(O)/obj/%.o,$(LIB_SRCS))
LIB      := $(O)/libmodelux.a

UNIT_SRCS:= $(wildcard test/unit/test_*.c)
UNIT_BINS:= $(patsubst test/unit/%.c,$(O)/test/%,$(UNIT_SRCS))
FUZZ_SRCS:= $(wildcard test/fuzz/fuzz_*.c)
FUZZ_BINS:= $(patsubst test/fuzz/%.c,$(O)/fuzz/%,$(FUZZ_SRCS))

.PHONY: all deps npm-deps run test asan unit integ fuzz-replay fuzz clean format test-only bench
all: $(O)/modelux-agent $(O)/modeluxctl

deps:
	@scripts/deps.sh

$(O)/vmlinux.h:
	@mkdir -p $(@D)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(O)/%.bpf.o: bpf/%.bpf.c bpf/modelux.h $(O)/vmlinux.h
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -I$(O) -Ibpf -Wall -Werror -c $< -o $@

$(O)/%.skel.h: $(O)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@

$(O)/obj/%.o: userspace/%.c $(wildcard userspace/*.h) bpf/modelux.h | $(BPF_SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

# The price table is built into the agent.
$(O)/obj/prices_embed.o: etc/prices.json

$(LIB): $(LIB_OBJS)
	ar rcs $@ $^

$(O)/modelux-agent: userspace/agent_main.c $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(O)/modeluxctl: userspace/modeluxctl.c $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

# Unit tests: one cmocka binary per test/unit/test_<module>.c, linked against the library.
$(O)/test/%: test/unit/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -Wno-error=unused-function $< $(LIB) $(LDLIBS) -lcmocka -o $@

# Fuzz targets include the .c files they exercise; libFuzzer replays the corpus with -runs=0.
$(O)/fuzz/%: test/fuzz/%.c $(wildcard userspace/*.c userspace/*.h test/fuzz/*.h)
	@mkdir -p $(@D)
	$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -Iuserspace -Ibpf -I$(O) \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $< -o $@ $(FUZZ_LIBS_$*)

# Extra libraries a fuzz target needs (it includes the .c files it exercises).
FUZZ_LIBS_fuzz_casign_name := -lssl -lcrypto -lpthread
FUZZ_LIBS_fuzz_h2conn := -lnghttp2
FUZZ_LIBS_fuzz_budget_conf := -ljansson
FUZZ_LIBS_fuzz_apikey := -lcrypto
FUZZ_LIBS_fuzz_prices := -ljansson
FUZZ_LIBS_fuzz_llm := -ljansson -lz
FUZZ_LIBS_fuzz_jsonload := -ljansson
FUZZ_LIBS_fuzz_sens := -lhs
FUZZ_LIBS_fuzz_ilog_format := -ljansson

unit: $(UNIT_BINS)
	@scripts/run-unit.sh $(UNIT_BINS)

integ: all
	@O=$(O) test/integ/run-all.sh

fuzz-replay: $(FUZZ_BINS)
	@scripts/fuzz-replay.sh $(O)

# Open-ended fuzzing, FUZZ_SECONDS per target (not part of `make test`).
FUZZ_SECONDS ?= 60
fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do n=$$(basename $$f); n=$${n#fuzz_}; \
		mkdir -p $(O)/fuzz-new/$$n; \
		$$f -max_total_time=$(FUZZ_SECONDS) -dict=test/fuzz/$$n.dict $(O)/fuzz-new/$$n test/fuzz/corpus/$$n \
		2>/dev/null || $$f -max_total_time=$(FUZZ_SECONDS) $(O)/fuzz-new/$$n test/fuzz/corpus/$$n || exit 1; done

# Embedded defaults need a CA under the default state_dir: a development CA is generated once.
# Clients on this host trust it after `ca/modelux-ca install-trust /var/lib/modelux/ca`.
run: deps all
	@ca/modelux-ca dev /var/lib/modelux/ca
	$(O)/modelux-agent $(if $(wildcard /etc/modelux/agent.conf),-c /etc/modelux/agent.conf,)

# The official LLM SDKs (npm) that the integration tests run against the simulated providers.
npm-deps:
	@scripts/npm-deps.sh

test: deps npm-deps
	@$(MAKE) --no-print-directory test-only

test-only: all unit fuzz-replay integ

asan: deps npm-deps
	@$(MAKE) --no-print-directory O=build-asan SAN=1 test-only

# Side-by-side throughput against direct and HAProxy; writes BENCHMARKS.md (not a test).
bench: deps all
	@bench/run.sh

format:
	clang-format -i $(wildcard userspace/*.[ch] bpf/*.[ch] test/unit/*.c test/fuzz/*.c)

clean:
	rm -rf build build-asan
