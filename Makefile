# ringpipe - one plain GNU Makefile.
#
#   make            build the library, demo, tests and benchmarks
#   make demo       install what is missing, build, run the demo
#   make test       install what is missing, run every test: the plain
#                   build, then again under ASan + UBSan
#   make asan-test  only the sanitizer run
#   make bench      benchmarks against pipes (never part of the tests)

CC      ?= cc
PKGS    := libseccomp cunit
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS_BASE := -std=gnu11 -Wall -Wextra -Werror -g -pthread \
	-Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes
OPT     ?= -O2
CFLAGS  ?=
ALL_CFLAGS = $(CFLAGS_BASE) $(OPT) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP
LDLIBS_ALL = $(PKG_LIBS) -pthread

# BUILD selects the output tree: build/plain or build/asan.
VARIANT ?= plain
B := build/$(VARIANT)
ifeq ($(VARIANT),asan)
OPT := -O1 -fno-omit-frame-pointer
CFLAGS_BASE += -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDLIBS_ALL += -fsanitize=address,undefined
endif

CORE_SRC := $(wildcard shm/*.c) $(wildcard ipc/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(B)/%.o)
TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(B)/%.o)
DEMO_SRC := supervisor/demo.c stage/demo_stages.c
DEMO_OBJ := $(DEMO_SRC:%.c=$(B)/%.o)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_OBJ := $(BENCH_SRC:%.c=$(B)/%.o)

LIB   := $(B)/libringpipe-core.a
TESTS := $(B)/ringpipe-tests
DEMO  := $(B)/ringpipe-demo
BENCH := $(B)/bench-ring

.PHONY: all build deps test check asan-test demo bench clean format

all: deps
	@$(MAKE) --no-print-directory build

build: $(LIB) $(TESTS) $(DEMO) $(if $(BENCH_SRC),$(BENCH))

deps:
	@./scripts/deps.sh

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(TESTS): $(TEST_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $(TEST_OBJ) $(LIB) $(LDLIBS_ALL)

$(DEMO): $(DEMO_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $(DEMO_OBJ) $(LIB) $(LDLIBS_ALL)

$(BENCH): $(BENCH_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $(BENCH_OBJ) $(LIB) $(LDLIBS_ALL)

# The README's test command: the whole suite, plain then sanitized.
test: deps
	@$(MAKE) --no-print-directory VARIANT=plain check
	@$(MAKE) --no-print-directory VARIANT=asan check

asan-test: deps
	@$(MAKE) --no-print-directory VARIANT=asan check

check: $(TESTS)
	@echo "== ringpipe tests ($(VARIANT) build) =="
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	RP_TEST_VARIANT=$(VARIANT) $(TESTS)

demo: deps
	@$(MAKE) --no-print-directory VARIANT=plain $(DEMO)
	build/plain/ringpipe-demo

bench: deps
	@./scripts/deps.sh gnuplot-nox
	@$(MAKE) --no-print-directory VARIANT=plain $(BENCH)
	./scripts/bench-ring

format:
	clang-format -i shm/*.[ch] ipc/*.[ch] tests/*.[ch] supervisor/*.[ch] \
		stage/*.[ch] bench/*.[ch]

clean:
	rm -rf build

-include $(CORE_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(DEMO_OBJ:.o=.d) \
	$(BENCH_OBJ:.o=.d)
