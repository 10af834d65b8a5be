// The project's native text encoder: a small pre-LayerNorm transformer
// written with LibTorch's C++ modules alone (Embedding, Linear, LayerNorm and
// tensor ops), so that one weights file loads and gives the same features
// on LibTorch 1.13 and 2.x, on the CPU or a GPU. model.pbtxt names it as
// format "text-transformer" with its shape in text.transformer.
//
// With lexical_dim > 0 it also has a lexical branch: the text's bag of
// tokens weighted by inverse document frequency (fitted on the training
// texts and saved with the weights), hashed with pseudo-random signs into
// lexical_dim buckets, which keeps cosines between bags in expectation. The
// features are both parts L2-normalised and concatenated, weighted so that
// a cosine between two texts is lexical_weight times their lexical cosine
// plus (1 - lexical_weight) times their transformer cosine: adaptation sees
// word overlap, as TF-IDF does, besides what the transformer learned.
//
// With semantic_dim > 0 it also has a semantic branch: a fixed vector per
// token (train/token_vectors.h computes them from unlabelled text, so that
// tokens used in the same definitions lie near each other), summed over the
// text with the same idf weights. Its normalised sum joins the features
// with semantic_weight as its share of the cosine; the transformer keeps
// what the branches leave. With semantic_agreement > 0 the semantic share
// is each text's own: a text whose token vectors disagree (words the
// vectors' corpus knows little of, or a long text on many things) gives
// part of it to the lexical branch.
//
// The branches are bags: they read every token up to max_length, while the
// transformer encodes the first `positions`.
//
//   TextTransformerOptions options;
//   options.vocab_size = tokenizer.vocab_size();
//   ASSIGN_OR_RETURN(auto net, MakeTextTransformer(options));
//   torch::Tensor features = net->forward(ids, mask);  // [B,T] -> [B,dim]
//
// Not thread-safe while training; concurrent forwards in eval mode are safe.
#ifndef ADAPTD_SERVER_ENGINE_MODEL_TEXT_NETS_H_
#define ADAPTD_SERVER_ENGINE_MODEL_TEXT_NETS_H_

#include <cstdint>
#include <memory>
#include <string>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>

#include "absl/status/statusor.h"
#include "adaptd/v1/model_config.pb.h"

namespace adaptd::engine {

struct TextTransformerOptions {
  // Rows of the token embedding: at least the tokenizer's vocabulary size.
  int64_t vocab_size = 0;
  int64_t dim = 128;       // Model width; a multiple of heads.
  int64_t layers = 2;      // Encoder layers.
  int64_t heads = 4;       // Attention heads per layer.
  int64_t mlp_dim = 0;     // The MLP's hidden width; 0 means 4 * dim.
  int64_t max_length = 64;  // The longest input, in tokens.
  // The transformer encodes the first `positions` tokens (the position
  // embedding's rows); the branches read all of them. 0: max_length.
  int64_t positions = 0;
  // How token features become one vector: "mean" (over the attention mask)
  // or "cls" (token 0).
  std::string pooling = "mean";
  // Dropout on the attention probabilities and on each residual branch, in
  // training mode only; not part of the saved weights.
  double dropout = 0.1;
  // Buckets of the lexical branch; 0: none (the features are the pooled
  // transformer output alone).
  int64_t lexical_dim = 0;
  // With a lexical branch: its share of the features' cosine, in [0, 1].
  double lexical_weight = 0.5;
  // Width of the semantic branch's token vectors; 0: none.
  int64_t semantic_dim = 0;
  // With a semantic branch: its share of the features' cosine. The two
  // branches' shares sum to at most 1.
  double semantic_weight = 0.5;
  // With both branches, > 0: a text's semantic share is semantic_weight *
  // min(1, a / semantic_agreement), a the length of the idf-weighted mean of
  // its (unit) token vectors; the lexical branch takes the rest of
  // semantic_weight. 0: semantic_weight for every text.
  double semantic_agreement = 0;
};

// The tokens the transformer encodes: positions, or max_length when 0.
int64_t TextTransformerPositions(const TextTransformerOptions& options);

// The features' width: dim + lexical_dim + semantic_dim.
int64_t TextTransformerFeatureDim(const TextTransformerOptions& options);

// Inverse document frequencies of the tokens of `ids` [N,T] (where `mask`
// is nonzero) over its N texts, as a [vocab_size] float tensor:
// ln((1 + N) / (1 + df)) + 1, as scikit-learn's smoothed idf, except that a
// token found in every text (the [CLS] and [SEP] a tokenizer adds) gets 0.
// REQUIRES: every id in [0, vocab_size).
torch::Tensor TokenIdf(const torch::Tensor& ids, const torch::Tensor& mask, int64_t vocab_size);

// INVALID_ARGUMENT naming the first bad field as `prefix` + its name in
// TextTransformerOptions, e.g. "text.transformer.dim: must be a multiple of
// heads (4), got 130".
absl::Status ValidateTextTransformerOptions(const TextTransformerOptions& options,
                                            const std::string& prefix = "");

// The options model.pbtxt's text section describes: text.transformer's
// fields, text.max_seq_length and text.pooling (empty: "cls", as for every
// text backbone).
TextTransformerOptions TextTransformerOptionsFromConfig(const adaptd::v1::ModelConfig& config);
// The reverse: sets format "text-transformer", feature_dim and those fields
// of `config`.
void TextTransformerOptionsToConfig(const TextTransformerOptions& options,
                                    adaptd::v1::ModelConfig* config);

// token embedding + learned position embedding -> `layers` x [x + attn(LN(x)),
// x + MLP(LN(x))] with multi-head self-attention that ignores padded keys
// and a GELU MLP -> LayerNorm -> pooling.
class TextTransformer : public torch::nn::Module {
 public:
  // REQUIRES: ValidateTextTransformerOptions(options) is OK.
  explicit TextTransformer(const TextTransformerOptions& options);

