#include "server/engine/model/text_nets.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <torch/nn/functional/normalization.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/linear.h>

#include "absl/strings/str_cat.h"

namespace adaptd::engine {
namespace nn = torch::nn;
using torch::Tensor;

namespace {

constexpr char kFormat[] = "text-transformer";
// Generous bounds that catch a typo in model.pbtxt before it allocates.
constexpr int64_t kMaxVocab = 4'000'000;
constexpr int64_t kMaxDim = 8192;
constexpr int64_t kMaxLayers = 64;
constexpr int64_t kMaxLength = 8192;
// What masked-out attention scores become. Scores are softmaxed in float32,
// where exp(-1e9 - max) is exactly 0, whatever precision the layer ran in.
constexpr double kMaskedScore = -1e9;

// The lexical branch's hashing of token ids into buckets and signs:
// ((a * id + b) mod p) mod buckets, a universal hash, computed with tensor
// ops on the ids' device. ids < kMaxVocab < 2^22 and the multipliers are
// below 2^31, so the products stay below 2^53.
constexpr int64_t kHashPrime = 2147483647;  // 2^31 - 1
constexpr int64_t kBucketA = 1103515245, kBucketB = 12345;
constexpr int64_t kSignA = 1664525, kSignB = 1013904223;

// x [B,D] with each row scaled by scale [B,1], in x's precision.
Tensor Scaled(const Tensor& x, const Tensor& scale) { return x * scale.to(x.scalar_type()); }

// One pre-LayerNorm encoder layer: x + attn(LN(x)), then x + MLP(LN(x)).
class EncoderLayerImpl : public nn::Module {
 public:
  EncoderLayerImpl(int64_t dim, int64_t heads, int64_t mlp_dim, double dropout)
      : heads_(heads), dropout_(dropout) {
    attn_norm_ = register_module("attn_norm", nn::LayerNorm(nn::LayerNormOptions({dim})));
    qkv_ = register_module("qkv", nn::Linear(dim, 3 * dim));
    out_ = register_module("out", nn::Linear(dim, dim));
    mlp_norm_ = register_module("mlp_norm", nn::LayerNorm(nn::LayerNormOptions({dim})));
    fc1_ = register_module("fc1", nn::Linear(dim, mlp_dim));
    fc2_ = register_module("fc2", nn::Linear(mlp_dim, dim));
  }

  // x [B,T,D]; padded [B,1,1,T] bool, true where the key is padding.
  Tensor forward(const Tensor& x, const Tensor& padded) {
    const int64_t b = x.size(0), t = x.size(1), d = x.size(2), hd = d / heads_;
    const bool train = is_training();
    // [B,T,3,H,hd] -> [3,B,H,T,hd]
    const Tensor qkv = qkv_(attn_norm_(x)).view({b, t, 3, heads_, hd}).permute({2, 0, 3, 1, 4});
    const Tensor q = qkv[0], k = qkv[1], v = qkv[2];
    Tensor scores = torch::matmul(q, k.transpose(-2, -1)).to(torch::kFloat) /
                    std::sqrt(static_cast<double>(hd));
    Tensor attn = torch::softmax(scores.masked_fill(padded, kMaskedScore), -1).to(v.scalar_type());
    attn = torch::dropout(attn, dropout_, train);
    const Tensor context = torch::matmul(attn, v).transpose(1, 2).reshape({b, t, d});
    Tensor y = x + torch::dropout(out_(context), dropout_, train);
    const Tensor hidden = torch::gelu(fc1_(mlp_norm_(y)));
    return y + torch::dropout(fc2_(hidden), dropout_, train);
  }

 private:
  int64_t heads_;
  double dropout_;
  nn::LayerNorm attn_norm_{nullptr}, mlp_norm_{nullptr};
  nn::Linear qkv_{nullptr}, out_{nullptr}, fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(EncoderLayer);

absl::Status OutOfRange(const std::string& field, int64_t low, int64_t high, int64_t got) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": must be in [", low, ", ", high, "], got ", got));
}

}  // namespace

