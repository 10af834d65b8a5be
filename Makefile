# adaptd's front door. Everything a fresh Debian 12 machine needs:
#   make run    install what is missing, build, prepare ./models, start adaptd, demo
#   make test   install what is missing, build, run the whole suite with ctest
BUILD ?= build
MODELS ?= models
JOBS ?= $(shell nproc)
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

# Debian 12 packages: build tools, the stack, data and test tools.
PACKAGES := cmake ninja-build ccache g++ pkg-config \
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev \
  libtorch-dev prometheus-cpp-dev libgtest-dev libgmock-dev \
  libstb-dev libfreetype-dev zlib1g-dev fonts-noto-core dataset-fashion-mnist \
  prometheus

.PHONY: all deps configure build test models run demo clean help

all: build

help:
	@echo "make run     install deps, build, prepare ./$(MODELS), start adaptd and run the demo"
	@echo "make test    install deps, build, run the test suite (ctest)"
	@echo "make models  build the default model repository in ./$(MODELS)"
	@echo "make build   configure and build into ./$(BUILD)"
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

configure: deps
	@[ -f $(BUILD)/build.ninja ] || cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

models: build
	BUILD=$(BUILD) MODELS=$(MODELS) scripts/make_models.sh

run: models
	BUILD=$(BUILD) MODELS=$(MODELS) scripts/demo.sh

clean:
	rm -rf $(BUILD)
