// Supervised pretraining of a native backbone on the meta-train classes,
// with a cosine-style classifier: the engine's head (kHeadScale times a
// linear layer over L2-normalised features), so the features suit the
// prototype heads adaptd adapts. Also the few-shot PROTOTYPE evaluation
// that runs exactly the engine code adaptd serves with.
//
// No LibTorch in this header. Not thread-safe: one run at a time per process
// (LibTorch's thread settings and seed are global).
#ifndef ADAPTD_TRAIN_PRETRAIN_H_
#define ADAPTD_TRAIN_PRETRAIN_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "train/dataset.h"

namespace adaptd::train {

// Text sets: the native text encoder ("text-transformer") and the tokenizer
// that feeds it, the same as the exported model serves with.
struct TextEncoderOptions {
  // Required for text sets: a WordPiece vocab.txt, or a SentencePiece .model
  // (told by the ".model" extension). `export` copies it into the model.
  std::string tokenizer;
  bool lower_case = true;  // WordPiece: lower-case and strip accents (uncased).
  int dim = 128;           // Model width and feature size; a multiple of heads.
  int layers = 2;
  int heads = 4;
  int mlp_dim = 0;         // 0: 4 * dim.
  // Tokens per text, the special tokens included; longer texts are cut as
  // adaptd cuts them. Also model.pbtxt's text.max_seq_length.
  int max_len = 64;
  // The transformer encodes the first `positions` tokens, the lexical and
  // semantic branches read all max_len; 0: max_len.
  int positions = 0;
  std::string pooling = "mean";  // "mean" or "cls".
  double dropout = 0.1;  // Inside the encoder (attention, residual branches).
  // The lexical branch (text_nets.h): buckets of the hashed idf-weighted bag
  // of tokens, idf fitted on the training texts; 0: none. The classifier
  // trains the transformer alone; the branch joins the features adaptd
  // serves, with lexical_weight its share of the cosine.
  int lexical_dim = 0;
  double lexical_weight = 0.5;
  // The semantic branch (text_nets.h): width of its token vectors, computed
  // before training (token_vectors.h) from the lines of `corpus` (a
  // dictionary's definitions, `data dictionary`) and the training texts;
  // 0: none. Its share of the cosine is semantic_weight.
  int semantic_dim = 0;
  double semantic_weight = 0.5;
  // With both branches, > 0: each text's semantic share shrinks when its
  // token vectors disagree (text_nets.h); served only, training ignores it.
  double semantic_agreement = 0;
  std::string corpus;
};

struct PretrainOptions {
  // A native image architecture: "conv4" or "resnet12". Text sets always
  // train a "text-transformer" shaped by `text`.
  std::string arch = "conv4";
  TextEncoderOptions text;
  // The experiment plan's defaults.
  int epochs = 50;
  int batch_size = 64;
  double lr = 1e-3;
  double weight_decay = 1e-4;  // L2, through Adam's weight decay.
  double dropout = 0.5;        // On the features, before the classifier.
  // "constant" (the rate `lr` throughout) or "cosine" (decaying to 0 at the
  // end of the last epoch); either after a linear warmup over the first
  // warmup_steps steps (0: none). Transformers train better with both.
  std::string lr_schedule = "constant";
  int warmup_steps = 0;
  // Images only. Augmentation: each image is shifted by up to this many
  // pixels and, with `flip`, mirrored left to right half of the time
  // (pictures, not glyphs).
  int max_shift = 2;
  bool flip = false;
  // RGB images turn grey with this probability, so that features do not
  // hinge on colour alone.
  double grey = 0;
  uint64_t seed = 1;
  // LibTorch intra-op threads; 0 for one per core.
  int threads = 0;
  // Where the model, its optimiser and the batches live: "cpu", "cuda" or
  // "cuda:N" (ParseTrainDevice). Checkpoints resume on either device, and
  // backbone.pt is saved from the CPU.
  std::string device = "cpu";
  // Required. Holds checkpoint.pt (written every epoch and every
  // checkpoint_seconds), backbone.pt (the final weights, what `export`
  // reads) and report.json.
  std::string work_dir;
  // Continue from work_dir/checkpoint.pt; it must be from the same data
  // (classes, images and their shape, or texts), architecture and seed.
  // SIGINT or SIGTERM during a run saves a checkpoint after the current step
  // and ends it with CANCELLED.
  bool resume = false;
  double checkpoint_seconds = 120;
  // Stop after this many steps in all (0: run every epoch). For tests and
  // tight budgets; the checkpoint keeps the position.
  int64_t max_steps = 0;
  // Meta-val PROTOTYPE evaluation at the end: episodes per setting (0 skips).
  int eval_episodes = 600;
  // Progress lines on stderr.
  bool progress = true;
  // Called on the training thread after every step with the steps done so
  // far; may be empty.
  std::function<void(int64_t)> on_step;
};

// Accuracy over few-shot episodes, with the 95% confidence interval of the
// mean (1.96 standard errors).
struct FewShotResult {
  int ways = 0;
  int shots = 0;
  int episodes = 0;
  int queries = 0;  // Per class and episode.
  double accuracy = 0;
  double ci95 = 0;
};

// The result of `accuracies`, one per episode: their mean and the 95% CI of
// the mean (1.96 standard errors).
FewShotResult SummarizeEpisodes(int ways, int shots, int queries,
                                const std::vector<double>& accuracies);

struct PretrainReport {
  int epochs_done = 0;          // Completed epochs, resumed ones included.
  int64_t steps_done = 0;       // Steps, resumed ones included.
  std::vector<double> epoch_loss;      // Mean training loss per epoch, all epochs.
  std::vector<double> epoch_accuracy;  // Mean training accuracy per epoch.
  std::vector<float> step_loss;        // This run's steps only.
  double train_seconds = 0;            // This run.
  double images_per_second = 0;        // This run's training throughput (texts/s for text).
  // Process CPU time of this run's training, all threads: unlike wall time
  // it hardly depends on what else the machine is running.
  double train_cpu_seconds = 0;
  std::vector<FewShotResult> val;      // 5-way 1-shot and 5-shot, if evaluated.
  std::string weights_path;            // work_dir/backbone.pt
};

// Trains on `train` (every class a label; images or texts) and evaluates on
// `val` (may be empty to skip). Texts are tokenized once, up front.
// INVALID_ARGUMENT for bad options or data, FAILED_PRECONDITION for a CUDA device this LibTorch cannot use (before
// any work); errors from LibTorch come back as INTERNAL.
absl::StatusOr<PretrainReport> Pretrain(const Dataset& train, const Dataset& val,
                                        const PretrainOptions& options);

struct ProtoEvalOptions {
  // (ways, shots) settings.
  std::vector<std::pair<int, int>> settings = {{5, 1}, {5, 5}};
  int episodes = 600;
  // Queries per class; fewer when the smallest class cannot spare them.
  int queries = 15;
  uint64_t seed = 1;
  int threads = 0;  // LibTorch intra-op threads; 0 for one per core.
  // Where the backbone runs and the heads adapt: "cpu", "cuda" or "cuda:N".
  std::string device = "cpu";
};

// Loads a model folder as adaptd does (Backbone::Load, on options.device),
// preprocesses the images as adaptd does for UINT8 tensors (or tokenizes the
// texts as it does), and scores PROTOTYPE adaptation (AdaptHead) on episodes
// drawn from `data`.
absl::StatusOr<std::vector<FewShotResult>> EvaluatePrototype(const std::string& model_dir,
                                                             const Dataset& data,
                                                             const ProtoEvalOptions& options);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_PRETRAIN_H_
