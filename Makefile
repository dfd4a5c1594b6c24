# libautotrace - plain GNU make.
#
#   make            build/libautotrace.so and build/autotrace, nothing else
#                   (needs only the build packages: no fixture, no test)
#   make test       unit + integration tests (Criterion); builds the test
#                   fixtures and the tests' collector (build/autotrace-receiver,
#                   from tests/tools/collector.c) they use
#   make check      build, export-list check, tests, the unit tests again
#                   under AddressSanitizer+UBSan, ring/exporter tests under
#                   ThreadSanitizer
#   make bench      benchmarks (prints figures and a verdict per budget;
#                   never fails on timing)
#   make bench-instr  instruction counts (callgrind), against a baseline
#   make demo       the README's first command (installs only what it needs)
#   make install    [PREFIX=/usr/local] [DESTDIR=]; make uninstall
#   make deb        a Debian package (build/libautotrace_VERSION_ARCH.deb)
#   make check-docs the README's configuration table against the code
#   make check-package  the .deb installed, used and removed (root; CI)
#   make clean
#
# BUILD selects the output directory and SAN a sanitizer flavour
# (asan, tsan) for the recursive sanitizer runs of `make check`.
# The output is one short line per step ("  CC  src/core/at_span.c"); V=1
# shows the full commands.  Every object depends on the headers it
# includes (-MMD -MP), so editing a header rebuilds what uses it.
#
# Layout (HACKING.md): the library is src/core (spans, context, ring,
# configuration, lifecycle, the family kit), src/export (exporter thread,
# OTLP, transport, spool), src/protocols (parsers: HTTP/1.x, SQL) and
# hooks/<family>/ (a family's interposed functions, and its state in
# at_*.c files); tool/ is the autotrace program; tests/ the tests,
# fixtures and benchmarks.  Each header sits beside its source.  Only
# tool objects and the tests are compiled with -Itool, so no tool header
# can be reached from the library.

BUILD ?= build
SAN ?=
CC ?= cc
V ?= 0

GEN := $(BUILD)/gen
OBJ := $(BUILD)/obj

ifeq ($(V),1)
say :=
else
# $(call say,WHAT,FILE) before a command prints "  WHAT  FILE" instead.
say = @printf '  %-6s %s\n' '$(1)' '$(2)';
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-missing-field-initializers
# libpq's headers, for types only (the library never links libpq).
PQ_INC = $(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
BASE_CFLAGS = -std=gnu11 -D_GNU_SOURCE -fPIC -fvisibility=hidden -g \
	$(LAYER_INC) -I$(GEN) -I$(PQ_INC) -pthread
OPT := -O2
DEPFLAGS = -MMD -MP

ifeq ($(SAN),asan)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT := -O1
endif
ifeq ($(SAN),tsan)
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
OPT := -O1
endif

CFLAGS_ALL = $(BASE_CFLAGS) $(OPT) $(WARN) $(SANFLAGS) $(CFLAGS)
GEN_CFLAGS = $(BASE_CFLAGS) $(OPT) -w $(SANFLAGS) $(CFLAGS)

PROTOBUF_C_A ?= $(shell for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do \
	[ -f $$d/libprotobuf-c.a ] && echo $$d/libprotobuf-c.a && break; done)

PROTOS := $(shell find src/proto -name '*.proto' | sort)
GEN_C := $(patsubst src/proto/%.proto,$(GEN)/%.pb-c.c,$(PROTOS))
GEN_H := $(GEN_C:.c=.h)
GEN_O := $(patsubst $(GEN)/%.c,$(OBJ)/gen/%.o,$(GEN_C))

# The library: its layers, and the hook families.  In hooks/<family>/,
# at_*.c is the family's state and logic (linked into the tests too);
# the other files define the interposed functions (the library only).
LIB_DIRS := src/core src/export src/protocols $(sort $(wildcard hooks/*))
LIB_INC := $(addprefix -I,$(LIB_DIRS))
# Arrows point down: each layer sees only its own headers and the layers
# below it, so an upward include does not compile.  core < protocols <
# export < hooks (and src/libautotrace.c, the top) < tool, tests.
LAYER_INC = $(LIB_INC)
$(OBJ)/src/core/%.o: LAYER_INC := -Isrc/core
$(OBJ)/src/protocols/%.o: LAYER_INC := -Isrc/core -Isrc/protocols
$(OBJ)/src/export/%.o: LAYER_INC := -Isrc/core -Isrc/protocols -Isrc/export
FAMILY_SRC := $(sort $(wildcard hooks/*/at_*.c))
# src/libautotrace.c, the top, holds the lifecycle table (it names every
# layer's modules, so it is compiled like a hook).
CORE_SRC := $(sort $(wildcard src/core/*.c src/export/*.c src/protocols/*.c)) $(FAMILY_SRC) \
	src/libautotrace.c
HOOK_SRC := $(filter-out $(FAMILY_SRC),$(sort $(wildcard hooks/*/*.c)))
CORE_O := $(patsubst %.c,$(OBJ)/%.o,$(CORE_SRC))
HOOK_O := $(patsubst %.c,$(OBJ)/%.o,$(HOOK_SRC))

