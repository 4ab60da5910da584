# canh -- build, test, bench, demo.
#
#   make            build build/canh
#   make deps       install the Debian packages canh needs (apt-get, as root)
#   make test       unit tests (Criterion), rule samples, end-to-end cases,
#                   the suricata-verify comparison (make verify), then unit
#                   and e2e again under ASan + UBSan
#   make verify     canh vs the suricata-verify cases of ../shared/corpus:
#                   the table, and a failure under issue 14's targets
#   make demo       scan the shipped sample logs with the shipped rules; alerts to a
#                   file and to Kafka (the mock cluster), read back with kcat
#   make bench      throughput against baselines (see bench/README.md)
#   make soak       10 minutes of canh run under load with reloads, Kafka
#                   outages and a full disk (bench/soak.py; not in CI)
#   make docs       regenerate docs/config.md from the config table
#   make asan       build (build-asan/) and test with ASan + UBSan; any report fails
#   make tsan       build (build-tsan/) and run the e2e cases under TSan
#   make fuzz       build the libFuzzer targets (fuzz/, build-fuzz/) and run
#                   each for FUZZ_SECONDS (300); crashes go to fuzz/crashes/
#   make fuzz-check each target briefly (FUZZ_CHECK_SECONDS, 12) and every
#                   input in fuzz/crashes/ replayed: part of `make test`

SHELL   := /bin/bash
CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g -Wall -Wextra -Wshadow -Wno-unused-parameter
CFLAGS  += -std=gnu11 -D_GNU_SOURCE -pthread -MMD -MP
PKGS     = libhs libpcre2-8 yaml-0.1 jansson libcrypto libssl rdkafka zlib libutf8proc \
           libcap-ng libpcap
DEB_PKGS = build-essential pkg-config libhyperscan-dev libpcre2-dev libyaml-dev \
           libjansson-dev libssl-dev libcriterion-dev python3 openssl \
           librdkafka-dev zlib1g-dev kcat libutf8proc-dev tzdata libcap-ng-dev \
           clang libclang-rt-14-dev libpcap-dev tcpreplay ripgrep python3-yaml

# pkg-config is asked only when the packages are there, so `make deps`
# can run on a bare machine.
HAVE_PKGS := $(shell pkg-config --exists $(PKGS) criterion 2>/dev/null && echo yes)
ifeq ($(HAVE_PKGS),yes)
CFLAGS  += $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lm
TEST_LIBS = $(shell pkg-config --libs criterion)
endif