absl::Status ValidateTextTransformerOptions(const TextTransformerOptions& o,
                                            const std::string& prefix) {
  if (o.vocab_size < 1 || o.vocab_size > kMaxVocab) {
    return OutOfRange(prefix + "vocab_size", 1, kMaxVocab, o.vocab_size);
  }
  if (o.heads < 1 || o.heads > kMaxDim) return OutOfRange(prefix + "heads", 1, kMaxDim, o.heads);
  if (o.dim < 1 || o.dim > kMaxDim) return OutOfRange(prefix + "dim", 1, kMaxDim, o.dim);
  if (o.dim % o.heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(prefix, "dim: must be a multiple of heads (",
                                                   o.heads, "), got ", o.dim));
  }
  if (o.layers < 1 || o.layers > kMaxLayers) {
    return OutOfRange(prefix + "layers", 1, kMaxLayers, o.layers);
  }
  if (o.mlp_dim < 0 || o.mlp_dim > 4 * kMaxDim) {
    return OutOfRange(prefix + "mlp_dim", 0, 4 * kMaxDim, o.mlp_dim);
  }
  if (o.max_length < 1 || o.max_length > kMaxLength) {
    return OutOfRange(prefix + "max_length", 1, kMaxLength, o.max_length);
  }
  if (o.positions < 0 || o.positions > o.max_length) {
    return OutOfRange(prefix + "positions", 0, o.max_length, o.positions);
  }
  if (o.pooling != "mean" && o.pooling != "cls") {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, "pooling: must be \"mean\" or \"cls\", got \"", o.pooling, "\""));
  }
  if (!(o.dropout >= 0 && o.dropout < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, "dropout: must be in [0,1), got ", o.dropout));
  }
  if (o.lexical_dim < 0 || o.lexical_dim > kMaxDim) {
    return OutOfRange(prefix + "lexical_dim", 0, kMaxDim, o.lexical_dim);
  }
  if (o.lexical_dim > 0 && !(o.lexical_weight >= 0 && o.lexical_weight <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, "lexical_weight: must be in [0,1], got ", o.lexical_weight));
  }
  if (o.semantic_dim < 0 || o.semantic_dim > kMaxDim) {
    return OutOfRange(prefix + "semantic_dim", 0, kMaxDim, o.semantic_dim);
  }
  if (o.semantic_dim > 0 && !(o.semantic_weight >= 0 && o.semantic_weight <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(prefix, "semantic_weight: must be in [0,1], got ", o.semantic_weight));
  }
  if (o.lexical_dim > 0 && o.semantic_dim > 0 && o.lexical_weight + o.semantic_weight > 1 + 1e-6) {
    return absl::InvalidArgumentError(absl::StrCat(
        prefix, "semantic_weight: lexical_weight + semantic_weight must be at most 1, got ",
        o.lexical_weight, " + ", o.semantic_weight));
  }
  if (!(o.semantic_agreement >= 0 && o.semantic_agreement <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        prefix, "semantic_agreement: must be in [0,1], got ", o.semantic_agreement));
  }
  if (o.semantic_agreement > 0 && (o.lexical_dim == 0 || o.semantic_dim == 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        prefix, "semantic_agreement: needs a lexical and a semantic branch (lexical_dim ",
        o.lexical_dim, ", semantic_dim ", o.semantic_dim, ")"));
  }
  return absl::OkStatus();
}

int64_t TextTransformerPositions(const TextTransformerOptions& options) {
  return options.positions > 0 ? options.positions : options.max_length;
}

int64_t TextTransformerFeatureDim(const TextTransformerOptions& options) {
  return options.dim + options.lexical_dim + options.semantic_dim;
}

Tensor TokenIdf(const Tensor& ids, const Tensor& mask, int64_t vocab_size) {
  TORCH_CHECK(ids.dim() == 2 && mask.sizes() == ids.sizes(),
              "TokenIdf: ids and mask must both be [N,T]");
  const int64_t n = ids.size(0);
  // Each (text, token) pair once: df counts texts, not occurrences.
  const Tensor pairs = (torch::arange(n, torch::kLong).unsqueeze(1) * vocab_size +
                        ids.to(torch::kLong).cpu())
                           .masked_select(mask.ne(0).cpu());
  const Tensor df =
      torch::bincount(std::get<0>(torch::_unique(pairs)) % vocab_size, {}, vocab_size)
          .to(torch::kDouble);
  Tensor idf = torch::log((1.0 + n) / (1.0 + df)) + 1;
  idf.masked_fill_(df.eq(n), 0);
  return idf.to(torch::kFloat);
}

TextTransformerOptions TextTransformerOptionsFromConfig(const adaptd::v1::ModelConfig& config) {
  const adaptd::v1::TextTransformerConfig& t = config.text().transformer();
  TextTransformerOptions o;
  o.vocab_size = t.vocab_size();
  o.dim = t.dim();
  o.layers = t.layers();
  o.heads = t.heads();
  o.mlp_dim = t.mlp_dim();
  o.max_length = config.text().max_seq_length();
  o.positions = t.positions();
  o.pooling = config.text().pooling().empty() ? "cls" : config.text().pooling();
  o.lexical_dim = t.lexical_dim();
  if (t.lexical_dim() > 0) o.lexical_weight = t.lexical_weight();
  o.semantic_dim = t.semantic_dim();
  if (t.semantic_dim() > 0) o.semantic_weight = t.semantic_weight();
  o.semantic_agreement = t.semantic_agreement();
  return o;
}

