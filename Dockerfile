# adaptd container image.
#
# Build stage: Debian 12 with exactly the packages CI uses (the Makefile's
# PACKAGES, installed by `make deps`), then cmake/ninja as `make build` does.
# Runtime stage: debian:12-slim with only the Debian packages that hold the
# libraries adaptd and adaptctl link (worked out from the binaries by
# deploy/docker/runtime-packages.sh), a non-root user and a gRPC healthcheck.
#
#   docker build -t adaptd .                                  # CPU, no models
#   docker build -t adaptd --build-arg WITH_MODELS=true .     # + `make models` into /models
#   docker run --rm -p 50051:50051 -p 9464:9464 -v "$PWD/models:/models:ro" adaptd
#   docker stop -t 20 ...   # more than --shutdown_grace (10s), so the drain can finish
#
# CUDA: Debian's libtorch is CPU-only. Unpack a LibTorch CUDA build (cxx11
# ABI) inside the build context and pass LIBTORCH=<that dir>; see
# deploy/README.md ("CUDA image") for the whole recipe.
#
# Nothing is downloaded but Debian packages and the base images.

ARG DEBIAN_IMAGE=debian:12
ARG RUNTIME_IMAGE=debian:12-slim

# ============================================================== build stage
FROM ${DEBIAN_IMAGE} AS build

ARG DEBIAN_FRONTEND=noninteractive
# Path, inside the build context, of an unpacked LibTorch to build against
# instead of Debian's libtorch-dev. The default is an empty placeholder.
ARG LIBTORCH=deploy/docker/no-libtorch
# auto: install Debian's nvidia-cuda-toolkit (non-free) when LIBTORCH is a
# CUDA build, whose CMake config needs the toolkit; true / false to force.
ARG CUDA_TOOLKIT=auto
# Targets to build; `make models` and RUN_TESTS build everything anyway.
ARG TARGETS="adaptd adaptctl"
ARG WITH_MODELS=false
ARG RUN_TESTS=false
# Extra CMake arguments, e.g. -DCAFFE2_USE_CUDNN=OFF for a LibTorch whose
# CMake config looks for cuDNN headers.
ARG CMAKE_ARGS=
ARG JOBS=

WORKDIR /src

# make first, then the Makefile alone, so that the (large) package layer is
# only rebuilt when the Makefile changes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends make ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY Makefile ./
COPY ${LIBTORCH} /opt/libtorch/

