// hutch-monitor: the small process that supervises one container, as podman's
// conmon does. It is the container's parent: it clones it to run a plan (the
// same ClonePlanChild and RunPlanInChild as the addon), reaps it, writes its
// output to the log and to attach clients, records its exit status and then
// runs a cleanup command. Detached containers outlive hutch because this
// process does.
//
// The protocol (argv, fds, records, attach frames, files) is described in
// docs/monitor.md; the summary:
//
//   hutch-monitor --id ID --dir DIR --plan-fd N --sync-fd N
//                 [--log FILE [--log-size-max BYTES] [--log-max-files N]]
//                 [--stdio-fd N] [--clone-flags X] [--join PID] [--terminal]
//                 [--stdin] [--detach] [--die-with-client N] [--exit-command ARG...]
//
//   plan-fd  the encoded plan (plan.h), read to EOF and validated here;
//   sync-fd  the child's end of the sync socket (sync.h), made by node: the
//            one channel of everything node learns before the container runs.
//            This process sends a refused or a failed record (step -1) and
//            exits 125 when it cannot start the container, or a started
//            record with the pid after the clone; then it hands the socket to
//            the child and closes its own copy. Node talks to the child on it
//            directly (failure records, go, EOF at exec);
//   log      FILE in podman's k8s-file format, rotated at BYTES, N files kept
//            (monitor_io.h LogWriter); no --log: nothing is logged;
//   stdio-fd the container's stdin, stdout, stderr are fds N, N+1, N+2 as
//            given (podman's passthrough log driver): no pipes, no relay;
//   DIR/     monitor.pid, attach (unix socket, 0600), exit (JSON, atomic);
//   die-with-client  an fd whose other end only the client holds: at its EOF
//            (the client died, SIGKILL included) the container is killed.
//   stderr   diagnostics for a person; never parsed.
//
// The child runs only child.cc (async-signal-safe); this process itself may
// allocate, for client buffers.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "clone.h"
#include "monitor.h"
#include "plan_core.h"
#include "sync.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace hutch {

namespace {

// Where Fail and Refuse send their record: the sync socket once --sync-fd is
// known, until the clone hands it to the child.
int report_fd = -1;

}  // namespace

void Fail(int err, const char* syscall_name, const char* path) {
  if (report_fd >= 0) {
    // "SYSCALL\0PATH": the NUL ends the syscall name, the path may hold anything else.
    std::string text = syscall_name;
    if (path != nullptr) text.append(1, '\0').append(path);
    SendSyncRecord(report_fd, kSyncFailed, -1, err, 0, text.data(), text.size());
  }
  dprintf(2, "hutch-monitor: %s%s%s: %s\n", syscall_name, path ? " " : "", path ? path : "",
          strerror(err));
  _exit(kExitFailure);
}

void Refuse(const std::string& why, const char* usage) {
  if (report_fd >= 0) SendSyncRecord(report_fd, kSyncRefused, -1, 0, 0, why.data(), why.size());
  dprintf(2, "hutch-monitor: %s\n", why.c_str());
  if (usage != nullptr) dprintf(2, "%s\n", usage);
  _exit(kExitFailure);
}

void SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

namespace {

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
      Refuse("invalid plan: larger than 64 MiB");
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

// Nothing inherited may reach the container or the exit command by accident:
// every fd from first on becomes close-on-exec. CLOSE_RANGE_CLOEXEC needs
// Linux 5.11 (close_range(2) itself 5.9); before, the fds are marked one by one.
void MarkCloseOnExecFrom(unsigned first) {
  if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  if (errno != EINVAL && errno != ENOSYS) Fail(errno, "close_range");
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) Fail(errno, "opendir", "/proc/self/fd");
  while (struct dirent* entry = readdir(dir)) {
    char* end = nullptr;
    long fd = strtol(entry->d_name, &end, 10);
    if (*end != '\0' || end == entry->d_name || fd < static_cast<long>(first) || fd == dirfd(dir)) {
      continue;
    }
    int flags = fcntl(static_cast<int>(fd), F_GETFD);
    if (flags < 0 || fcntl(static_cast<int>(fd), F_SETFD, flags | FD_CLOEXEC) < 0) {
      Fail(errno, "fcntl", "FD_CLOEXEC");
    }
  }
  closedir(dir);
}

int Main(int argc, char** argv) {
  Options options;
  std::string error;
  bool parsed = ParseOptions(argc, argv, &options, &error);
  if (options.sync_fd > 2) report_fd = options.sync_fd;
  if (!parsed) Refuse(error, kUsage);
  ExecSealedCopy(argv);
  // execveat(2) of the copy named us after its fd ("3"): ps, top and the exit file show our name.
  prctl(PR_SET_NAME, "hutch-monitor", 0, 0, 0);

  // Before it joins or creates a container's namespaces, and for as long as it
  // lives: a process of the container must not open our /proc/PID/exe (the
  // host's binary, owned by the user and so writable by the container's
  // root), fds or memory, nor ptrace us (CVE-2019-5736). The child inherits
  // this until the execve of the container's program.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) Fail(errno, "prctl", "PR_SET_DUMPABLE");

  MarkCloseOnExecFrom(3);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_DFL);

  // The child's end of the sync socket goes above the fds a plan may dup2 onto.
  int sync_fd = fcntl(options.sync_fd, F_DUPFD_CLOEXEC, static_cast<int>(kPlanMaxTargetFd));
  if (sync_fd < 0) Fail(errno, "fcntl", "--sync-fd");
  close(options.sync_fd);
  report_fd = sync_fd;
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
    if (!ResolvePlanBuffer(encoded.data(), encoded.size(), &storage, &error)) Refuse(error);
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

  long pid = ClonePlanChild(storage, options.clone_flags, sync_fd, -1, nullptr);
  if (pid < 0) Fail(errno, "clone3");
  // Node learns the pid before anything else the child may send, unless
  // the child failed already; then our copy of the child's ends go, so that
  // the sync socket reaches EOF at the child's execve, the pipes at its exit.
  SendSyncRecord(sync_fd, kSyncStarted, -1, 0, static_cast<int32_t>(pid));
  report_fd = -1;
  close(sync_fd);
  for (int fd = kContainerStdin; fd <= kContainerStderr; fd++) close(fd);
  if (options.terminal) close(kConsoleSocket);
  storage = PlanStorage();
  monitor.SetContainer(static_cast<pid_t>(pid));

  if (options.detach) {
    for (int fd = 0; fd <= 2; fd++) {
      // Node's pipes must not stay open here: its caller would wait for their EOF.
      if (dup2(devnull, fd) < 0) {
        dprintf(2, "hutch-monitor: %s: dup2 /dev/null onto %d: %s\n", options.id, fd,
                strerror(errno));
      }
    }
  }
  close(devnull);
  monitor.Run();
}

}  // namespace

}  // namespace hutch

int main(int argc, char** argv) {
  return hutch::Main(argc, argv);
}
