# mazero build. `make help` lists the targets.
#
#   make            ./mazero, CPU backend (OpenMP + OpenBLAS)
#   make CUDA=1     ./mazero with the CUDA backend as well (nvcc, cuBLAS, Thrust)
#   make emu        the test binary, with the CUDA backend built by the host
#                   C++ compiler against src/cuda_emu.h (device emulation)
#   make run        build, then train the default config (configs/default.json)
#   make test       CPU tests + emulated-CUDA parity tests + CLI tests
#   make asan       the same suite under AddressSanitizer + UBSan
#   make tsan       the concurrency tests (group async) under ThreadSanitizer
#   make bench      backend, env, NN, search and PPO benchmarks (table + bench/results/*.json)
#   make bench-learning  sync MuZero vs IPPO on simple_spread, 3 seeds (bench/spread_learning.sh; minutes)
#   make deps       apt-get the Debian packages that are missing
#   make MPI=1      ./mazero for data-parallel runs (mpirun -np P ./mazero train ...),
#                   with NCCL on CUDA=1; make deps-mpi installs OpenMPI
#   make test-mpi   build with MPI=1, then the mpirun tests (tests/test_mpi.sh)
#
# Knobs: ARCH=native (default x86-64-v2 on x86_64), WERROR=1, CUDA_HOME=...,
#        CUDA_ARCHS="80 90", NO_OMP=1, MPI=1.

CC ?= cc
CXX ?= c++
ifeq ($(origin CC),default)
CC := gcc
endif
ifeq ($(origin CXX),default)
CXX := g++
endif

BUILD := build
CUDA ?= 0
MPI ?= 0
CUDA_HOME ?= /usr/local/cuda
CUDA_ARCHS ?= 80 90

# ---- features ---------------------------------------------------------------

comma := ,
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
OPENBLAS_OMP_DIR := /usr/lib/$(MULTIARCH)/openblas-openmp

NVCC := $(shell command -v nvcc 2>/dev/null || { test -x $(CUDA_HOME)/bin/nvcc && echo $(CUDA_HOME)/bin/nvcc; })
ifneq ($(NVCC),)
CUDA_HOME := $(patsubst %/bin/nvcc,%,$(NVCC))
endif
HAVE_OMP := $(if $(NO_OMP),,$(shell echo 'int main(void){return 0;}' | $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo yes))
HAVE_BLAS := $(shell echo '\#include <cblas.h>' | $(CC) -E -x c - >/dev/null 2>&1 && echo yes)
# Thrust for the emulation build: the CUDA toolkit's CCCL if present, else
# Debian's libthrust-dev (installed by `make deps` on machines without CUDA).
THRUST_INC := $(firstword $(wildcard $(CUDA_HOME)/include/cccl/thrust/version.h $(CUDA_HOME)/include/thrust/version.h))
THRUST_INC := $(if $(THRUST_INC),$(patsubst %/thrust/version.h,%,$(THRUST_INC)))

ifeq ($(MAKELEVEL),0)
ifneq ($(filter-out clean help deps,$(or $(MAKECMDGOALS),all)),)
$(info $(if $(NVCC),✓ nvcc: $(NVCC) (CUDA backend: $(if $(filter 1,$(CUDA)),building,make CUDA=1)),✗ nvcc not found: CUDA backend skipped (emulation tests still run)))
$(info $(if $(HAVE_OMP),✓ OpenMP,✗ OpenMP not available: CPU backend runs single-threaded))
$(info $(if $(HAVE_BLAS),✓ BLAS: OpenBLAS (cblas.h)$(if $(wildcard $(OPENBLAS_OMP_DIR)/libopenblas.so),$(comma) OpenMP build,$(comma) pthread build: make deps installs the OpenMP one),✗ BLAS headers missing: make deps installs libopenblas-dev))
endif
endif

ifeq ($(CUDA),1)
ifeq ($(NVCC),)
$(error CUDA=1 but nvcc was found neither on PATH nor in $(CUDA_HOME)/bin)
endif
endif

# ---- flags ------------------------------------------------------------------

ifeq ($(shell uname -m),x86_64)
ARCH ?= x86-64-v2
endif
ARCH_FLAG := $(if $(ARCH),-march=$(ARCH))
OMP_FLAG := $(if $(HAVE_OMP),-fopenmp,-Wno-unknown-pragmas)
WERROR_FLAG := $(if $(filter 1,$(WERROR)),-Werror)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

