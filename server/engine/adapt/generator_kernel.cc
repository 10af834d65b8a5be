#include "server/engine/adapt/generator_kernel.h"

#include <algorithm>
#include <cmath>
#include <vector>

// The loops that do the arithmetic are built twice, for x86-64 and for
// x86-64-v3 (AVX2, FMA), and the second runs where the CPU has it. The
// eight-float helpers are always inlined into them, so the warning about
// passing AVX vectors between functions built without AVX does not apply.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ADAPTD_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define ADAPTD_VECTOR_CLONES
#endif
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace adaptd::engine {
namespace {

constexpr float kLayerNormEps = 1e-5f;  // LibTorch's LayerNorm default.

// out[r, :] = bias (or 0), for r < rows; rows of width m.
void SetRows(float* out, int64_t rows, int64_t m, const float* bias) {
  for (int64_t r = 0; r < rows; ++r) {
    if (bias != nullptr) {
      std::copy(bias, bias + m, out + r * m);
    } else {
      std::fill(out + r * m, out + (r + 1) * m, 0.0f);
    }
  }
}

// out[r, :] += bias, for r < rows; rows of width m.
void AddToRows(float* out, int64_t rows, int64_t m, const std::vector<float>& bias) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < m; ++j) out[r * m + j] += bias[j];
  }
}

// out[r, :] = scale * in[r, :], for r < rows; rows of width m.
void ScaleRows(const float* in, int64_t rows, int64_t m, const float* scale, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < m; ++j) out[r * m + j] = scale[j] * in[r * m + j];
  }
}

// Eight floats; on the AVX2 clone one register, elsewhere two.
typedef float V8 __attribute__((vector_size(32)));

__attribute__((always_inline)) inline V8 Load8(const float* p) {
  V8 v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}

__attribute__((always_inline)) inline void Store8(float* p, const V8& v) {
  __builtin_memcpy(p, &v, sizeof(v));
}

__attribute__((always_inline)) inline float Sum8(const V8& v) {
  return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

// out[r, :m] += sum_i a[r * lda + i] * bt[i, :m], for r < rows: a [rows, k]
// (row stride lda) times bt [k, m], for wide outputs (m >> k). Eight
// columns of four rows stay in registers over the whole sum.
ADAPTD_VECTOR_CLONES
void AddProduct(const float* a, int64_t rows, int64_t k, int64_t lda, const float* bt, int64_t m,
                float* out) {
  int64_t j = 0;
  for (; j + 8 <= m; j += 8) {
    for (int64_t r0 = 0; r0 < rows; r0 += 4) {
      // Past the last row, repeat it and drop the result.
      const float* a0 = a + r0 * lda;
      const float* a1 = a + std::min(r0 + 1, rows - 1) * lda;
      const float* a2 = a + std::min(r0 + 2, rows - 1) * lda;
      const float* a3 = a + std::min(r0 + 3, rows - 1) * lda;
      V8 acc0 = {}, acc1 = {}, acc2 = {}, acc3 = {};
      for (int64_t i = 0; i < k; ++i) {
        const V8 b = Load8(bt + i * m + j);
        acc0 += a0[i] * b;
        acc1 += a1[i] * b;
        acc2 += a2[i] * b;
        acc3 += a3[i] * b;
      }
      const V8 acc[4] = {acc0, acc1, acc2, acc3};
      for (int64_t q = 0; q < 4 && r0 + q < rows; ++q) {
        float* o = out + (r0 + q) * m + j;
        Store8(o, Load8(o) + acc[q]);
      }
    }
  }
  for (; j < m; ++j) {
    for (int64_t r = 0; r < rows; ++r) {
      float sum = 0;
      for (int64_t i = 0; i < k; ++i) sum += a[r * lda + i] * bt[i * m + j];
      out[r * m + j] += sum;
    }
  }
}

// out[r, j] += dot(a[r * lda :], w[j, :k]), for r < rows, j < m: a [rows, k]
// times w [m, k] transposed, for long sums (k >> m). Two rows by four
// columns at a time, eight lanes each, summed across lanes at the end.
ADAPTD_VECTOR_CLONES
void AddDots(const float* a, int64_t rows, int64_t k, int64_t lda, const float* w, int64_t m,
             float* out) {
  const int64_t k8 = k - k % 8;
  for (int64_t r0 = 0; r0 < rows; r0 += 2) {
    const float* ar[2] = {a + r0 * lda, a + std::min(r0 + 1, rows - 1) * lda};
    for (int64_t j0 = 0; j0 < m; j0 += 4) {
      const float* wr[4];
      for (int64_t q = 0; q < 4; ++q) wr[q] = w + std::min(j0 + q, m - 1) * k;
      V8 acc[2][4] = {};
      for (int64_t i = 0; i < k8; i += 8) {
        const V8 x0 = Load8(ar[0] + i), x1 = Load8(ar[1] + i);
        for (int64_t q = 0; q < 4; ++q) {
          const V8 y = Load8(wr[q] + i);
          acc[0][q] += x0 * y;
          acc[1][q] += x1 * y;
        }
      }
      for (int64_t p = 0; p < 2 && r0 + p < rows; ++p) {
        for (int64_t q = 0; q < 4 && j0 + q < m; ++q) {
          float sum = Sum8(acc[p][q]);
          for (int64_t i = k8; i < k; ++i) sum += ar[p][i] * wr[q][i];
          out[(r0 + p) * m + j0 + q] += sum;
        }
      }
    }
  }
}

// A linear layer over rows: out [rows, m] = a [rows, k] . W^T + bias.
void Linear(const float* a, int64_t rows, int64_t k, const std::vector<float>& w_t,
            const std::vector<float>& bias, int64_t m, float* out) {
  SetRows(out, rows, m, bias.data());
  AddProduct(a, rows, k, k, w_t.data(), m, out);
}

void LayerNorm(const float* x, int64_t rows, int64_t m, const std::vector<float>& weight,
               const std::vector<float>& bias, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * m;
    double mean = 0, var = 0;
    for (int64_t j = 0; j < m; ++j) mean += in[j];
    mean /= static_cast<double>(m);
    for (int64_t j = 0; j < m; ++j) var += (in[j] - mean) * (in[j] - mean);
    const float inv =
        static_cast<float>(1.0 / std::sqrt(var / static_cast<double>(m) + kLayerNormEps));
    for (int64_t j = 0; j < m; ++j) {
      out[r * m + j] = (in[j] - static_cast<float>(mean)) * inv * weight[j] + bias[j];
    }
  }
}

