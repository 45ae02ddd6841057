// hutch-monitor's parts, one file each: monitor.cc (setup: the sealed copy,
// the plan, the fds, the clone, and how it reports to node),
// monitor_options.cc (argv), monitor_loop.cc (the poll loop, reaping, the
// exit), monitor_attach.cc (attach clients, stdin, the terminal). The
// protocol is in docs/monitor.md.
#pragma once

#include <linux/sched.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <time.h>

#include <string>
#include <utility>
#include <vector>

#include "monitor_io.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace hutch {

constexpr int kExitFailure = 125;
// The plan expects the container's stdin, stdout and stderr on these fds.
constexpr int kContainerStdin = 3, kContainerStdout = 4, kContainerStderr = 5;
// With --terminal the child's end of the console socket (src/run/monitor.ts
// CONSOLE_FD): its OpenConsole step sends the pty master it made in the
// container's own /dev/pts through it.
constexpr int kConsoleSocket = 99;
constexpr size_t kReadChunk = 8192;
constexpr size_t kFrameHeader = 5;
constexpr size_t kClientMaxBuffered = 1 << 20;
constexpr size_t kClientMaxFrame = 1 << 20;
// Clients are not read while this much stdin waits for the container.
constexpr size_t kStdinHighWater = 64 << 10;
// How long a client that took the cleanup on itself gets to finish it.
constexpr int kCleanupWaitMs = 60000;
// After the exit frame, how long slow clients get to read what is queued.
constexpr int kFinalFlushMs = 5000;
// At exit, what is left in a pipe is drained up to this much (a process the
// container left behind may hold the pipe and keep writing).
constexpr size_t kDrainLimit = 4 << 20;
constexpr uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                     CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME;

enum FrameType : uint8_t {
  kFrameStdin = 0,         // client -> monitor: data for the container's stdin
  kFrameStdout = 1,        // monitor -> client
  kFrameStderr = 2,        // monitor -> client
  kFrameExit = 3,          // monitor -> client: JSON exit status, then close
  kFrameStdinEof = 4,      // client -> monitor: close the container's stdin
  kFrameResize = 5,        // client -> monitor: u16 rows, u16 cols (big endian)
  kFrameCleanupTaken = 6,  // client -> monitor: it runs the cleanup itself after the exit
  kFrameCleanupDone = 7,   // client -> monitor: it did; the exit command is not needed
};

struct Options {
  const char* id = nullptr;
  const char* dir = nullptr;
  const char* log = nullptr;
  LogRotation rotation;
  int stdio_fd = -1;
  int plan_fd = -1;
  int sync_fd = -1;
  uint64_t clone_flags = 0;
  pid_t join = 0;
  bool terminal = false;
  bool stdin_open = false;
  bool detach = false;
  int client_fd = -1;
  // --timeout: the container is killed (SIGKILL) this long after it started;
  // its exit code is then -1, as conmon records it.
  long long timeout_s = 0;
  // --periodic-ms and --periodic-arg: a command run every periodic_ms while
  // the container runs (its healthcheck), one at a time, the next one
  // periodic_ms after the last one ended.
  long long periodic_ms = 0;
  std::vector<char*> periodic_command;
  char** exit_command = nullptr;
};

// The usage line printed after an argument error.
extern const char kUsage[];

// Parses argv (monitor_options.cc). On a bad argument returns false with
// *error set ("unknown argument: --x"); *options then holds what was parsed,
// --sync-fd included when it was valid. No side effects.
bool ParseOptions(int argc, char** argv, Options* options, std::string* error);

// Reporting to node, on the sync socket (sync.h) once --sync-fd is known, and
// to a person on stderr (monitor.cc). Both exit with kExitFailure.
// Fail: a system call of the monitor's setup failed; Refuse: its arguments or
// its plan are invalid.
[[noreturn]] void Fail(int err, const char* syscall_name, const char* path = nullptr);
[[noreturn]] void Refuse(const std::string& why, const char* usage = nullptr);

