#!/usr/bin/env bash
# make run's demo: start adaptd on the default model repository; for each of
# its models (the grey glyph model and the RGB one), adapt to five
# Fashion-MNIST classes from five PNGs each (unseen in training), classify
# held-out images and print the accuracy; then keep serving until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MODELS=${MODELS:-models}
PORT=${PORT:-50051}
METRICS_PORT=${METRICS_PORT:-9464}
DEMO=${DEMO:-demo}
TRAIN=$BUILD/train/adapt-train
CTL="$BUILD/client/adaptctl --target=localhost:$PORT"

# Support: 5 images per class; queries: 20 others per class.
if [ ! -d "$DEMO/query" ]; then
  "$TRAIN" fashion-mnist-png --out "$DEMO/support" --per_class 5
  "$TRAIN" fashion-mnist-png --out "$DEMO/query" --per_class 20 --offset 5
fi

"$BUILD/server/adaptd" --model_repository="$MODELS" --port="$PORT" --metrics_port="$METRICS_PORT" &
ADAPTD=$!
trap 'kill -TERM $ADAPTD 2>/dev/null; wait $ADAPTD 2>/dev/null' EXIT INT TERM

for _ in $(seq 1 100); do
  $CTL health >/dev/null 2>&1 && break
  kill -0 $ADAPTD 2>/dev/null || { echo "adaptd exited; see its log above" >&2; exit 1; }
  sleep 0.2
done
$CTL health

echo
echo "== backbones"
$CTL backbones
BACKBONES=$($CTL backbones --json |
            python3 -c 'import json,sys; print(" ".join(b["name"] for b in json.load(sys.stdin)["backbones"]))')

# Every model: PROTOTYPE, then the model's default method (no method sent).
# The grey PNGs reach an RGB model as RGB: adaptd's preprocessing converts.
for backbone in $BACKBONES; do
  for method in prototype "default method"; do
    flag=(--method "$method")
    [ "$method" = "default method" ] && flag=()
    echo
    echo "== $backbone, adapt ($method): 5 Fashion-MNIST classes x 5 PNGs ($DEMO/support)"
    ID=$($CTL adapt --backbone "$backbone" "${flag[@]}" --json "$DEMO/support" |
         python3 -c 'import json,sys; print(json.load(sys.stdin)["adapter"]["adapterId"])')
    $CTL get --adapter "$ID"
    echo
    echo "== $backbone, predict ($method): 20 held-out images per class ($DEMO/query)"
    $CTL predict --adapter "$ID" "$DEMO/query" | tail -n 1
  done
done

echo
echo "adaptd is serving on localhost:$PORT (metrics: http://localhost:$METRICS_PORT/metrics)."
echo "Press Ctrl-C to stop."
wait $ADAPTD
