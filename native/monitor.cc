// hutch-monitor: the small process that supervises one container, as podman's
// conmon does. It is the container's parent: it clones it to run a plan (the
// same RunPlanInChild as the addon), reaps it, writes its output to the log
// and to attach clients, records its exit status and then runs a cleanup
// command. Detached containers outlive hutch because this process does.
//
// The protocol (argv, fds, report lines, attach frames, files) is described in
// docs/monitor.md; the summary:
//
//   hutch-monitor --id ID --dir DIR --plan-fd N --sync-fd N
//                 [--log FILE [--log-size-max BYTES] [--log-max-files N]]
//                 [--stdio-fd N] [--clone-flags X] [--join PID] [--terminal]
//                 [--stdin] [--detach] [--die-with-client N] [--exit-command ARG...]
//
//   plan-fd  the encoded plan (plan.h), read to EOF and validated here;
//   sync-fd  the child's end of the sync socket: node talks to the child on it
//            directly (failure records, notify, go, EOF at exec); this process
//            only hands it to the child and closes its own copy;
//   stdout   one line: "pid <container pid>", or "error <errno> <syscall> [path]"
//            and exit 125 when the container could not be started;
//   log      FILE in podman's k8s-file format, rotated at BYTES, N files kept
//            (monitor_io.h LogWriter); no --log: nothing is logged;
//   stdio-fd the container's stdin, stdout, stderr are fds N, N+1, N+2 as
//            given (podman's passthrough log driver): no pipes, no relay;
//   DIR/     monitor.pid, attach (unix socket, 0600), exit (JSON, atomic);
//   die-with-client  an fd whose other end only the client holds: at its EOF
//            (the client died, SIGKILL included) the container is killed.
//
// Single-threaded, one poll(2) loop, every fd close-on-exec and non-blocking
// where it is polled. The child runs only child.cc (async-signal-safe); this
// process itself may allocate, for client buffers.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "child.h"
#include "monitor_io.h"
#include "plan_core.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace hutch {

namespace {

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
  char** exit_command = nullptr;
};

[[noreturn]] void Usage(const char* why, const char* arg = nullptr) {
  dprintf(2, "hutch-monitor: %s%s%s\n", why, arg ? ": " : "", arg ? arg : "");
  dprintf(2,
          "usage: hutch-monitor --id ID --dir DIR --plan-fd N --sync-fd N "
          "[--log FILE [--log-size-max BYTES] [--log-max-files N]] [--stdio-fd N] "
          "[--clone-flags X] [--join PID] [--terminal] [--stdin] [--detach] "
          "[--die-with-client N] [--exit-command ARG...]\n");
  _exit(kExitFailure);
}

// The container could not be started: tell node on stdout (it maps the line to
// a SyscallError) and a person on stderr.
[[noreturn]] void Fail(int err, const char* syscall_name, const char* path = nullptr) {
  dprintf(1, "error %d %s%s%s\n", err, syscall_name, path ? " " : "", path ? path : "");
  dprintf(2, "hutch-monitor: %s%s%s: %s\n", syscall_name, path ? " " : "", path ? path : "",
          strerror(err));
  _exit(kExitFailure);
}