void SetNonBlocking(int fd);

struct Source {
  int fd;
  const char* stream;  // "stdout" or "stderr", for the log
  uint8_t frame;
  bool open;
};

struct Client {
  int fd;
  std::vector<char> out;  // frames not yet sent, from out_at
  size_t out_at = 0;
  std::vector<char> in;  // bytes of an incomplete frame
  bool reading = true;   // false once the client shut down its sending side
  bool dead = false;
  bool takes_cleanup = false;
  bool cleaned_up = false;

  size_t Pending() const {
    return out.size() - out_at;
  }
};

// The container's supervisor once it is cloned: single-threaded, one poll(2)
// loop, every fd close-on-exec and non-blocking where it is polled.
class Monitor {
 public:
  Monitor(const Options& options, int dirfd, const LogWriter& log, int listen_fd, int signal_fd)
      : options_(options), dirfd_(dirfd), log_(log), listen_fd_(listen_fd), signal_fd_(signal_fd) {}

  void SetPipes(int out, int err, int in) {
    sources_.push_back({out, "stdout", kFrameStdout, true});
    sources_.push_back({err, "stderr", kFrameStderr, true});
    stdin_fd_ = in;
  }
  // The terminal's master arrives on console_fd once the child made it.
  void AwaitTerminal(int console_fd) {
    console_fd_ = console_fd;
  }
  void SetContainer(pid_t pid);
  // --die-with-client: the client's death (EOF here) kills the container.
  void WatchClient(int fd) {
    client_fd_ = fd;
  }

  // Relays until the container exited, then Finish()es.
  [[noreturn]] void Run();

 private:
  enum Kind { kListen, kSource, kStdin, kClient, kSignal, kConsole, kClientGone };

  // monitor_loop.cc
  void Add(int fd, short events, Kind kind, size_t index);
  void Iterate();
  bool ReadSource(Source& source);
  void CheckClient();
  void Reap();
  int PollTimeout() const;
  void RunTimers();
  void StartPeriodic();
  std::string StatusJson() const;
  [[noreturn]] void Finish();

  // monitor_attach.cc
  void Accept();
  void Broadcast(uint8_t type, const char* data, size_t size);
  void Queue(Client& c, uint8_t type, const char* data, size_t size);
  void FlushClient(Client& c);
  void ReadClient(Client& c, short revents);
  void HandleFrame(Client& c, uint8_t type, const char* data, size_t size);
  void Drop(Client& c, const char* why);
  void RemoveDeadClients();
  void ReceiveTerminal();
  void SetTerminal(int master);
  bool TakesStdin() const;
  void FlushStdin();
  void CloseStdin();
  template <typename EventsOf, typename Handle, typename Done>
  void PollClients(int timeout_ms, EventsOf events_of, Handle handle, Done done);
  void ReadQueuedFrames();
  bool AwaitClientCleanup();
  void FlushClientsUntil(int timeout_ms);

  const Options& options_;
  int dirfd_;
  LogWriter log_;
  int listen_fd_;
  int signal_fd_;
  int master_ = -1;
  int console_fd_ = -1;
  int client_fd_ = -1;
  struct winsize pending_size_ = {0, 0, 0, 0};
  std::vector<Source> sources_;
  int stdin_fd_ = -1;
  std::vector<char> stdin_;
  size_t stdin_at_ = 0;
  bool stdin_eof_ = false;
  std::vector<Client> clients_;
  std::vector<struct pollfd> poll_fds_;
  std::vector<std::pair<Kind, size_t>> poll_what_;
  pid_t container_ = -1;
  long long started_ms_ = 0;  // CLOCK_MONOTONIC, when the container was cloned
  pid_t periodic_ = -1;       // the periodic command while it runs
  long long next_periodic_ms_ = 0;
  bool timed_out_ = false;
  bool exited_ = false;
  int status_ = 0;
  struct timespec finished_ = {0, 0};
  char buffer_[kReadChunk];
};

}  // namespace hutch
