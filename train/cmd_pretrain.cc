// adapt-train pretrain: supervised pretraining of a native backbone, an
// image network or the text encoder.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "server/common/status_macros.h"
#include "train/cmd_util.h"
#include "train/command.h"
#include "train/dataset.h"
#include "train/flags.h"
#include "train/pretrain.h"
#include "train/splits.h"

ABSL_FLAG(int, epochs, 50, "Training epochs over the meta-train classes.");
ABSL_FLAG(int, batch_size, 64, "Images per step.");
ABSL_FLAG(double, lr, 1e-3, "Adam learning rate.");
ABSL_FLAG(double, weight_decay, 1e-4, "L2 penalty (Adam weight decay).");
ABSL_FLAG(double, dropout, 0.5, "Dropout on the features, before the classifier.");
ABSL_FLAG(int, max_shift, 2, "Augmentation: random shifts of up to this many pixels.");
ABSL_FLAG(double, grey, 0, "Augmentation: the share of RGB images turned grey.");
ABSL_FLAG(bool, flip, false, "Augmentation: mirror half the images left to right (pictures, not glyphs).");
ABSL_FLAG(std::string, work_dir, "data/pretrain-conv4", "Checkpoints, the final backbone.pt and report.json go here.");
ABSL_FLAG(int64_t, max_steps, 0, "Stop after this many steps in all; 0 to run every epoch.");
ABSL_FLAG(int, eval_episodes, 600, "Few-shot episodes per setting for the PROTOTYPE evaluation; 0 skips it.");
ABSL_FLAG(std::string, lr_schedule, "constant",
          "constant, or cosine: decay to 0 by the last step (after any warmup).");
ABSL_FLAG(int, warmup_steps, 0, "Steps of linear learning-rate warmup; 0 for none.");
// Text models: the tokenizer and the native encoder's shape (import reads some too).
ABSL_FLAG(int, dim, 128, "Text: the encoder's width and feature size; a multiple of --heads.");
ABSL_FLAG(int, layers, 2, "Text: encoder layers.");
ABSL_FLAG(int, heads, 4, "Text: attention heads per layer.");
ABSL_FLAG(int, mlp_dim, 0, "Text: the MLP's hidden width; 0 for 4 x --dim.");
ABSL_FLAG(double, text_dropout, 0.1,
          "Text: dropout inside the encoder (attention, residuals).");
ABSL_FLAG(int, lexical_dim, 0,
          "Text: buckets of the encoder's lexical branch, a hashed bag of tokens weighted by "
          "their idf on the training texts, joined to the served features; 0 for none.");
ABSL_FLAG(double, lexical_weight, 0.5,
          "Text: the lexical branch's share, in [0,1], of the cosine between two texts.");
ABSL_FLAG(int, semantic_dim, 0,
          "Text: width of the encoder's semantic branch, fixed token vectors from --corpus "
          "(PPMI + SVD) summed with idf weights, joined to the served features; 0 for none.");
ABSL_FLAG(double, semantic_weight, 0.5,
          "Text: the semantic branch's share of the cosine; with --lexical_weight at most 1.");
ABSL_FLAG(double, semantic_agreement, 0,
          "Text, with both branches: > 0 makes each text's semantic share --semantic_weight x "
          "min(1, a / this), a in [0,1] the length of the idf-weighted mean of its token "
          "vectors; the lexical branch takes what the semantic one gives up. 0: fixed shares.");
ABSL_FLAG(int, positions, 0,
          "Text: the transformer encodes each text's first N tokens, the lexical and semantic "
          "branches all --max_len of them; 0 for all.");