void TextTransformerOptionsToConfig(const TextTransformerOptions& o,
                                    adaptd::v1::ModelConfig* config) {
  config->set_format(kFormat);
  config->set_feature_dim(TextTransformerFeatureDim(o));
  adaptd::v1::TextConfig* text = config->mutable_text();
  text->set_max_seq_length(static_cast<int32_t>(o.max_length));
  text->set_pooling(o.pooling);
  adaptd::v1::TextTransformerConfig* t = text->mutable_transformer();
  t->set_vocab_size(static_cast<int32_t>(o.vocab_size));
  t->set_dim(static_cast<int32_t>(o.dim));
  t->set_layers(static_cast<int32_t>(o.layers));
  t->set_heads(static_cast<int32_t>(o.heads));
  t->set_mlp_dim(static_cast<int32_t>(o.mlp_dim));
  t->set_positions(static_cast<int32_t>(o.positions));
  if (o.lexical_dim > 0) {
    t->set_lexical_dim(static_cast<int32_t>(o.lexical_dim));
    t->set_lexical_weight(static_cast<float>(o.lexical_weight));
  }
  if (o.semantic_dim > 0) {
    t->set_semantic_dim(static_cast<int32_t>(o.semantic_dim));
    t->set_semantic_weight(static_cast<float>(o.semantic_weight));
  }
  t->set_semantic_agreement(static_cast<float>(o.semantic_agreement));
}

TextTransformer::TextTransformer(const TextTransformerOptions& options) : options_(options) {
  const int64_t dim = options.dim;
  const int64_t mlp_dim = options.mlp_dim > 0 ? options.mlp_dim : 4 * dim;
  tokens_ = register_module("tokens", nn::Embedding(options.vocab_size, dim));
  positions_ = register_module("positions", nn::Embedding(TextTransformerPositions(options), dim));
  // BERT's initialisation of the embeddings: N(0, 0.02).
  {
    torch::NoGradGuard no_grad;
    nn::init::normal_(tokens_->weight, 0, 0.02);
    nn::init::normal_(positions_->weight, 0, 0.02);
  }
  layers_ = register_module("layers", nn::ModuleList());
  for (int64_t i = 0; i < options.layers; ++i) {
    layers_->push_back(EncoderLayer(dim, options.heads, mlp_dim, options.dropout));
  }
  norm_ = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({dim})));
  if (options.lexical_dim > 0 || options.semantic_dim > 0) {
    idf_ = register_buffer("lexical_idf", torch::ones({options.vocab_size}));
  }
  if (options.semantic_dim > 0) {
    vectors_ = register_buffer("semantic_vectors",
                               torch::zeros({options.vocab_size, options.semantic_dim}));
  }
}

void TextTransformer::SetTokenVectors(const Tensor& vectors) {
  TORCH_CHECK(options_.semantic_dim > 0, "text-transformer: no semantic branch");
  TORCH_CHECK(vectors.dim() == 2 && vectors.size(0) == options_.vocab_size &&
                  vectors.size(1) == options_.semantic_dim,
              "text-transformer: token vectors must be [", options_.vocab_size, ",",
              options_.semantic_dim, "], got ", vectors.sizes());
  torch::NoGradGuard no_grad;
  vectors_.copy_(vectors);
}

Tensor TextTransformer::Semantic(const Tensor& ids, const Tensor& mask) {
  TORCH_CHECK(options_.semantic_dim > 0, "text-transformer: no semantic branch");
  const Tensor id = ids.to(torch::kLong);
  const Tensor weights = idf_.index({id}) * mask.to(idf_.scalar_type());  // [B,T]
  return torch::bmm(weights.unsqueeze(1), vectors_.index({id})).squeeze(1);
}

void TextTransformer::SetTokenIdf(const Tensor& idf) {
  TORCH_CHECK(idf_.defined(), "text-transformer: no lexical or semantic branch");
  TORCH_CHECK(idf.dim() == 1 && idf.size(0) == options_.vocab_size,
              "text-transformer: token idf must be [", options_.vocab_size, "], got ",
              idf.sizes());
  torch::NoGradGuard no_grad;
  idf_.copy_(idf);
}

Tensor TextTransformer::Lexical(const Tensor& ids, const Tensor& mask) {
  TORCH_CHECK(options_.lexical_dim > 0, "text-transformer: no lexical branch");
  const Tensor id = ids.to(torch::kLong);
  const Tensor bucket = (id * kBucketA + kBucketB).remainder(kHashPrime).remainder(
      options_.lexical_dim);
  const Tensor sign = (id * kSignA + kSignB).remainder(kHashPrime).bitwise_and(1) * 2 - 1;
  const Tensor weights =
      idf_.index({id}) * sign.to(idf_.scalar_type()) * mask.to(idf_.scalar_type());
  return torch::zeros({ids.size(0), options_.lexical_dim}, weights.options())
      .scatter_add_(1, bucket, weights);
}