long long Number(const char* flag, const char* text, long long min, long long max, int base) {
  errno = 0;
  char* end = nullptr;
  long long value = strtoll(text, &end, base);
  if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
    Usage("bad number for", flag);
  }
  return value;
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    const char* arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) Usage("missing value for", arg);
      return argv[++i];
    };
    if (strcmp(arg, "--id") == 0) {
      o.id = value();
    } else if (strcmp(arg, "--dir") == 0) {
      o.dir = value();
    } else if (strcmp(arg, "--log") == 0) {
      o.log = value();
    } else if (strcmp(arg, "--log-size-max") == 0) {
      o.rotation.max_size = static_cast<uint64_t>(Number(arg, value(), 0, INT64_MAX, 10));
    } else if (strcmp(arg, "--log-max-files") == 0) {
      o.rotation.max_files = static_cast<int>(Number(arg, value(), 1, kLogMaxFiles, 10));
    } else if (strcmp(arg, "--stdio-fd") == 0) {
      o.stdio_fd = static_cast<int>(Number(arg, value(), kContainerStderr + 1, INT_MAX - 2, 10));
    } else if (strcmp(arg, "--plan-fd") == 0) {
      o.plan_fd = static_cast<int>(Number(arg, value(), 0, INT_MAX, 10));
    } else if (strcmp(arg, "--sync-fd") == 0) {
      o.sync_fd = static_cast<int>(Number(arg, value(), 0, INT_MAX, 10));
    } else if (strcmp(arg, "--clone-flags") == 0) {
      o.clone_flags = static_cast<uint64_t>(Number(arg, value(), 0, INT64_MAX, 0));
      if (o.clone_flags & ~kNamespaceFlags) Usage("only namespace clone flags are accepted");
    } else if (strcmp(arg, "--join") == 0) {
      o.join = static_cast<pid_t>(Number(arg, value(), 1, INT_MAX, 10));
    } else if (strcmp(arg, "--terminal") == 0) {
      o.terminal = true;
    } else if (strcmp(arg, "--stdin") == 0) {
      o.stdin_open = true;
    } else if (strcmp(arg, "--detach") == 0) {
      o.detach = true;
    } else if (strcmp(arg, "--die-with-client") == 0) {
      o.client_fd = static_cast<int>(Number(arg, value(), 3, INT_MAX, 10));
    } else if (strcmp(arg, "--exit-command") == 0) {
      if (i + 1 >= argc) Usage("missing value for", arg);
      o.exit_command = argv + i + 1;
      if (o.exit_command[0][0] != '/') Usage("the exit command must be an absolute path");
      break;
    } else {
      Usage("unknown argument", arg);
    }
  }
  if (!o.id || !o.dir || o.plan_fd < 0 || o.sync_fd < 0) {
    Usage("--id, --dir, --plan-fd and --sync-fd are required");
  }
  if (o.plan_fd == o.sync_fd || o.plan_fd <= 2 || o.sync_fd <= 2) {
    Usage("--plan-fd and --sync-fd must be distinct fds above 2");
  }
  if (o.client_fd >= 0 && (o.client_fd == o.plan_fd || o.client_fd == o.sync_fd)) {
    Usage("--die-with-client must differ from --plan-fd and --sync-fd");
  }
  if (!o.log && (o.rotation.max_size > 0 || o.rotation.max_files != 1)) {
    Usage("--log-size-max and --log-max-files need --log");
  }
  if (o.stdio_fd >= 0) {
    if (o.terminal || o.stdin_open) Usage("--stdio-fd excludes --terminal and --stdin");
    for (int fd = o.stdio_fd; fd <= o.stdio_fd + 2; fd++) {
      if (fd == o.plan_fd || fd == o.sync_fd) Usage("--stdio-fd overlaps --plan-fd or --sync-fd");
    }
  }
  return o;
}

