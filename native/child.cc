// The plan executor: the only code that runs in the child between clone(2) and
// execve(2).
//
// Node is multi-threaded. The child of clone(2) has one thread, but it inherits
// a copy of every other thread's locks (malloc's, stdio's, glibc's thread list),
// so it may only call what signal-safety(7) allows, or what is a system call
// and nothing more. Exactly these, and why each is safe:
//   - listed in signal-safety(7): open, close, recv, write, socket, sendmsg
//     (in SendSyncRecord, sync.cc, and SendFd, fd_passing.cc), setsid, mkdir,
//     mknod, symlink, chdir, umask, fcntl, dup2, execve, _exit, sigaction,
//     sigemptyset, sigprocmask;
//   - not listed, but glibc's wrappers are the bare system call: close_range,
//     getcwd, capset, seccomp, pivot_root (these four through syscall(2)),
//     setns, unshare, mount, umount2, sethostname, setrlimit, prctl, ioctl;
//   - setresuid, setresgid and setgroups through syscall(2) only: glibc's
//     wrappers broadcast the change to every thread it believes exists, and the
//     other threads do not exist in the child, so the wrappers would hang;
//   - strchr, strlen, memcpy, memset: pure functions, listed in signal-safety(7).
// Nothing here allocates, takes a lock, or touches a JS value. Every failure
// is sent to the parent as {step, errno} on the sync socket before _exit.
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <sched.h>

#include "fd_passing.h"
#include "sync.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