// sum_j a[j] * b[j], eight lanes at a time (a serial sum would wait on
// each addition).
ADAPTD_VECTOR_CLONES
float Dot(const float* a, const float* b, int64_t m) {
  V8 acc0 = {}, acc1 = {};
  int64_t j = 0;
  for (; j + 16 <= m; j += 16) {
    acc0 += Load8(a + j) * Load8(b + j);
    acc1 += Load8(a + j + 8) * Load8(b + j + 8);
  }
  for (; j + 8 <= m; j += 8) acc0 += Load8(a + j) * Load8(b + j);
  float sum = Sum8(acc0 + acc1);
  for (; j < m; ++j) sum += a[j] * b[j];
  return sum;
}

// sum_j (a[j] - b[j])^2, likewise.
ADAPTD_VECTOR_CLONES
float SquaredDistance(const float* a, const float* b, int64_t m) {
  V8 acc0 = {}, acc1 = {};
  int64_t j = 0;
  for (; j + 16 <= m; j += 16) {
    const V8 x = Load8(a + j) - Load8(b + j), y = Load8(a + j + 8) - Load8(b + j + 8);
    acc0 += x * x;
    acc1 += y * y;
  }
  for (; j + 8 <= m; j += 8) {
    const V8 x = Load8(a + j) - Load8(b + j);
    acc0 += x * x;
  }
  float sum = Sum8(acc0 + acc1);
  for (; j < m; ++j) sum += (a[j] - b[j]) * (a[j] - b[j]);
  return sum;
}

// One pre-norm transformer block over the class embeddings x [C, h], in
// place: x += attend(norm1(x)); x += ffn2(gelu(ffn1(norm2(x)))).
void AttendClasses(const GeneratorWeights& w, int64_t classes, float* x, float* scratch) {
  const int64_t h = w.hidden, heads = w.heads, width = h / heads;
  float* normed = scratch;                  // [C, h]
  float* qkv = normed + classes * h;        // [C, 3h]
  float* mixed = qkv + classes * 3 * h;     // [C, h]
  float* hidden = mixed + classes * h;      // [C, 2h]
  float* scores = hidden + classes * 2 * h;  // [C]
  LayerNorm(x, classes, h, w.norm1_weight, w.norm1_bias, normed);
  Linear(normed, classes, h, w.qkv_t, w.qkv_bias, 3 * h, qkv);
  const float inv_sqrt_width = 1.0f / std::sqrt(static_cast<float>(width));
  std::fill(mixed, mixed + classes * h, 0.0f);
  for (int64_t head = 0; head < heads; ++head) {
    const int64_t offset = head * width;
    for (int64_t i = 0; i < classes; ++i) {
      const float* q = qkv + i * 3 * h + offset;
      float top = -INFINITY;
      for (int64_t j = 0; j < classes; ++j) {
        scores[j] = Dot(q, qkv + j * 3 * h + h + offset, width) * inv_sqrt_width;
        top = std::max(top, scores[j]);
      }
      float total = 0;
      for (int64_t j = 0; j < classes; ++j) total += scores[j] = std::exp(scores[j] - top);
      float* out = mixed + i * h + offset;
      for (int64_t j = 0; j < classes; ++j) {
        const float a = scores[j] / total;
        const float* v = qkv + j * 3 * h + 2 * h + offset;
        for (int64_t k = 0; k < width; ++k) out[k] += a * v[k];
      }
    }
  }
  // x += attend_out(mixed).
  AddToRows(x, classes, h, w.attend_out_bias);
  AddProduct(mixed, classes, h, h, w.attend_out_t.data(), h, x);
  LayerNorm(x, classes, h, w.norm2_weight, w.norm2_bias, normed);
  Linear(normed, classes, h, w.ffn1_t, w.ffn1_bias, 2 * h, hidden);
  for (int64_t j = 0; j < classes * 2 * h; ++j) {
    hidden[j] = 0.5f * hidden[j] * (1.0f + std::erf(hidden[j] * static_cast<float>(M_SQRT1_2)));
  }
  AddToRows(x, classes, h, w.ffn2_bias);
  AddDots(hidden, classes, 2 * h, 2 * h, w.ffn2.data(), h, x);
}

}  // namespace

