# ringpipe - one plain GNU Makefile.
#
#   make            build the library, demo, tests and benchmarks
#   make demo       install what is missing, build, run the demo
#   make test       install what is missing, run every test: the plain
#                   build, then again under ASan + UBSan
#   make asan-test  only the sanitizer run
#   make bench      benchmarks against pipes (never part of the tests)
#   make fuzz       libFuzzer on every parser of hostile input
#                   (FUZZ_TIME seconds each, default 60; never a test)

CC      ?= cc
PKGS    := libseccomp cunit yaml-0.1 libxxhash
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
SECCOMP_LIBS = $(shell pkg-config --libs libseccomp 2>/dev/null)

CFLAGS_BASE := -std=gnu11 -Wall -Wextra -Werror -g -pthread -fPIC \
	-Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes
OPT     ?= -O2
CFLAGS  ?=
ALL_CFLAGS = $(CFLAGS_BASE) $(OPT) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP
LDLIBS_ALL = $(PKG_LIBS) -pthread

# The stage host is linked statically unless HOST_STATIC=0 (see below).
HOST_STATIC ?= 1
ifeq ($(HOST_STATIC),1)
HOST_LDFLAGS := -static-pie
HOST_LIBS = $(shell pkg-config --static --libs libseccomp 2>/dev/null) -pthread
else
HOST_LDFLAGS :=
HOST_LIBS = $(LDLIBS_ALL)
endif

# BUILD selects the output tree: build/plain or build/asan.
VARIANT ?= plain
B := build/$(VARIANT)
ifeq ($(VARIANT),asan)
OPT := -O1 -fno-omit-frame-pointer
CFLAGS_BASE += -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDLIBS_ALL += -fsanitize=address,undefined
HOST_LDFLAGS :=
HOST_LIBS = $(LDLIBS_ALL)
endif
# libFuzzer's build: clang, every object instrumented for coverage (and
# not warned of the fields libseccomp's SCMP_A* initializers leave out).
ifeq ($(VARIANT),fuzz)
CC := clang
OPT := -O1 -fno-omit-frame-pointer
CFLAGS_BASE += -Wno-missing-field-initializers \
	-fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=undefined
LDLIBS_ALL += -fsanitize=address,undefined
HOST_LDFLAGS :=
HOST_LIBS = $(LDLIBS_ALL)
endif

