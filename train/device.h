// Where adapt-train computes (--device), and moving training state between
// the CPU and a GPU so that every file a run writes loads on either: results
// (backbone.pt, meta_learner.pt) are saved from the CPU, and checkpoints are
// read onto the CPU (Checkpointer) and then moved to the run's device.
//
// No torch/torch.h here. Thread-compatible.
#ifndef ADAPTD_TRAIN_DEVICE_H_
#define ADAPTD_TRAIN_DEVICE_H_

#include <functional>
#include <string>

#include <c10/core/Device.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace torch::nn {
class Module;
}  // namespace torch::nn
namespace torch::optim {
class Adam;
}  // namespace torch::optim

namespace adaptd::train {

// "cpu", "cuda" or "cuda:N" (engine::ParseDevice), with errors that name
// --device: INVALID_ARGUMENT for any other spelling, the empty one included;
// FAILED_PRECONDITION when CUDA is asked for and this LibTorch has no CUDA,
// sees no GPU, or sees no GPU N.
//
//   ASSIGN_OR_RETURN(c10::Device device, ParseTrainDevice(options.device));
absl::StatusOr<c10::Device> ParseTrainDevice(const std::string& spec);

// Moves `module` to the CPU, calls `save`, and moves it back to `device`
// whether or not `save` succeeded, so that what `save` writes loads without
// CUDA. The module's tensors keep their identity (an optimiser over them
// stays valid); on the CPU nothing moves.
absl::Status SaveFromCpu(torch::nn::Module& module, c10::Device device,
                         const std::function<absl::Status()>& save);

// Moves Adam's per-parameter state (its moment estimates) to `device`: after
// a checkpoint read onto the CPU resumes a run on a GPU, or the other way.
void MoveAdamState(torch::optim::Adam& optimizer, c10::Device device);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_DEVICE_H_
