// CRC-32 (zlib's polynomial), the checksum of every file and record the
// project writes. Thread-safe.
#ifndef ADAPTD_SERVER_COMMON_CRC32_H_
#define ADAPTD_SERVER_COMMON_CRC32_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace adaptd {

uint32_t Crc32(absl::string_view data);

}  // namespace adaptd

#endif  // ADAPTD_SERVER_COMMON_CRC32_H_
