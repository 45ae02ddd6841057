// Thin wrappers: each one system call (or a tight group of them) that is safe
// in node's multi-threaded process, with arguments checked here and failures
// thrown as SyscallError. Policy stays in TypeScript. This file: processes,
// the sync socket, locks and terminals; fs_wrappers.cc: files and mounts.
#include "wrappers.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>

#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "sync.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace hutch {

namespace {

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