void GenerateHeadOnHost(const GeneratorWeights& w, const float* features, const int64_t* labels,
                        int64_t n, const float* prototypes, int64_t classes, float* flat) {
  const int64_t d = w.dim, h = w.hidden, r = w.rank, c = classes;
  std::vector<float> scratch(c * (3 + h + (7 * h + 1) + 2 * d + 2 * r) + (h + 2) + d);
  float* stats = scratch.data();    // [C, 3]: log count, spread, |prototype|.
  float* z = stats + c * 3;         // [C, h]
  float* work = z + c * h;          // AttendClasses' scratch, [C, 7h + 1].
  float* adapted = work + c * (7 * h + 1);  // [C, D]
  float* embedded = adapted + c * d;        // [C, D]
  float* low_rank = embedded + c * d;       // [C, rank], twice.
  float* task = low_rank + c * 2 * r;       // [h + 2]
  float* scale = task + h + 2;              // [D]

  // Class statistics.
  std::vector<float> counts(c, 0.0f), spread(c, 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    counts[labels[i]] += 1;
    spread[labels[i]] += SquaredDistance(features + i * d, prototypes + labels[i] * d, d);
  }
  for (int64_t k = 0; k < c; ++k) {
    const float* p = prototypes + k * d;
    stats[k * 3] = std::log(counts[k]);
    stats[k * 3 + 1] = spread[k] / counts[k];
    stats[k * 3 + 2] = std::sqrt(Dot(p, p, d));
  }

  // Class embeddings, then the block over the classes, then the task.
  SetRows(z, c, h, w.embed_bias.data());
  AddDots(prototypes, c, d, d, w.embed.data(), h, z);
  AddProduct(stats, c, 3, 3, w.embed_stats_t.data(), h, z);
  AttendClasses(w, c, z, work);
  std::fill(task, task + h, 0.0f);
  for (int64_t k = 0; k < c; ++k) {
    for (int64_t j = 0; j < h; ++j) task[j] += z[k * h + j];
  }
  for (int64_t j = 0; j < h; ++j) task[j] /= static_cast<float>(c);
  task[h] = static_cast<float>(std::log(static_cast<double>(c)));
  task[h + 1] = static_cast<float>(std::log(static_cast<double>(n) / static_cast<double>(c)));

  // adapted = prototypes + delta(z); scale = 1 + gamma(task).
  Linear(z, c, h, w.delta_t, w.delta_bias, d, adapted);
  for (int64_t j = 0; j < c * d; ++j) adapted[j] += prototypes[j];
  SetRows(scale, 1, d, w.gamma_bias.data());
  AddProduct(task, 1, h + 2, h + 2, w.gamma_t.data(), d, scale);
  for (int64_t j = 0; j < d; ++j) scale[j] += 1.0f;

  // embedded = M adapted, weight = M^T embedded, with
  // M x = scale * x + P^T (Q x) and M^T y = scale * y + Q^T (P y).
  float* weight = flat;
  ScaleRows(adapted, c, d, scale, embedded);
  if (r > 0) {
    SetRows(low_rank, c, r, nullptr);
    AddDots(adapted, c, d, d, w.metric_q.data(), r, low_rank);
    AddProduct(low_rank, c, r, r, w.metric_p.data(), d, embedded);
  }
  ScaleRows(embedded, c, d, scale, weight);
  if (r > 0) {
    float* projected = low_rank + c * r;
    SetRows(projected, c, r, nullptr);
    AddDots(embedded, c, d, d, w.metric_p.data(), r, projected);
    AddProduct(projected, c, r, r, w.metric_q.data(), d, weight);
  }

  float* bias = flat + c * d;
  for (int64_t k = 0; k < c; ++k) {
    const float* e = embedded + k * d;
    bias[k] = -0.5f * Dot(e, e, d) + Dot(w.class_bias_w.data(), z + k * h, h) + w.class_bias_b;
  }
  flat[c * d + c] = Dot(w.log_scale_w.data(), task, h + 2) + w.log_scale_b;
}

}  // namespace adaptd::engine
