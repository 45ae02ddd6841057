// hutch-monitor's file and log helpers (monitor_io.cc): timestamps, whole
// writes, atomic files, and the container log in podman's k8s-file format.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>

#include <string>

namespace hutch {

// "2026-11-25T13:00:00.123456789+00:00": RFC 3339, UTC, nanoseconds.
constexpr size_t kTimestampLength = 35;
void FormatTimestamp(const struct timespec& when, char (&out)[kTimestampLength + 1]);
void FormatNow(char (&out)[kTimestampLength + 1]);

// write(2) until done, retrying EINTR and short writes. Returns 0 or errno.
int WriteAll(int fd, const void* data, size_t size);

// Replaces dirfd/name atomically: writes name.tmp, fsyncs it, renames it over
// name. Readers see the old file or the whole new one. Returns 0 or errno.
int WriteFileAtomic(int dirfd, const char* name, const std::string& content);

// The container log, one entry a line as podman's k8s-file driver writes it:
//   TIMESTAMP STREAM F text      a whole line (its newline ends the entry)
//   TIMESTAMP STREAM P text      a read that ended without a newline
// All lines of one read share one timestamp. The file is opened O_APPEND by
// the caller. A failing write is reported once on stderr; relaying goes on.
class LogWriter {
 public:
  LogWriter(int fd, const char* path) : fd_(fd), path_(path) {}
  void Write(const char* stream, const char* data, size_t size);
  int fd() const {
    return fd_;
  }

 private:
  static constexpr int kMaxIov = 256;
  void Add(const void* base, size_t len);
  void Flush();

  int fd_;
  const char* path_;
  bool reported_ = false;
  struct iovec iov_[kMaxIov];
  int iov_count_ = 0;
};

}  // namespace hutch
