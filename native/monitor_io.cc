#include "monitor_io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

namespace hutch {

namespace {

// Writes value as exactly width decimal digits (value fits: the caller knows).
char* Digits(char* at, long value, int width) {
  for (int i = width - 1; i >= 0; i--) {
    at[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return at + width;
}

}  // namespace

void FormatTimestamp(const struct timespec& when, char (&out)[kTimestampLength + 1]) {
  struct tm utc;
  time_t seconds = when.tv_sec;
  gmtime_r(&seconds, &utc);
  char* at = Digits(out, utc.tm_year + 1900L, 4);
  *at++ = '-';
  at = Digits(at, utc.tm_mon + 1L, 2);
  *at++ = '-';
  at = Digits(at, utc.tm_mday, 2);
  *at++ = 'T';
  at = Digits(at, utc.tm_hour, 2);
  *at++ = ':';
  at = Digits(at, utc.tm_min, 2);
  *at++ = ':';
  at = Digits(at, utc.tm_sec, 2);
  *at++ = '.';
  at = Digits(at, when.tv_nsec, 9);
  memcpy(at, "+00:00", 7);
}

void FormatNow(char (&out)[kTimestampLength + 1]) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  FormatTimestamp(now, out);
}

int WriteAll(int fd, const void* data, size_t size) {
  const char* at = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write(fd, at, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    at += n;
    size -= static_cast<size_t>(n);
  }
  return 0;
}

int WriteFileAtomic(int dirfd, const char* name, const std::string& content) {
  std::string temp = std::string(name) + ".tmp";
  int fd = openat(dirfd, temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return errno;
  int err = WriteAll(fd, content.data(), content.size());
  if (err == 0 && fsync(fd) < 0) err = errno;
  if (close(fd) < 0 && err == 0 && errno != EINTR) err = errno;
  if (err == 0 && renameat(dirfd, temp.c_str(), dirfd, name) < 0) err = errno;
  if (err != 0) unlinkat(dirfd, temp.c_str(), 0);
  return err;
}

void LogWriter::Open(int dirfd, int fd, const char* path, const char* name, uint64_t size,
                     LogRotation rotation) {
  dirfd_ = dirfd;
  fd_ = fd;
  path_ = path;
  name_ = name;
  size_ = size;
  rotation_ = rotation;
}

void LogWriter::Close() {
  if (fd_ >= 0) close(fd_);
  if (dirfd_ >= 0) close(dirfd_);
  fd_ = dirfd_ = -1;
}

void LogWriter::Report(int err, const char* syscall, const char* name, const char* to) {
  if (reported_) return;
  reported_ = true;
  // path_ ends with name_: what precedes it is the directory, slash included.
  int dir = static_cast<int>(strlen(path_) - strlen(name_));
  dprintf(2, "hutch-monitor: %s %.*s%s%s%.*s%s: %s (further log errors are not reported)\n",
          syscall, dir, path_, name, to ? " " : "", to ? dir : 0, path_, to ? to : "",
          strerror(err));
}

void LogWriter::Add(const void* base, size_t len) {
  if (len == 0) return;
  if (iov_count_ == kMaxIov) Flush();
  iov_[iov_count_].iov_base = const_cast<void*>(base);
  iov_[iov_count_].iov_len = len;
  iov_count_++;
  pending_ += len;
}

void LogWriter::Flush() {
  struct iovec* iov = iov_;
  int count = iov_count_;
  iov_count_ = 0;
  pending_ = 0;
  while (count > 0) {
    ssize_t n = writev(fd_, iov, count);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (!reported_) {
        reported_ = true;
        dprintf(2, "hutch-monitor: write %s: %s (further log writes may be lost)\n", path_,
                n < 0 ? strerror(errno) : "nothing written");
      }
      return;
    }
    size_t done = static_cast<size_t>(n);
    size_ += done;
    while (count > 0 && done >= iov->iov_len) {
      done -= iov->iov_len;
      iov++;
      count--;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + done;
      iov->iov_len -= done;
    }
  }
}

// The bound holds even when a rename failed: the current file is emptied.
void LogWriter::Truncate() {
  if (ftruncate(fd_, 0) == 0) {
    size_ = 0;
    return;
  }
  Report(errno, "ftruncate", name_);
  close(fd_);
  fd_ = -1;  // no more logging rather than an unbounded log
}

void LogWriter::Rotate() {
  // Names fit: Main checked strlen(name) + kLogSuffixMax <= NAME_MAX, and
  // max_files <= kLogMaxFiles.
  char temp[NAME_MAX + 1], from[NAME_MAX + 1], to[NAME_MAX + 1];
  snprintf(temp, sizeof temp, "%s.tmp", name_);
  // The next file exists before anything moves: if it cannot be made, nothing did.
  int next = openat(dirfd_, temp, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (next < 0) {
    Report(errno, "open", temp);
    Truncate();
    return;
  }
  for (int k = rotation_.max_files - 2; k >= 1; k--) {
    snprintf(from, sizeof from, "%s.%d", name_, k);
    snprintf(to, sizeof to, "%s.%d", name_, k + 1);
    // ENOENT: fewer rotations so far (or a step a crash skipped).
    if (renameat(dirfd_, from, dirfd_, to) < 0 && errno != ENOENT) {
      Report(errno, "rename", from, to);
    }
  }
  if (rotation_.max_files >= 2) {
    snprintf(to, sizeof to, "%s.1", name_);
    if (renameat(dirfd_, name_, dirfd_, to) < 0 && errno != ENOENT) {
      // Renaming the next file over it below drops it: the bound before the data.
      Report(errno, "rename", name_, to);
    }
  }
  if (renameat(dirfd_, temp, dirfd_, name_) < 0) {
    Report(errno, "rename", temp, name_);
    close(next);
    unlinkat(dirfd_, temp, 0);
    Truncate();
    return;
  }
  close(fd_);
  fd_ = next;
  size_ = 0;
}

void LogWriter::Write(const char* stream, const char* data, size_t size) {
  if (fd_ < 0) return;
  // "TIMESTAMP stdout " shared by every line of this read.
  char prefix[kTimestampLength + 1 + 8];
  char now[kTimestampLength + 1];
  FormatNow(now);
  int prefix_len = snprintf(prefix, sizeof prefix, "%s %s ", now, stream);
  if (prefix_len < 0 || static_cast<size_t>(prefix_len) >= sizeof prefix) return;
  while (size > 0) {
    const char* newline = static_cast<const char*>(memchr(data, '\n', size));
    bool partial = newline == nullptr;
    size_t line = partial ? size : static_cast<size_t>(newline - data) + 1;
    uint64_t entry = static_cast<uint64_t>(prefix_len) + 2 + line + (partial ? 1 : 0);
    uint64_t used = size_ + pending_;
    if (rotation_.max_size > 0 && used > 0 && used + entry > rotation_.max_size) {
      Flush();
      Rotate();
      if (fd_ < 0) return;
    }
    Add(prefix, static_cast<size_t>(prefix_len));
    Add(partial ? "P " : "F ", 2);
    Add(data, line);
    if (partial) Add("\n", 1);
    data += line;
    size -= line;
  }
  Flush();
}

}  // namespace hutch
