// Episodic meta-training of the meta-learner (the head generator of
// engine::MetaLearner) on a frozen backbone: the backbone's features of every
// data set are computed once; each meta step draws a batch of tasks of
// varied ways and shots from the training sets in turn, generates each
// task's head with the meta-learner through engine::AdaptHead (the code
// adaptd runs), refines it, scores it on the task's queries, and updates the
// meta-learner by the mean query loss (through the refinement steps' own
// gradients unless first order).
//
// No LibTorch in this header. Not thread-safe: one run per process.
#ifndef ADAPTD_TRAIN_METATRAIN_H_
#define ADAPTD_TRAIN_METATRAIN_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "train/dataset.h"

namespace adaptd::train {

struct MetaTrainOptions {
  // A model folder (from `export`) whose backbone is frozen. Required.
  std::string model_dir;
  // Holds checkpoint.pt, meta_learner.pt (the result) and report.json.
  // Required.
  std::string work_dir;
  // The experiment plan's defaults.
  int steps = 10000;
  int meta_batch = 32;
  double meta_lr = 1e-4;
  // The meta-learner's sizes (engine::MetaLearnerOptions; its feature width
  // is the backbone's).
  int hidden = 128;
  int rank = 32;
  int refine_steps = 2;
  // Task settings drawn uniformly for each training task: ways and shots
  // vary, as they do in requests.
  std::vector<std::pair<int, int>> settings = {{5, 1}, {5, 2}, {5, 5}, {10, 1},
                                               {10, 3}, {20, 1}, {20, 5}};
  int queries = 15;
  // Take the refinement steps' gradients as constants (no create_graph).
  bool first_order = false;
  uint64_t seed = 1;
  int threads = 0;  // LibTorch intra-op threads; 0 for one per core.
  // Where the backbone, the features, the tasks and the meta-learner and its
  // optimiser live: "cpu", "cuda" or "cuda:N" (ParseTrainDevice).
  // Checkpoints resume on either device; meta_learner.pt is saved from the
  // CPU.
  std::string device = "cpu";
  // Continue from work_dir's checkpoint if it is from the same run (the same
  // data and options; `steps` may differ); otherwise start over.
  bool resume = false;
  double checkpoint_seconds = 60;
  // Meta-val: every this many steps, episodes per check and setting (0
  // disables). A check scores 5-way 1-shot and 5-shot tasks of each val set.
  int val_every = 500;
  int val_episodes = 200;
  bool progress = true;
};

struct MetaTrainReport {
  int64_t steps_done = 0;
  double train_seconds = 0;
  std::vector<float> step_loss;  // Mean query loss after adaptation, per step.
  // (step, meta-val accuracy: the mean over val sets and their 5-way 1-shot
  // and 5-shot tasks) at each check; the saved meta-learner is the best of
  // them, the untrained one (which is PROTOTYPE) included, or the last
  // without checks.
  std::vector<std::pair<int64_t, double>> val_accuracy;
  std::vector<std::pair<int64_t, double>> val_loss;  // Mean query loss, same checks.
  double untrained_val_accuracy = 0;
  double untrained_val_loss = 0;
  int64_t parameters = 0;         // The meta-learner's parameter count.
  std::string meta_learner_path;  // work_dir/meta_learner.pt
};

// Each task draws its classes from one of `train` (the sets taken in turn,
// so that a small domain is not drowned by a large one); meta-val tasks from
// each of `val`, which may be empty. A setting a set cannot serve (fewer
// than `ways` classes with enough images) is left out for that set;
// INVALID_ARGUMENT when a set can serve none. FAILED_PRECONDITION, before
// any work, for a CUDA device this LibTorch cannot use.
absl::StatusOr<MetaTrainReport> MetaTrain(const std::vector<Dataset>& train,
                                          const std::vector<Dataset>& val,
                                          const MetaTrainOptions& options);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_METATRAIN_H_