LIB_SRC  = $(sort $(wildcard engine/*.c engine/detect/*.c engine/input/*.c parsers/*.c \
                             parsers/packet/*.c parsers/app/*.c sinks/*.c))
LIB_SRC := $(filter-out engine/main.c,$(LIB_SRC))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC = $(sort $(wildcard tests/test_*.c))
TEST_BIN = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC = $(sort $(wildcard bench/*.c))
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps test unit e2e verify rules-test demo bench soak asan tsan clean check-deps docs docs-check \
        fuzz fuzz-check fuzz-build

all: check-deps $(BUILD)/canh $(BUILD)/kafka-mock

check-deps:
ifneq ($(HAVE_PKGS),yes)
	@echo "canh: missing build dependencies; run 'make deps' (as root) first" >&2; exit 1
endif

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "all build dependencies present"; fi

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libcanh.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/canh: $(BUILD)/engine/main.o $(BUILD)/libcanh.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# the Kafka test broker (librdkafka's mock cluster): tests, demo, bench. A
# fixture, not canh: built without the sanitizers even in their builds
# (librdkafka's own threads are not instrumented and crash under TSan).
$(BUILD)/kafka-mock: tools/kafka-mock.c
	@mkdir -p $(dir $@)
	cc -O2 -g -Wall -Wextra -std=gnu11 -D_GNU_SOURCE -pthread -o $@ $< -lrdkafka

$(BUILD)/tests/%: tests/%.c $(BUILD)/libcanh.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libcanh.a $(LDLIBS) $(TEST_LIBS)

# bench/text.sh's reference: canh matching every value as raw bytes (the
# text views compiled out), to price the views on ASCII logs
$(BUILD)/bench/match-bytes.o: engine/detect/match.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DCANH_BENCH_BYTES -c $< -o $@

$(BUILD)/bench/canh-bytes: $(BUILD)/engine/main.o $(BUILD)/bench/match-bytes.o \
                           $(filter-out $(BUILD)/engine/detect/match.o,$(LIB_OBJ))
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libcanh.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libcanh.a $(LDLIBS)

unit: all $(TEST_BIN) docs-check
	@set -e; for t in $(TEST_BIN); do echo "== $$t"; $$t --jobs 2; done

rules-test: all
	$(BUILD)/canh rules check
	$(BUILD)/canh rules test

e2e: all
	@SANITIZER=$(SANITIZER) BUILD=$(BUILD) bash tests/e2e/run.sh

# canh against OISF's suricata-verify cases in ../shared/corpus (issue 14's
# targets: >= 60% of the cases supported, >= 90% of those agreeing);
# tests/suricata-verify/README.md
SV_CORPUS = ../shared/corpus/pcaps/suricata-verify
verify: all
	python3 tests/suricata-verify/test_run.py
	@if [ -d $(SV_CORPUS) ]; then \
	  python3 tests/suricata-verify/run.py --canh $(BUILD)/canh --corpus $(SV_CORPUS) \
	    --json $(BUILD)/verify.json; \
	else echo "verify: no $(SV_CORPUS) here (not shipped with canh): canh against Suricata skipped"; fi

test: deps
	@$(MAKE) --no-print-directory unit rules-test e2e verify
	@echo "== the same unit and e2e tests under AddressSanitizer + UBSan (+ leak check)"
	@$(MAKE) --no-print-directory asan
	@echo "== the e2e cases (multi-worker scans among them) under ThreadSanitizer"
	@$(MAKE) --no-print-directory tsan
	@echo "== each fuzz target briefly, and every input that once crashed one"
	@$(MAKE) --no-print-directory fuzz-check

demo: deps
	@$(MAKE) --no-print-directory all
	@bash tools/demo.sh $(BUILD)

# docs/config.md is made from the config table (engine/config.c)
$(BUILD)/tools/config-doc: tools/config-doc.c $(BUILD)/libcanh.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libcanh.a $(LDLIBS)

docs: check-deps $(BUILD)/tools/config-doc
	$(BUILD)/tools/config-doc docs/config.md

docs-check: check-deps $(BUILD)/tools/config-doc
	@$(BUILD)/tools/config-doc $(BUILD)/config.md.new
	@diff -u docs/config.md $(BUILD)/config.md.new || \
	  { echo "docs/config.md is out of date: run 'make docs'" >&2; exit 1; }

bench: all $(BENCH_BIN) $(BUILD)/bench/canh-bytes
	@bash bench/run.sh $(BUILD)

soak: all
	python3 bench/soak.py $(BUILD)

asan:
	@mkdir -p build-asan
	@set -o pipefail; $(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	  CC="$(CC) -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  unit e2e 2>&1 | tee build-asan/test.log
	@# Criterion runs each test in a child whose sanitizer report does not fail
	@# the test by itself: any report in the log fails the run.
	@if grep -q "Sanitizer\|runtime error" build-asan/test.log; then \
	  echo "sanitizer reports above (build-asan/test.log)" >&2; exit 1; fi

tsan:
	@mkdir -p build-tsan
	@set -o pipefail; $(MAKE) --no-print-directory BUILD=build-tsan OPT=-O1 \
	  CC="$(CC) -fsanitize=thread -fno-omit-frame-pointer" SANITIZER=thread e2e 2>&1 | tee build-tsan/test.log
	@if grep -q "ThreadSanitizer" build-tsan/test.log; then \
	  echo "ThreadSanitizer reports above (build-tsan/test.log)" >&2; exit 1; fi

# libFuzzer targets (fuzz/README.md): libcanh built again with clang in
# build-fuzz/ (-fsanitize=fuzzer-no-link,address,undefined), each
# fuzz/fuzz_*.c linked against it with -fsanitize=fuzzer,address,undefined.
FUZZ_BUILD   ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_SAN     ?= -fsanitize=address,undefined -fno-omit-frame-pointer
FUZZ_SECONDS ?= 300
FUZZ_CHECK_SECONDS ?= 12
FUZZ_SRC      = $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN      = $(FUZZ_SRC:fuzz/%.c=$(FUZZ_BUILD)/fuzz/%)

$(FUZZ_BUILD)/fuzz/%: fuzz/%.c $(FUZZ_BUILD)/libcanh.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS) -O1 $(FUZZ_SAN) -fsanitize=fuzzer -DCANH_SRC_DIR='"$(CURDIR)"' \
	  -o $@ $< $(FUZZ_BUILD)/libcanh.a $(LDLIBS)

fuzz-build: check-deps
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) OPT=-O1 \
	  CC="$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer-no-link" $(FUZZ_BUILD)/libcanh.a
	@$(MAKE) --no-print-directory $(FUZZ_BIN)

fuzz: fuzz-build
	@bash fuzz/run.sh fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz-check: fuzz-build
	@bash fuzz/run.sh check $(FUZZ_BUILD) $(FUZZ_CHECK_SECONDS)

clean:
	rm -rf build build-asan build-tsan build-fuzz

-include $(LIB_OBJ:.o=.d) $(BUILD)/engine/main.d $(FUZZ_BIN:=.d)