std::vector<uint8_t> ReadPlan(int fd) {
  std::vector<uint8_t> buffer;
  size_t used = 0;
  for (;;) {
    if (buffer.size() - used < 65536) buffer.resize(used + 65536);
    ssize_t n = read(fd, buffer.data() + used, buffer.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      Fail(errno, "read", "--plan-fd");
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
    if (used > (64u << 20)) {
      dprintf(2, "hutch-monitor: invalid plan: larger than 64 MiB\n");
      _exit(kExitFailure);
    }
  }
  buffer.resize(used);
  buffer.shrink_to_fit();
  return buffer;
}

// Enters the namespaces of pid that differ from ours: all are opened first
// (after setns(CLONE_NEWNS) /proc may be another one), the user namespace is
// entered first (it grants the capabilities for the rest). CLONE_NEWPID
// applies to the children we create from now on, which is the point.
void JoinNamespaces(pid_t pid) {
  static const struct {
    const char* name;
    int type;
  } kinds[] = {{"user", CLONE_NEWUSER},    {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
               {"net", CLONE_NEWNET},      {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS},
               {"cgroup", CLONE_NEWCGROUP}};
  constexpr size_t kCount = sizeof kinds / sizeof kinds[0];
  int fds[kCount];
  char paths[kCount][64];
  for (size_t i = 0; i < kCount; i++) {
    snprintf(paths[i], sizeof paths[i], "/proc/%d/ns/%s", static_cast<int>(pid), kinds[i].name);
    fds[i] = open(paths[i], O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0) Fail(errno, "open", paths[i]);
    char own[64];
    snprintf(own, sizeof own, "/proc/self/ns/%s", kinds[i].name);
    struct stat theirs, ours;
    if (fstat(fds[i], &theirs) == 0 && stat(own, &ours) == 0 && theirs.st_dev == ours.st_dev &&
        theirs.st_ino == ours.st_ino) {
      close(fds[i]);
      fds[i] = -1;
    }
  }
  for (size_t i = 0; i < kCount; i++) {
    if (fds[i] < 0) continue;
    if (setns(fds[i], kinds[i].type) < 0) Fail(errno, "setns", paths[i]);
    close(fds[i]);
  }
}

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

void SetNonBlocking(int fd);

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
  void SetTerminal(int master) {
    master_ = master;
    sources_.push_back({master, "stdout", kFrameStdout, true});
    if (options_.stdin_open) stdin_fd_ = master;
    if (pending_size_.ws_row != 0 || pending_size_.ws_col != 0)
      ioctl(master_, TIOCSWINSZ, &pending_size_);
    FlushStdin();
  }
  void SetContainer(pid_t pid) {
    container_ = pid;
  }
  // --die-with-client: the client's death (EOF here) kills the container.
  void WatchClient(int fd) {
    client_fd_ = fd;
  }

  [[noreturn]] void Run() {
    while (!exited_) Iterate();
    Finish();
  }

 private:
  enum Kind { kListen, kSource, kStdin, kClient, kSignal, kConsole, kClientGone };

  void Add(int fd, short events, Kind kind, size_t index) {
    poll_fds_.push_back({fd, events, 0});
    poll_what_.push_back({kind, index});
  }

  void Iterate() {
    poll_fds_.clear();
    poll_what_.clear();
    // Order matters: a client that connected before the container was told
    // to go is accepted before that container's first output is relayed.
    if (listen_fd_ >= 0) Add(listen_fd_, POLLIN, kListen, 0);
    for (size_t i = 0; i < sources_.size(); i++) {
      if (sources_[i].open) Add(sources_[i].fd, POLLIN, kSource, i);
    }
    if (stdin_fd_ >= 0 && stdin_at_ < stdin_.size()) Add(stdin_fd_, POLLOUT, kStdin, 0);
    bool take_input = stdin_.size() - stdin_at_ < kStdinHighWater;
    for (size_t i = 0; i < clients_.size(); i++) {
      Client& c = clients_[i];
      short events = static_cast<short>((c.reading && take_input ? POLLIN : 0) |
                                        (c.Pending() > 0 ? POLLOUT : 0));
      Add(c.fd, events, kClient, i);
    }
    Add(signal_fd_, POLLIN, kSignal, 0);
    if (console_fd_ >= 0) Add(console_fd_, POLLIN, kConsole, 0);
    if (client_fd_ >= 0) Add(client_fd_, POLLIN, kClientGone, 0);

    int n = poll(poll_fds_.data(), poll_fds_.size(), -1);
    if (n < 0) {
      if (errno != EINTR) dprintf(2, "hutch-monitor: poll: %s\n", strerror(errno));
      return;
    }
    for (size_t i = 0; i < poll_fds_.size(); i++) {
      short revents = poll_fds_[i].revents;
      if (revents == 0) continue;
      size_t index = poll_what_[i].second;
      switch (poll_what_[i].first) {
        case kListen:
          Accept();
          break;
        case kSource:
          ReadSource(sources_[index]);
          break;
        case kStdin:
          FlushStdin();
          break;
        case kClient:
          if (clients_[index].dead) break;
          if (revents & POLLOUT) FlushClient(clients_[index]);
          if (!clients_[index].dead && (revents & (POLLIN | POLLHUP | POLLERR))) {
            ReadClient(clients_[index], revents);
          }
          break;
        case kSignal:
          Reap();
          break;
        case kConsole:
          ReceiveTerminal();
          break;
        case kClientGone:
          CheckClient();
          break;
      }
    }
    RemoveDeadClients();
  }

  void Accept() {
    for (;;) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          dprintf(2, "hutch-monitor: accept: %s\n", strerror(errno));
        }
        return;
      }
      clients_.emplace_back();
      clients_.back().fd = fd;
    }
  }

  // Reads once; returns false when the source is done (EOF, EIO of a pty
  // whose slave side is closed, or an error) or has nothing to read.
  bool ReadSource(Source& source) {
    ssize_t n;
    do {
      n = read(source.fd, buffer_, sizeof buffer_);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
      log_.Write(source.stream, buffer_, static_cast<size_t>(n));
      Broadcast(source.frame, buffer_, static_cast<size_t>(n));
      return true;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    source.open = false;
    if (source.fd != master_) close(source.fd);
    return false;
  }

  void Broadcast(uint8_t type, const char* data, size_t size) {
    for (Client& c : clients_) {
      if (c.dead) continue;
      Queue(c, type, data, size);
      if (!c.dead) FlushClient(c);
    }
  }

  void Queue(Client& c, uint8_t type, const char* data, size_t size) {
    if (c.Pending() + kFrameHeader + size > kClientMaxBuffered) {
      Drop(c, "it left more than 1 MiB of output unread");
      return;
    }
    if (c.out_at > 0 && c.out_at >= c.out.size() / 2) {
      c.out.erase(c.out.begin(), c.out.begin() + static_cast<ptrdiff_t>(c.out_at));
      c.out_at = 0;
    }
    char header[kFrameHeader] = {static_cast<char>(type), static_cast<char>(size >> 24),
                                 static_cast<char>(size >> 16), static_cast<char>(size >> 8),
                                 static_cast<char>(size)};
    c.out.insert(c.out.end(), header, header + kFrameHeader);
    c.out.insert(c.out.end(), data, data + size);
  }

  void FlushClient(Client& c) {
    while (c.Pending() > 0) {
      ssize_t n = send(c.fd, c.out.data() + c.out_at, c.Pending(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        Drop(c, nullptr);  // the client went away
        return;
      }
      c.out_at += static_cast<size_t>(n);
    }
    c.out.clear();
    c.out_at = 0;
    if (c.out.capacity() > (64u << 10)) c.out.shrink_to_fit();
  }

  // One read. A full hang-up (POLLHUP) drops the client once its last bytes
  // are read; a half close (shutdown of its sending side) only stops reading.
  void ReadClient(Client& c, short revents) {
    char data[16384];
    ssize_t n;
    do {
      n = recv(c.fd, data, sizeof data, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) Drop(c, nullptr);
      return;
    }
    if (n == 0) {
      if (revents & (POLLHUP | POLLERR)) {
        Drop(c, nullptr);
      } else {
        c.reading = false;
      }
      return;
    }
    c.in.insert(c.in.end(), data, data + n);
    size_t at = 0;
    while (!c.dead && c.in.size() - at >= kFrameHeader) {
      const unsigned char* h = reinterpret_cast<const unsigned char*>(c.in.data() + at);
      size_t size = (static_cast<size_t>(h[1]) << 24) | (static_cast<size_t>(h[2]) << 16) |
                    (static_cast<size_t>(h[3]) << 8) | h[4];
      if (size > kClientMaxFrame) {
        Drop(c, "it sent a frame larger than 1 MiB");
        return;
      }
      if (c.in.size() - at < kFrameHeader + size) break;
      HandleFrame(c, h[0], c.in.data() + at + kFrameHeader, size);
      at += kFrameHeader + size;
    }
    if (!c.dead) c.in.erase(c.in.begin(), c.in.begin() + static_cast<ptrdiff_t>(at));
  }

  // The pty master from the child's OpenConsole step, or EOF when the child
  // failed (or exec'd) without sending one.
  void ReceiveTerminal() {
    char byte;
    struct iovec iov = {&byte, 1};
    char control[CMSG_SPACE(sizeof(int))];
    struct msghdr message;
    memset(&message, 0, sizeof message);
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    ssize_t n = recvmsg(console_fd_, &message, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    struct cmsghdr* header = n > 0 ? CMSG_FIRSTHDR(&message) : nullptr;
    if (header != nullptr && header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
      int master;
      memcpy(&master, CMSG_DATA(header), sizeof master);
      SetNonBlocking(master);
      SetTerminal(master);
      // The child waits for this before it goes on to exec.
      char ack = 'A';
      while (send(console_fd_, &ack, 1, MSG_NOSIGNAL) < 0 && errno == EINTR) {
      }
    }
    close(console_fd_);
    console_fd_ = -1;
  }

  // The client never writes to its end: EOF or an error means it is gone.
  // SIGKILL to the container (pid 1 of its pid namespace: the kernel kills
  // the rest of the namespace with it); the usual exit path follows.
  void CheckClient() {
    char data[64];
    ssize_t n;
    do {
      n = read(client_fd_, data, sizeof data);
    } while (n < 0 && errno == EINTR);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) return;
    close(client_fd_);
    client_fd_ = -1;
    if (container_ > 0 && !exited_) kill(container_, SIGKILL);
  }

  bool TakesStdin() const {
    return !stdin_eof_ && (stdin_fd_ >= 0 || (console_fd_ >= 0 && options_.stdin_open));
  }

  void HandleFrame(Client& c, uint8_t type, const char* data, size_t size) {
    switch (type) {
      case kFrameStdin:
        if (TakesStdin()) {
          stdin_.insert(stdin_.end(), data, data + size);
          FlushStdin();
        }
        return;
      case kFrameStdinEof:
        if (!TakesStdin()) return;
        if (master_ >= 0) {
          // A terminal has no EOF of its own: send its EOF character, as a
          // person typing ^D at the start of a line would.
          struct termios t;
          char veof = tcgetattr(master_, &t) == 0 ? static_cast<char>(t.c_cc[VEOF]) : '\x04';
          stdin_.push_back(veof);
        }
        stdin_eof_ = true;
        FlushStdin();
        return;
      case kFrameResize:
        if (size == 4) {
          const unsigned char* p = reinterpret_cast<const unsigned char*>(data);
          struct winsize ws;
          memset(&ws, 0, sizeof ws);
          ws.ws_row = static_cast<unsigned short>((p[0] << 8) | p[1]);
          ws.ws_col = static_cast<unsigned short>((p[2] << 8) | p[3]);
          if (master_ < 0) {
            pending_size_ = ws;  // applied when the terminal arrives
          } else if (ioctl(master_, TIOCSWINSZ, &ws) < 0) {
            dprintf(2, "hutch-monitor: resize the terminal: %s\n", strerror(errno));
          }
        }
        return;
      case kFrameCleanupTaken:
        c.takes_cleanup = true;
        return;
      case kFrameCleanupDone:
        c.cleaned_up = true;
        return;
      default:
        Drop(c, "it sent an unknown frame type");
        return;
    }
  }

  void FlushStdin() {
    while (stdin_fd_ >= 0 && stdin_at_ < stdin_.size()) {
      ssize_t n = write(stdin_fd_, stdin_.data() + stdin_at_, stdin_.size() - stdin_at_);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        // EPIPE: the container closed its stdin; what clients send is dropped.
        CloseStdin();
        return;
      }
      stdin_at_ += static_cast<size_t>(n);
    }
    stdin_.clear();
    stdin_at_ = 0;
    if (stdin_.capacity() > (64u << 10)) stdin_.shrink_to_fit();
    if (stdin_eof_) CloseStdin();
  }

  void CloseStdin() {
    if (stdin_fd_ >= 0 && stdin_fd_ != master_) close(stdin_fd_);
    stdin_fd_ = -1;
    stdin_.clear();
    stdin_.shrink_to_fit();
    stdin_at_ = 0;
  }

  void Drop(Client& c, const char* why) {
    if (c.dead) return;
    if (why != nullptr) {
      dprintf(2, "hutch-monitor: %s: dropped an attach client: %s\n", options_.id, why);
    }
    close(c.fd);
    c.dead = true;
    c.out = std::vector<char>();
    c.in = std::vector<char>();
  }

  void RemoveDeadClients() {
    size_t kept = 0;
    for (size_t i = 0; i < clients_.size(); i++) {
      if (clients_[i].dead) continue;
      if (kept != i) clients_[kept] = std::move(clients_[i]);
      kept++;
    }
    clients_.resize(kept);
  }

  // SIGCHLD: reap the container and anything reparented to us (we are a
  // subreaper), whatever the number of signals that coalesced.
  void Reap() {
    struct signalfd_siginfo info;
    while (read(signal_fd_, &info, sizeof info) > 0) {
    }
    for (;;) {
      int status;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid < 0 && errno == EINTR) continue;
      if (pid <= 0) return;
      if (pid == container_) {
        exited_ = true;
        status_ = status;
        clock_gettime(CLOCK_REALTIME, &finished_);
      }
    }
  }

  std::string StatusJson() const {
    std::string json = "{\"exitCode\":";
    if (WIFEXITED(status_)) {
      json += std::to_string(WEXITSTATUS(status_)) + ",\"signal\":null";
    } else {
      json += "null,\"signal\":" + std::to_string(WTERMSIG(status_));
    }
    return json;
  }

  [[noreturn]] void Finish() {
    // What the container wrote before it exited is still in the pipes (or in
    // the pty, whose read flushes pending input first): relay it.
    for (Source& source : sources_) {
      size_t drained = 0;
      while (source.open && drained < kDrainLimit && ReadSource(source)) drained += kReadChunk;
    }
    // Late clients get the exit frame; new ones find no socket and read DIR/exit.
    Accept();
    close(listen_fd_);
    listen_fd_ = -1;
    unlinkat(dirfd_, "attach", 0);

    char finished[kTimestampLength + 1];
    FormatTimestamp(finished_, finished);
    std::string status = StatusJson();
    int err = WriteFileAtomic(dirfd_, "exit", status + ",\"finishedAt\":\"" + finished + "\"}\n");
    if (err != 0) {
      dprintf(2, "hutch-monitor: %s: write %s/exit: %s\n", options_.id, options_.dir,
              strerror(err));
    }
    status += "}";
    Broadcast(kFrameExit, status.data(), status.size());
    FlushClientsUntil(kFinalFlushMs);
    bool cleaned_up = AwaitClientCleanup();
    for (Client& c : clients_) {
      if (c.dead) continue;
      // Unread input would turn our close into ECONNRESET on the client's side.
      char discard[4096];
      while (recv(c.fd, discard, sizeof discard, MSG_DONTWAIT) > 0) {
      }
      close(c.fd);
    }
    clients_.clear();
    for (Source& source : sources_) {
      if (source.open && source.fd != master_) close(source.fd);
    }
    if (master_ >= 0) close(master_);
    if (stdin_fd_ >= 0 && stdin_fd_ != master_) close(stdin_fd_);
    log_.Close();
    close(signal_fd_);
    close(dirfd_);

    if (options_.exit_command == nullptr || cleaned_up) _exit(0);
    // The exit command starts as a normal process: not a subreaper, default
    // signal dispositions, nothing blocked, no fd of ours (all close-on-exec).
    prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(options_.exit_command[0], options_.exit_command);
    dprintf(2, "hutch-monitor: %s: exec the exit command %s: %s\n", options_.id,
            options_.exit_command[0], strerror(errno));
    _exit(kExitFailure);
  }

  // An attached `hutch run` cleans up after its container itself: starting
  // node again for the exit command would double the cost of a short run.
  // It said so before the container ran; wait for its word that it is done,
  // and run the exit command anyway if it hangs up first (killed) or takes
  // longer than kCleanupWaitMs (stopped), since cleaning up twice is harmless.
  bool AwaitClientCleanup() {
    stdin_eof_ = true;  // nothing more goes to the container
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
      std::vector<struct pollfd> fds;
      std::vector<size_t> which;
      for (size_t i = 0; i < clients_.size(); i++) {
        Client& c = clients_[i];
        if (c.dead || !c.takes_cleanup) continue;
        if (c.cleaned_up) return true;
        fds.push_back({c.fd, POLLIN, 0});
        which.push_back(i);
      }
      if (fds.empty()) return false;
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
      if (elapsed >= kCleanupWaitMs) return false;
      int n = poll(fds.data(), fds.size(), static_cast<int>(kCleanupWaitMs - elapsed));
      if (n < 0 && errno != EINTR) return false;
      for (size_t i = 0; i < fds.size(); i++) {
        if (fds[i].revents == 0) continue;
        Client& c = clients_[which[i]];
        ReadClient(c, fds[i].revents);
        // A client that shut down its sending side without a word never will.
        if (!c.dead && !c.reading && !c.cleaned_up) Drop(c, nullptr);
      }
    }
  }

  void FlushClientsUntil(int timeout_ms) {
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
      std::vector<struct pollfd> fds;
      std::vector<size_t> which;
      for (size_t i = 0; i < clients_.size(); i++) {
        if (clients_[i].dead || clients_[i].Pending() == 0) continue;
        fds.push_back({clients_[i].fd, POLLOUT, 0});
        which.push_back(i);
      }
      if (fds.empty()) return;
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
      if (elapsed >= timeout_ms) return;
      int n = poll(fds.data(), fds.size(), static_cast<int>(timeout_ms - elapsed));
      if (n < 0 && errno != EINTR) return;
      for (size_t i = 0; i < fds.size(); i++) {
        if (fds[i].revents != 0) FlushClient(clients_[which[i]]);
      }
    }
  }

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
  bool exited_ = false;
  int status_ = 0;
  struct timespec finished_ = {0, 0};
  char buffer_[kReadChunk];
};

