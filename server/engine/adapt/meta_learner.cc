#include "server/engine/adapt/meta_learner.h"

#include <atomic>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include <torch/nn/functional.h>
#include <torch/serialize.h>
#include <torch/serialize/input-archive.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "server/engine/adapt/generator_kernel.h"
#include "server/engine/runtime/torch_util.h"

namespace adaptd::engine {
namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

constexpr int64_t kClassStats = 3;  // log count, spread, |prototype|.
constexpr int64_t kTaskStats = 2;   // log ways, log shots.

nn::Linear ZeroLinear(int64_t in, int64_t out) {
  nn::Linear layer(in, out);
  torch::NoGradGuard no_grad;
  layer->weight.zero_();
  layer->bias.zero_();
  return layer;
}

std::string OptionsError(const MetaLearnerOptions& o) {
  if (o.feature_dim < 0) return "feature_dim must not be negative";
  if (o.hidden <= 0 || o.heads <= 0 || o.hidden % o.heads != 0) {
    return absl::StrCat("hidden (", o.hidden, ") must be a positive multiple of heads (", o.heads,
                        ")");
  }
  if (o.rank < 0 || o.refine_steps < 0) return "rank and refine_steps must not be negative";
  return "";
}

}  // namespace

MetaLearnerImpl::MetaLearnerImpl(const MetaLearnerOptions& options) : options_(options) {
  const std::string error = OptionsError(options);
  TORCH_CHECK(error.empty(), "meta-learner options: ", error);
  config_ = register_buffer(
      "config", torch::tensor({kFormatVersion, options.feature_dim, options.hidden, options.heads,
                               options.rank, options.refine_steps},
                              torch::kLong));
  if (!sized()) return;
  const int64_t d = options.feature_dim, h = options.hidden;
  embed_ = register_module("embed", nn::Linear(d, h));
  embed_stats_ = register_module("embed_stats", nn::Linear(kClassStats, h));
  norm1_ = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({h})));
  norm2_ = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({h})));
  qkv_ = register_module("qkv", nn::Linear(h, 3 * h));
  attend_out_ = register_module("attend_out", nn::Linear(h, h));
  ffn1_ = register_module("ffn1", nn::Linear(h, 2 * h));
  ffn2_ = register_module("ffn2", nn::Linear(2 * h, h));
  delta_ = register_module("delta", ZeroLinear(h, d));
  gamma_ = register_module("gamma", ZeroLinear(h + kTaskStats, d));
  class_bias_ = register_module("class_bias", ZeroLinear(h, 1));
  log_scale_ = register_module("log_scale", ZeroLinear(h + kTaskStats, 1));
  metric_p_ = register_parameter("metric_p", torch::zeros({options.rank, d}));
  metric_q_ = register_parameter("metric_q",
                                 torch::randn({options.rank, d}) / std::sqrt(static_cast<double>(d)));
  refine_rate_ = register_parameter("refine_rate", torch::zeros({options.refine_steps, 3}));
}

torch::Tensor MetaLearnerImpl::AttendClasses(const torch::Tensor& x) {
  const int64_t classes = x.size(0), heads = options_.heads;
  const int64_t width = options_.hidden / heads;
  // [C, 3h] -> three [heads, C, width].
  auto qkv = qkv_->forward(norm1_->forward(x)).view({classes, 3, heads, width}).permute({1, 2, 0, 3});
  auto attention =
      torch::softmax(qkv[0].matmul(qkv[1].transpose(1, 2)) / std::sqrt(static_cast<double>(width)), -1);
  auto mixed = attention.matmul(qkv[2]).permute({1, 0, 2}).reshape({classes, options_.hidden});
  auto y = x + attend_out_->forward(mixed);
  return y + ffn2_->forward(F::gelu(ffn1_->forward(norm2_->forward(y))));
}

