// Thin wrappers: each one system call (or a tight group of them) that is safe
// in node's multi-threaded process, with arguments checked here and failures
// thrown as SyscallError. Policy stays in TypeScript.
#include "wrappers.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>

#include <string>
#include <vector>

#include "errors.h"
#include "sync.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_renameat2
#define SYS_renameat2 316
#endif

namespace hutch {

namespace {

int FdArg(const Napi::CallbackInfo& info, size_t index, const char* signature) {
  if (info.Length() <= index || !info[index].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), signature);
  }
  int64_t fd = info[index].As<Napi::Number>().Int64Value();
  if (fd < 0 || fd > INT32_MAX) throw Napi::RangeError::New(info.Env(), signature);
  return static_cast<int>(fd);
}

std::string StringArg(const Napi::CallbackInfo& info, size_t index, const char* signature) {
  if (info.Length() <= index || !info[index].IsString()) {
    throw Napi::TypeError::New(info.Env(), signature);
  }
  std::string value = info[index].As<Napi::String>().Utf8Value();
  if (value.find('\0') != std::string::npos) throw Napi::TypeError::New(info.Env(), signature);
  return value;
}

std::vector<std::string> StringArrayArg(const Napi::CallbackInfo& info, size_t index,
                                        const char* signature) {
  if (info.Length() <= index || !info[index].IsArray()) {
    throw Napi::TypeError::New(info.Env(), signature);
  }
  Napi::Array array = info[index].As<Napi::Array>();
  std::vector<std::string> values;
  values.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    if (!item.IsString()) throw Napi::TypeError::New(info.Env(), signature);
    values.push_back(item.As<Napi::String>().Utf8Value());
    if (values.back().find('\0') != std::string::npos) {
      throw Napi::TypeError::New(info.Env(), signature);
    }
  }
  return values;
}

// One pending wait for an fd to become readable, on node's own event loop.
class ReadableWaiter {
 public:
  ReadableWaiter(Napi::Env env, int fd) : env_(env), deferred_(Napi::Promise::Deferred::New(env)) {
    handle_.data = this;
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    int rc = uv_poll_init(loop, &handle_, fd);
    if (rc == 0) rc = uv_poll_start(&handle_, UV_READABLE | UV_DISCONNECT, OnEvent);
    if (rc != 0) {
      deferred_.Reject(MakeSyscallError(env, -rc, "poll").Value());
      uv_close(reinterpret_cast<uv_handle_t*>(&handle_), OnClose);
    }
  }
  Napi::Promise Promise() const {
    return deferred_.Promise();
  }

 private:
  static void OnEvent(uv_poll_t* handle, int status, int /*events*/) {
    auto* self = static_cast<ReadableWaiter*>(handle->data);
    Napi::HandleScope scope(self->env_);
    uv_poll_stop(handle);
    if (status < 0) {
      self->deferred_.Reject(MakeSyscallError(self->env_, -status, "poll").Value());
    } else {
      self->deferred_.Resolve(self->env_.Undefined());
    }
    uv_close(reinterpret_cast<uv_handle_t*>(handle), OnClose);
  }
  static void OnClose(uv_handle_t* handle) {
    delete static_cast<ReadableWaiter*>(handle->data);
  }

  Napi::Env env_;
  Napi::Promise::Deferred deferred_;
  uv_poll_t handle_;
};

}  // namespace

// pollReadable(fd): resolves when fd is readable or hung up (a pidfd: exited).
Napi::Value PollReadable(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0, "pollReadable(fd: number)");
  auto* waiter = new ReadableWaiter(info.Env(), fd);
  return waiter->Promise();
}

// syncSocketpair(): a plan's sync socket (sync.h) for a child hutch-monitor
// clones: node keeps parentFd and hands childFd to the monitor.
Napi::Value SyncSocketpair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int parent_end, child_end;
  int err = MakeSyncPair(&parent_end, &child_end);
  if (err != 0) ThrowSyscallError(env, err, "socketpair");
  Napi::Object result = Napi::Object::New(env);
  result.Set("parentFd", parent_end);
  result.Set("childFd", child_end);
  return result;
}