// DIR/attach, created before the clone so that a client can connect before
// the container is told to go (the kernel queues the connection until we
// accept it). Bound through /proc/self/fd so that a DIR longer than sun_path
// allows still works.
int Listen(int dirfd, const char* dir) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) Fail(errno, "socket");
  unlinkat(dirfd, "attach", 0);  // left by an earlier monitor of this container
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/attach", dirfd);
  mode_t saved = umask(0177);
  int bound = bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr);
  int bind_errno = errno;
  umask(saved);
  std::string path = std::string(dir) + "/attach";
  if (bound < 0) Fail(bind_errno, "bind", path.c_str());
  if (listen(fd, 64) < 0) Fail(errno, "listen", path.c_str());
  return fd;
}

void SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// Puts fd on target (close-on-exec: the plan dup2()s it onto 0-2, which clears
// the flag there) and closes the original.
void Place(int fd, int target) {
  if (dup3(fd, target, O_CLOEXEC) < 0) Fail(errno, "dup3");
  close(fd);
}

// The monitor runs from a sealed in-memory copy of itself, as runc does
// (CVE-2019-5736): a container whose program is `#!/proc/self/exe` makes the
// process hutch starts in it execute the binary that process runs, and the
// container's root (the user who owns build/Release/hutch-monitor) could then
// open it through /proc/PID/exe and write to it, replacing a host binary. A
// sealed memfd refuses writes; the copy costs one read of the binary and one
// execve. Returns only when already running from such a copy.
void ExecSealedCopy(char** argv) {
  int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0) Fail(errno, "open", "/proc/self/exe");
  int seals = fcntl(self, F_GET_SEALS);
  if (seals >= 0 && (seals & F_SEAL_WRITE) != 0) {
    close(self);
    return;
  }
  int copy = memfd_create("hutch-monitor", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (copy < 0) Fail(errno, "memfd_create", "hutch-monitor");
  for (;;) {
    ssize_t n = sendfile(copy, self, nullptr, 1 << 30);
    if (n == 0) break;
    if (n < 0 && errno != EINTR) Fail(errno, "sendfile", "/proc/self/exe");
  }
  close(self);
  if (fcntl(copy, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
    Fail(errno, "fcntl", "F_ADD_SEALS");
  }
  fexecve(copy, argv, environ);
  Fail(errno, "execveat", "hutch-monitor (sealed copy)");
}

// The log and the directory it is in (rotation renames there); an empty
// writer without --log.
LogWriter OpenLog(const Options& o) {
  LogWriter log;
  if (o.log == nullptr) return log;
  const char* slash = strrchr(o.log, '/');
  const char* name = slash == nullptr ? o.log : slash + 1;
  if (*name == '\0') Fail(EISDIR, "open", o.log);
  if (o.rotation.max_size > 0 && strlen(name) + kLogSuffixMax > NAME_MAX) {
    Fail(ENAMETOOLONG, "open", o.log);  // NAME.tmp and NAME.999 must fit
  }
  std::string dir = slash == nullptr ? "." : slash == o.log ? "/" : std::string(o.log, slash);
  int dirfd = open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) Fail(errno, "open", dir.c_str());
  int fd = openat(dirfd, name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) Fail(errno, "open", o.log);
  struct stat st;
  if (fstat(fd, &st) < 0) Fail(errno, "fstat", o.log);
  log.Open(dirfd, fd, o.log, name, static_cast<uint64_t>(st.st_size), o.rotation);
  return log;
}