  // ids [B,T] int64 in [0, vocab_size), mask [B,T] (1 a token, 0 padding;
  // any integer or bool type), 1 <= T <= max_length, every row with at
  // least one token -> features [B,feature_dim()]: without a lexical or
  // semantic branch the raw (unnormalised) pooled transformer output, with
  // one the weighted concatenation of the normalised parts. A row's
  // features do not depend on how much padding follows its tokens.
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& mask);
  // The raw pooled transformer output [B,dim] of the first `positions`
  // tokens, what training's classifier sees.
  torch::Tensor Encode(const torch::Tensor& ids, const torch::Tensor& mask);
  // The token features before pooling, [B,T,dim]; T at most positions.
  torch::Tensor Tokens(const torch::Tensor& ids, const torch::Tensor& mask);
  // The hashed idf-weighted bag of tokens [B,lexical_dim], unnormalised.
  // REQUIRES: lexical_dim > 0.
  torch::Tensor Lexical(const torch::Tensor& ids, const torch::Tensor& mask);
  // The idf-weighted sum of the tokens' semantic vectors [B,semantic_dim],
  // unnormalised. REQUIRES: semantic_dim > 0.
  torch::Tensor Semantic(const torch::Tensor& ids, const torch::Tensor& mask);
  // Sets the branches' token weights (TokenIdf of the training texts);
  // until then every token weighs 1.
  // REQUIRES: a lexical or semantic branch; idf is [vocab_size].
  void SetTokenIdf(const torch::Tensor& idf);
  // Sets the semantic branch's token vectors; until then they are 0.
  // REQUIRES: semantic_dim > 0; vectors is [vocab_size,semantic_dim].
  void SetTokenVectors(const torch::Tensor& vectors);

  int64_t feature_dim() const { return TextTransformerFeatureDim(options_); }
  const TextTransformerOptions& options() const { return options_; }

 private:
  TextTransformerOptions options_;
  torch::nn::Embedding tokens_{nullptr};
  torch::nn::Embedding positions_{nullptr};
  torch::nn::ModuleList layers_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
  // The branches' token weights [vocab_size], saved with the weights; the
  // lexical branch's buckets and signs are a hash of the ids.
  torch::Tensor idf_;
  // The semantic branch's token vectors [vocab_size,semantic_dim].
  torch::Tensor vectors_;
};

// A new encoder with fresh weights (from LibTorch's global generator).
// INVALID_ARGUMENT as ValidateTextTransformerOptions says.
absl::StatusOr<std::shared_ptr<TextTransformer>> MakeTextTransformer(
    const TextTransformerOptions& options);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_MODEL_TEXT_NETS_H_