CPPFLAGS := -I. -D_POSIX_C_SOURCE=200809L -DMZ_GIT_REV='"$(GIT_REV)"' -MMD -MP
CFLAGS := -std=c11 -O2 -g $(ARCH_FLAG) $(OMP_FLAG) -Wall -Wextra -Wshadow -Wstrict-prototypes $(WERROR_FLAG)
CXXFLAGS_EMU := -std=c++17 -O2 -g $(ARCH_FLAG) $(OMP_FLAG) -Wall -Wextra $(WERROR_FLAG) \
                -DMZ_CUDA_EMU -DTHRUST_DEVICE_SYSTEM=THRUST_DEVICE_SYSTEM_CPP $(if $(THRUST_INC),-isystem $(THRUST_INC))
LINKFLAGS := -g $(ARCH_FLAG) $(OMP_FLAG)
# OpenBLAS's OpenMP build shares our OpenMP threads; the default pthread build
# has its own, which OpenMP threads spinning between kernels starve (up to
# 100x slower small steps). Checked when linking, after `make deps`.
BLAS_LINK = $(shell test -e $(OPENBLAS_OMP_DIR)/libopenblas.so && echo -L$(OPENBLAS_OMP_DIR) -Wl,-rpath,$(OPENBLAS_OMP_DIR)) -lopenblas
LDLIBS = $(BLAS_LINK) -lcjson -lcurl -lcairo -lgif -lm -lpthread $(MPI_LIBS)
SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

NVCC_GENCODE := $(foreach a,$(CUDA_ARCHS),-gencode arch=compute_$(a),code=sm_$(a)) \
                -gencode arch=compute_$(lastword $(CUDA_ARCHS)),code=compute_$(lastword $(CUDA_ARCHS))
NVCCFLAGS := -std=c++17 -O2 -g $(NVCC_GENCODE) -Xcompiler -Wall,-Wextra,$(OMP_FLAG) \
             $(if $(filter 1,$(WERROR)),-Werror all-warnings -Xcompiler -Werror)
CUDA_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart_static -ldl -lrt

# MPI=1: only src/dist_*.c and src/dist_nccl.cu read MZ_MPI; they rebuild
# when MPI changes (MPI_STAMP). mpicc's flags are read when used, after
# `make deps` has installed OpenMPI.
MPI_DEFINE := $(if $(filter 1,$(MPI)),-DMZ_MPI)
MPI_CPPFLAGS = $(shell mpicc --showme:compile)
MPI_LIBS = $(if $(filter 1,$(MPI)),$(shell mpicc --showme:link))
CPPFLAGS += $(MPI_DEFINE)
ifeq ($(MPI)$(CUDA),11)
CUDA_LIBS += -lnccl
endif

# ---- sources ----------------------------------------------------------------