# The Makefile's PACKAGES, less libtorch-dev when a LibTorch is supplied (two
# Torch installs would mix headers), plus the CUDA toolkit where needed.
# `make deps` installs them, exactly as on a CI machine.
RUN set -eux; \
    pkgs="$(make -s --no-print-directory --eval='adaptd-print-packages: ; @echo $(PACKAGES)' adaptd-print-packages)"; \
    if [ -e /opt/libtorch/share/cmake/Torch/TorchConfig.cmake ]; then \
      pkgs="$(echo "$pkgs" | tr ' ' '\n' | grep -vx libtorch-dev | tr '\n' ' ')"; \
      cuda="$CUDA_TOOLKIT"; \
      if [ "$cuda" = auto ]; then \
        if ls /opt/libtorch/lib/libtorch_cuda.so >/dev/null 2>&1; then cuda=true; else cuda=false; fi; \
      fi; \
      if [ "$cuda" = true ]; then \
        sed -i 's/^Components: main$/Components: main contrib non-free non-free-firmware/' \
          /etc/apt/sources.list.d/debian.sources; \
        pkgs="$pkgs nvidia-cuda-toolkit"; \
      fi; \
    fi; \
    echo "$pkgs" > /etc/adaptd-build-packages; \
    make deps PACKAGES="$pkgs"; \
    rm -rf /var/lib/apt/lists/*

COPY . .

# `make build`, with the LibTorch (if any) first on CMake's search path.
RUN set -eux; \
    pkgs="$(cat /etc/adaptd-build-packages)"; \
    if [ -e /opt/libtorch/share/cmake/Torch/TorchConfig.cmake ]; then \
      export CMAKE_PREFIX_PATH=/opt/libtorch; \
    fi; \
    rm -rf build; \
    if [ -n "$CMAKE_ARGS" ]; then \
      cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release $CMAKE_ARGS; \
    fi; \
    make configure PACKAGES="$pkgs"; \
    cmake --build build -j "${JOBS:-$(nproc)}" --target $TARGETS; \
    if [ "$RUN_TESTS" = true ]; then make test PACKAGES="$pkgs"; fi; \
    mkdir -p models; \
    if [ "$WITH_MODELS" = true ]; then make models PACKAGES="$pkgs"; fi

# Everything the runtime stage takes, under /out. libsentencepiece0 is added
# by hand: adaptd loads it at run time (dlmopen), so ldd cannot see it.
RUN set -eux; \
    mkdir -p /out/bin /out/models /out/opt/libtorch/lib; \
    cp build/server/adaptd build/client/adaptctl /out/bin/; \
    cp -a models/. /out/models/; \
    if [ -d /opt/libtorch/lib ]; then cp -a /opt/libtorch/lib/. /out/opt/libtorch/lib/; fi; \
    deploy/docker/runtime-packages.sh /out/bin/adaptd /out/bin/adaptctl > /out/runtime-packages.txt; \
    echo libsentencepiece0 >> /out/runtime-packages.txt; \
    cat /out/runtime-packages.txt

# ============================================================ runtime stage
FROM ${RUNTIME_IMAGE} AS runtime

ARG RUNTIME_IMAGE
ARG DEBIAN_FRONTEND=noninteractive

COPY --from=build /out/runtime-packages.txt /tmp/runtime-packages.txt
RUN set -eux; \
    apt-get update; \
    xargs -a /tmp/runtime-packages.txt apt-get install -y --no-install-recommends; \
    rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt

# A supplied LibTorch's libraries (empty for the Debian build); the binaries'
# RUNPATH and the ld.so.conf entry both point here.
COPY --from=build /out/opt/libtorch/lib/ /opt/libtorch/lib/
RUN echo /opt/libtorch/lib > /etc/ld.so.conf.d/libtorch.conf && ldconfig

COPY --from=build /out/bin/ /usr/local/bin/
COPY --from=build /out/models/ /models/

# Every library resolves (libcuda.so.1, the driver, is mounted at run time by
# the NVIDIA container runtime), and the binaries load where they can here.
RUN set -eux; \
    for b in /usr/local/bin/adaptd /usr/local/bin/adaptctl; do \
      if ldd "$b" | grep 'not found' | grep -v 'libcuda\.so'; then exit 1; fi; \
    done; \
    if ! ldd /usr/local/bin/adaptd | grep -q 'not found'; then adaptd --version >/dev/null; fi; \
    adaptctl help >/dev/null

RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/adaptd --create-home \
      --shell /usr/sbin/nologin adaptd \
 && mkdir -p /etc/adaptd \
 && chown adaptd:adaptd /var/lib/adaptd

# NVML (the GPU gauges) and CUDA come from the driver, which the NVIDIA
# container runtime mounts when the container asks for "compute,utility".
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility

LABEL org.opencontainers.image.title="adaptd" \
      org.opencontainers.image.description="gRPC few-shot adaptation server (LibTorch), with Prometheus metrics" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"

USER 10001:10001
WORKDIR /var/lib/adaptd
# gRPC (AdaptationService, grpc.health.v1.Health, reflection) and /metrics.
EXPOSE 50051 9464

# adaptd handles SIGTERM itself (health NOT_SERVING, drain for
# --shutdown_grace, exit 0), also as PID 1: it blocks the signal and waits for
# it, so no init is needed.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["adaptctl", "health", "--target=localhost:50051", "--timeout=3s"]

ENTRYPOINT ["adaptd", "--model_repository=/models"]
CMD ["--port=50051", "--metrics_port=9464"]
