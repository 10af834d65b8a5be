#include "server/engine/base/types.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace adaptd::engine {

const char* MethodName(Method method) {
  switch (method) {
    case Method::kMeta:
      return "META";
    case Method::kFinetune:
      return "FINETUNE";
    case Method::kPrototype:
      return "PROTOTYPE";
    case Method::kUnspecified:
      break;
  }
  return "METHOD_UNSPECIFIED";
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

}  // namespace adaptd::engine
