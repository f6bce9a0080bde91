#include "base/durable_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/error.h"

namespace reforge {
namespace {

std::string reason() { return std::strerror(errno); }

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Closes on scope exit; close errors are checked explicitly where they matter.
struct Descriptor {
  int fd = -1;
  ~Descriptor() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

void write_file_durably(const std::string& path, std::string_view bytes, const std::string& what) {
  struct stat existing;
  if (lstat(path.c_str(), &existing) == 0 && !S_ISREG(existing.st_mode)) {
    throw Error(fmt::format("cannot write {} {}: it exists and is {}; refusing to replace it", what, path,
                            file_kind(existing.st_mode)));
  }
  std::filesystem::path target(path);
  std::filesystem::path directory = target.parent_path().empty() ? "." : target.parent_path();
  struct stat dir;
  if (stat(directory.c_str(), &dir) != 0) {
    throw Error(fmt::format("cannot write {} {}: its directory {} does not exist", what, path, directory.string()));
  }
  if (!S_ISDIR(dir.st_mode)) {
    throw Error(fmt::format("cannot write {} {}: {} is not a directory", what, path, directory.string()));
  }
  const std::string temporary = path + ".tmp";
  auto fail = [&](const std::string& step) {
    std::string why = reason();
    unlink(temporary.c_str());
    throw Error(fmt::format("cannot write {} {}: {}: {}", what, path, step, why));
  };
  {
    Descriptor out;
    out.fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (out.fd < 0) {
      std::string why = reason();
      throw Error(fmt::format("cannot write {} {}: cannot create {}: {}", what, path, temporary, why));
    }
    size_t written = 0;
    while (written < bytes.size()) {
      ssize_t n = write(out.fd, bytes.data() + written, bytes.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail(fmt::format("writing {} bytes", bytes.size()));
      written += static_cast<size_t>(n);
    }
    if (fsync(out.fd) != 0) fail("flushing to disk");
    int fd = out.fd;
    out.fd = -1;
    if (close(fd) != 0) fail("closing");
  }
  if (rename(temporary.c_str(), path.c_str()) != 0) fail("renaming " + temporary + " into place");
  Descriptor dir_fd;
  dir_fd.fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd.fd >= 0) fsync(dir_fd.fd);  // the rename itself made durable
}

std::string read_whole_file(const std::string& path, const std::string& what, int64_t max_bytes) {
  Descriptor in;
  in.fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in.fd < 0) {
    std::string why = reason();
    throw Error(fmt::format("cannot read {} {}: {}", what, path, why));
  }
  struct stat info;
  if (fstat(in.fd, &info) != 0) throw Error(fmt::format("cannot read {} {}: {}", what, path, reason()));
  if (!S_ISREG(info.st_mode))
    throw Error(fmt::format("cannot read {} {}: it is {}", what, path, file_kind(info.st_mode)));
  if (info.st_size > max_bytes) {
    throw Error(
        fmt::format("{} {} has {} bytes, more than any {} (at most {})", what, path, info.st_size, what, max_bytes));
  }
  std::string bytes(static_cast<size_t>(info.st_size), '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    ssize_t n = read(in.fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(fmt::format("cannot read {} {}: {}", what, path, reason()));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  bytes.resize(got);
  return bytes;
}

}  // namespace reforge
