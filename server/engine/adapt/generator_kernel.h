// The head generator's forward pass (MetaLearnerImpl::Generate) on the host
// in one call, for serving on the CPU: the same arithmetic as the LibTorch
// modules, with the weights laid out once for it, and no per-op dispatch,
// allocation or autograd bookkeeping. At serving sizes (a few classes, a
// few hundred to a few thousand features) those costs, not the arithmetic,
// were most of the generator's time.
//
// No LibTorch. Thread-compatible; GeneratorWeights are immutable once made.
#ifndef ADAPTD_SERVER_ENGINE_ADAPT_GENERATOR_KERNEL_H_
#define ADAPTD_SERVER_ENGINE_ADAPT_GENERATOR_KERNEL_H_

#include <cstdint>
#include <vector>

namespace adaptd::engine {

// The generator's parameters. A layer with more outputs than inputs is
// stored transposed ([in, out], row-major: its product accumulates rows of
// it); one with fewer, such as the embedding of the features, as LibTorch
// holds it ([out, in]: its product is dot products along the rows).
struct GeneratorWeights {
  int64_t dim = 0, hidden = 0, heads = 0, rank = 0;
  std::vector<float> embed;          // [h, D]
  std::vector<float> embed_stats_t;  // [3, h]
  std::vector<float> embed_bias;     // [h]: embed's and embed_stats' biases summed.
  std::vector<float> norm1_weight, norm1_bias, norm2_weight, norm2_bias;  // [h]
  std::vector<float> qkv_t, qkv_bias;                                   // [h, 3h], [3h]
  std::vector<float> attend_out_t, attend_out_bias;                     // [h, h], [h]
  std::vector<float> ffn1_t, ffn1_bias;                                 // [h, 2h], [2h]
  std::vector<float> ffn2, ffn2_bias;                                   // [h, 2h], [h]
  std::vector<float> delta_t, delta_bias;                               // [h, D], [D]
  std::vector<float> gamma_t, gamma_bias;                               // [h + 2, D], [D]
  std::vector<float> class_bias_w;                                      // [h]
  float class_bias_b = 0;
  std::vector<float> log_scale_w;  // [h + 2]
  float log_scale_b = 0;
  std::vector<float> metric_p, metric_q;  // [rank, D]
};

// Writes the generated head for a support set into `flat`, laid out as
// adaptation lays out a head: weight [C, D] row-major, then bias [C], then
// the log-scale. `features` [n, D] row-major, `labels` [n] in [0, C) with
// every class present, `prototypes` [C, D] their class means.
void GenerateHeadOnHost(const GeneratorWeights& w, const float* features, const int64_t* labels,
                        int64_t n, const float* prototypes, int64_t classes, float* flat);

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_ADAPT_GENERATOR_KERNEL_H_
