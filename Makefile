# adaptd's front door. Everything a fresh Debian 12 machine needs:
#   make run    install what is missing, build, prepare ./models, start adaptd, demo
#   make test   install what is missing, build, run the whole suite with ctest
BUILD ?= build
MODELS ?= models
JOBS ?= $(shell nproc)
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

# Debian 12 packages: build tools, the stack, data and test tools.
# BLIS's serial build, which the binaries link in place of the reference BLAS
# (CMakeLists.txt). Not OpenBLAS: its serial build gives wrong results when
# threads call it at once, and its threaded builds' static TLS leaves
# civetweb's threads no stack, so /metrics cannot start (docs/experiments/blas.md).
PACKAGES := cmake ninja-build ccache g++ pkg-config \
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev \
  libtorch-dev libblis4-serial prometheus-cpp-dev libgtest-dev libgmock-dev libjemalloc-dev \
  libstb-dev libfreetype-dev zlib1g-dev nlohmann-json3-dev fonts-noto-core dataset-fashion-mnist \
  libjpeg62-turbo-dev python3-torchvision fonts-noto-color-emoji libicu-dev libsentencepiece-dev wordnet-base dict-gcide \
  prometheus redis-server libhiredis-dev python3-yaml openssl curl clang-14 libclang-rt-14-dev \
  python3-grpcio python3-protobuf python3-grpc-tools python3-setuptools python3-wheel python3-venv \
  python3-numpy

.PHONY: all deps npm-deps configure build test models run demo clean help fuzz sanitize bench

all: build

help:
	@echo "make run     install deps, build, prepare ./$(MODELS), start adaptd and run the demo"
	@echo "make test    install deps, build, run the test suite (ctest)"
	@echo "make models  build the default model repository in ./$(MODELS)"
	@echo "make build   configure and build into ./$(BUILD)"
	@echo "make bench   load-test a local adaptd on the default model (docs/performance.md)"
	@echo "make fuzz    libFuzzer over request decoding (clang-14)"
	@echo "make sanitize  engine and service tests under ASan/UBSan"
	@echo "make deps    apt-get install the Debian packages that are missing"

deps:
	@missing=$$(for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing" $$missing; \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi
	@$(MAKE) --no-print-directory npm-deps

# The text parity tests' reference implementation from the npm registry
# (tests/text/package.json, pinned by tests/text/package-lock.json), into
# .npm/ (git-ignored). Debian's nodejs and npm only where no node is
# installed: a NodeSource nodejs carries npm itself and conflicts with
# Debian's npm. Skipped where the sources are not there yet (the Dockerfile
# runs make deps with the Makefile alone first).
npm-deps:
	@if [ ! -f tests/text/package-lock.json ]; then \
	  echo "make npm-deps: no tests/text/package-lock.json here, skipped"; exit 0; fi; \
	command -v node >/dev/null && command -v npm >/dev/null || { \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends nodejs npm; }; \
	if ! cmp -s tests/text/package-lock.json .npm/package-lock.json || \
	    [ ! -f .npm/node_modules/@huggingface/tokenizers/package.json ]; then \
	  echo "make npm-deps: installing tests/text/package-lock.json into .npm/"; \
	  mkdir -p .npm && cp tests/text/package.json tests/text/package-lock.json .npm/ && \
	  cd .npm && npm ci --no-audit --no-fund --loglevel=error; \
	fi

configure: deps
	@[ -f $(BUILD)/build.ninja ] || cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

# The glyph model's meta-training also draws tasks from openclipart-png's
# drawings (CLIPART=0 leaves them out); the RGB model (RGB=0 leaves it out)
# learns from the drawings, the icon themes and the colour emoji font. These
# packages are installed here, not for `make test`. See
# scripts/make_models.sh and docs/training.md.
CLIPART ?= 1
RGB ?= 1
MODEL_PACKAGES := $(if $(filter 1,$(CLIPART) $(RGB)),openclipart-png) \
  $(if $(filter 1,$(RGB)),oxygen-icon-theme tango-icon-theme adwaita-icon-theme fonts-noto-color-emoji)
models: build
	@if [ -n "$(strip $(MODEL_PACKAGES))" ]; then \
	  $(MAKE) --no-print-directory deps PACKAGES="$(strip $(MODEL_PACKAGES))"; fi
	CLIPART=$(CLIPART) CLIPART_PRETRAIN=$(CLIPART_PRETRAIN) RGB=$(RGB) BUILD=$(BUILD) \
	  MODELS=$(MODELS) scripts/make_models.sh

run: models
	BUILD=$(BUILD) MODELS=$(MODELS) scripts/demo.sh

# adaptd-bench against a local adaptd on the default model, and the same
# workload in process (the raw engine baseline). See docs/performance.md.
bench: models
	BUILD=$(BUILD) MODELS=$(MODELS) scripts/bench.sh

# libFuzzer over request validation and decoding (clang-14), 60 s by default.
FUZZ_SECONDS ?= 60
fuzz: deps
	@[ -f build-fuzz/build.ninja ] || CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DADAPTD_FUZZ=ON
	cmake --build build-fuzz --target request_fuzzer -j $(JOBS)
	mkdir -p build-fuzz/corpus
	build-fuzz/tests/fuzz/request_fuzzer -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	  -rss_limit_mb=4096 build-fuzz/corpus tests/fuzz/corpus

# The engine and service tests under ASan and UBSan.
SANITIZE_TESTS := input_decoder_test adapter_store_test engine_test batcher_test adaptation_test \
  meta_learner_test service_test auth_test adaptctl_test
sanitize: deps
	@[ -f build-asan/build.ninja ] || cmake -S . -B build-asan -G Ninja \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DADAPTD_SANITIZE=ON
	cmake --build build-asan -j $(JOBS) --target $(SANITIZE_TESTS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) -R '^(InputDecoder|AdapterStore|Engine|Batcher|Adaptation|MetaLearner|Service|Tenant|TokenAuth|Tls|Adaptctl)'

clean:
	rm -rf $(BUILD) build-fuzz build-asan
