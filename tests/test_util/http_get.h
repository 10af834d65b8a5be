// A minimal blocking HTTP/1.0 GET for scraping /metrics in tests.
#ifndef ADAPTD_TESTS_TEST_UTIL_HTTP_GET_H_
#define ADAPTD_TESTS_TEST_UTIL_HTTP_GET_H_

#include <string>

#include "absl/status/statusor.h"

namespace adaptd::testing {

// The body of GET http://127.0.0.1:<port><path>; an error unless 200.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path);

}  // namespace adaptd::testing

#endif  // ADAPTD_TESTS_TEST_UTIL_HTTP_GET_H_
