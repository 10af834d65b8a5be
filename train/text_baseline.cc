#include "train/text_baseline.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "server/common/status_macros.h"
#include "server/engine/text/basic_tokenizer.h"
#include "server/engine/text/unicode_chars.h"
#include "train/episodes.h"

namespace adaptd::train {
namespace {

using Sparse = absl::flat_hash_map<int32_t, double>;

// Word ids and document frequencies over the fit texts.
class TfIdf {
 public:
  absl::Status Fit(const Dataset& fit) {
    for (int64_t i = 0; i < fit.size(); ++i) {
      ASSIGN_OR_RETURN(std::vector<int32_t> words, Words(fit.texts[i]));
      absl::flat_hash_map<int32_t, int> once;
      for (int32_t w : words) once[w] = 1;
      for (const auto& [w, one] : once) ++df_[w];
    }
    documents_ = fit.size();
    return absl::OkStatus();
  }

  // The L2-normalised TF-IDF vector of `text` (smoothed idf, as
  // scikit-learn's default: ln((1 + n) / (1 + df)) + 1).
  absl::StatusOr<Sparse> Vector(const std::string& text) {
    ASSIGN_OR_RETURN(std::vector<int32_t> words, Words(text));
    Sparse v;
    for (int32_t w : words) v[w] += 1;
    double norm = 0;
    for (auto& [w, x] : v) {
      const auto it = df_.find(w);
      x *= std::log((1.0 + documents_) / (1.0 + (it == df_.end() ? 0 : it->second))) + 1;
      norm += x * x;
    }
    norm = std::sqrt(norm);
    for (auto& [w, x] : v) x /= norm > 0 ? norm : 1;
    return v;
  }

 private:
  absl::StatusOr<std::vector<int32_t>> Words(const std::string& text) {
    ASSIGN_OR_RETURN(auto words, splitter_.Split(text, "text"));
    std::vector<int32_t> ids;
    for (const auto& w : words) {
      const auto [it, added] = ids_.try_emplace(engine::unicode::EncodeUtf8(w), ids_.size());
      ids.push_back(it->second);
    }
    return ids;
  }

  engine::BasicTokenizer splitter_{engine::BasicTokenizerOptions{}};
  absl::flat_hash_map<std::string, int32_t> ids_;
  absl::flat_hash_map<int32_t, int> df_;
  int64_t documents_ = 0;
};

double Dot(const Sparse& a, const Sparse& b) {
  const Sparse& small = a.size() < b.size() ? a : b;
  const Sparse& large = a.size() < b.size() ? b : a;
  double sum = 0;
  for (const auto& [w, x] : small) {
    const auto it = large.find(w);
    if (it != large.end()) sum += x * it->second;
  }
  return sum;
}

// The share of an episode's queries whose nearest centroid (by cosine) is
// their own class's.
double NearestCentroidAccuracy(const Episode& e, const std::vector<Sparse>& vectors) {
  const int ways = static_cast<int>(e.classes.size());
  std::vector<Sparse> centroids(ways);
  for (size_t i = 0; i < e.support.size(); ++i) {
    for (const auto& [w, x] : vectors[e.support[i]]) centroids[e.support_labels[i]][w] += x;
  }
  std::vector<double> norms(ways);
  for (int c = 0; c < ways; ++c) {
    norms[c] = std::sqrt(std::max(Dot(centroids[c], centroids[c]), 1e-300));
  }
  int correct = 0;
  for (size_t q = 0; q < e.query.size(); ++q) {
    int best = 0;
    double best_score = -1;
    for (int c = 0; c < ways; ++c) {
      const double score = Dot(vectors[e.query[q]], centroids[c]) / norms[c];
      if (score > best_score) {
        best_score = score;
        best = c;
      }
    }
    correct += best == e.query_labels[q];
  }
  return e.query.empty() ? 0 : static_cast<double>(correct) / e.query.size();
}

}  // namespace

struct TfIdfTexts::Vectors {
  std::vector<Sparse> rows;  // Per text.
};

TfIdfTexts::TfIdfTexts(std::unique_ptr<Vectors> vectors) : vectors_(std::move(vectors)) {}
TfIdfTexts::~TfIdfTexts() = default;

absl::StatusOr<std::unique_ptr<TfIdfTexts>> TfIdfTexts::Create(const Dataset& fit,
                                                               const Dataset& texts) {
  if (fit.modality != Modality::kText || texts.modality != Modality::kText) {
    return absl::InvalidArgumentError("TF-IDF baseline: needs text sets");
  }
  TfIdf tfidf;
  RETURN_IF_ERROR(tfidf.Fit(fit));
  auto vectors = std::make_unique<Vectors>();
  vectors->rows.reserve(texts.texts.size());
  for (const auto& text : texts.texts) {
    ASSIGN_OR_RETURN(Sparse v, tfidf.Vector(text));
    vectors->rows.push_back(std::move(v));
  }
  return std::unique_ptr<TfIdfTexts>(new TfIdfTexts(std::move(vectors)));
}

double TfIdfTexts::EpisodeAccuracy(const Episode& episode) const {
  return NearestCentroidAccuracy(episode, vectors_->rows);
}

absl::StatusOr<std::vector<FewShotResult>> TfIdfNearestCentroid(const Dataset& fit,
                                                                const Dataset& test,
                                                                const TextBaselineOptions& o) {
  ASSIGN_OR_RETURN(const std::unique_ptr<TfIdfTexts> tfidf, TfIdfTexts::Create(fit, test));
  ASSIGN_OR_RETURN(std::vector<EpisodeSampler> samplers,
                   SamplersFor(test, o.settings, o.queries, o.seed));
  std::vector<FewShotResult> results;
  for (const EpisodeSampler& sampler : samplers) {
    std::vector<double> accuracies;
    for (int i = 0; i < o.episodes; ++i) {
      accuracies.push_back(tfidf->EpisodeAccuracy(sampler.Sample(i)));
    }
    const EpisodeOptions& eo = sampler.options();
    results.push_back(SummarizeEpisodes(eo.ways, eo.shots, eo.queries, accuracies));
  }
  return results;
}

}  // namespace adaptd::train
