// An adapted task head and what is known about it. Immutable once stored:
// readers share it by std::shared_ptr<const Adapter>, so deleting or evicting
// an adapter never invalidates a request that already holds it.
#ifndef ADAPTD_SERVER_ENGINE_BASE_ADAPTER_H_
#define ADAPTD_SERVER_ENGINE_BASE_ADAPTER_H_

#include <memory>

#include "server/engine/base/types.h"

namespace adaptd::engine {

class AdapterHead;  // The head's tensors; see adapter_head.h (LibTorch).

struct Adapter {
  AdapterInfo info;
  std::shared_ptr<const AdapterHead> head;
};

using AdapterPtr = std::shared_ptr<const Adapter>;

}  // namespace adaptd::engine

#endif  // ADAPTD_SERVER_ENGINE_BASE_ADAPTER_H_
