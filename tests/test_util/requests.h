// Builds engine requests over synthetic data, owning the bytes the requests
// view. No LibTorch.
#ifndef ADAPTD_TESTS_TEST_UTIL_REQUESTS_H_
#define ADAPTD_TESTS_TEST_UTIL_REQUESTS_H_

#include <deque>
#include <string>

#include "absl/strings/str_cat.h"
#include "server/engine/engine.h"
#include "tests/test_util/synthetic.h"

namespace adaptd::testing {

class RequestBuilder {
 public:
  // A UINT8 tensor input of SyntheticImage(cls, instance).
  engine::InputRef Tensor(int cls, int instance) {
    auto pixels = SyntheticImage(cls, instance);
    bytes_.emplace_back(pixels.begin(), pixels.end());
    engine::InputRef ref;
    ref.kind = engine::InputRef::Kind::kTensor;
    ref.shape = {1, kSide, kSide};
    ref.dtype = engine::DType::kUint8;
    ref.data = bytes_.back();
    return ref;
  }

  // A PNG image input of SyntheticImage(cls, instance).
  engine::InputRef Png(int cls, int instance) {
    bytes_.push_back(EncodePng(SyntheticImage(cls, instance), kSide, kSide));
    engine::InputRef ref;
    ref.kind = engine::InputRef::Kind::kImage;
    ref.data = bytes_.back();
    return ref;
  }

  // `ways` classes (labels "c<k>", first class `first`), instances
  // 0..shots-1 of each.
  engine::Engine::AdaptRequest Adapt(const std::string& backbone, int ways, int shots,
                                     engine::Method method, int first = 0) {
    engine::Engine::AdaptRequest request;
    request.backbone = backbone;
    request.method = method;
    for (int c = first; c < first + ways; ++c) {
      for (int s = 0; s < shots; ++s) {
        request.support.push_back({absl::StrCat("c", c), Tensor(c, s)});
      }
    }
    return request;
  }

 private:
  std::deque<std::string> bytes_;  // Stable addresses.
};

}  // namespace adaptd::testing

#endif  // ADAPTD_TESTS_TEST_UTIL_REQUESTS_H_