GeneratedHead MetaLearnerImpl::Generate(const torch::Tensor& features, const torch::Tensor& labels,
                                        const torch::Tensor& prototypes) {
  TORCH_CHECK(sized(), "the meta-learner is unsized: load one or give feature_dim");
  const int64_t classes = prototypes.size(0), n = labels.size(0);
  const auto options = features.options();
  auto counts = torch::zeros({classes}, options).index_add_(0, labels, torch::ones({n}, options));
  auto deviation = (features - prototypes.index_select(0, labels)).pow(2).sum(1);
  auto spread = torch::zeros({classes}, options).index_add(0, labels, deviation) / counts;
  auto class_stats = torch::stack({counts.log(), spread, prototypes.norm(2, 1)}, 1);
  auto z = AttendClasses(embed_->forward(prototypes) + embed_stats_->forward(class_stats));
  // Ways and shots as columns made on the device: no host-to-device copy.
  auto task_stats = torch::full({1, kTaskStats}, 0.0, options);
  task_stats.select(1, 0).fill_(std::log(static_cast<double>(classes)));
  task_stats.select(1, 1).fill_(std::log(static_cast<double>(n) / classes));
  auto task = torch::cat({z.mean(0, /*keepdim=*/true), task_stats}, 1);  // [1, h + 2]

  auto adapted = prototypes + delta_->forward(z);  // [C, D]
  auto scale = 1 + gamma_->forward(task);          // [1, D]
  // M x = scale * x + P^T (Q x), row-wise; M^T y = scale * y + Q^T (P y).
  // Without the low-rank term (rank 0), four empty products fewer.
  const bool low_rank = options_.rank > 0;
  auto embedded = low_rank ? scale * adapted + adapted.mm(metric_q_.t()).mm(metric_p_)
                           : scale * adapted;
  GeneratedHead head;
  head.weight = low_rank ? scale * embedded + embedded.mm(metric_p_.t()).mm(metric_q_)
                         : scale * embedded;
  head.bias = -0.5 * embedded.pow(2).sum(1) + class_bias_->forward(z).squeeze(1);
  head.log_scale = log_scale_->forward(task).reshape({1});
  return head;
}

// The weights as GenerateHeadOnHost reads them, and which parameter
// versions they were copied from.
struct MetaLearnerImpl::HostCopy {
  GeneratorWeights weights;
  std::vector<std::pair<const void*, int64_t>> versions;  // Per parameter: its tensor, version.
};

namespace {

std::vector<std::pair<const void*, int64_t>> ParameterVersions(const nn::Module& module) {
  std::vector<std::pair<const void*, int64_t>> versions;
  for (const auto& p : module.parameters()) {
    versions.emplace_back(p.unsafeGetTensorImpl(), p._version());
  }
  return versions;
}

std::vector<float> HostFloats(const torch::Tensor& t) {
  const torch::Tensor host = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  return std::vector<float>(host.data_ptr<float>(), host.data_ptr<float>() + host.numel());
}

// A linear layer's weight [out, in] as [in, out].
std::vector<float> Transposed(const torch::Tensor& weight) { return HostFloats(weight.t()); }

}  // namespace

std::shared_ptr<const MetaLearnerImpl::HostCopy> MetaLearnerImpl::CurrentHostCopy() {
  auto versions = ParameterVersions(*this);
  std::shared_ptr<const HostCopy> copy = std::atomic_load(&host_copy_);
  if (copy != nullptr && copy->versions == versions) return copy;
  auto fresh = std::make_shared<HostCopy>();
  GeneratorWeights& w = fresh->weights;
  w.dim = options_.feature_dim;
  w.hidden = options_.hidden;
  w.heads = options_.heads;
  w.rank = options_.rank;
  w.embed = HostFloats(embed_->weight);
  w.embed_stats_t = Transposed(embed_stats_->weight);
  w.embed_bias = HostFloats(embed_->bias + embed_stats_->bias);
  w.norm1_weight = HostFloats(norm1_->weight);
  w.norm1_bias = HostFloats(norm1_->bias);
  w.norm2_weight = HostFloats(norm2_->weight);
  w.norm2_bias = HostFloats(norm2_->bias);
  w.qkv_t = Transposed(qkv_->weight);
  w.qkv_bias = HostFloats(qkv_->bias);
  w.attend_out_t = Transposed(attend_out_->weight);
  w.attend_out_bias = HostFloats(attend_out_->bias);
  w.ffn1_t = Transposed(ffn1_->weight);
  w.ffn1_bias = HostFloats(ffn1_->bias);
  w.ffn2 = HostFloats(ffn2_->weight);
  w.ffn2_bias = HostFloats(ffn2_->bias);
  w.delta_t = Transposed(delta_->weight);
  w.delta_bias = HostFloats(delta_->bias);
  w.gamma_t = Transposed(gamma_->weight);
  w.gamma_bias = HostFloats(gamma_->bias);
  w.class_bias_w = HostFloats(class_bias_->weight);
  w.class_bias_b = HostFloats(class_bias_->bias)[0];
  w.log_scale_w = HostFloats(log_scale_->weight);
  w.log_scale_b = HostFloats(log_scale_->bias)[0];
  w.metric_p = HostFloats(metric_p_);
  w.metric_q = HostFloats(metric_q_);
  fresh->versions = std::move(versions);
  std::atomic_store(&host_copy_, std::shared_ptr<const HostCopy>(fresh));
  return fresh;
}