// recvSyncRecord(fd): the next record on a sync socket, null on EOF,
// undefined if none yet.
Napi::Value RecvSyncRecord(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0, "recvSyncRecord(fd: number)");
  char message[sizeof(SyncRecord) + kSyncTextMax];
  ssize_t n;
  do {
    n = recv(fd, message, sizeof message, MSG_DONTWAIT | MSG_TRUNC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return env.Undefined();
    if (errno == ECONNRESET) return env.Null();
    ThrowSyscallError(env, errno, "recv");
  }
  if (n == 0) return env.Null();
  if (static_cast<size_t>(n) < sizeof(SyncRecord) || static_cast<size_t>(n) > sizeof message) {
    throw Napi::Error::New(env, "recvSyncRecord: malformed record of " + std::to_string(n) +
                                    " bytes on the sync socket");
  }
  SyncRecord record;
  memcpy(&record, message, sizeof record);
  const char* kind = record.kind == kSyncFailed    ? "failed"
                     : record.kind == kSyncStarted ? "started"
                     : record.kind == kSyncRefused ? "refused"
                                                   : nullptr;
  if (kind == nullptr) {
    throw Napi::Error::New(env,
                           "recvSyncRecord: unknown record kind " + std::to_string(record.kind));
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("kind", kind);
  result.Set("step", record.step);
  result.Set("errno", record.err);
  result.Set("value", record.value);
  result.Set("text", Napi::String::New(env, message + sizeof record,
                                       static_cast<size_t>(n) - sizeof record));
  return result;
}

// sendByte(fd, byte): one message on the sync socket (1 = go).
Napi::Value SendByte(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0, "sendByte(fd: number, byte: number)");
  int byte = FdArg(info, 1, "sendByte(fd: number, byte: number)");
  char value = static_cast<char>(byte);
  ssize_t n;
  do {
    n = send(fd, &value, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) ThrowSyscallError(env, errno, "send");
  return env.Undefined();
}

// waitPidfd(pidfd, block): {pid, code, signal} once exited; null if still running.
Napi::Value WaitPidfd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pidfd = FdArg(info, 0, "waitPidfd(pidfd: number, block: boolean)");
  bool block = info.Length() > 1 && info[1].ToBoolean().Value();
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int rc;
  do {
    rc = waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &si,
                WEXITED | (block ? 0 : WNOHANG));
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) ThrowSyscallError(env, errno, "waitid");
  if (si.si_pid == 0) return env.Null();
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", si.si_pid);
  if (si.si_code == CLD_EXITED) {
    result.Set("code", si.si_status);
    result.Set("signal", env.Null());
  } else {
    result.Set("code", env.Null());
    result.Set("signal", si.si_status);
  }
  return result;
}

// pidfdSendSignal(pidfd, signal): kill(2) without the pid-reuse race.
Napi::Value PidfdSendSignal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pidfd = FdArg(info, 0, "pidfdSendSignal(pidfd: number, signal: number)");
  int sig = FdArg(info, 1, "pidfdSendSignal(pidfd: number, signal: number)");
  if (syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) < 0) {
    ThrowSyscallError(env, errno, "pidfd_send_signal");
  }
  return env.Undefined();
}

// pidfdOpen(pid): a pidfd for a process we did not spawn (e.g. a session holder).
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = FdArg(info, 0, "pidfdOpen(pid: number)");
  long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) ThrowSyscallError(env, errno, "pidfd_open");
  return Napi::Number::New(env, static_cast<double>(fd));
}

// execve(path, argv, env): replaces node. Only returns by throwing.
Napi::Value Execve(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* signature = "execve(path: string, argv: string[], env: string[])";
  std::string path = StringArg(info, 0, signature);
  std::vector<std::string> argv = StringArrayArg(info, 1, signature);
  std::vector<std::string> envp = StringArrayArg(info, 2, signature);
  std::vector<char*> argv_ptrs, envp_ptrs;
  for (auto& s : argv) argv_ptrs.push_back(s.data());
  argv_ptrs.push_back(nullptr);
  for (auto& s : envp) envp_ptrs.push_back(s.data());
  envp_ptrs.push_back(nullptr);
  // Ignored signals survive execve and node ignores SIGPIPE; a blocked mask
  // survives too. The new program must start as a shell would start it.
  signal(SIGPIPE, SIG_DFL);
  signal(SIGXFSZ, SIG_DFL);
  // Node marks stdio close-on-exec and may have made it non-blocking; the new
  // program inherits both as a shell would hand them over.
  int saved_fd_flags[3], saved_fl[3];
  for (int fd = 0; fd < 3; fd++) {
    saved_fd_flags[fd] = fcntl(fd, F_GETFD);
    saved_fl[fd] = fcntl(fd, F_GETFL);
    if (saved_fd_flags[fd] >= 0) fcntl(fd, F_SETFD, saved_fd_flags[fd] & ~FD_CLOEXEC);
    if (saved_fl[fd] >= 0) fcntl(fd, F_SETFL, saved_fl[fd] & ~O_NONBLOCK);
  }
  sigset_t none, saved;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, &saved);
  execve(path.c_str(), argv_ptrs.data(), envp_ptrs.data());
  int err = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  for (int fd = 0; fd < 3; fd++) {
    if (saved_fd_flags[fd] >= 0) fcntl(fd, F_SETFD, saved_fd_flags[fd]);
    if (saved_fl[fd] >= 0) fcntl(fd, F_SETFL, saved_fl[fd]);
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);
  ThrowSyscallError(env, err, "execve", path);
}

