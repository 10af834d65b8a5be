#include "train/device.h"

#include <torch/cuda.h>
#include <torch/nn/module.h>
#include <torch/optim/adam.h>

#include "absl/strings/str_cat.h"
#include "server/engine/runtime/torch_util.h"

namespace adaptd::train {

absl::StatusOr<c10::Device> ParseTrainDevice(const std::string& spec) {
  // engine::ParseDevice reads "" as "cuda if there is one": here the device
  // is always named.
  if (spec.empty()) return absl::InvalidArgumentError("--device: empty; use cpu, cuda or cuda:N");
  absl::StatusOr<c10::Device> device = engine::ParseDevice(spec);
  // LibTorch takes "cpu:N" as well; the CPU has one name here.
  if (device.ok() && (device->is_cuda() || spec == "cpu")) return *device;
  if (device.ok() || absl::IsInvalidArgument(device.status())) {
    return absl::InvalidArgumentError(
        absl::StrCat("--device: \"", spec, "\" is not cpu, cuda or cuda:N"));
  }
  if (!torch::cuda::is_available()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--device ", spec,
        ": this LibTorch build has no CUDA device (it is CPU-only, or no GPU is visible); "
        "use --device cpu"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("--device ", spec, ": only ", torch::cuda::device_count(),
                   " CUDA devices are visible (cuda:0 to cuda:",
                   torch::cuda::device_count() - 1, ")"));
}

absl::Status SaveFromCpu(torch::nn::Module& module, c10::Device device,
                         const std::function<absl::Status()>& save) {
  if (device.is_cpu()) return save();
  return engine::GuardTorch("moving to the CPU to save", [&]() -> absl::Status {
    module.to(c10::Device(c10::kCPU));
    const absl::Status saved = save();
    module.to(device);
    return saved;
  });
}

void MoveAdamState(torch::optim::Adam& optimizer, c10::Device device) {
  auto on_device = [&](const torch::Tensor& t) { return t.defined() ? t.to(device) : t; };
  for (auto& entry : optimizer.state()) {
    auto* state = dynamic_cast<torch::optim::AdamParamState*>(entry.second.get());
    if (state == nullptr) continue;
    state->exp_avg(on_device(state->exp_avg()));
    state->exp_avg_sq(on_device(state->exp_avg_sq()));
    state->max_exp_avg_sq(on_device(state->max_exp_avg_sq()));
  }
}

}  // namespace adaptd::train