torch::Tensor MetaLearnerImpl::GenerateFlat(const torch::Tensor& features,
                                            const torch::Tensor& labels,
                                            const torch::Tensor& prototypes) {
  const bool on_host = !torch::GradMode::is_enabled() && features.is_cpu() &&
                       prototypes.is_cpu() && labels.is_cpu() &&
                       features.scalar_type() == torch::kFloat &&
                       prototypes.scalar_type() == torch::kFloat &&
                       labels.scalar_type() == torch::kLong;
  if (!on_host) {
    GeneratedHead head = Generate(features, labels, prototypes);
    return torch::cat({head.weight.reshape({-1}), head.bias, head.log_scale});
  }
  TORCH_CHECK(sized(), "the meta-learner is unsized: load one or give feature_dim");
  const int64_t classes = prototypes.size(0), n = labels.size(0), d = options_.feature_dim;
  TORCH_CHECK(features.dim() == 2 && features.size(1) == d && features.size(0) == n &&
                  prototypes.dim() == 2 && prototypes.size(1) == d,
              "the generator needs [N, ", d, "] features and [C, ", d, "] prototypes");
  const torch::Tensor f = features.contiguous(), p = prototypes.contiguous(),
                      l = labels.contiguous();
  const int64_t* label = l.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    TORCH_CHECK(label[i] >= 0 && label[i] < classes, "label ", label[i], " is outside [0, ",
                classes, ")");
  }
  const std::shared_ptr<const HostCopy> copy = CurrentHostCopy();
  torch::Tensor flat = torch::empty({classes * d + classes + 1}, features.options());
  GenerateHeadOnHost(copy->weights, f.data_ptr<float>(), label, n, p.data_ptr<float>(), classes,
                     flat.data_ptr<float>());
  return flat;
}

torch::Tensor MetaLearnerImpl::RefineRates(int64_t step) const {
  return refine_rate_[step].clamp_min(0);
}

int64_t MetaLearnerImpl::parameter_count() const {
  int64_t count = 0;
  for (const auto& p : parameters()) count += p.numel();
  return count;
}

absl::Status SaveMetaLearner(MetaLearner& meta, const std::string& path) {
  if (!meta->sized()) {
    return absl::FailedPreconditionError("saving the meta-learner: it is unsized");
  }
  return GuardTorch("saving the meta-learner", [&]() -> absl::Status {
    torch::save(meta, path);
    return absl::OkStatus();
  });
}

absl::Status LoadMetaLearner(const std::string& path, MetaLearner* meta) {
  return GuardTorch("loading the meta-learner " + path, [&]() -> absl::Status {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    const std::string retrain = "; retrain it with adapt-train metatrain";
    at::Tensor config;
    if (!archive.try_read("config", config, /*is_buffer=*/true) || config.dim() != 1 ||
        config.size(0) < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "meta_learner_file: ", path,
          " is a meta-learner of an earlier design (a learned step rule, not a head generator)",
          retrain));
    }
    const std::vector<int64_t> c(config.data_ptr<int64_t>(),
                                 config.data_ptr<int64_t>() + config.numel());
    if (c[0] != MetaLearnerImpl::kFormatVersion || c.size() != 6) {
      return absl::InvalidArgumentError(absl::StrCat("meta_learner_file: ", path, " has format ",
                                                     c[0], ", this adaptd reads format ",
                                                     MetaLearnerImpl::kFormatVersion, retrain));
    }
    const MetaLearnerOptions options{c[1], c[2], c[3], c[4], c[5]};
    const std::string error = OptionsError(options);
    if (!error.empty() || options.feature_dim == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "meta_learner_file: ", path, " has bad sizes: ",
          error.empty() ? "feature_dim 0" : error, retrain));
    }
    MetaLearner loaded(options);
    // LibTorch's load takes whatever shapes the file has; a file whose
    // tensors disagree with its own config would fail at every adaptation.
    std::vector<std::pair<std::string, std::vector<int64_t>>> expected;
    for (const auto& p : loaded->named_parameters()) {
      expected.emplace_back(p.key(), p.value().sizes().vec());
    }
    loaded->load(archive);
    for (const auto& [name, sizes] : expected) {
      if (loaded->named_parameters()[name].sizes().vec() != sizes) {
        return absl::InvalidArgumentError(absl::StrCat("meta_learner_file: ", path, " has ", name,
                                                       " of another shape than its config",
                                                       retrain));
      }
    }
    loaded->eval();
    *meta = std::move(loaded);
    return absl::OkStatus();
  });
}

absl::Status CheckMetaLearnerFits(const MetaLearnerImpl& meta, int64_t feature_dim) {
  if (meta.options().feature_dim == feature_dim) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "meta-learner: made for ", meta.options().feature_dim, "-wide features, the backbone gives ",
      feature_dim, "; retrain it with adapt-train metatrain on this backbone"));
}

}  // namespace adaptd::engine
