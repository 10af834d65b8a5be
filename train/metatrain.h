// Episodic meta-training of the meta-learner on a frozen backbone: each meta
// step draws a batch of tasks, adapts each task's head with the meta-learner
// through engine::AdaptHead (the code adaptd runs), scores the adapted head
// on the task's queries, and updates the meta-learner by backpropagating
// through the unrolled inner loop (second order by default; first order on
// request).
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
  double inner_lr = 0.01;
  int inner_steps = 5;
  // Task settings drawn uniformly for each training task.
  std::vector<std::pair<int, int>> settings = {{5, 1}, {5, 5}, {20, 1}, {20, 5}};
  int queries = 15;
  // Differentiate through the gradients of the inner loop (create_graph).
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
  // them (or the last without checks).
  std::vector<std::pair<int64_t, double>> val_accuracy;
  std::vector<std::pair<int64_t, double>> val_loss;  // Mean query loss, same checks.
  double untrained_val_accuracy = 0;
  double untrained_val_loss = 0;
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
