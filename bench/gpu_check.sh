#!/usr/bin/env bash
# The CUDA path, measured against raw PyTorch on the same GPU in the same run.
#
#   bench/gpu_check.sh fetch   # here (Debian, with apt): download the .debs
#                              # the engine needs besides LibTorch into .gpudeps/
#   bench/gpu_check.sh [run]   # on the GPU machine (it has PyTorch, CMake,
#                              # ninja and nvcc, not abseil/protobuf/hiredis)
#
# run: unpacks .gpudeps/*.deb into a private prefix (never into /), builds
# the engine and adaptd-bench (ADAPTD_ENGINE_ONLY: no gRPC) against the
# PyTorch install's LibTorch, writes a TorchScript ResNet-50 model repository
# (bench/gpu_raw_torch.py, which also times raw torch), then times adaptd's
# engine in process on it: Predict throughput over 1,000 adapters and Adapt
# 5-way 5-shot p50, in fp32 and bf16 autocast. META is timed only with
# META_LEARNER=<a meta_learner.pt made for 2048-wide features>: the head
# generator is sized to its backbone's features. Results go to
# $OUT (default /tmp/gpu-check): summary.md, raw_torch.json, bench.jsonl,
# log.txt. Runs in about 6 minutes on an H100/H200 with 16 cores.
# It also builds adapt-train (when FreeType unpacked) and times `pretrain
# --device cuda` on the RGB model's architecture (pretrain.json), against the
# CPU figure in docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(libabsl-dev libabsl20220623 libprotobuf-dev libprotobuf32 protobuf-compiler
      libprotoc32 libhiredis-dev libhiredis0.14 libstb-dev libstb0 zlib1g-dev nlohmann-json3-dev
      libjpeg62-turbo-dev libjpeg62-turbo libfreetype-dev libfreetype6 libpng-dev libpng16-16
      libbrotli-dev libbrotli1 libicu-dev libicu72)
# adapt-train's pretraining check: the RGB model's Conv4 on colour emoji
# exemplars at 3x32x32, made here by `fetch` (the GPU machine has no fonts).
PRETRAIN_DATA=.gpudeps/emoji-3x32.bin

if [[ "${1:-run}" == fetch ]]; then
  mkdir -p .gpudeps
  (cd .gpudeps && apt-get download "${DEBS[@]}")
  build/train/adapt-train data emoji --size 32 --channels 3 --clipart_instances 4 \
    --out "$PRETRAIN_DATA"
  grep -qx '/.gpudeps/' .git/info/exclude 2>/dev/null || echo '/.gpudeps/' >>.git/info/exclude
  ls -la .gpudeps
  exit 0
fi

OUT="${OUT:-/tmp/gpu-check}"
META_LEARNER="${META_LEARNER:-}"
DURATION="${DURATION:-10s}"
mkdir -p "$OUT"
LOG="$OUT/log.txt"
: >"$LOG"
say() { echo "== $*" | tee -a "$LOG" >&2; }
run() { "$@" 2>&1 | tee -a "$LOG"; }

say "machine"
run nvidia-smi -L || true
run python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
"abi", torch.compiled_with_cxx11_abi(), "gpu", torch.cuda.is_available())'
run g++ --version | head -1
run cmake --version | head -1
nproc | tee -a "$LOG"

