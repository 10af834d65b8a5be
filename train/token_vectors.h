// Token vectors from unlabelled text, for the text encoder's semantic branch
// (server/engine/model/text_nets.h): the positive pointwise mutual
// information of tokens that occur in the same context, factored by a
// randomised SVD, so that tokens used alike (in the same dictionary
// definitions) get nearby vectors even where two texts share no token.
// Levy, Goldberg and Dagan's recipe: contexts are windows of `window`
// tokens, each token pair counted once per window; context frequencies
// smoothed to the power 0.75; the vectors are U * sqrt(S), normalised.
//
//   TokenVectorOptions o;
//   o.dim = 256;
//   torch::Tensor vectors = TokenVectors(docs, tokenizer.vocab_size(), o);
//
// Thread-compatible; LibTorch on the CPU.
#ifndef ADAPTD_TRAIN_TOKEN_VECTORS_H_
#define ADAPTD_TRAIN_TOKEN_VECTORS_H_

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace adaptd::train {

struct TokenVectorOptions {
  int64_t dim = 256;          // Width of the vectors.
  int64_t window = 64;        // Tokens per context; longer texts are cut into windows.
  double smoothing = 0.75;    // Power of the context frequencies.
  int power_iterations = 4;   // Of the randomised SVD.
  uint64_t seed = 1;          // Its random start; the same seed, the same vectors.
};

// [vocab_size,dim] float: unit rows, zero for tokens that share no context
// with another. `docs` holds token ids in [0, vocab_size); ids in `skip`
// (a tokenizer's special tokens) are left out.
// REQUIRES: 0 < dim < vocab_size.
at::Tensor TokenVectors(const std::vector<std::vector<int32_t>>& docs, int64_t vocab_size,
                        const std::vector<int32_t>& skip, const TokenVectorOptions& options);

}  // namespace adaptd::train

#endif  // ADAPTD_TRAIN_TOKEN_VECTORS_H_