// flock(fd, exclusive, wait): false when !wait and another holder has it.
Napi::Value Flock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0, "flock(fd: number, exclusive: boolean, wait: boolean)");
  bool exclusive = info.Length() > 1 && info[1].ToBoolean().Value();
  bool wait = info.Length() > 2 && info[2].ToBoolean().Value();
  int op = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
  int rc;
  do {
    rc = flock(fd, op);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    if (!wait && errno == EWOULDBLOCK) return Napi::Boolean::New(env, false);
    ThrowSyscallError(env, errno, "flock");
  }
  return Napi::Boolean::New(env, true);
}

// getxattr(path, name): the value, or null when the attribute is absent.
Napi::Value Getxattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* signature = "getxattr(path: string, name: string)";
  std::string path = StringArg(info, 0, signature);
  std::string name = StringArg(info, 1, signature);
  char value[4096];
  ssize_t n = lgetxattr(path.c_str(), name.c_str(), value, sizeof value);
  if (n < 0) {
    if (errno == ENODATA || errno == ENOTSUP) return env.Null();
    ThrowSyscallError(env, errno, "getxattr", path);
  }
  return Napi::Buffer<char>::Copy(env, value, static_cast<size_t>(n));
}

// statfs(path): {type, flags, blockSize, blocks, blocksFree, blocksAvailable}.
Napi::Value Statfs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "statfs(path: string)");
  struct statfs st;
  if (statfs(path.c_str(), &st) < 0) ThrowSyscallError(env, errno, "statfs", path);
  Napi::Object result = Napi::Object::New(env);
  result.Set("type", Napi::Number::New(env, static_cast<double>(static_cast<uint32_t>(st.f_type))));
  result.Set("flags", Napi::Number::New(env, static_cast<double>(st.f_flags)));
  result.Set("blockSize", Napi::Number::New(env, static_cast<double>(st.f_bsize)));
  result.Set("blocks", Napi::Number::New(env, static_cast<double>(st.f_blocks)));
  result.Set("blocksFree", Napi::Number::New(env, static_cast<double>(st.f_bfree)));
  result.Set("blocksAvailable", Napi::Number::New(env, static_cast<double>(st.f_bavail)));
  return result;
}

}  // namespace hutch

namespace hutch {

// setxattr(path, name, value): lsetxattr(2), never following a symlink.
Napi::Value Setxattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* signature = "setxattr(path: string, name: string, value: Buffer)";
  std::string path = StringArg(info, 0, signature);
  std::string name = StringArg(info, 1, signature);
  if (info.Length() < 3 || !info[2].IsBuffer()) throw Napi::TypeError::New(env, signature);
  Napi::Buffer<char> value = info[2].As<Napi::Buffer<char>>();
  if (lsetxattr(path.c_str(), name.c_str(), value.Data(), value.Length(), 0) < 0) {
    ThrowSyscallError(env, errno, "setxattr", path);
  }
  return env.Undefined();
}

// listxattr(path): the attribute names of path itself (llistxattr(2)).
Napi::Value Listxattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "listxattr(path: string)");
  std::vector<char> names(1024);
  ssize_t n;
  for (;;) {
    n = llistxattr(path.c_str(), names.data(), names.size());
    if (n >= 0) break;
    if (errno == ERANGE && names.size() < 65536) {
      names.resize(names.size() * 4);
      continue;
    }
    if (errno == ENOTSUP) {
      n = 0;
      break;
    }
    ThrowSyscallError(env, errno, "listxattr", path);
  }
  Napi::Array result = Napi::Array::New(env);
  uint32_t index = 0;
  for (ssize_t at = 0; at < n;) {
    size_t len = strnlen(names.data() + at, static_cast<size_t>(n - at));
    result.Set(index++, Napi::String::New(env, names.data() + at, len));
    at += static_cast<ssize_t>(len) + 1;
  }
  return result;
}