namespace adaptd::train {
namespace {

TextEncoderOptions TextEncoderFlags() {
  TextEncoderOptions t;
  t.tokenizer = absl::GetFlag(FLAGS_tokenizer);
  t.lower_case = absl::GetFlag(FLAGS_lower_case);
  t.dim = absl::GetFlag(FLAGS_dim);
  t.layers = absl::GetFlag(FLAGS_layers);
  t.heads = absl::GetFlag(FLAGS_heads);
  t.mlp_dim = absl::GetFlag(FLAGS_mlp_dim);
  t.max_len = absl::GetFlag(FLAGS_max_len);
  t.positions = absl::GetFlag(FLAGS_positions);
  t.pooling = absl::GetFlag(FLAGS_pooling);
  t.dropout = absl::GetFlag(FLAGS_text_dropout);
  t.lexical_dim = absl::GetFlag(FLAGS_lexical_dim);
  t.lexical_weight = absl::GetFlag(FLAGS_lexical_weight);
  t.semantic_dim = absl::GetFlag(FLAGS_semantic_dim);
  t.semantic_weight = absl::GetFlag(FLAGS_semantic_weight);
  t.semantic_agreement = absl::GetFlag(FLAGS_semantic_agreement);
  t.corpus = absl::GetFlag(FLAGS_corpus);
  return t;
}

absl::Status RunPretrain(const std::vector<std::string>&) {
  ASSIGN_OR_RETURN(const std::string device, DeviceFlag());
  ASSIGN_OR_RETURN(auto splits, TrainAndVal());
  Dataset& train = splits.first;
  const Dataset& val = splits.second;
  // Broader pretraining data: the extra classes join one classifier;
  // meta-val stays --data's alone.
  ASSIGN_OR_RETURN(std::vector<Dataset> extra, ExtraTrainSets("pretrain"));
  for (Dataset& more : extra) RETURN_IF_ERROR(AppendDataset(std::move(more), &train));
  PretrainOptions o;
  o.arch = absl::GetFlag(FLAGS_arch);
  o.text = TextEncoderFlags();
  o.lr_schedule = absl::GetFlag(FLAGS_lr_schedule);
  o.warmup_steps = absl::GetFlag(FLAGS_warmup_steps);
  o.epochs = absl::GetFlag(FLAGS_epochs);
  o.batch_size = absl::GetFlag(FLAGS_batch_size);
  o.lr = absl::GetFlag(FLAGS_lr);
  o.weight_decay = absl::GetFlag(FLAGS_weight_decay);
  o.dropout = absl::GetFlag(FLAGS_dropout);
  o.max_shift = absl::GetFlag(FLAGS_max_shift);
  o.flip = absl::GetFlag(FLAGS_flip);
  o.grey = absl::GetFlag(FLAGS_grey);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.threads = absl::GetFlag(FLAGS_threads);
  o.device = device;
  o.work_dir = absl::GetFlag(FLAGS_work_dir);
  o.resume = absl::GetFlag(FLAGS_resume);
  o.max_steps = absl::GetFlag(FLAGS_max_steps);
  o.checkpoint_seconds = absl::GetFlag(FLAGS_checkpoint_seconds);
  o.eval_episodes = absl::GetFlag(FLAGS_eval_episodes);
  ASSIGN_OR_RETURN(PretrainReport report, Pretrain(train, val, o));
  std::printf("pretrained %s: %d epochs, %lld steps, final loss %.4f accuracy %.4f; "
              "%.0f %s/s, %.0fs wall, %.0fs CPU; weights in %s\n",
              train.modality == Modality::kText ? "text-transformer" : o.arch.c_str(), report.epochs_done, static_cast<long long>(report.steps_done),
              report.epoch_loss.empty() ? 0.0 : report.epoch_loss.back(),
              report.epoch_accuracy.empty() ? 0.0 : report.epoch_accuracy.back(),
              report.images_per_second, train.modality == Modality::kText ? "texts" : "images",
              report.train_seconds, report.train_cpu_seconds,
              report.weights_path.c_str());
  for (const auto& r : report.val) {
    std::printf("meta-val PROTOTYPE %d-way %d-shot: %.2f%% +- %.2f%% (%d episodes)\n", r.ways,
                r.shots, 100 * r.accuracy, 100 * r.ci95, r.episodes);
  }
  return absl::OkStatus();
}

}  // namespace

Command PretrainCommand() {
  return {"pretrain",
          "[--data data/glyphs.bin | --data data/wordnet.tsv --tokenizer FILE] [--work_dir DIR]",
          "Supervised pretraining of a native backbone on the meta-train classes.",
          "A cosine-style classifier: the engine's head (scale 10) over L2-normalised features,\n"
          "with dropout before it and random shifts (and --flip, --grey) as augmentation. Adam with L2.\n"
          "Any image shape: the backbone takes the --data cache's (3x32x32 RGB from\n"
          "`data clipart --size 32 --channels 3`), and export reads it from report.json. Prints\n"
          "progress with an ETA, checkpoints every epoch (and every --checkpoint_seconds)\n"
          "and continues after an interrupt with --resume. Ends with meta-val 5-way 1-shot\n"
          "and 5-shot PROTOTYPE accuracy, computed by the engine code adaptd runs.\n"
          "On a machine that is running anything else, set OMP_WAIT_POLICY=PASSIVE or use\n"
          "--threads 1: spinning OpenMP threads made 2-thread training 9x slower on 2 busy cores.\n"
          "\n"
          "Text: --data a .tsv of label<TAB>text (`data wordnet`) or a folder of <label>/*.txt,\n"
          "split by group as text-baseline splits it. Every text is tokenized once by --tokenizer\n"
          "(a WordPiece vocab.txt or a SentencePiece .model) and cut to --max_len tokens, as adaptd\n"
          "does, and trains the native text encoder (format text-transformer: --dim, --layers,\n"
          "--heads, --mlp_dim, pre-LayerNorm self-attention, --pooling) with the same classifier;\n"
          "the augmentation flags do not apply. Transformers want --warmup_steps (e.g. 200) and\n"
          "--lr_schedule cosine. Export reads the encoder's shape from report.json.\n"
          "--lexical_dim adds a hashed idf-weighted bag of tokens to the served features, and\n"
          "--semantic_dim token vectors computed from --corpus (unlabelled lines, e.g. `data\n"
          "dictionary`'s definitions) before training; the classifier trains the transformer.\n"
          "The branches are bags of tokens: with --positions below --max_len they read whole\n"
          "texts while the transformer encodes the first --positions tokens.",
          {"data", "extra_data", "arch", "tokenizer", "lower_case", "dim", "layers", "heads",
           "mlp_dim", "max_len", "positions", "pooling", "text_dropout", "lexical_dim",
           "lexical_weight", "semantic_dim", "semantic_weight", "semantic_agreement", "corpus",
           "epochs", "batch_size", "lr",
           "lr_schedule", "warmup_steps", "weight_decay", "dropout", "max_shift", "flip", "grey",
           "seed", "threads", "device", "work_dir", "resume", "max_steps", "checkpoint_seconds",
           "eval_episodes"},
          RunPretrain};
}

}  // namespace adaptd::train
