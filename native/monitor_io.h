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

// How the log is bounded (monitor flags --log-size-max and --log-max-files).
struct LogRotation {
  uint64_t max_size = 0;  // 0: never rotated
  int max_files = 1;      // files kept in all, the current one included
};

// What rotation appends to the log's name (".tmp", ".999"): the name plus this
// must fit in NAME_MAX. kLogMaxFiles bounds --log-max-files accordingly.
constexpr size_t kLogSuffixMax = 4;
constexpr int kLogMaxFiles = 1000;

// The container log, one entry a line as podman's k8s-file driver writes it:
//   TIMESTAMP STREAM F text      a whole line (its newline ends the entry)
//   TIMESTAMP STREAM P text      a read that ended without a newline
// All lines of one read share one timestamp. A failing write is reported once
// on stderr; relaying goes on.
//
// With a max_size, an entry that would take the file past it rotates the file
// first (an entry is never split, so a file exceeds max_size only when one
// entry does: at most one read, 8 KiB, plus its prefix):
//   NAME.K -> NAME.K+1  for K = max_files-2 … 1 (the oldest is renamed over)
//   NAME   -> NAME.1    (max_files >= 2)
//   NAME.tmp, made empty beforehand -> NAME
// Each step is one rename(2), atomic: a crash (or a kill) at any point leaves
// every byte written under some name; NAME may be missing for a moment, or a
// NAME.K after a crash. With max_files 1 the full file is replaced by an empty
// one, as podman's conmon does with --log-size-max. Readers (hutch logs) take
// NAME.K … NAME.1, NAME in that order and follow the current file by inode.
// When a step fails (reported once) the bound still holds: the current file
// is truncated instead, or logging stops if even that fails. Nothing is
// fsynced, as no write of the log is: a rotation costs three syscalls plus one
// rename per kept file.
class LogWriter {
 public:
  LogWriter() = default;  // no log (--log-driver none, passthrough): Write() does nothing
  // fd: name in dirfd, opened O_APPEND by the caller, size bytes long now;
  // path: the whole path, for messages. Takes both fds.
  void Open(int dirfd, int fd, const char* path, const char* name, uint64_t size,
            LogRotation rotation);
  void Write(const char* stream, const char* data, size_t size);
  void Close();

 private:
  static constexpr int kMaxIov = 256;
  void Add(const void* base, size_t len);
  void Flush();
  void Rotate();
  void Truncate();
  // Reports the first failure only: syscall, the file name(s) as paths, strerror.
  void Report(int err, const char* syscall, const char* name, const char* to = nullptr);

  int dirfd_ = -1;
  int fd_ = -1;
  const char* path_ = nullptr;
  const char* name_ = nullptr;
  LogRotation rotation_;
  uint64_t size_ = 0;     // bytes in the current file
  uint64_t pending_ = 0;  // bytes in iov_, not yet written
  bool reported_ = false;
  struct iovec iov_[kMaxIov];
  int iov_count_ = 0;
};

}  // namespace hutch