// mknod(path, mode, major, minor): device nodes and overlay whiteouts (0:0).
Napi::Value Mknod(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* signature = "mknod(path: string, mode: number, major: number, minor: number)";
  std::string path = StringArg(info, 0, signature);
  int mode = FdArg(info, 1, signature);
  int major_number = FdArg(info, 2, signature);
  int minor_number = FdArg(info, 3, signature);
  if (mknod(path.c_str(), static_cast<mode_t>(mode),
            makedev(static_cast<unsigned>(major_number), static_cast<unsigned>(minor_number))) <
      0) {
    ThrowSyscallError(env, errno, "mknod", path);
  }
  return env.Undefined();
}

// makeRaw(fd): cfmakeraw(3) on a terminal (node's raw mode keeps output
// processing, so a container's own \r\n would become \r\r\n); returns the
// settings to give back to restoreTerminal.
Napi::Value MakeRaw(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0, "makeRaw(fd: number)");
  struct termios saved;
  if (tcgetattr(fd, &saved) < 0) ThrowSyscallError(env, errno, "tcgetattr");
  struct termios raw = saved;
  cfmakeraw(&raw);
  if (tcsetattr(fd, TCSADRAIN, &raw) < 0) ThrowSyscallError(env, errno, "tcsetattr");
  return Napi::Buffer<char>::Copy(env, reinterpret_cast<char*>(&saved), sizeof saved);
}

// restoreTerminal(fd, saved): the settings makeRaw returned.
Napi::Value RestoreTerminal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0, "restoreTerminal(fd: number, saved: Buffer)");
  if (info.Length() < 2 || !info[1].IsBuffer())
    throw Napi::TypeError::New(env, "restoreTerminal(fd: number, saved: Buffer)");
  Napi::Buffer<char> saved = info[1].As<Napi::Buffer<char>>();
  if (saved.Length() != sizeof(struct termios))
    throw Napi::TypeError::New(env, "restoreTerminal: not a saved termios");
  struct termios settings;
  memcpy(&settings, saved.Data(), sizeof settings);
  if (tcsetattr(fd, TCSADRAIN, &settings) < 0) ThrowSyscallError(env, errno, "tcsetattr");
  return env.Undefined();
}

// strerror(errno): the C library's text for errnos libuv does not know.
Napi::Value Strerror(const Napi::CallbackInfo& info) {
  int err = FdArg(info, 0, "strerror(errno: number)");
  char buffer[256];
  // The GNU strerror_r returns its message, maybe not in buffer.
  const char* text = strerror_r(err, buffer, sizeof buffer);
  return Napi::String::New(info.Env(), text);
}

}  // namespace hutch

// File system wrappers: mounts made by node itself (a rootfs, in the session's
// mount namespace) and path resolution confined to a directory tree.
namespace hutch {

namespace {

// A string or null: mount(2) takes NULL for an unused source, type or data.
bool NullableStringArg(const Napi::CallbackInfo& info, size_t index, const char* signature,
                       std::string* value) {
  if (info.Length() > index && (info[index].IsNull() || info[index].IsUndefined())) return false;
  *value = StringArg(info, index, signature);
  return true;
}

// A directory fd, or AT_FDCWD (-100).
int DirFdArg(const Napi::CallbackInfo& info, size_t index, const char* signature) {
  if (info.Length() > index && info[index].IsNumber() &&
      info[index].As<Napi::Number>().Int64Value() == AT_FDCWD) {
    return AT_FDCWD;
  }
  return FdArg(info, index, signature);
}

// What an error about `path` inside `root` names: the two joined, as the host sees them.
std::string InRoot(const std::string& root, const std::string& path) {
  size_t start = path.find_first_not_of('/');
  std::string rel = start == std::string::npos ? std::string() : path.substr(start);
  if (rel.empty()) return root;
  return root.size() > 0 && root.back() == '/' ? root + rel : root + "/" + rel;
}

long CallOpenat2(int dirfd, const std::string& path, uint64_t flags, uint64_t mode,
                 uint64_t resolve) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = flags;
  // openat2(2) refuses a mode unless something is created.
  bool creates = (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
  how.mode = creates ? mode : 0;
  how.resolve = resolve;
  long fd;
  do {
    fd = syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
    // The kernel asks for a retry when a rename raced with the resolution (RESOLVE_IN_ROOT).
  } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
  return fd;
}

constexpr uint64_t kInRoot = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

// The root directory as an O_PATH fd, for resolutions beneath it.
int OpenRoot(Napi::Env env, const std::string& root) {
  int fd = open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) ThrowSyscallError(env, errno, "open", root);
  return fd;
}

}  // namespace

