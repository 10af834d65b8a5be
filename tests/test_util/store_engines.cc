#include "tests/test_util/store_engines.h"

#include <cmath>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "tests/test_util/requests.h"
#include "tests/test_util/synthetic.h"
#include "tests/test_util/tiny_models.h"

namespace adaptd::testing {

namespace {

// Removed when the test process exits.
struct TempRepository {
  TempRepository() : dir(MakeTempDir("adaptd_store_repo")) {
    WriteTinyConv4Model(dir + "/tiny", "tiny", /*with_meta=*/true);
    WriteTinyConv4Model(dir + "/plain", "plain", /*with_meta=*/false);
  }
  ~TempRepository() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  const std::string dir;
};

}  // namespace

const std::string& StoreTestRepository() {
  static const TempRepository repo;
  return repo.dir;
}

engine::Engine::Options StoreTestEngineOptions() {
  engine::Engine::Options options;
  options.model_repository = StoreTestRepository();
  options.device = "cpu";
  options.intra_op_threads = 1;
  options.max_support_size = 100;
  options.max_classes = 10;
  options.on_model_error = [](const std::string&, const absl::Status&) {};
  return options;
}

absl::StatusOr<std::vector<engine::Prediction>> PredictProbes(engine::Engine& engine,
                                                              const std::string& adapter_id,
                                                              const engine::CallContext& ctx,
                                                              int ways) {
  RequestBuilder builder;
  engine::Engine::PredictRequest request;
  request.adapter_id = adapter_id;
  for (int c = 0; c < ways; ++c) {
    for (int i = 10; i < 13; ++i) request.inputs.push_back(builder.Tensor(c, i));
  }
  auto result = engine.Predict(request, ctx);
  if (!result.ok()) return result.status();
  return result->predictions;
}

bool SamePredictions(const std::vector<engine::Prediction>& a,
                     const std::vector<engine::Prediction>& b, std::string* why) {
  if (a.size() != b.size()) {
    *why = absl::StrCat(a.size(), " predictions vs ", b.size());
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].label != b[i].label || a[i].scores.size() != b[i].scores.size()) {
      *why = absl::StrCat("input ", i, ": ", a[i].label, " vs ", b[i].label);
      return false;
    }
    for (size_t j = 0; j < a[i].scores.size(); ++j) {
      if (a[i].scores[j].label != b[i].scores[j].label ||
          std::fabs(a[i].scores[j].probability - b[i].scores[j].probability) > 1e-6) {
        *why = absl::StrCat("input ", i, " class ", j, ": ", a[i].scores[j].label, "=",
                            a[i].scores[j].probability, " vs ", b[i].scores[j].label, "=",
                            b[i].scores[j].probability);
        return false;
      }
    }
  }
  return true;
}

}  // namespace adaptd::testing