namespace hutch {

namespace {

int CloseRange(unsigned first, unsigned last) {
  if (first > last) return 0;
  return syscall(SYS_close_range, first, last, 0U) < 0 ? errno : 0;
}

// Closes [first, ~0U] except the sync socket (it must stay open until execve
// closes it: it is close-on-exec) and one more fd the plan keeps (the console
// socket), so that no fd of the monitor's (its directory, its log, host
// files) is left for a path of the container to reach through /proc/self/fd.
int CloseFrom(const ResolvedStep& step, int sync_fd) {
  unsigned first = static_cast<unsigned>(step.num[0]);
  int keep[2] = {sync_fd, step.num[1] >= 0 ? static_cast<int>(step.num[1]) : -1};
  if (keep[1] >= 0 && keep[1] < keep[0]) {
    keep[1] = keep[0];
    keep[0] = static_cast<int>(step.num[1]);
  }
  for (int fd : keep) {
    if (fd < 0 || static_cast<unsigned>(fd) < first) continue;
    if (static_cast<unsigned>(fd) > first) {
      int err = CloseRange(first, static_cast<unsigned>(fd) - 1);
      if (err != 0) return err;
    }
    first = static_cast<unsigned>(fd) + 1;
  }
  return CloseRange(first, ~0U);
}

// runc's check after its chdir (CVE-2024-21626): the working directory must be
// reachable from the root the process now has. getcwd(2) says "(unreachable)"
// for one that is not, e.g. a directory of the host reached through a file
// descriptor inherited from outside the container.
int VerifyCwd() {
  char cwd[PATH_MAX];
  long n = syscall(SYS_getcwd, cwd, sizeof cwd);
  if (n < 0) return errno;
  return cwd[0] == '/' ? 0 : EXDEV;
}

int WaitParent(int sync_fd) {
  char go = 0;
  ssize_t n;
  do {
    n = recv(sync_fd, &go, 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  // EOF or anything but "go": the parent gave up on us; nobody is left to tell.
  if (n == 0 || go != 1) _exit(kChildAbandonedStatus);
  return 0;
}

int WriteFile(const ResolvedStep& step) {
  int fd = open(step.str[0], O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  const char* data = static_cast<const char*>(step.blob);
  size_t left = step.blob_len;
  int err = 0;
  while (left > 0) {
    ssize_t n = write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  close(fd);
  return err;
}

int Setns(const ResolvedStep& step) {
  int fd = open(step.str[0], O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = setns(fd, static_cast<int>(step.num[0])) < 0 ? errno : 0;
  close(fd);
  return err;
}

int CapBounding(uint64_t keep) {
  for (int cap = 0; cap < 64; cap++) {
    if (keep & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
      if (errno == EINVAL) break;  // past CAP_LAST_CAP of this kernel
      return errno;
    }
  }
  return 0;
}

int CapSet(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  data[0].effective = static_cast<uint32_t>(effective);
  data[0].permitted = static_cast<uint32_t>(permitted);
  data[0].inheritable = static_cast<uint32_t>(inheritable);
  data[1].effective = static_cast<uint32_t>(effective >> 32);
  data[1].permitted = static_cast<uint32_t>(permitted >> 32);
  data[1].inheritable = static_cast<uint32_t>(inheritable >> 32);
  return syscall(SYS_capset, &header, data) < 0 ? errno : 0;
}

int CapAmbient(uint64_t raise) {
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) return errno;
  for (int cap = 0; cap < 64; cap++) {
    if (!(raise & (1ULL << cap))) continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) return errno;
  }
  return 0;
}

int Seccomp(const ResolvedStep& step) {
  struct sock_fprog program;
  program.len = static_cast<unsigned short>(step.blob_len / sizeof(struct sock_filter));
  program.filter = static_cast<struct sock_filter*>(const_cast<void*>(step.blob));
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, static_cast<unsigned>(step.num[0]),
                 &program) < 0
             ? errno
             : 0;
}

// What `ip link set NAME up` does, without a program to exec: SIOCGIFFLAGS, then SIOCSIFFLAGS
// with IFF_UP, on any socket of this network namespace (netdevice(7)).
int LinkUp(const char* name) {
  size_t length = strlen(name);
  if (length >= IFNAMSIZ) return ENAMETOOLONG;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  struct ifreq request;
  memset(&request, 0, sizeof request);
  memcpy(request.ifr_name, name, length);
  int err = 0;
  if (ioctl(fd, SIOCGIFFLAGS, &request) < 0) {
    err = errno;
  } else {
    request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
    if (ioctl(fd, SIOCSIFFLAGS, &request) < 0) err = errno;
  }
  close(fd);
  return err;
}

// A terminal made in the container's own devpts (so `tty` names it there),
// as runc's console socket does: the master goes to the monitor through the
// socket, the slave becomes the container's stdio (fds 3-5, which the plan
// then moves onto 0-2).
int OpenConsole(int socket_fd) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return errno;
  int unlock = 0;
  int err = 0;
  int slave = -1;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) err = errno;
  if (err == 0) {
    slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) err = errno;
  }
  if (err == 0) err = SendFd(socket_fd, master);
  close(master);
  // Wait until the monitor holds the master (and set the window size): a
  // command that writes and exits at once must not race it.
  if (err == 0) {
    char ack;
    ssize_t n;
    do {
      n = recv(socket_fd, &ack, 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) err = errno;
  }
  close(socket_fd);
  if (err != 0) {
    if (slave >= 0) close(slave);
    return err;
  }
  for (int fd = 3; fd <= 5; fd++) {
    if (fd != slave && dup2(slave, fd) < 0) return errno;
  }
  if (slave > 5) close(slave);
  return 0;
}

int Dup2(int from, int to) {
  if (from == to) return fcntl(from, F_SETFD, 0) < 0 ? errno : 0;
  return dup2(from, to) < 0 ? errno : 0;
}

// execvp(3) without its allocation: search PATH in a stack buffer. Returns the
// errno that explains the failure best (EACCES wins over ENOENT, as in execvp).
int Exec(const ResolvedStep& step) {
  const char* file = step.str[0];
  char* const* argv = step.list[0];
  char* const* envp = step.list[1];
  const char* search = step.str[1];
  if (strchr(file, '/') != nullptr || search == nullptr) {
    execve(file, argv, envp);
    return errno;
  }
  size_t file_len = strlen(file);
  char candidate[PATH_MAX];
  bool denied = false;
  int last = ENOENT;
  const char* dir = search;
  for (;;) {
    const char* end = strchr(dir, ':');
    size_t dir_len = end ? static_cast<size_t>(end - dir) : strlen(dir);
    if (dir_len + 1 + file_len + 1 <= sizeof candidate) {
      size_t at = 0;
      if (dir_len == 0) {
        candidate[at++] = '.';
      } else {
        memcpy(candidate, dir, dir_len);
        at = dir_len;
      }
      candidate[at++] = '/';
      memcpy(candidate + at, file, file_len + 1);
      execve(candidate, argv, envp);
      if (errno == EACCES) {
        denied = true;
      } else if (errno != ENOENT && errno != ENOTDIR) {
        last = errno;
      }
    }
    if (end == nullptr) break;
    dir = end + 1;
  }
  return denied ? EACCES : last;
}

int RunStep(const ResolvedStep& step, int sync_fd) {
  const char* const* s = step.str;
  switch (step.op) {
    case kOpWaitParent:
      return WaitParent(sync_fd);
    case kOpSetsid:
      return setsid() < 0 ? errno : 0;
    case kOpUnshare:
      return unshare(static_cast<int>(step.num[0])) < 0 ? errno : 0;
    case kOpSetns:
      return Setns(step);
    case kOpMount:
      return mount(s[0], s[1], s[2], static_cast<unsigned long>(step.num[0]), s[3]) < 0 ? errno : 0;
    case kOpUmount:
      return umount2(s[0], static_cast<int>(step.num[0])) < 0 ? errno : 0;
    case kOpMkdir:
      if (mkdir(s[0], static_cast<mode_t>(step.num[0])) == 0) return 0;
      return (errno == EEXIST && (step.flags & kFlagIgnoreExists)) ? 0 : errno;
    case kOpMknod:
      if (mknod(s[0], static_cast<mode_t>(step.num[0]), static_cast<dev_t>(step.num[1])) == 0)
        return 0;
      return (errno == EEXIST && (step.flags & kFlagIgnoreExists)) ? 0 : errno;
    case kOpSymlink:
      if (symlink(s[0], s[1]) == 0) return 0;
      return (errno == EEXIST && (step.flags & kFlagIgnoreExists)) ? 0 : errno;
    case kOpChdir:
      return chdir(s[0]) < 0 ? errno : 0;
    case kOpPivotRoot:
      return syscall(SYS_pivot_root, s[0], s[1]) < 0 ? errno : 0;
    case kOpSethostname:
      return sethostname(s[0], strlen(s[0])) < 0 ? errno : 0;
    case kOpSetgroups:
      return syscall(SYS_setgroups, step.blob_len / sizeof(uint32_t), step.blob) < 0 ? errno : 0;
    case kOpSetresgid:
      return syscall(SYS_setresgid, step.num[0], step.num[1], step.num[2]) < 0 ? errno : 0;
    case kOpSetresuid:
      return syscall(SYS_setresuid, step.num[0], step.num[1], step.num[2]) < 0 ? errno : 0;
    case kOpCapBounding:
      return CapBounding(static_cast<uint64_t>(step.num[0]));
    case kOpCapSet:
      return CapSet(static_cast<uint64_t>(step.num[0]), static_cast<uint64_t>(step.num[1]),
                    static_cast<uint64_t>(step.num[2]));
    case kOpCapAmbient:
      return CapAmbient(static_cast<uint64_t>(step.num[0]));
    case kOpKeepCaps:
      return prctl(PR_SET_KEEPCAPS, step.num[0], 0, 0, 0) < 0 ? errno : 0;
    case kOpNoNewPrivs:
      return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? errno : 0;
    case kOpSeccomp:
      return Seccomp(step);
    case kOpDup2:
      return Dup2(static_cast<int>(step.num[0]), static_cast<int>(step.num[1]));
    case kOpCloseFrom:
      return CloseFrom(step, sync_fd);
    case kOpWriteFile:
      return WriteFile(step);
    case kOpExec:
      return Exec(step);
    case kOpUmask:
      umask(static_cast<mode_t>(step.num[0]));
      return 0;
    case kOpSetrlimit: {
      struct rlimit limit;
      limit.rlim_cur = step.num[1] < 0 ? RLIM_INFINITY : static_cast<rlim_t>(step.num[1]);
      limit.rlim_max = step.num[2] < 0 ? RLIM_INFINITY : static_cast<rlim_t>(step.num[2]);
      return setrlimit(static_cast<__rlimit_resource>(step.num[0]), &limit) < 0 ? errno : 0;
    }
    case kOpSetCtty:
      return ioctl(static_cast<int>(step.num[0]), TIOCSCTTY, 0) < 0 ? errno : 0;
    case kOpExit:
      _exit(static_cast<int>(step.num[0]));
    case kOpOpenConsole:
      return OpenConsole(static_cast<int>(step.num[0]));
    case kOpLinkUp:
      return LinkUp(s[0]);
    case kOpVerifyCwd:
      return VerifyCwd();
    default:
      return EINVAL;  // unreachable: the parent validated every op
  }
}

}  // namespace

[[noreturn]] void RunPlanInChild(const ResolvedPlan& plan) {
  // Not made non-dumpable here: hutch-monitor, the parent of every process
  // that enters a container, is already, and we inherit it until execve. A
  // child of node's must stay dumpable until its parent wrote its id maps.
  if (plan.sync_peer_fd >= 0) close(plan.sync_peer_fd);
  // The parent blocked every signal around clone so that no handler of node's
  // could run here; restore default dispositions first, then unblock.
  struct sigaction deflt;
  memset(&deflt, 0, sizeof deflt);
  deflt.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &deflt, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  for (uint32_t i = 0; i < plan.count; i++) {
    const ResolvedStep& step = plan.steps[i];
    int err = RunStep(step, plan.sync_fd);
    if (err != 0) {
      SendSyncRecord(plan.sync_fd, kSyncFailed, static_cast<int32_t>(i), err, 0);
      _exit(kChildFailedStatus);
    }
  }
  // A plan that neither execs nor exits ends here: that is a success.
  _exit(0);
}

}  // namespace hutch
