#!/usr/bin/env bash
# make models: the default model repository, built by the project's own
# pipeline from Debian-packaged data only. Three models:
#
# $MODELS/glyphs-conv4 (1x28x28 grey): glyphs rendered from the installed
#   fonts, clip-art exemplar classes from openclipart-png split by category
#   -> Conv4 pretraining on the glyphs' meta-train scripts -> FINETUNE's
#   learning rate tuned on meta-val -> meta-training of the meta-learner on
#   tasks from both glyphs and clip art -> export, with the meta-learner only
#   if it beats PROTOTYPE and FINETUNE-5 on meta-val.
# $MODELS/pictures-conv4 (3x32x32 RGB, RGB=0 leaves it out): colour
#   exemplar classes from openclipart-png, the icon themes and the colour emoji
#   font -> Conv4 pretraining on their meta-train splits -> FINETUNE's
#   learning rate tuned on the clip-art meta-val categories -> export. No
#   meta-learner: PROTOTYPE and FINETUNE serve it.
# $MODELS/wordnet-text (text, TEXT=0 leaves it out): classes of WordNet's
#   noun hierarchy and dict-gcide's definitions -> SentencePiece vocabulary
#   -> native transformer encoder with lexical and dictionary-vector branches,
#   pretrained on the meta-train classes -> FINETUNE's rate tuned -> export.
#
# Every stage caches or checkpoints under $DATA and resumes after an
# interrupt. The defaults take about 11 and 16 minutes from nothing on 2
# cores (docs/training.md); raise them for better models (PRETRAIN_STEPS,
# META_STEPS, RGB_STEPS, ...).
# Fashion-MNIST is never used here.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MODELS=${MODELS:-models}
DATA=${DATA:-data}
NAME=${NAME:-glyphs-conv4}
THREADS=${THREADS:-0}
PRETRAIN_STEPS=${PRETRAIN_STEPS:-8000}
# No dropout: within this short budget it pretrains better on meta-val
# (96.7% vs 94.6% 5-way 1-shot, adapt-train pretrain on 843 steps); the
# plan's 0.5 is for its full 50 epochs.
DROPOUT=${DROPOUT:-0}
# lr 3e-3 also did better on meta-val in a short budget (96.9% vs 94.6%).
PRETRAIN_LR=${PRETRAIN_LR:-3e-3}
# OpenMP threads that spin while waiting starve each other when anything
# else runs on the machine; passive waiting measured 611 vs 73-190 images/s.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
META_STEPS=${META_STEPS:-300}
META_BATCH=${META_BATCH:-8}
META_LR=${META_LR:-1e-3}
CLIPART_ROOT=${CLIPART_ROOT:-/usr/share/openclipart/png}
T="$BUILD/train/adapt-train"

mkdir -p "$DATA" "$MODELS"
stage() { echo; echo "== make models: $* ($(date +%H:%M:%S))"; }
# True, and says so, when model $1 is built (FORCE=1 rebuilds it).
ready() {
  if [ -f "$MODELS/$1/model.pbtxt" ] && [ -z "${FORCE:-}" ]; then
    echo "make models: $MODELS/$1 is ready (FORCE=1 rebuilds it)"
    return 0
  fi
  return 1
}

# export's --default_method and --default_reason from choose-default's
# output ($1), one argument each.
default_flags() {
  printf -- '--default_method=%s\n' "$(awk '/^default:/ {print $2}' "$1")"
  printf -- '--default_reason=%s\n' "$(sed -n 's/^reason: //p' "$1")"
}