int Main(int argc, char** argv) {
  ExecSealedCopy(argv);
  // execveat(2) of the copy named us after its fd ("3"): ps, top and the exit file show our name.
  prctl(PR_SET_NAME, "hutch-monitor", 0, 0, 0);
  Options options = ParseOptions(argc, argv);

  // Before it joins or creates a container's namespaces, and for as long as it
  // lives: a process of the container must not open our /proc/PID/exe (the
  // host's binary, owned by the user and so writable by the container's
  // root), fds or memory, nor ptrace us (CVE-2019-5736). The child inherits
  // this until the execve of the container's program.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) Fail(errno, "prctl", "PR_SET_DUMPABLE");

  // Nothing inherited reaches the container or the exit command by accident.
  syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_DFL);

  // The child's end of the sync socket goes above the fds a plan may dup2 onto.
  int sync_fd = fcntl(options.sync_fd, F_DUPFD_CLOEXEC, static_cast<int>(kPlanMaxTargetFd));
  if (sync_fd < 0) Fail(errno, "fcntl", "--sync-fd");
  close(options.sync_fd);
  int client_fd = -1;
  if (options.client_fd >= 0) {
    client_fd = fcntl(options.client_fd, F_DUPFD_CLOEXEC, static_cast<int>(kPlanMaxTargetFd));
    if (client_fd < 0) Fail(errno, "fcntl", "--die-with-client");
    close(options.client_fd);
    SetNonBlocking(client_fd);
  }

  PlanStorage storage;
  {
    std::vector<uint8_t> encoded = ReadPlan(options.plan_fd);
    close(options.plan_fd);
    std::string error;
    if (!ResolvePlanBuffer(encoded.data(), encoded.size(), &storage, &error)) {
      dprintf(2, "hutch-monitor: %s\n", error.c_str());
      _exit(kExitFailure);
    }
  }

  // /dev/null on 3, 4 and 5 (and on 0-2 if they were closed), so that every
  // fd opened from here on lands above the container's stdio.
  int devnull;
  do {
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) Fail(errno, "open", "/dev/null");
  } while (devnull <= kContainerStderr);
  for (int fd = kContainerStdin; fd <= kContainerStderr; fd++) {
    if (dup3(devnull, fd, O_CLOEXEC) < 0) Fail(errno, "dup3");
  }

  int dirfd = open(options.dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) Fail(errno, "open", options.dir);
  int err = WriteFileAtomic(dirfd, "monitor.pid", std::to_string(getpid()) + "\n");
  if (err != 0) Fail(err, "write", (std::string(options.dir) + "/monitor.pid").c_str());
  LogWriter log = OpenLog(options);
  int listen_fd = Listen(dirfd, options.dir);

  sigset_t child_signal;
  sigemptyset(&child_signal);
  sigaddset(&child_signal, SIGCHLD);
  sigprocmask(SIG_BLOCK, &child_signal, nullptr);
  int signal_fd = signalfd(-1, &child_signal, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd < 0) Fail(errno, "signalfd");
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) Fail(errno, "prctl");
  if (options.detach) setsid();  // EPERM: already a session leader, fine

  Monitor monitor(options, dirfd, log, listen_fd, signal_fd);
  if (client_fd >= 0) monitor.WatchClient(client_fd);
  if (options.stdio_fd >= 0) {
    // podman's passthrough log driver: the caller's stdio is the container's,
    // blocking as a shell hands it to its children (node may have made a pipe
    // non-blocking, a flag of the open file description the container shares).
    for (int i = 0; i < 3; i++) {
      int fd = options.stdio_fd + i;
      int flags = fcntl(fd, F_GETFL);
      if (flags < 0 || ((flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)) {
        Fail(errno, "fcntl", "--stdio-fd");
      }
      Place(fd, kContainerStdin + i);
    }
  } else if (options.terminal) {
    int console[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console) < 0) Fail(errno, "socketpair");
    Place(console[1], kConsoleSocket);
    SetNonBlocking(console[0]);
    monitor.AwaitTerminal(console[0]);
  } else {
    int out[2], errs[2], in[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errs, O_CLOEXEC) < 0) Fail(errno, "pipe2");
    if (options.stdin_open) {
      if (pipe2(in, O_CLOEXEC) < 0) Fail(errno, "pipe2");
      Place(in[0], kContainerStdin);
      SetNonBlocking(in[1]);
    }
    Place(out[1], kContainerStdout);
    Place(errs[1], kContainerStderr);
    SetNonBlocking(out[0]);
    SetNonBlocking(errs[0]);
    monitor.SetPipes(out[0], errs[0], in[1]);
  }

  if (options.join > 0) JoinNamespaces(options.join);

  ResolvedPlan plan;
  plan.steps = storage.steps.data();
  plan.count = static_cast<uint32_t>(storage.steps.size());
  plan.sync_fd = sync_fd;
  plan.sync_peer_fd = -1;  // node holds the other end; there is none here
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = options.clone_flags;
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) RunPlanInChild(plan);
  if (pid < 0) Fail(errno, "clone3");

  // Our copies of the child's ends: the sync socket must reach EOF at the
  // child's execve, the pipes at its exit.
  close(sync_fd);
  for (int fd = kContainerStdin; fd <= kContainerStderr; fd++) close(fd);
  if (options.terminal) close(kConsoleSocket);
  storage = PlanStorage();
  monitor.SetContainer(static_cast<pid_t>(pid));

  std::string report = "pid " + std::to_string(pid) + "\n";
  WriteAll(1, report.data(), report.size());  // node may be gone: carry on
  if (options.detach) {
    for (int fd = 0; fd <= 2; fd++) dup2(devnull, fd);
  }
  close(devnull);
  monitor.Run();
}

}  // namespace

}  // namespace hutch

int main(int argc, char** argv) {
  return hutch::Main(argc, argv);
}
