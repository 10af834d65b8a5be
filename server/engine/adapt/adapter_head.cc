#include "server/engine/adapt/adapter_head.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace adaptd::engine {

at::Tensor ApplyHeads(const at::Tensor& features, const std::vector<HeadRows>& heads) {
  int64_t max_classes = 0;
  for (const auto& h : heads) max_classes = std::max(max_classes, h.head->classes());
  std::vector<at::Tensor> weights, biases, rows;
  for (const auto& h : heads) {
    const int64_t pad = max_classes - h.head->classes();
    at::Tensor w = h.head->weight(), b = h.head->bias();
    if (pad > 0) {
      w = torch::cat({w, torch::zeros({pad, w.size(1)}, w.options())});
      b = torch::cat({b, torch::full({pad}, -INFINITY, b.options())});
    }
    weights.push_back(w.unsqueeze(0).expand({h.count, max_classes, w.size(1)}));
    biases.push_back(b.unsqueeze(0).expand({h.count, max_classes}));
    rows.push_back(torch::arange(h.offset, h.offset + h.count, torch::kLong));
  }
  const at::Tensor f = features.index_select(0, torch::cat(rows).to(features.device()));
  const at::Tensor logits =
      kHeadScale *
      (torch::bmm(torch::cat(weights), f.unsqueeze(2)).squeeze(2) + torch::cat(biases));
  return torch::softmax(logits, 1);
}

}  // namespace adaptd::engine