# The last stage of a model without a meta-learner: model $1, pretrained in
# $2/pretrain, FINETUNE at rate $3; choose-default on meta-val of data set $4
# picks the default method; then $MODELS/$1 is replaced in one move.
ship() {
  local name=$1 d=$2 lr=$3 val=$4
  "$T" export --weights "$d/pretrain/backbone.pt" --finetune_lr "$lr" \
    --out "$d/stage/$name-tuned" --name "$name"
  "$T" choose-default --model "$d/stage/$name-tuned" --data "$val" \
    --val_episodes 200 | tee "$d/choose-default.md"
  local defaults
  mapfile -t defaults < <(default_flags "$d/choose-default.md")
  rm -rf "$MODELS/$name.tmp"
  "$T" export --weights "$d/pretrain/backbone.pt" --finetune_lr "$lr" \
    --out "$MODELS/$name.tmp" --name "$name" "${defaults[@]}"
  rm -rf "$MODELS/$name"
  mv "$MODELS/$name.tmp" "$MODELS/$name"
  echo "make models: $MODELS/$name is ready"
}

glyph_model() {
  stage "1/5 data sets: glyphs (and clip art)"
  "$T" data glyphs --out "$DATA/glyphs.bin" --threads "$THREADS"

  # Clip art is a second domain for meta-training, split by category
  # (animals/birds, food/fruit, ...): a glyph-trained backbone's features are
  # poor on it, as on any unseen domain. Its meta-train categories give
  # exemplar tasks (data/clipart.bin: tell drawings apart) and category tasks
  # (data/clipart.bin:groups: tell kinds of thing apart, one drawing per
  # image); its meta-val categories join the glyphs' meta-val in choosing
  # FINETUNE's rate and the meta-learner kept, a cross-domain check that never
  # touches Fashion-MNIST.
  # See docs/training.md. CLIPART=0 leaves clip art out (no openclipart-png
  # needed). CLIPART_PRETRAIN=1 also adds the exemplars to pretraining:
  # measured, that made transfer worse.
  PRETRAIN_EXTRA=()
  VAL_EXTRA=()
  META_EXTRA=()
  if [ "${CLIPART:-1}" = 1 ]; then
    "$T" data clipart --root "$CLIPART_ROOT" --out "$DATA/clipart.bin" --threads "$THREADS"
    VAL_EXTRA=(--val_data "$DATA/clipart.bin:groups")
    META_EXTRA=(--extra_data "$DATA/clipart.bin,$DATA/clipart.bin:groups")
    if [ "${CLIPART_PRETRAIN:-0}" = 1 ]; then PRETRAIN_EXTRA=(--extra_data "$DATA/clipart.bin"); fi
  fi

  stage "2/5 pretrain Conv4 ($PRETRAIN_STEPS steps of 64)"
  "$T" pretrain --data "$DATA/glyphs.bin" "${PRETRAIN_EXTRA[@]}" --work_dir "$DATA/pretrain-conv4" \
    --max_steps "$PRETRAIN_STEPS" --dropout "$DROPOUT" --lr "$PRETRAIN_LR" --eval_episodes 200 --threads "$THREADS" --resume
  "$T" export --weights "$DATA/pretrain-conv4/backbone.pt" --out "$DATA/stage/$NAME" --name "$NAME"

  stage "3/5 tune FINETUNE's learning rate on meta-val"
  "$T" tune-finetune --model "$DATA/stage/$NAME" --data "$DATA/glyphs.bin" "${VAL_EXTRA[@]}" --val_episodes 100 \
    | tee "$DATA/tune-finetune.md"
  LR=$(awk '/^best:/ {print $2}' "$DATA/tune-finetune.md")

  stage "4/5 meta-train the meta-learner ($META_STEPS steps x $META_BATCH tasks, starts as PROTOTYPE)"
  "$T" metatrain --model "$DATA/stage/$NAME" --data "$DATA/glyphs.bin" "${META_EXTRA[@]}" "${VAL_EXTRA[@]}" \
    --meta_work_dir "$DATA/metatrain" --meta_steps "$META_STEPS" --meta_batch "$META_BATCH" \
    --meta_lr "$META_LR" --val_every 50 --val_episodes 200 \
    --threads "$THREADS" --resume

  # The meta-learner ships only if it beats PROTOTYPE and FINETUNE-5 on
  # meta-val by more than the paired 95% CI (adapt-train choose-default).
  stage "5/5 choose the default method on meta-val, export $MODELS/$NAME"
  "$T" export --weights "$DATA/pretrain-conv4/backbone.pt" --meta_learner "$DATA/metatrain/meta_learner.pt" \
    --finetune_lr "$LR" --out "$DATA/stage/$NAME-meta" --name "$NAME"
  "$T" choose-default --model "$DATA/stage/$NAME-meta" --data "$DATA/glyphs.bin" "${VAL_EXTRA[@]}" \
    --val_episodes 200 | tee "$DATA/choose-default.md"
  local meta=()
  if grep -qx 'meta_learner: keep' "$DATA/choose-default.md"; then
    meta=(--meta_learner "$DATA/metatrain/meta_learner.pt")
  fi
  local defaults
  mapfile -t defaults < <(default_flags "$DATA/choose-default.md")
  rm -rf "$MODELS/$NAME.tmp"
  "$T" export --weights "$DATA/pretrain-conv4/backbone.pt" "${meta[@]}" \
    --finetune_lr "$LR" --out "$MODELS/$NAME.tmp" --name "$NAME" "${defaults[@]}"
  rm -rf "$MODELS/$NAME"
  mv "$MODELS/$NAME.tmp" "$MODELS/$NAME"
  echo "make models: $MODELS/$NAME is ready"
}