LIB_SRC  := $(wildcard shm/*.c) $(wildcard ipc/*.c) stage/stage.c \
	stage/sandbox.c stage/landlock.c stage/policy.c stage/wiring.c
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
SUP_SRC  := supervisor/spawn.c supervisor/errpipe.c supervisor/config.c \
	supervisor/deadletter.c supervisor/run.c supervisor/chaos.c \
	supervisor/json.c supervisor/progress.c supervisor/observe.c \
	supervisor/log.c supervisor/errout.c supervisor/jobctl.c supervisor/replay.c supervisor/replay_index.c \
	supervisor/pids.c supervisor/chaos_judge.c supervisor/orphans.c \
	supervisor/argcheck.c supervisor/scratch.c
SUP_OBJ  := $(SUP_SRC:%.c=$(B)/%.o)
TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(B)/%.o)
DEMO_SRC := supervisor/demo.c stage/demo_stages.c
DEMO_OBJ := $(DEMO_SRC:%.c=$(B)/%.o)
HOST_SRC := $(wildcard stage/host.c stage/builtin_*.c)
HOST_OBJ := $(HOST_SRC:%.c=$(B)/%.o)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_OBJ := $(BENCH_SRC:%.c=$(B)/%.o)
EXAMPLES := $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))
# Stage programs the tests run, written as a user's would be.
TEST_STAGES := $(patsubst tests/stages/%.c,$(B)/tests/stages/%,\
		 $(wildcard tests/stages/*.c))
# Fuzz targets (tests/fuzz/fuzz_NAME.c): linked with driver.c, the tests
# feed each its kept corpus (tests/fuzz/corpus/NAME); `make fuzz` links
# them with libFuzzer instead.
FUZZ_TARGETS := config oneliner index sums ring linebuf ctl
FUZZ_BINS := $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz-%)
FUZZ_COMMON := $(B)/tests/fuzz/common.o $(B)/tests/fuzz/cfg_check.o \
	$(B)/stage/builtin_linebuf.o
FUZZ_MAIN := $(if $(filter fuzz,$(VARIANT)),-fsanitize=fuzzer,\
	$(B)/tests/fuzz/driver.o)

SOVER := 0
SOFULL := 0.1.0
CFLAGS_BASE += -DRP_VERSION='"$(SOFULL)"'
LIB   := $(B)/libringpipe.a
SOLIB := $(B)/libringpipe.so.$(SOFULL)
TESTS := $(B)/ringpipe-tests
DEMO  := $(B)/ringpipe-demo
HOST  := $(B)/ringpipe-stage
RINGPIPE := $(B)/ringpipe
BENCH := $(B)/bench-ring

PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all build deps test check test-build asan-test demo bench clean format install \
	fuzz fuzz-build

all: deps
	@$(MAKE) --no-print-directory build

build: $(LIB) $(SOLIB) $(TESTS) $(DEMO) $(RINGPIPE) $(EXAMPLES) \
	$(if $(HOST_SRC),$(HOST)) $(if $(BENCH_SRC),$(BENCH)) $(FUZZ_BINS)

deps:
	@./scripts/deps.sh

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The stage library as users link it: a versioned shared object.
$(SOLIB): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libringpipe.so.$(SOVER) -o $@ $^ \
		$(SECCOMP_LIBS) -pthread
	ln -sf libringpipe.so.$(SOFULL) $(B)/libringpipe.so.$(SOVER)
	ln -sf libringpipe.so.$(SOVER) $(B)/libringpipe.so

$(TESTS): $(TEST_OBJ) $(SUP_OBJ) $(LIB) $(EXAMPLES) $(TEST_STAGES) \
	$(RINGPIPE) $(if $(HOST_SRC),$(HOST))
	$(CC) $(ALL_CFLAGS) -o $@ $(TEST_OBJ) $(SUP_OBJ) $(LIB) $(LDLIBS_ALL)

$(RINGPIPE): $(B)/supervisor/main.o $(SUP_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $(B)/supervisor/main.o $(SUP_OBJ) $(LIB) \
		$(LDLIBS_ALL)

$(DEMO): $(DEMO_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $(DEMO_OBJ) $(LIB) $(LDLIBS_ALL)

# The built-in stages, one host binary: ringpipe-stage NAME [OPTIONS].
# It is started again at every restart, so it is linked statically (a
# static PIE): no dynamic loader to run, about 0.3 ms of a 2.5 ms restart
# on a 2-vCPU VM.  Not under the sanitizers, whose runtimes are shared.
# Static, it keeps the glibc and libseccomp it was built with: rebuild it
# after their security updates, or build with HOST_STATIC=0.
$(HOST): $(HOST_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) $(HOST_LDFLAGS) -o $@ $(HOST_OBJ) $(LIB) \
		$(HOST_LIBS)

$(BENCH): $(BENCH_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $(BENCH_OBJ) $(LIB) $(LDLIBS_ALL)

# Examples build against the public header only, as a user's would.
$(B)/examples/%: examples/%.c stage/ringpipe.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Istage -o $@ $< $(LIB) $(LDLIBS_ALL)

$(B)/tests/stages/%: tests/stages/%.c stage/ringpipe.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Istage -o $@ $< $(LIB) $(LDLIBS_ALL)

$(FUZZ_BINS): $(B)/fuzz/fuzz-%: $(B)/tests/fuzz/fuzz_%.o $(FUZZ_COMMON) \
	$(if $(filter fuzz,$(VARIANT)),,$(B)/tests/fuzz/driver.o) $(SUP_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(FUZZ_COMMON) $(FUZZ_MAIN) $(SUP_OBJ) \
		$(LIB) $(LDLIBS_ALL)

fuzz-build: $(FUZZ_BINS)

# Each target for FUZZ_TIME seconds from its kept corpus; what it finds
# is left in build/fuzz/findings (scripts/fuzz).
FUZZ_TIME ?= 60
fuzz:
	@./scripts/deps.sh clang libclang-rt-14-dev
	@$(MAKE) --no-print-directory -j$$(nproc) VARIANT=fuzz fuzz-build
	@./scripts/fuzz $(FUZZ_TIME) $(FUZZ_TARGETS)

# The .pc is written where it goes, from this install's PREFIX: one
# kept in the tree would keep the PREFIX of the install that made it.
install: $(SOLIB) $(LIB) $(RINGPIPE) $(HOST) ringpipe.pc.in
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include \
		$(DESTDIR)$(PREFIX)/bin
	install -m 755 $(RINGPIPE) $(HOST) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 stage/ringpipe.h $(DESTDIR)$(PREFIX)/include/ringpipe.h
	install -m 755 $(SOLIB) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libringpipe.so.$(SOFULL) $(DESTDIR)$(PREFIX)/lib/libringpipe.so.$(SOVER)
	ln -sf libringpipe.so.$(SOVER) $(DESTDIR)$(PREFIX)/lib/libringpipe.so
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(SOFULL)|' \
		ringpipe.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/ringpipe.pc
	chmod 644 $(DESTDIR)$(PREFIX)/lib/pkgconfig/ringpipe.pc

# The README's test command: the whole suite, plain then sanitized.
# Each build runs on every CPU; the tests, some of them timed, alone.
test: deps
	@$(MAKE) --no-print-directory -j$$(nproc) VARIANT=plain test-build
	@$(MAKE) --no-print-directory VARIANT=plain check
	@$(MAKE) --no-print-directory -j$$(nproc) VARIANT=asan test-build
	@$(MAKE) --no-print-directory VARIANT=asan check

asan-test: deps
	@$(MAKE) --no-print-directory -j$$(nproc) VARIANT=asan test-build
	@$(MAKE) --no-print-directory VARIANT=asan check

test-build: $(TESTS) $(SOLIB) $(FUZZ_BINS)

check: $(TESTS) $(SOLIB) $(FUZZ_BINS)
	@echo "== ringpipe tests ($(VARIANT) build) =="
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	RP_TEST_VARIANT=$(VARIANT) RP_TEST_BUILD=$(B) $(TESTS)
	@if [ "$(VARIANT)" = plain ]; then ./scripts/check-install $(B); fi
	@# The sandbox again as an unprivileged user, when we are root.
	@if [ "$(VARIANT)" = plain ] && [ "$$(id -u)" = 0 ] && \
	    command -v setpriv >/dev/null; then \
		if setpriv --reuid=65534 --regid=65534 --clear-groups \
		    test -x $(TESTS); then \
			echo "== ringpipe stage tests as uid 65534 =="; \
			setpriv --reuid=65534 --regid=65534 --clear-groups \
			  env RP_TEST_VARIANT=$(VARIANT) RP_TEST_BUILD=$(B) \
			  $(TESTS) stage || exit 1; \
		else \
			echo "note: $(TESTS) is not reachable by uid 65534;" \
			     "the unprivileged sandbox run is skipped"; \
		fi; \
	fi

demo: deps
	@$(MAKE) --no-print-directory VARIANT=plain build
	./scripts/demo

bench: deps
	@./scripts/deps.sh gnuplot-nox
	@$(MAKE) --no-print-directory VARIANT=plain $(BENCH) $(RINGPIPE) \
		$(HOST)
	./scripts/bench-ring
	./scripts/bench-pipeline

format:
	clang-format -i shm/*.[ch] ipc/*.[ch] tests/*.[ch] tests/stages/*.c \
		supervisor/*.[ch] \
		stage/*.[ch] bench/*.[ch]

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(SUP_OBJ:.o=.d) $(TEST_OBJ:.o=.d) \
	$(B)/supervisor/main.d \
	$(DEMO_OBJ:.o=.d) $(BENCH_OBJ:.o=.d) $(HOST_OBJ:.o=.d) \
	$(wildcard $(B)/tests/fuzz/*.d)
