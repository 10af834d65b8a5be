#include "train/token_vectors.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "absl/container/flat_hash_map.h"

namespace adaptd::train {
namespace {

using torch::Tensor;

// Symmetric co-occurrence counts: (a << 32 | b) for a < b -> windows
// holding both.
absl::flat_hash_map<uint64_t, float> CountPairs(const std::vector<std::vector<int32_t>>& docs,
                                                int64_t vocab_size,
                                                const std::vector<int32_t>& skip,
                                                int64_t window) {
  std::vector<bool> skipped(vocab_size, false);
  for (const int32_t id : skip) {
    if (id >= 0 && id < vocab_size) skipped[id] = true;
  }
  absl::flat_hash_map<uint64_t, float> counts;
  std::vector<int32_t> ids;
  for (const auto& doc : docs) {
    for (size_t start = 0; start < doc.size(); start += window) {
      ids.clear();
      const size_t end = std::min(doc.size(), start + static_cast<size_t>(window));
      for (size_t i = start; i < end; ++i) {
        if (doc[i] >= 0 && doc[i] < vocab_size && !skipped[doc[i]]) ids.push_back(doc[i]);
      }
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      for (size_t i = 0; i < ids.size(); ++i) {
        for (size_t j = i + 1; j < ids.size(); ++j) {
          counts[static_cast<uint64_t>(ids[i]) << 32 | static_cast<uint32_t>(ids[j])] += 1;
        }
      }
    }
  }
  return counts;
}

// A sparse [V,V] matrix in compressed rows. LibTorch's sparse products run
// on one thread; Times spreads the rows over the intra-op threads.
struct Csr {
  std::vector<int64_t> starts;  // [V+1]
  std::vector<int32_t> columns;
  std::vector<float> values;

  // this [V,V] times x [V,W] float.
  Tensor Times(const Tensor& x) const {
    const Tensor in = x.contiguous();
    const int64_t rows = static_cast<int64_t>(starts.size()) - 1, width = in.size(1);
    Tensor out = torch::zeros({rows, width});
    const float* xs = in.data_ptr<float>();
    float* os = out.data_ptr<float>();
    at::parallel_for(0, rows, 256, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        float* o = os + r * width;
        for (int64_t k = starts[r]; k < starts[r + 1]; ++k) {
          const float v = values[k];
          const float* row = xs + static_cast<int64_t>(columns[k]) * width;
          for (int64_t c = 0; c < width; ++c) o[c] += v * row[c];
        }
      }
    });
    return out;
  }
};

struct Entry {
  int32_t row, column;
  float value;
};

Csr MakeCsr(const std::vector<Entry>& entries, int64_t rows, bool transpose) {
  Csr m;
  m.starts.assign(rows + 1, 0);
  for (const Entry& e : entries) ++m.starts[(transpose ? e.column : e.row) + 1];
  for (int64_t r = 0; r < rows; ++r) m.starts[r + 1] += m.starts[r];
  std::vector<int64_t> next(m.starts.begin(), m.starts.end() - 1);
  m.columns.resize(entries.size());
  m.values.resize(entries.size());
  for (const Entry& e : entries) {
    const int64_t at = next[transpose ? e.column : e.row]++;
    m.columns[at] = transpose ? e.row : e.column;
    m.values[at] = e.value;
  }
  return m;
}

// The positive PMI entries from symmetric pair counts, both directions,
// sorted by row and column (MakeCsr keeps that order in each row).
std::vector<Entry> Ppmi(const absl::flat_hash_map<uint64_t, float>& counts, int64_t vocab_size,
                        double smoothing) {
  std::vector<double> rows(vocab_size, 0);
  for (const auto& [key, n] : counts) {
    rows[key >> 32] += n;
    rows[key & 0xffffffffu] += n;
  }
  double smoothed_total = 0;
  std::vector<double> context(vocab_size);
  for (int64_t i = 0; i < vocab_size; ++i) {
    context[i] = std::pow(rows[i], smoothing);
    smoothed_total += context[i];
  }
  std::vector<Entry> entries;
  const auto add = [&](int32_t a, int32_t b, double n) {
    const double pmi = std::log(n * smoothed_total / (rows[a] * context[b]));
    if (pmi > 0) entries.push_back({a, b, static_cast<float>(pmi)});
  };
  for (const auto& [key, n] : counts) {
    const auto a = static_cast<int32_t>(key >> 32), b = static_cast<int32_t>(key & 0xffffffffu);
    add(a, b, n);
    add(b, a, n);
  }
  // The hash map's order varies between runs; the products' sums must not.
  std::sort(entries.begin(), entries.end(), [](const Entry& x, const Entry& y) {
    return x.row != y.row ? x.row < y.row : x.column < y.column;
  });
  return entries;
}

Tensor Orthonormal(const Tensor& x) { return std::get<0>(torch::linalg_qr(x)); }

}  // namespace

Tensor TokenVectors(const std::vector<std::vector<int32_t>>& docs, int64_t vocab_size,
                    const std::vector<int32_t>& skip, const TokenVectorOptions& o) {
  TORCH_CHECK(o.dim > 0 && o.dim < vocab_size, "TokenVectors: dim must be in (0, ", vocab_size,
              "), got ", o.dim);
  torch::NoGradGuard no_grad;
  const std::vector<Entry> entries =
      Ppmi(CountPairs(docs, vocab_size, skip, o.window), vocab_size, o.smoothing);
  const Csr p = MakeCsr(entries, vocab_size, false), pt = MakeCsr(entries, vocab_size, true);
  // Halko, Martinsson and Tropp's randomised range finder with power
  // iterations, then the SVD of the small projected matrix.
  const int64_t width = std::min(vocab_size, o.dim + 16);
  torch::manual_seed(o.seed);
  Tensor q = Orthonormal(p.Times(torch::randn({vocab_size, width})));
  for (int i = 0; i < o.power_iterations; ++i) q = Orthonormal(p.Times(Orthonormal(pt.Times(q))));
  const Tensor b = pt.Times(q).t();  // [width,V] = q^T p
  const auto svd = torch::linalg_svd(b, /*full_matrices=*/false);
  const Tensor u = torch::mm(q, std::get<0>(svd).narrow(1, 0, o.dim));
  const Tensor vectors = u * std::get<1>(svd).narrow(0, 0, o.dim).sqrt().unsqueeze(0);
  // Unit rows; tokens without a context (an empty row of p) get 0, not
  // the normalised rounding noise of the factorisation.
  std::vector<uint8_t> seen(vocab_size);
  for (int64_t r = 0; r < vocab_size; ++r) seen[r] = p.starts[r + 1] > p.starts[r];
  const Tensor mask = torch::tensor(seen, torch::kBool).unsqueeze(1);
  return torch::where(mask, vectors / vectors.norm(2, 1, /*keepdim=*/true).clamp_min(1e-12),
                      torch::zeros_like(vectors))
      .contiguous();
}

}  // namespace adaptd::train