# The RGB model: colour exemplar classes at 32x32 (CIFAR-FS's size: at
# 84x84, Conv4 trains 8x slower on 2 cores; docs/training.md).
RGB_NAME=${RGB_NAME:-pictures-conv4}
RGB_SIZE=${RGB_SIZE:-32}
RGB_STEPS=${RGB_STEPS:-8000}
ICON_ROOTS=${ICON_ROOTS:-/usr/share/icons/oxygen/base/48x48,/usr/share/icons/Tango/32x32,/usr/share/icons/Adwaita/48x48}
rgb_model() {
  local shape=(--size "$RGB_SIZE" --channels 3) d="$DATA/rgb"
  mkdir -p "$d"
  stage "1/4 $RGB_NAME: colour clip art, icons and emoji at ${RGB_SIZE}x${RGB_SIZE}"
  "$T" data clipart --root "$CLIPART_ROOT" "${shape[@]}" --out "$d/clipart.bin" --threads "$THREADS"
  "$T" data clipart --root "$ICON_ROOTS" --category_depth 1 "${shape[@]}" --out "$d/icons.bin" \
    --threads "$THREADS"
  "$T" data emoji "${shape[@]}" --out "$d/emoji.bin" --threads "$THREADS"

  # Exemplar classes (tell pictures apart), the meta-train splits of all
  # three: better on meta-val than pretraining on the categories
  # (docs/experiments/rgb-pretraining-labels.md).
  stage "2/4 $RGB_NAME: pretrain Conv4 ($RGB_STEPS steps of 64)"
  "$T" pretrain --data "$d/clipart.bin" --extra_data "$d/emoji.bin,$d/icons.bin" \
    --work_dir "$d/pretrain" --max_steps "$RGB_STEPS" --dropout 0 --lr "$PRETRAIN_LR" --flip \
    --eval_episodes 200 --threads "$THREADS" --resume
  "$T" export --weights "$d/pretrain/backbone.pt" --out "$d/stage/$RGB_NAME" --name "$RGB_NAME"

  stage "3/4 $RGB_NAME: tune FINETUNE's learning rate on meta-val"
  "$T" tune-finetune --model "$d/stage/$RGB_NAME" --data "$d/clipart.bin:groups" \
    --val_episodes 100 | tee "$d/tune-finetune.md"
  local lr
  lr=$(awk '/^best:/ {print $2}' "$d/tune-finetune.md")

  stage "4/4 choose the default method on meta-val, export $MODELS/$RGB_NAME"
  ship "$RGB_NAME" "$d" "$lr" "$d/clipart.bin:groups"
}

