#include "blocklist/store_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sallyport::blocklist {
namespace {

// Owns a file descriptor; closes it on every path.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release_and_close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

std::string errno_text(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

std::string parent_directory(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::string feed_cache_path(std::string_view dir, std::string_view feed_name) {
  std::string path(dir);
  if (!path.empty() && path.back() != '/') path.push_back('/');
  return path + "feed-" + std::string(feed_name) + ".txt";
}

std::optional<std::string> read_text_file(const std::string& path, std::size_t max_bytes,
                                          std::string& error) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    error = errno_text("cannot open", path);
    return std::nullopt;
  }
  std::string content;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = errno_text("cannot read", path);
      return std::nullopt;
    }
    if (n == 0) break;
    if (content.size() + static_cast<std::size_t>(n) > max_bytes) {
      error = path + ": larger than the " + std::to_string(max_bytes) + "-byte feed limit";
      return std::nullopt;
    }
    content.append(buffer, static_cast<std::size_t>(n));
  }
  return content;
}

bool write_file_atomically(const std::string& path, std::string_view content, std::string& error) {
  const std::string dir = parent_directory(path);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    error = errno_text("cannot create directory", dir);
    return false;
  }
  std::string temp = path + ".tmp.XXXXXX";
  FileDescriptor fd(::mkostemp(temp.data(), O_CLOEXEC));  // mkostemp creates with mode 0600
  if (!fd.valid()) {
    error = errno_text("cannot create", temp);
    return false;
  }
  const auto fail = [&](const char* what) {
    error = errno_text(what, temp);
    ::unlink(temp.c_str());
    return false;
  };
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write");
    written += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd.get(), 0600) != 0) return fail("cannot chmod");
  if (::fsync(fd.get()) != 0) return fail("cannot fsync");
  if (fd.release_and_close() != 0) return fail("cannot close");
  if (::rename(temp.c_str(), path.c_str()) != 0) return fail("cannot rename over target from");
  // The rename is durable only once the directory entry is on disk.
  FileDescriptor dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.valid()) ::fsync(dir_fd.get());
  return true;
}

}  // namespace sallyport::blocklist