// mount(source, target, fstype, flags, data): mount(2) in node's own mount namespace.
Napi::Value Mount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* signature =
      "mount(source: string | null, target: string, fstype: string | null, flags: number, data: "
      "string | null)";
  std::string source, fstype, data;
  bool has_source = NullableStringArg(info, 0, signature, &source);
  std::string target = StringArg(info, 1, signature);
  bool has_fstype = NullableStringArg(info, 2, signature, &fstype);
  if (info.Length() <= 3 || !info[3].IsNumber()) throw Napi::TypeError::New(env, signature);
  int64_t flags = info[3].As<Napi::Number>().Int64Value();
  if (flags < 0 || flags > UINT32_MAX) throw Napi::RangeError::New(env, signature);
  bool has_data = NullableStringArg(info, 4, signature, &data);
  if (mount(has_source ? source.c_str() : nullptr, target.c_str(),
            has_fstype ? fstype.c_str() : nullptr, static_cast<unsigned long>(flags),
            has_data ? data.c_str() : nullptr) < 0) {
    ThrowSyscallError(env, errno, "mount", target);
  }
  return env.Undefined();
}

// umount(target, flags): umount2(2) (MNT_DETACH = 2).
Napi::Value Umount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* signature = "umount(target: string, flags: number)";
  std::string target = StringArg(info, 0, signature);
  int flags = FdArg(info, 1, signature);
  if (umount2(target.c_str(), flags) < 0) ThrowSyscallError(env, errno, "umount2", target);
  return env.Undefined();
}

// openInRoot(root, path, flags, mode): path resolved as if root were "/" (symlinks and ".."
// never leave it; RESOLVE_IN_ROOT), refusing /proc magic links (RESOLVE_NO_MAGICLINKS).
Napi::Value OpenInRoot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* signature = "openInRoot(root: string, path: string, flags: number, mode: number)";
  std::string root = StringArg(info, 0, signature);
  std::string path = StringArg(info, 1, signature);
  int flags = FdArg(info, 2, signature);
  int mode = FdArg(info, 3, signature);
  int rootfd = OpenRoot(env, root);
  long fd = CallOpenat2(rootfd, path, static_cast<uint64_t>(flags) | O_CLOEXEC,
                        static_cast<uint64_t>(mode), kInRoot);
  int err = errno;
  close(rootfd);
  if (fd < 0) ThrowSyscallError(env, err, "openat2", InRoot(root, path));
  return Napi::Number::New(env, static_cast<double>(fd));
}

// mkdirInRoot(root, path, mode): mkdirat(2) of path's last component in its parent, the
// parent resolved as openInRoot does. The last component is never followed: a symlink
// there gives EEXIST.
Napi::Value MkdirInRoot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* signature = "mkdirInRoot(root: string, path: string, mode: number)";
  std::string root = StringArg(info, 0, signature);
  std::string path = StringArg(info, 1, signature);
  int mode = FdArg(info, 2, signature);
  size_t end = path.find_last_not_of('/');
  if (end == std::string::npos) throw Napi::TypeError::New(env, "mkdirInRoot: path names the root");
  size_t slash = path.rfind('/', end);
  std::string parent = slash == std::string::npos ? std::string(".") : path.substr(0, slash + 1);
  std::string name = path.substr(slash == std::string::npos ? 0 : slash + 1,
                                 end - (slash == std::string::npos ? 0 : slash + 1) + 1);
  if (name == "." || name == "..") {
    throw Napi::TypeError::New(env, "mkdirInRoot: the last component must be a name");
  }
  int rootfd = OpenRoot(env, root);
  long parentfd = CallOpenat2(rootfd, parent, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kInRoot);
  int err = errno;
  close(rootfd);
  if (parentfd < 0) ThrowSyscallError(env, err, "openat2", InRoot(root, parent));
  int rc = mkdirat(static_cast<int>(parentfd), name.c_str(), static_cast<mode_t>(mode));
  err = errno;
  close(static_cast<int>(parentfd));
  if (rc < 0) ThrowSyscallError(env, err, "mkdir", InRoot(root, path));
  return env.Undefined();
}

// renameat2(olddirfd, oldpath, newdirfd, newpath, flags): RENAME_NOREPLACE = 1, RENAME_EXCHANGE
// = 2.
Napi::Value Renameat2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* signature =
      "renameat2(olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: "
      "number)";
  int olddirfd = DirFdArg(info, 0, signature);
  std::string oldpath = StringArg(info, 1, signature);
  int newdirfd = DirFdArg(info, 2, signature);
  std::string newpath = StringArg(info, 3, signature);
  int flags = FdArg(info, 4, signature);
  if (syscall(SYS_renameat2, olddirfd, oldpath.c_str(), newdirfd, newpath.c_str(), flags) < 0) {
    ThrowSyscallError(env, errno, "rename", newpath);
  }
  return env.Undefined();
}

}  // namespace hutch
