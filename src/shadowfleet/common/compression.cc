#include "shadowfleet/common/compression.h"

#include <zlib.h>

#include "absl/strings/str_cat.h"

namespace shadowfleet {

std::string Compress(std::string_view data) {
  uLongf bound = compressBound(data.size());
  std::string out(bound, '\0');
  int rc = compress2(reinterpret_cast<Bytef*>(out.data()), &bound,
                     reinterpret_cast<const Bytef*>(data.data()), data.size(), 6);
  if (rc != Z_OK) {
    // Only Z_MEM_ERROR is possible with a correct bound; treat it as fatal like any OOM.
    std::abort();
  }
  out.resize(bound);
  return out;
}

absl::StatusOr<std::string> Decompress(std::string_view data) {
  z_stream stream{};
  if (inflateInit(&stream) != Z_OK) {
    return absl::ResourceExhaustedError("zlib: cannot initialise an inflate stream");
  }
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buffer[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    rc = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - stream.avail_out);
    if (rc == Z_BUF_ERROR && stream.avail_in == 0) {
      break;
    }
  }
  inflateEnd(&stream);
  if (rc != Z_STREAM_END) {
    return absl::DataLossError(absl::StrCat("zlib: corrupt or truncated payload (code ", rc, ")"));
  }
  return out;
}

}  // namespace shadowfleet