# Every .c/.cu of the product folders is picked up; a new file needs no edit here.
SRC_DIRS := src envs worldmodel mcts actors learner bench
MAIN_C := src/main.c
EMU_C := src/cuda_emu_runtime.c
NOCUDA_C := src/backend_nocuda.c
LIB_C := $(filter-out $(MAIN_C) $(EMU_C) $(NOCUDA_C),$(sort $(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c $(d)/*/*.c))))
CUDA_CU := $(sort $(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.cu $(d)/*/*.cu)))
TEST_C := $(wildcard tests/*.c)
TEST_CU := $(wildcard tests/*.cu)

obj = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(filter %.c,$(2))) $(patsubst %.cu,$(BUILD)/$(1)/%.cu.o,$(filter %.cu,$(2)))

BIN := mazero
TEST_BIN := $(BUILD)/rel/mazero_tests
ASAN_BIN := $(BUILD)/asan/mazero
ASAN_TEST_BIN := $(BUILD)/asan/mazero_tests

ifeq ($(CUDA),1)
BIN_OBJ := $(call obj,rel,$(LIB_C) $(MAIN_C)) $(call obj,cuda,$(CUDA_CU))
BIN_LINK := $(CUDA_LIBS)
BIN_LD := $(CXX)
else
BIN_OBJ := $(call obj,rel,$(LIB_C) $(MAIN_C) $(NOCUDA_C))
BIN_LINK :=
BIN_LD := $(CC)
endif
TEST_OBJ := $(call obj,rel,$(LIB_C) $(EMU_C) $(TEST_C)) $(call obj,emu,$(CUDA_CU) $(TEST_CU))
ASAN_BIN_OBJ := $(call obj,asan,$(LIB_C) $(MAIN_C) $(NOCUDA_C))
ASAN_TEST_OBJ := $(call obj,asan,$(LIB_C) $(EMU_C) $(TEST_C)) $(call obj,asan-emu,$(CUDA_CU) $(TEST_CU))

DEPS_STAMP := $(BUILD)/.deps-ok
DEB_PACKAGES := build-essential libcjson-dev libcurl4-openssl-dev libopenblas-dev libopenblas-openmp-dev libcmocka-dev \
                libcairo2-dev libgif-dev \
                $(if $(wildcard $(CUDA_HOME)/include/cccl/thrust $(CUDA_HOME)/include/thrust),,libthrust-dev) \
                $(if $(filter 1,$(MPI)),libopenmpi-dev openmpi-bin)

.PHONY: all emu run test test-mpi asan tsan bench bench-learning deps deps-mpi clean help
.DEFAULT_GOAL := all

all: $(BIN)

# Switching between `make` and `make CUDA=1` must relink ./mazero even when
# no object changed: the stamp of the flavour built last is the only one kept.
FLAVOUR_STAMP := $(BUILD)/.flavour-cuda$(CUDA)
$(FLAVOUR_STAMP):
	@mkdir -p $(@D) && rm -f $(BUILD)/.flavour-* && touch $@

$(BIN): $(BIN_OBJ) $(FLAVOUR_STAMP)
	$(BIN_LD) $(LINKFLAGS) $(filter %.o,$^) -o $@ $(BIN_LINK) $(LDLIBS)

emu: $(TEST_BIN)

# The README's first command. RUN_ARGS adds overrides: make run RUN_ARGS="seed=3"
RUN_CONFIG ?= configs/default.json
run: $(BIN)
	./$(BIN) train $(RUN_CONFIG) $(RUN_ARGS)

$(TEST_BIN): $(TEST_OBJ)
	$(CXX) $(LINKFLAGS) $^ -o $@ -lcmocka $(LDLIBS)

test: $(BIN) $(TEST_BIN)
	@tests/run_all.sh $(TEST_BIN) ./$(BIN)

$(ASAN_BIN): $(ASAN_BIN_OBJ)
	$(CC) $(LINKFLAGS) $(SAN) $^ -o $@ $(LDLIBS)

$(ASAN_TEST_BIN): $(ASAN_TEST_OBJ)
	$(CXX) $(LINKFLAGS) $(SAN) $^ -o $@ -lcmocka $(LDLIBS)

# The data-parallel tests: ./mazero and the collective checks built with
# MPI=1 (the checks with the emulated CUDA backend, whose NCCL wrapper maps
# onto MPI), then mpirun jobs of 2 ranks.
MPI_CHECK_BIN := $(BUILD)/rel/tests/mpi/dist_check
$(MPI_CHECK_BIN): $(call obj,rel,$(LIB_C) $(EMU_C) tests/mpi/dist_check.c) $(call obj,emu,$(CUDA_CU))
	$(CXX) $(LINKFLAGS) $^ -o $@ $(LDLIBS)

test-mpi:
	@$(MAKE) --no-print-directory MPI=1 $(BIN) $(MPI_CHECK_BIN)
	@tests/test_mpi.sh ./$(BIN) $(MPI_CHECK_BIN)

asan: $(ASAN_BIN) $(ASAN_TEST_BIN)
	@ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp MZ_PYTHON_CHECKS=0 \
	  tests/run_all.sh $(ASAN_TEST_BIN) $(ASAN_BIN)

# ThreadSanitizer: the product's C sources without OpenMP (libgomp is not
# instrumented; its barriers would read as races) and the async test group.
TSAN_BIN := $(BUILD)/tsan/mazero_tests
TSAN_TEST_C := tests/test_main.c tests/test_util.c tests/run_test_util.c tests/test_async.c
TSAN_OBJ := $(call obj,tsan,$(LIB_C) $(NOCUDA_C) $(TSAN_TEST_C))
TSAN_CFLAGS := $(filter-out -fopenmp,$(CFLAGS)) -Wno-unknown-pragmas -fsanitize=thread

$(TSAN_BIN): $(TSAN_OBJ)
	$(CC) $(filter-out -fopenmp,$(LINKFLAGS)) -fsanitize=thread $^ -o $@ -lcmocka $(LDLIBS)

tsan: $(TSAN_BIN)
	@TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 $(TSAN_BIN) async

PYTHON ?= python3
bench: $(BIN)
	@mkdir -p bench/results
	./$(BIN) bench backend --json bench/results/backend.json
	@if $(PYTHON) -c 'import jaxmarl, jumanji' 2>/dev/null; then \
	  $(PYTHON) bench/peers/env_jaxmarl.py --json bench/results/env_peers.json; \
	else echo "bench: $(PYTHON) cannot import jaxmarl and jumanji: env peers skipped (pip install jax jaxmarl jumanji, or PYTHON=...)"; fi
	./$(BIN) bench env --json bench/results/env.json $$([ -f bench/results/env_peers.json ] && echo --peers bench/results/env_peers.json)
	./$(BIN) bench nn --json bench/results/nn.json
	@if $(PYTHON) -c 'import mctx' 2>/dev/null; then \
	  $(PYTHON) bench/peers/mcts_mctx.py --json bench/results/mcts_peers.json; \
	else echo "bench: $(PYTHON) cannot import mctx: search peers skipped (pip install jax mctx, or PYTHON=...)"; fi
	./$(BIN) bench mcts --json bench/results/mcts.json $$([ -f bench/results/mcts_peers.json ] && echo --peers bench/results/mcts_peers.json)
	@if $(PYTHON) -c 'import jax, flax, optax, jaxmarl' 2>/dev/null; then \
	  $(PYTHON) bench/peers/ippo_jaxmarl.py --json bench/results/ppo_peers.json; \
	else echo "bench: $(PYTHON) cannot import jax, flax, optax and jaxmarl: IPPO peer skipped (pip install jax flax optax jaxmarl, or PYTHON=...)"; fi
	./$(BIN) bench ppo --json bench/results/ppo.json $$([ -f bench/results/ppo_peers.json ] && echo --peers bench/results/ppo_peers.json)

LEARN_STEPS ?= 60000
IPPO_STEPS ?= 1000000
bench-learning: $(BIN)
	IPPO_STEPS=$(IPPO_STEPS) sh bench/spread_learning.sh $(LEARN_STEPS) bench/results/spread_learning

# ---- objects ----------------------------------------------------------------

$(BUILD)/rel/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/asan/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN) -c $< -o $@

$(BUILD)/tsan/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(TSAN_CFLAGS) -c $< -o $@

$(BUILD)/emu/%.cu.o: %.cu | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS_EMU) -x c++ -c $< -o $@

$(BUILD)/asan-emu/%.cu.o: %.cu | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS_EMU) $(SAN) $(SAN_EXTRA) -x c++ -c $< -o $@

# Thrust's sequential backend binds references through null pointers to its
# empty system tags by design (thrust/detail/reference.h); UBSan's null check
# flags that inside Thrust, so that one check is off for that one unit.
$(BUILD)/asan-emu/src/backend_cuda_thrust.cu.o: SAN_EXTRA := -fno-sanitize=null

$(BUILD)/cuda/%.cu.o: %.cu | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(NVCC) -I. -DMZ_GIT_REV='"$(GIT_REV)"' $(MPI_DEFINE) -MMD -MP $(NVCCFLAGS) -c $< -o $@

MPI_STAMP := $(BUILD)/.mpi$(MPI)
$(MPI_STAMP):
	@$(if $(filter 1,$(MPI)),$(MAKE) --no-print-directory deps MPI=1)
	@mkdir -p $(@D) && rm -f $(BUILD)/.mpi* && touch $@
$(foreach f,rel asan,$(BUILD)/$(f)/src/dist_mpi.o $(BUILD)/$(f)/src/dist_none.o) \
  $(foreach f,emu asan-emu cuda,$(BUILD)/$(f)/src/dist_nccl.cu.o): $(MPI_STAMP)
# recursive (=): mpicc is asked when the file compiles, after MPI_STAMP's deps
CPPFLAGS_NO_MPI_INC := $(CPPFLAGS)
$(BUILD)/rel/src/dist_mpi.o $(BUILD)/asan/src/dist_mpi.o: CPPFLAGS = $(CPPFLAGS_NO_MPI_INC) $(if $(filter 1,$(MPI)),$(MPI_CPPFLAGS))

# ---- dependencies -------------------------------------------------------------

# Re-checked when the Makefile (and so DEB_PACKAGES) changes.
$(DEPS_STAMP): Makefile
	@$(MAKE) --no-print-directory deps
	@mkdir -p $(@D) && touch $@

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	echo "deps: installing$$missing"; \
	sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing

deps-mpi:
	@$(MAKE) --no-print-directory deps MPI=1

clean:
	rm -rf $(BUILD) $(BIN)

help:
	@sed -n '1,19p' Makefile | sed 's/^# \{0,1\}//'

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
