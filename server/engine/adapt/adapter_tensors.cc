#include "server/engine/adapt/adapter_tensors.h"

#include <torch/torch.h>

#include "server/engine/store/adapter_codec.h"
#include "server/engine/adapt/adapter_head.h"
#include "server/engine/adapt/float_slab.h"
#include "server/common/status_macros.h"
#include "server/engine/runtime/torch_util.h"

namespace adaptd::engine {
namespace {

std::vector<float> HostFloats(const at::Tensor& t) {
  at::Tensor c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  const float* p = c.data_ptr<float>();
  return std::vector<float>(p, p + c.numel());
}

}  // namespace

AdapterHead::AdapterHead(const at::Tensor& weight, const at::Tensor& bias)
    : rows_(weight.size(0)), cols_(weight.size(1) + 1) {
  torch::NoGradGuard no_grad;
  if (!weight.is_cpu()) {
    device_ = torch::cat({weight.detach(), bias.detach().unsqueeze(1)}, 1).to(torch::kFloat);
    return;
  }
  // Straight into the slab block, with no packed temporary.
  host_ = FloatSlab::Allocate(rows_ * cols_);
  const at::Tensor block = packed();
  block.narrow(1, 0, cols_ - 1).copy_(weight.detach());
  block.select(1, cols_ - 1).copy_(bias.detach());
}

AdapterHead::~AdapterHead() { FloatSlab::Free(host_, rows_ * cols_); }

at::Tensor AdapterHead::packed() const {
  return device_.defined() ? device_ : torch::from_blob(host_, {rows_, cols_}, torch::kFloat);
}

absl::StatusOr<std::string> EncodeAdapter(const Adapter& adapter) {
  if (adapter.head == nullptr) return absl::InternalError("encode adapter: no head");
  return GuardTorch("encode adapter", [&]() -> absl::StatusOr<std::string> {
    const AdapterHead& head = *adapter.head;
    torch::NoGradGuard no_grad;  // Plain tensors, like the heads Adapt makes.
    const at::Tensor weight = head.weight();
    HeadData data;
    data.classes = weight.size(0);
    data.dim = weight.size(1);
    data.weight = HostFloats(weight);
    data.bias = HostFloats(head.bias());
    return EncodeAdapterRecord(adapter.info, data);
  });
}

absl::StatusOr<AdapterPtr> DecodeAdapter(absl::string_view bytes,
                                         const DeviceForBackbone& device_for) {
  ASSIGN_OR_RETURN(DecodedAdapter decoded, DecodeAdapterRecord(bytes));
  ASSIGN_OR_RETURN(c10::Device device, device_for(decoded.info.backbone));
  return GuardTorch("decode adapter", [&]() -> absl::StatusOr<AdapterPtr> {
    torch::NoGradGuard no_grad;  // Plain tensors, like the heads Adapt makes.
    HeadData& h = decoded.head;
    auto head = std::make_shared<AdapterHead>(
        torch::from_blob(h.weight.data(), {h.classes, h.dim}, torch::kFloat).to(device),
        torch::from_blob(h.bias.data(), {h.classes}, torch::kFloat).to(device));
    auto adapter = std::make_shared<Adapter>();
    adapter->info = std::move(decoded.info);
    adapter->head = std::move(head);
    return AdapterPtr(std::move(adapter));
  });
}

}  // namespace adaptd::engine