SYSROOT=/tmp/adaptd-sysroot
if compgen -G ".gpudeps/*.deb" >/dev/null; then
  say "unpacking .gpudeps into $SYSROOT"
  mkdir -p "$SYSROOT"
  for f in .gpudeps/*.deb; do dpkg -x "$f" "$SYSROOT"; done
  LIBDIR="$SYSROOT/usr/lib/x86_64-linux-gnu"
  export PATH="$SYSROOT/usr/bin:$PATH"
  export LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export LIBRARY_PATH="$LIBDIR"
  export CPATH="$SYSROOT/usr/include"
fi

TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
# LibTorch 2.12 and later need C++20.
STD=$(python3 -c 'import torch; v=tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2]); print(20 if v >= (2, 12) else 17)')
TORCH_LIB=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

say "configure (C++$STD, LibTorch at $TORCH_PREFIX)"
BUILD=/tmp/adaptd-gpu-build
start=$(date +%s)
run cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DADAPTD_ENGINE_ONLY=ON \
  -DADAPTD_WERROR=OFF -DCMAKE_CXX_STANDARD="$STD" \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$SYSROOT/usr" >/dev/null
say "build"
run ninja -C "$BUILD" adaptd-bench | grep -Ev '^\[[0-9]+/[0-9]+\] (Building|Linking)' || true
BENCH="$BUILD/client/bench/adaptd-bench"
[[ -x "$BENCH" ]] || { say "build failed"; exit 1; }
say "built in $(( $(date +%s) - start )) s"
grep -q "ADAPTD_WITH_CUDA" "$BUILD/build.ninja" && say "device_scope.cc built with CUDA" \
  || say "WARNING: no CUDA targets in this LibTorch; the CPU branches were built"

# adapt-train on the GPU: its CUDA paths built against this LibTorch, and
# pretraining throughput (a failure here does not stop the engine checks).
pretrain_check() {
  say "adapt-train"
  ninja -C "$BUILD" adapt-train >/dev/null 2>>"$LOG" || { say "adapt-train did not build"; return; }
  [[ -f "$PRETRAIN_DATA" ]] || { say "no $PRETRAIN_DATA (run fetch)"; return; }
  local t="$BUILD/train/adapt-train" w=/tmp/adaptd-gpu-pretrain
  rm -rf "$w"
  run "$t" pretrain --data "$PRETRAIN_DATA" --work_dir "$w" --device cuda --max_steps 600 \
    --batch_size 64 --dropout 0 --lr 3e-3 --flip --eval_episodes 100 --threads "$(nproc)" \
    || { say "pretrain --device cuda failed"; return; }
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps({k: r[k] for k in
    ("arch", "input_shape", "batch_size", "steps_done", "images_per_second", "train_seconds")}))' \
    "$w/report.json" >"$OUT/pretrain.json"
}
pretrain_check

REPO=/tmp/adaptd-gpu-models
META="$META_LEARNER"
say "raw torch"
python3 bench/gpu_raw_torch.py --repository "$REPO" --meta_learner "$META" \
  >"$OUT/raw_torch.json" 2> >(tee -a "$LOG" >&2)

: >"$OUT/bench.jsonl"
bench() {
  local name=$1
  shift
  say "adaptd-bench $name: $*"
  if timeout 150 "$BENCH" --mode=inprocess --model_repository="$REPO" --device=cuda --json \
      --progress=false --warmup=3s --duration="$DURATION" "$@" >"$OUT/$name.json" \
      2> >(tee -a "$LOG" >&2); then
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r["name"]=sys.argv[2]; print(json.dumps(r))' \
      "$OUT/$name.json" "$name" >>"$OUT/bench.jsonl"
  else
    say "$name failed"
  fi
  rm -f "$OUT/$name.json"
}
PREDICT=(--scenario=predict --adapters=1000 --concurrency=256 --max_batch_size=64)
ADAPT=(--scenario=adapt --ways=5 --shots=5 --concurrency=1)
bench predict_fp32 "${PREDICT[@]}"
bench predict_bf16 "${PREDICT[@]}" --autocast=bf16
bench predict_unbatched "${PREDICT[@]}" --max_batch_size=1 --concurrency=1 --adapters=100
bench adapt_prototype_fp32 "${ADAPT[@]}" --method=prototype
if [[ -n "$META" ]]; then
  bench adapt_meta_fp32 "${ADAPT[@]}" --method=meta
  bench adapt_meta_bf16 "${ADAPT[@]}" --method=meta --autocast=bf16
fi
bench adapt_finetune_fp32 "${ADAPT[@]}" --method=finetune

python3 - "$OUT" <<'EOF' | tee "$OUT/summary.md"
import json, os, sys
out = sys.argv[1]
raw = json.load(open(os.path.join(out, "raw_torch.json")))
runs = {}
for line in open(os.path.join(out, "bench.jsonl")):
    r = json.loads(line)
    runs[r["name"]] = r
print(f"GPU: {raw.get('device')}, torch {raw.get('torch')}, predict batch {raw.get('batch')}\n")
print("| raw torch | predict images/s | adapt (prototype) p50 ms |")
print("|---|---|---|")
for k, v in raw.get("runs", {}).items():
    print(f"| {k} | {v['predict_images_per_s']:.0f} | {v['adapt_ms_p50']:.2f} |")
print("\n| adaptd engine, in process | throughput /s | p50 ms | p99 ms | errors |")
print("|---|---|---|---|---|")
for k, r in runs.items():
    lat = r["latency_ms"]
    print(f"| {k} | {r['throughput']:.0f} | {lat['p50']:.2f} | {lat['p99']:.2f} | {r['errors']} |")
best = {p: max((v["predict_images_per_s"] for k, v in raw.get("runs", {}).items() if k.endswith(p)), default=0)
        for p in ("fp32", "bf16")}
print()
for p in ("fp32", "bf16"):
    r = runs.get(f"predict_{p}")
    if r and best[p]:
        print(f"- Predict {p}: adaptd {r['throughput']:.0f}/s vs best raw torch {best[p]:.0f}/s "
              f"= {r['throughput'] / best[p]:.2f}x")
pre = os.path.join(out, "pretrain.json")
if os.path.exists(pre):
    p = json.load(open(pre))
    print(f"- adapt-train pretrain --device cuda, {p['arch']} {p['input_shape']}, batch {p['batch_size']}: "
          f"{p['images_per_second']:.0f} images/s over {p['steps_done']} steps")
if "predict_unbatched" in runs and "predict_fp32" in runs:
    print(f"- batching wins {runs['predict_fp32']['throughput'] / max(runs['predict_unbatched']['throughput'], 1e-9):.1f}x over one image at a time")
EOF
say "done"
