// Writing a file so that a crash, a kill or a full disk never leaves it
// half-written: the bytes go to "<path>.tmp" (reused if an earlier kill
// left one), are flushed to the disk (fsync), renamed over the target,
// and the directory is flushed too. The old file stays intact until the
// rename. Only regular files are replaced: a symlink, FIFO or device at
// the path is refused, not overwritten.
#pragma once

#include <string>
#include <string_view>

namespace reforge {

// Throws reforge::Error naming `what` ("checkpoint", "artifact"), the path
// and the system's reason.
void write_file_durably(const std::string& path, std::string_view bytes, const std::string& what);

// Reads a whole regular file; an Error names `what`, the path and why.
std::string read_whole_file(const std::string& path, const std::string& what, int64_t max_bytes);

}  // namespace reforge
