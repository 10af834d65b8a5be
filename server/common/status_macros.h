// RETURN_IF_ERROR and ASSIGN_OR_RETURN, for functions that return absl::Status
// or absl::StatusOr.
#ifndef ADAPTD_SERVER_COMMON_STATUS_MACROS_H_
#define ADAPTD_SERVER_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ADAPTD_CONCAT_INNER(a, b) a##b
#define ADAPTD_CONCAT(a, b) ADAPTD_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::absl::Status _st = (expr);               \
    if (!_st.ok()) return _st;                 \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(ADAPTD_CONCAT(_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

#endif  // ADAPTD_SERVER_COMMON_STATUS_MACROS_H_