# The autotrace program: tool/autotrace.c (main) over the tool's modules,
# which the unit tests link too, and the page's static files.
TOOL_SRC := $(filter-out tool/autotrace.c,$(sort $(wildcard tool/*.c)))
PAGE_O := $(OBJ)/tool/page/assets.o
PAGE_FILES := tool/page/page.css tool/page/body.html tool/page/page.js \
	tool/page/ui.css tool/page/ui.html tool/page/ui.js
TOOL_O := $(patsubst %.c,$(OBJ)/%.o,$(TOOL_SRC)) $(PAGE_O)

LIB := $(BUILD)/libautotrace.so
BRIDGES := $(BUILD)/autotrace-bridge.js $(BUILD)/autotrace-https.js \
	$(BUILD)/autotrace-py/sitecustomize.py
CORE_A := $(BUILD)/libatcore.a
TOOL_A := $(BUILD)/libattool.a
MAP := src/libautotrace.map

AUTOTRACE := $(BUILD)/autotrace
# The tests' and benches' collector (tests/tools/collector.c): the
# embedded receiver printing each span, with a counting sink.
COLLECTOR := $(BUILD)/autotrace-receiver
TOOLS := $(AUTOTRACE) $(COLLECTOR)

FIXTURE_SRC := $(sort $(wildcard tests/fixtures/*.c))
CURL_FIXTURES := $(patsubst tests/fixtures/curl/%.c,$(BUILD)/fixtures/%,$(sort $(wildcard tests/fixtures/curl/*.c)))
GNUTLS_FIXTURES := $(patsubst tests/fixtures/%.c,$(BUILD)/fixtures/%,$(sort $(wildcard tests/fixtures/tls_gnutls/*.c)))
FIXTURES := $(patsubst tests/fixtures/%.c,$(BUILD)/fixtures/%,$(FIXTURE_SRC)) \
	$(BUILD)/fixtures/libctor_connect.so $(BUILD)/fixtures/ctor_main \
	$(BUILD)/fixtures/pq_client $(BUILD)/fixtures/secure_probe_linked \
	$(CURL_FIXTURES) $(GNUTLS_FIXTURES) $(BUILD)/fixtures/tls/tls_pump
# Context fixtures (tests/fixtures/ctx/); the libevent one only when
# libevent's headers are installed (its tests skip otherwise).
CTX_LIBEVENT := $(BUILD)/fixtures/ctx/ctx_libevent_proxy
CTX_FIXTURES := $(filter-out $(CTX_LIBEVENT),$(patsubst tests/fixtures/ctx/%.c,$(BUILD)/fixtures/ctx/%,$(sort $(wildcard tests/fixtures/ctx/*.c))))
FIXTURES += $(CTX_FIXTURES) $(if $(wildcard /usr/include/event2/event.h),$(CTX_LIBEVENT))

UNIT_SRC := $(sort $(wildcard tests/unit/*/*.c))
UNIT_O := $(patsubst %.c,$(OBJ)/%.o,$(UNIT_SRC))
INTEG_SRC := $(sort $(wildcard tests/integration/*.c))
INTEG_O := $(patsubst %.c,$(OBJ)/%.o,$(INTEG_SRC))
BENCH_SRC := $(sort $(wildcard tests/bench/*.c))
BENCH_O := $(patsubst %.c,$(OBJ)/%.o,$(BENCH_SRC))
BENCHES := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
UNIT_BIN := $(BUILD)/tests/unit
INTEG_BIN := $(BUILD)/tests/integration

LDLIBS_CORE := -lz -lpthread -ldl -lm

.PHONY: all lib tools fixtures test test-unit test-integration test-tsan test-integration-asan check check-all fuzz fuzz-smoke fuzz-seeds \
	check-exports check-style check-bench-rule bench bench-instr demo clean deps install uninstall man check-docs deb check-package
.DELETE_ON_ERROR:
# Generated sources and the benches' objects are kept (they would
# otherwise be intermediate files, deleted after use).
.SECONDARY: $(GEN_C) $(GEN_H) $(BENCH_O)

all: $(LIB) $(AUTOTRACE) $(BRIDGES)

lib: $(LIB) $(BRIDGES)

# The runtime bridges (hooks/runtime/at_bridge.c), copied beside the
# library, where it looks for them.
$(BUILD)/autotrace-bridge.js: bridges/node/autotrace-bridge.js
	@mkdir -p $(dir $@)
	$(call say,CP,$@)cp $< $@
$(BUILD)/autotrace-https.js: bridges/node/autotrace-https.js
	@mkdir -p $(dir $@)
	$(call say,CP,$@)cp $< $@
$(BUILD)/autotrace-py/sitecustomize.py: bridges/python/sitecustomize.py
	@mkdir -p $(dir $@)
	$(call say,CP,$@)cp $< $@
	@# Compiled now: Python would otherwise compile it at every start.
	@for p in python3 /usr/bin/python3; do \
		PYTHONDONTWRITEBYTECODE= $$p -m py_compile $@ 2>/dev/null || true; done
tools: $(TOOLS)
fixtures: $(FIXTURES)

# ---- generated protobuf-c code ----
$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: src/proto/%.proto
	@mkdir -p $(GEN)
	$(call say,PROTOC,$<)protoc-c --c_out=$(GEN) -Isrc/proto $<

$(OBJ)/gen/%.o: $(GEN)/%.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(GEN_CFLAGS) $(DEPFLAGS) -c -o $@ $<

# ---- objects: library, tool, tests ----
# The generated headers must exist before anything is compiled; after
# that, each object's .d file lists what it really includes.
$(OBJ)/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CFLAGS_ALL) $(TOOL_INC) $(DEPFLAGS) -c -o $@ $<

# Hooks include libcurl/libpq headers only for types; never link them.
$(OBJ)/hooks/%.o: CFLAGS += -DCURL_DISABLE_TYPECHECK
# The tool's headers: for the tool and its unit tests, never the library.
$(OBJ)/tool/%.o $(OBJ)/tests/%.o: TOOL_INC := -Itool
# The unit tests mirror the library's layout (tests/unit/<layer>/) and
# share tests/unit/unit.h.
$(OBJ)/tests/unit/%.o: TOOL_INC := -Itool -Itests/unit

# The page's style sheet, body and script, embedded (.incbin) as strings.
$(PAGE_O): tool/page/assets.S $(PAGE_FILES)
	@mkdir -p $(dir $@)
	$(call say,AS,$<)$(CC) -c -o $@ $<

# ---- the library ----
$(LIB): $(CORE_O) $(HOOK_O) $(GEN_O) $(MAP)
	$(call say,LD,$@)$(CC) $(SANFLAGS) -shared -o $@ $(CORE_O) $(HOOK_O) $(GEN_O) \
		-Wl,--version-script=$(MAP) -Wl,-z,defs -Wl,-z,now -Wl,-z,relro \
		-Wl,--exclude-libs,ALL $(PROTOBUF_C_A) $(LDLIBS_CORE)

# The library's modules (not the hooks) for the tool, tests and benches.
$(CORE_A): $(CORE_O) $(GEN_O)
	@rm -f $@
	$(call say,AR,$@)ar rcs $@ $^

# ---- the autotrace program, and the tests' collector ----
# The tool's own modules (and the receiver's), in their own archive.
$(TOOL_A): $(TOOL_O)
	@rm -f $@
	$(call say,AR,$@)ar rcs $@ $^

TOOL_LIBS = $(TOOL_A) $(CORE_A) $(PROTOBUF_C_A) $(LDLIBS_CORE)

$(AUTOTRACE): $(OBJ)/tool/autotrace.o $(TOOL_A) $(CORE_A)
	$(call say,LD,$@)$(CC) $(SANFLAGS) -o $@ $< $(TOOL_LIBS)

$(COLLECTOR): $(OBJ)/tests/tools/collector.o $(TOOL_A) $(CORE_A)
	$(call say,LD,$@)$(CC) $(SANFLAGS) -o $@ $< $(TOOL_LIBS)

# ---- test fixtures: ordinary programs, built without the library ----
FIXTURE_CC = $(CC) -std=gnu11 -D_GNU_SOURCE -O1 -g

$(BUILD)/fixtures/%: tests/fixtures/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(FIXTURE_CC) -Wall -Wextra -pthread $(SANFLAGS_FIXTURES) -o $@ $< -ldl

$(CTX_FIXTURES): tests/fixtures/ctx/ctx_common.h
$(CTX_LIBEVENT): tests/fixtures/ctx/ctx_libevent_proxy.c tests/fixtures/ctx/ctx_common.h
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(FIXTURE_CC) -Wall -Wextra -o $@ $< -levent

# A library whose constructor calls connect() before ours runs.
$(BUILD)/fixtures/libctor_connect.so: tests/fixtures/ctor/ctor_connect.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(FIXTURE_CC) -fPIC -shared -o $@ $<

$(BUILD)/fixtures/ctor_main: tests/fixtures/ctor/ctor_main.c $(BUILD)/fixtures/libctor_connect.so
	$(call say,CC,$@)$(CC) -std=gnu11 -O1 -g -o $@ $< -L$(BUILD)/fixtures -lctor_connect \
		-Wl,-rpath,'$$ORIGIN'

# secure_probe linked against the library (DT_NEEDED, absolute RUNPATH):
# how the library gets into a setgid copy, where ld.so ignores LD_PRELOAD
# paths.  Built with the library's sanitizer, whose runtime must load first.
$(BUILD)/fixtures/secure_probe_linked: tests/fixtures/secure_probe.c $(LIB)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(FIXTURE_CC) -Wall -Wextra $(SANFLAGS) -o $@ $< \
		-Wl,--no-as-needed -L$(abspath $(BUILD)) -lautotrace \
		-Wl,-rpath,$(abspath $(BUILD))

# A libpq program (fixtures may link libpq; the library never does).
$(BUILD)/fixtures/pq_client: tests/fixtures/pq/pq_client.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(FIXTURE_CC) -Wall -Wextra -I$(PQ_INC) -o $@ $< -lpq

# libcurl programs (fixtures may link libcurl; the library never does).
$(CURL_FIXTURES): $(BUILD)/fixtures/%: tests/fixtures/curl/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(FIXTURE_CC) -Wall -Wextra -o $@ $< -lcurl

# GnuTLS programs (fixtures may link GnuTLS; the library never does).
$(GNUTLS_FIXTURES): $(BUILD)/fixtures/%: tests/fixtures/%.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(FIXTURE_CC) -Wall -Wextra -o $@ $< -lgnutls

# An OpenSSL program (fixtures may link libssl; the library never does).
$(BUILD)/fixtures/tls/tls_pump: tests/fixtures/tls/tls_pump.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(FIXTURE_CC) -Wall -Wextra -o $@ $< -lssl -lcrypto

# ---- benchmarks: linked with the core directly ----
# bench_hooks links the hooks too: its own calls go through them;
# bench_queue runs the receiver (a tool object) as its collector.
$(BUILD)/bench/bench_hooks: $(OBJ)/tests/bench/bench_hooks.o $(CORE_A) $(HOOK_O)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(SANFLAGS) -o $@ $< $(HOOK_O) $(CORE_A) $(PROTOBUF_C_A) $(LDLIBS_CORE)

$(BUILD)/bench/%: $(OBJ)/tests/bench/%.o $(TOOL_A) $(CORE_A)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(SANFLAGS) -o $@ $< $(TOOL_LIBS)

# ---- tests ----
# The tests link the tool's archive too (the receiver, the trace model
# and the views they test), before the library's.
$(UNIT_BIN): $(UNIT_O) $(TOOL_A) $(CORE_A)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(SANFLAGS) -o $@ $(UNIT_O) $(TOOL_A) $(CORE_A) $(PROTOBUF_C_A) -lcriterion $(LDLIBS_CORE)

$(INTEG_BIN): $(INTEG_O) $(TOOL_A) $(CORE_A)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(SANFLAGS) -o $@ $(INTEG_O) $(TOOL_A) $(CORE_A) $(PROTOBUF_C_A) -lcriterion $(LDLIBS_CORE)

test-unit: $(UNIT_BIN) tools
	scripts/setup-node-decoder.sh build
	scripts/setup-browser-test.sh build
	AT_BUILD_DIR=$(BUILD) LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
		$(UNIT_BIN) $(CRITERION_ARGS)

test-integration: all fixtures $(INTEG_BIN)
	scripts/run-integration.sh $(BUILD)

# The fixture-based integration tests with the ASan+UBSan library.
test-integration-asan: all fixtures $(INTEG_BIN)
	AT_SAN_PRELOAD=$$($(CC) -print-file-name=libasan.so) \
		scripts/run-integration.sh $(BUILD) --filter 'core/*'
	AT_SAN_PRELOAD=$$($(CC) -print-file-name=libasan.so) \
		scripts/run-integration.sh $(BUILD) --filter 'http/*'
	AT_SAN_PRELOAD=$$($(CC) -print-file-name=libasan.so) \
		scripts/run-integration.sh $(BUILD) --filter 'faults/*'

test: test-unit test-integration

check-exports: $(LIB)
	scripts/check-exports.sh $(LIB) $(MAP)

check-style:
	scripts/check-style.sh

# make bench's verdict rule on made-up figures (no benchmark runs).
check-bench-rule:
	scripts/bench/budgets-test.sh

# Installs what is missing, then: build + exports + style + tests, then the
# unit tests under ASan+UBSan and the concurrency tests under TSan.
check: deps
	$(MAKE) --no-print-directory check-all

check-all: all check-exports check-style check-docs check-bench-rule test
	$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SAN=asan test-unit
	$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SAN=asan test-integration-asan
	$(MAKE) --no-print-directory BUILD=$(BUILD)/tsan SAN=tsan test-tsan
	$(MAKE) --no-print-directory fuzz-smoke

# Criterion cannot start under ThreadSanitizer: the concurrency tests are
# built again against a stand-in header and run by tests/tsan/runner.c.
TSAN_TESTS := tests/unit/core/test_ring.c tests/unit/export/test_exporter.c tests/unit/core/test_pool.c \
	tests/unit/tool/test_receiver.c
TSAN_BIN := $(BUILD)/tests/tsan

$(TSAN_BIN): $(TSAN_TESTS) tests/tsan/runner.c tests/tsan/criterion/criterion.h $(TOOL_A) $(CORE_A) \
		$(wildcard src/*/*.h hooks/*/*.h tool/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(CFLAGS_ALL) -Wno-unused-function -Wno-format-zero-length -Wno-sign-compare -Itests/tsan -Itests/unit -Itool -o $@ \
		tests/tsan/runner.c $(TSAN_TESTS) $(TOOL_LIBS)

test-tsan: $(TSAN_BIN) tools
	AT_BUILD_DIR=$(BUILD) $(TSAN_BIN) 'concurrency/*'

bench: deps
	$(MAKE) --no-print-directory all tools fixtures $(BENCHES)
	scripts/bench.sh $(BUILD)

bench-instr: deps
	$(MAKE) --no-print-directory all tools fixtures $(BENCHES)
	scripts/bench/instr.sh $(BUILD)

demo:
	scripts/demo.sh

# libFuzzer targets (clang), each run FUZZ_SECONDS on its seed corpus.
FUZZ_SECONDS ?= 60
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZERS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

# tests/fuzz/fuzz_X.c exercises the parser module at_X.c, of the library
# (src/*/at_X.c, hooks/*/at_X.c) or of the tool (tool/at_X.c, and then -Itool), plus
# FUZZ_EXTRA_X, the modules it calls (or, for a module split in several
# files at_X_*.c, all of them); FUZZ_CFLAGS_X and FUZZ_LIBS_X if it needs
# more to compile and link.
fuzz_mod = $(firstword $(wildcard src/*/at_$(1).c hooks/*/at_$(1).c tool/at_$(1).c))
# The HTTP head parser validates several tracestate fields as one list.
FUZZ_EXTRA_http := $(sort $(wildcard src/protocols/at_http_*.c)) src/core/at_traceparent.c src/core/at_propagators.c
FUZZ_EXTRA_traceparent := $(sort $(wildcard src/protocols/at_http_*.c)) src/core/at_propagators.c
FUZZ_EXTRA_sql := $(sort $(wildcard src/protocols/at_sql_*.c))
FUZZ_EXTRA_config := $(filter-out src/core/at_config.c,$(sort $(wildcard src/core/at_config*.c))) \
	src/core/at_sampler.c src/core/at_utf8.c src/core/at_propagators.c src/core/at_traceparent.c
FUZZ_EXTRA_propagators := src/core/at_traceparent.c
FUZZ_EXTRA_json := tool/at_xalloc.c src/core/at_buf.c src/core/at_utf8.c
# The receiver (tool/at_receiver.c and its tool/at_rx_*.c) reads requests
# with the library's HTTP parser and chunked decoder, gunzips with
# at_gzip, decodes with the generated protobuf-c code (and libprotobuf-c,
# zlib) and hands what it stored to the trace model and the views (all
# the tool's modules, and the page's files; the root span's module uses
# the traceparent codec); the encoder and gzip make the valid requests the
# target sends.
HTTP_READ_SRC := $(sort $(wildcard src/protocols/at_http_*.c)) src/core/at_traceparent.c src/core/at_propagators.c
FUZZ_EXTRA_receiver := src/core/at_buf.c src/export/at_gzip.c src/export/at_otlp.c src/core/at_utf8.c \
	$(HTTP_READ_SRC) $(filter-out tool/at_receiver.c,$(TOOL_SRC)) $(PAGE_O) $(GEN_C)
# The chunked decoder runs over the HTTP framing; the field walk too.
FUZZ_EXTRA_http_chunked := $(filter-out src/protocols/at_http_chunked.c,$(HTTP_READ_SRC))
FUZZ_CFLAGS_receiver := -I$(GEN) -Itool -pthread
FUZZ_LIBS_receiver = $(PROTOBUF_C_A) -lz
$(BUILD)/fuzz/fuzz_receiver: $(GEN_H)
# The dashboard's routes (tool/at_api.c) over the whole model, as the
# receiver's target links it.
FUZZ_EXTRA_api := $(filter-out tool/at_api.c,$(FUZZ_EXTRA_receiver)) tool/at_receiver.c
FUZZ_CFLAGS_api := $(FUZZ_CFLAGS_receiver)
FUZZ_LIBS_api = $(FUZZ_LIBS_receiver)
$(BUILD)/fuzz/fuzz_api: $(GEN_H)

# The bridge channel's span messages (hooks/runtime/at_bridge_span.c)
# start and end real spans: the rest of the library's core comes from
# build/libatcore.a, as the unit tests link it (its own code is not
# instrumented; the parsers it calls have targets of their own).
FUZZ_LIBS_bridge_span = $(CORE_A) $(PROTOBUF_C_A) $(LDLIBS_CORE)
$(BUILD)/fuzz/fuzz_bridge_span: $(CORE_A)

# Undefined behaviour stops the run like a crash (and is saved as one).
FUZZ_CC := clang -std=gnu11 -D_GNU_SOURCE -g -O1 $(LIB_INC) -fno-sanitize-recover=undefined

.SECONDEXPANSION:
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $$(call fuzz_mod,$$*) \
		$$(FUZZ_EXTRA_$$*) $(wildcard src/*/*.h hooks/*/*.h tool/*.h)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)$(FUZZ_CC) -fsanitize=fuzzer,address,undefined \
		$(if $(filter tool/%,$(call fuzz_mod,$*)),-Itool) $(FUZZ_CFLAGS_$*) -o $@ \
		$(call fuzz_mod,$*) $(FUZZ_EXTRA_$*) tests/fuzz/fuzz_$*.c $(FUZZ_LIBS_$*)

# The receiver's seeds made by our encoder: its target's source built
# with a main that writes them (run once; the files are committed).
$(BUILD)/fuzz/seeds_receiver: tests/fuzz/fuzz_receiver.c tests/fuzz/fuzz.h tests/fuzz/otlp_nest.h tool/at_receiver.c \
		$(FUZZ_EXTRA_receiver) $(GEN_H)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(FUZZ_CC) -fsanitize=address,undefined -DFUZZ_WRITE_SEEDS $(FUZZ_CFLAGS_receiver) \
		-o $@ tool/at_receiver.c $(FUZZ_EXTRA_receiver) tests/fuzz/fuzz_receiver.c \
		$(FUZZ_LIBS_receiver)

fuzz-seeds: $(BUILD)/fuzz/seeds_receiver
	$< tests/fuzz/corpus/receiver

fuzz: $(FUZZERS)
	@for f in $(FUZZERS); do \
		name=$$(basename $$f | sed 's/^fuzz_//'); \
		mkdir -p $(BUILD)/fuzz/corpus-$$name; \
		echo "== $$f ($(FUZZ_SECONDS) s)"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			$(BUILD)/fuzz/corpus-$$name tests/fuzz/corpus/$$name \
			2>&1 | grep -E 'stat::number_of_executed_units|ERROR|BINGO|crash' ; \
	done

# CI's bounded run: every target FUZZ_SMOKE_SECONDS on a scratch copy of
# its seeds; any crash or broken property fails the build.
FUZZ_SMOKE_SECONDS ?= 5
fuzz-smoke: $(FUZZERS)
	@for f in $(FUZZERS); do \
		name=$$(basename $$f | sed 's/^fuzz_//'); \
		dir=$(BUILD)/fuzz/smoke-$$name; rm -rf $$dir; mkdir -p $$dir; \
		$$f -max_total_time=$(FUZZ_SMOKE_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$$dir/ $$dir tests/fuzz/corpus/$$name \
			> $$dir.log 2>&1 || { tail -40 $$dir.log; exit 1; }; \
		echo "fuzz-smoke: $$name $$(grep -o 'number_of_executed_units: [0-9]*' $$dir.log | grep -o '[0-9]*$$') runs, no crash"; \
	done

deps:
	scripts/install-deps.sh

# ---- install, uninstall, man pages, Debian package ----
# make install [PREFIX=/usr/local] [DESTDIR=...]   make uninstall (same
# variables) removes exactly what install put.  The library and the
# runtime bridges go to their own directory, $(PREFIX)/lib/libautotrace/
# (the library looks for the bridges beside itself, through its real
# path: hooks/runtime/at_bridge.c), with the link $(PREFIX)/lib/libautotrace.so
# to the library: where `autotrace` looks for it (../lib from its own
# directory) and the path users give LD_PRELOAD.  The library and
# autotrace are stripped, their debug info in
# $(PREFIX)/lib/debug/<installed path>.debug (found by gdb through
# .gnu_debuglink when PREFIX is /usr).  The man pages are made from
# docs/*.in and the README's configuration table (scripts/gen-doc).
# The version is AT_VERSION in src/core/at_compat.h, and nowhere else.
VERSION = $(shell sed -n 's/^.define AT_VERSION "\(.*\)"$$/\1/p' src/core/at_compat.h)
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
LIBDIR = $(PREFIX)/lib
PKGLIBDIR = $(LIBDIR)/libautotrace
MANDIR = $(PREFIX)/share/man
DEBUGDIR = $(PREFIX)/lib/debug
# The pages' date: the last commit's (reproducible), else today.
DOC_DATE = $(shell git log -1 --format=%cs 2>/dev/null || date +%F)
DIST := $(BUILD)/dist
MAN_OUT := $(BUILD)/man

# What install puts, relative to $(DESTDIR) (uninstall removes these,
# the bridge's compiled __pycache__, then the directories that are ours).
INSTALLED = $(BINDIR)/autotrace $(LIBDIR)/libautotrace.so $(PKGLIBDIR)/libautotrace.so \
	$(PKGLIBDIR)/autotrace-bridge.js $(PKGLIBDIR)/autotrace-https.js \
	$(PKGLIBDIR)/autotrace-py/sitecustomize.py \
	$(MANDIR)/man1/autotrace.1 $(MANDIR)/man7/libautotrace.7 \
	$(DEBUGDIR)$(PKGLIBDIR)/libautotrace.so.debug $(DEBUGDIR)$(BINDIR)/autotrace.debug

$(DIST)/libautotrace.so: $(LIB) scripts/split-debug.sh
	@mkdir -p $(DIST)
	$(call say,STRIP,$@)scripts/split-debug.sh lib $< $@
$(DIST)/autotrace: $(AUTOTRACE) scripts/split-debug.sh
	@mkdir -p $(DIST)
	$(call say,STRIP,$@)scripts/split-debug.sh exe $< $@

# Remade every time (cheap): the pages name PREFIX's paths.
man:
	$(call say,GEN,$(MAN_OUT))scripts/gen-doc man $(MAN_OUT) --libdir $(LIBDIR) --pkglibdir $(PKGLIBDIR) \
		--bindir $(BINDIR) --version $(VERSION) --date $(DOC_DATE)

# The README's configuration table against the variables the code reads,
# autotrace(1) against the program's options, both pages through groff.
check-docs:
	scripts/gen-doc check

install: all man $(DIST)/libautotrace.so $(DIST)/autotrace
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PKGLIBDIR)/autotrace-py \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(DEBUGDIR)$(PKGLIBDIR) $(DESTDIR)$(DEBUGDIR)$(BINDIR)
	install -m 0755 $(DIST)/autotrace $(DESTDIR)$(BINDIR)/autotrace
	install -m 0644 $(DIST)/libautotrace.so $(DESTDIR)$(PKGLIBDIR)/libautotrace.so
	ln -sfn libautotrace/libautotrace.so $(DESTDIR)$(LIBDIR)/libautotrace.so
	install -m 0644 $(BUILD)/autotrace-bridge.js $(DESTDIR)$(PKGLIBDIR)/autotrace-bridge.js
	install -m 0644 $(BUILD)/autotrace-https.js $(DESTDIR)$(PKGLIBDIR)/autotrace-https.js
	install -m 0644 $(BUILD)/autotrace-py/sitecustomize.py \
		$(DESTDIR)$(PKGLIBDIR)/autotrace-py/sitecustomize.py
	install -m 0644 $(MAN_OUT)/autotrace.1 $(DESTDIR)$(MANDIR)/man1/autotrace.1
	install -m 0644 $(MAN_OUT)/libautotrace.7 $(DESTDIR)$(MANDIR)/man7/libautotrace.7
	install -m 0644 $(DIST)/libautotrace.so.debug \
		$(DESTDIR)$(DEBUGDIR)$(PKGLIBDIR)/libautotrace.so.debug
	install -m 0644 $(DIST)/autotrace.debug $(DESTDIR)$(DEBUGDIR)$(BINDIR)/autotrace.debug
	@# Compiled now: Python would otherwise compile the bridge at every
	@# start (a user cannot write there).  NO_PYCACHE=1 skips it (make deb:
	@# the package compiles it when installed).
	$(if $(NO_PYCACHE),,-python3 -m compileall -q -d $(PKGLIBDIR)/autotrace-py \
		$(DESTDIR)$(PKGLIBDIR)/autotrace-py)

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	rm -rf $(DESTDIR)$(PKGLIBDIR)/autotrace-py/__pycache__
	-rmdir $(DESTDIR)$(PKGLIBDIR)/autotrace-py $(DESTDIR)$(PKGLIBDIR)
	@# The debug tree mirrors the installed paths: its directories below
	@# $(DEBUGDIR) are ours once empty.
	@for d in $(DEBUGDIR)$(PKGLIBDIR) $(DEBUGDIR)$(BINDIR); do \
		while [ "$$d" != "$(DEBUGDIR)" ] && rmdir "$(DESTDIR)$$d" 2>/dev/null; do \
			d=$$(dirname "$$d"); done; done

# make deb: build/libautotrace_$(VERSION)_<arch>.deb (and the debug
# symbols' libautotrace-dbgsym_..._<arch>.ddeb), with dpkg-deb, from an
# install with PREFIX=/usr (packaging/deb/, scripts/make-deb.sh).
deb:
	rm -rf $(BUILD)/deb
	$(MAKE) --no-print-directory install PREFIX=/usr DESTDIR=$(abspath $(BUILD))/deb/root NO_PYCACHE=1
	scripts/make-deb.sh $(BUILD)/deb $(VERSION) $(BUILD)

# The package's test (CI, as root): make deb, dpkg -i, trace curl through
# the installed paths, man -w, dpkg -r, nothing left.  Skips when not root.
check-package:
	scripts/test-package.sh $(BUILD)

clean:
	rm -rf $(BUILD)

# What each object includes (written by -MMD -MP as it is compiled).
-include $(patsubst %.o,%.d,$(CORE_O) $(HOOK_O) $(TOOL_O) $(GEN_O) $(UNIT_O) $(INTEG_O) \
	$(BENCH_O) $(OBJ)/tool/autotrace.o $(OBJ)/tests/tools/collector.o)