Tensor TextTransformer::Tokens(const Tensor& ids, const Tensor& mask) {
  TORCH_CHECK(ids.dim() == 2 && mask.sizes() == ids.sizes(),
              "text-transformer: ids and mask must both be [B,T]; got ", ids.sizes(), " and ",
              mask.sizes());
  const int64_t t = ids.size(1);
  const int64_t rows = TextTransformerPositions(options_);
  TORCH_CHECK(t >= 1 && t <= rows, "text-transformer: ", t, " tokens; this encoder takes 1 to ",
              rows);
  const Tensor padded = mask.eq(0).view({ids.size(0), 1, 1, t});
  const Tensor positions = torch::arange(t, ids.options().dtype(torch::kLong));
  Tensor x = tokens_(ids) + positions_(positions).unsqueeze(0);
  x = torch::dropout(x, options_.dropout, is_training());
  for (const auto& layer : *layers_) x = layer->as<EncoderLayerImpl>()->forward(x, padded);
  return norm_(x);
}

Tensor TextTransformer::Encode(const Tensor& all_ids, const Tensor& all_mask) {
  TORCH_CHECK(all_ids.dim() == 2 && all_ids.size(1) >= 1 &&
                  all_ids.size(1) <= options_.max_length,
              "text-transformer: ", all_ids.sizes(), " tokens; this encoder takes 1 to ",
              options_.max_length, " per text");
  // Rows are left-aligned, so the leading tokens are each row's first ones.
  const int64_t t = std::min(all_ids.size(1), TextTransformerPositions(options_));
  const Tensor ids = all_ids.narrow(1, 0, t);
  const Tensor mask = all_mask.narrow(1, 0, t);
  const Tensor x = Tokens(ids, mask);
  if (options_.pooling == "cls") return x.select(1, 0);
  const Tensor m = mask.unsqueeze(2).to(x.scalar_type());
  return (x * m).sum(1) / m.sum(1).clamp_min(1);
}

Tensor TextTransformer::forward(const Tensor& ids, const Tensor& mask) {
  const Tensor encoded = Encode(ids, mask);
  if (options_.lexical_dim == 0 && options_.semantic_dim == 0) return encoded;
  const auto unit = [&](const Tensor& x) {
    return torch::nn::functional::normalize(
               x, torch::nn::functional::NormalizeFuncOptions().p(2).dim(1).eps(1e-8))
        .to(encoded.scalar_type());
  };
  // Each part's share of the cosine; the transformer's is what is left. With
  // semantic_agreement the branches' shares are each text's own, [B,1]: what
  // the semantic branch gives up goes to the lexical one.
  double left = 1;
  Tensor semantic, semantic_share;
  if (options_.semantic_dim > 0) {
    semantic = Semantic(ids, mask);
    if (options_.semantic_agreement > 0) {
      // The length of the idf-weighted mean of the text's token vectors.
      const Tensor token_weight =
          (idf_.index({ids.to(torch::kLong)}) * mask.to(idf_.scalar_type())).sum(1, true);
      const Tensor agreement = semantic.norm(2, 1, true) / token_weight.clamp_min(1e-8);
      semantic_share =
          options_.semantic_weight * (agreement / options_.semantic_agreement).clamp_max(1);
    }
    left -= options_.semantic_weight;
  }
  std::vector<Tensor> parts;
  if (options_.lexical_dim > 0) {
    const Tensor lexical = unit(Lexical(ids, mask));
    const double both = options_.lexical_weight + options_.semantic_weight;
    parts.push_back(semantic_share.defined() ? Scaled(lexical, (both - semantic_share).sqrt())
                                             : std::sqrt(options_.lexical_weight) * lexical);
    left -= options_.lexical_weight;
  }
  if (semantic.defined()) {
    const Tensor u = unit(semantic);
    parts.push_back(semantic_share.defined() ? Scaled(u, semantic_share.sqrt())
                                             : std::sqrt(options_.semantic_weight) * u);
  }
  parts.push_back(std::sqrt(std::max(left, 0.0)) * unit(encoded));
  return torch::cat(parts, 1);
}

absl::StatusOr<std::shared_ptr<TextTransformer>> MakeTextTransformer(
    const TextTransformerOptions& options) {
  if (absl::Status s = ValidateTextTransformerOptions(options); !s.ok()) return s;
  return std::make_shared<TextTransformer>(options);
}

}  // namespace adaptd::engine