# The text model: classes of WordNet's noun hierarchy (subtrees; their
# definitions and example sentences as texts), split by lexicographer file so
# that meta-test topics are never seen in training, and a dictionary's
# definitions (dict-gcide, WordNet's own paragraphs left out) as unlabelled
# text -> a SentencePiece vocabulary on both -> the native transformer
# encoder with a lexical and a semantic branch (token vectors from the
# dictionary), pretrained on the meta-train classes and coarser classes of
# the same topics -> FINETUNE's rate tuned on meta-val -> export, with the
# default method chosen on meta-val. TEXT=0 leaves it out.
TEXT_NAME=${TEXT_NAME:-wordnet-text}
TEXT_EPOCHS=${TEXT_EPOCHS:-6}
# The encoder's features: 25% an IDF-weighted bag of its tokens (hashed to
# 8192 buckets, IDF from the meta-train texts), 65% the IDF-weighted sum of
# the tokens' dictionary vectors and 10% the transformer's. Chosen on
# meta-val 5-way 5-shot: 94.7% against 84.1% without the semantic branch
# (docs/training.md). A text whose token vectors disagree gives part of its
# semantic share to the bag (--semantic_agreement, chosen on meta-val), and
# the bags read 128 tokens while the transformer encodes the first 32
# (docs/experiments/text-cross-domain.md).
TEXT_PRETRAIN=(${TEXT_PRETRAIN:---batch_size 64 --dim 128 --layers 1 --heads 4 --max_len 128 --positions 32 --lr 1e-3 --warmup_steps 200 --lr_schedule cosine --dropout 0.1 --lexical_dim 8192 --lexical_weight 0.25 --semantic_dim 256 --semantic_weight 0.65 --semantic_agreement 0.6})
text_model() {
  local d="$DATA/text"
  mkdir -p "$d"
  stage "1/4 $TEXT_NAME: the WordNet corpus, the dictionary and their SentencePiece vocabulary"
  "$T" data wordnet --out "$d/wordnet.tsv"
  "$T" data dictionary --out "$d/gcide.txt"
  # Coarser classes (subtrees of 41-200 synsets) of the same meta-train
  # lexicographer files, as extra pretraining labels
  # (docs/experiments/text-label-levels.md).
  "$T" data wordnet --min_synsets 41 --max_synsets 200 --levels_of "$d/wordnet.tsv" \
    --out "$d/wordnet-levels.tsv"
  # One thread: SentencePiece's result depends on the thread count.
  "$T" vocab --data "$d/wordnet.tsv" --corpus "$d/gcide.txt" --vocab_size 32000 \
    --normalization nmt_nfkc_cf --threads 1 --out "$d/wordnet-spm"

  stage "2/4 $TEXT_NAME: pretrain the text encoder ($TEXT_EPOCHS epochs)"
  "$T" pretrain --data "$d/wordnet.tsv" --extra_data "$d/wordnet-levels.tsv" \
    --tokenizer "$d/wordnet-spm.model" --corpus "$d/gcide.txt" --work_dir "$d/pretrain" \
    --epochs "$TEXT_EPOCHS" "${TEXT_PRETRAIN[@]}" --eval_episodes 200 --threads "$THREADS" --resume
  "$T" export --weights "$d/pretrain/backbone.pt" --out "$d/stage/$TEXT_NAME" --name "$TEXT_NAME"

  stage "3/4 $TEXT_NAME: tune FINETUNE's learning rate on meta-val"
  "$T" tune-finetune --model "$d/stage/$TEXT_NAME" --data "$d/wordnet.tsv" --val_episodes 100 \
    | tee "$d/tune-finetune.md"
  local lr
  lr=$(awk '/^best:/ {print $2}' "$d/tune-finetune.md")

  stage "4/4 $TEXT_NAME: choose the default method on meta-val, export $MODELS/$TEXT_NAME"
  ship "$TEXT_NAME" "$d" "$lr" "$d/wordnet.tsv"
}

ready "$NAME" || glyph_model
if [ "${RGB:-1}" = 1 ]; then ready "$RGB_NAME" || rgb_model; fi
if [ "${TEXT:-1}" = 1 ]; then ready "$TEXT_NAME" || text_model; fi
