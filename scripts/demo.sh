#!/usr/bin/env bash
# make run's demo: start adaptd on the default model repository; for each of
# its image models (the grey glyph model and the RGB one), adapt to five
# Fashion-MNIST classes from five PNGs each (unseen in training), classify
# held-out images and print the accuracy; for its text model, the same with
# five sentences of each of five WordNet classes it never saw in training;
# then keep serving until Ctrl-C.
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
# Text: 5 sentences per class to adapt, 10 others to classify, from five
# meta-test classes of the text model's WordNet corpus (make models wrote it).
TEXT_SET=${TEXT_SET:-data/text/wordnet.tsv}
if [ -f "$TEXT_SET" ] && [ ! -f "$DEMO/text/query.tsv" ]; then
  "$TRAIN" text-examples --data "$TEXT_SET" --out "$DEMO/text" --per_class 5 --queries 10
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
# "name modality" lines.
BACKBONES=$($CTL backbones --json |
            python3 -c 'import json,sys
for b in json.load(sys.stdin)["backbones"]: print(b["name"], b.get("modality", "image"))')

# Every model: PROTOTYPE, then the model's default method (no method sent).
# The grey PNGs reach an RGB model as RGB: adaptd's preprocessing converts.
while read -r backbone modality; do
  support="$DEMO/support" query="$DEMO/query"
  what="5 Fashion-MNIST classes x 5 PNGs" held_out="20 held-out images per class"
  if [ "$modality" = text ]; then
    support="$DEMO/text/support.tsv" query="$DEMO/text/query.tsv"
    what="5 unseen WordNet classes x 5 sentences" held_out="10 held-out sentences per class"
    [ -f "$support" ] || { echo; echo "== $backbone: no $support (make models writes $TEXT_SET)"; continue; }
  fi
  for method in prototype "default method"; do
    flag=(--method "$method")
    [ "$method" = "default method" ] && flag=()
    echo
    echo "== $backbone, adapt ($method): $what ($support)"
    ID=$($CTL adapt --backbone "$backbone" "${flag[@]}" --id_only "$support")
    $CTL get --adapter "$ID"
    echo
    echo "== $backbone, predict ($method): $held_out ($query)"
    $CTL predict --adapter "$ID" "$query" | grep "^accuracy:"
  done
done <<< "$BACKBONES"

echo
echo "adaptd is serving on localhost:$PORT (metrics: http://localhost:$METRICS_PORT/metrics)."
echo "Press Ctrl-C to stop."
wait $ADAPTD
