// spawnPlan(plan, cloneFlags): clone a child that runs the plan (child.cc).
//
// Parent/child handshake (drawn in docs/architecture.md):
//   - a SOCK_SEQPACKET socketpair, both ends close-on-exec; the child's end is
//     moved to fd >= 100 so plans may dup2 onto the low fds;
//   - the child sends {failed, step, errno} or {notify, step, tag} records; a
//     WaitParent step blocks until the parent sends one "go" byte;
//   - EOF on the parent's end without a failure record means the child reached
//     execve (the socket closed on exec), or exited through an Exit step.
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "child.h"
#include "errors.h"
#include "plan_storage.h"

namespace hutch {

Napi::Value SpawnPlan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsBuffer() || !info[1].IsNumber()) {
    throw Napi::TypeError::New(env, "spawnPlan(plan: Buffer, cloneFlags: number)");
  }
  Napi::Buffer<uint8_t> buffer = info[0].As<Napi::Buffer<uint8_t>>();
  int64_t flags = info[1].As<Napi::Number>().Int64Value();
  if (flags < 0 || (flags & (CLONE_VM | CLONE_THREAD | CLONE_SIGHAND | CLONE_FILES | CLONE_FS |
                             CLONE_VFORK | CLONE_PIDFD | CSIGNAL))) {
    throw Napi::TypeError::New(env, "spawnPlan: only namespace clone flags are accepted");
  }
  std::unique_ptr<PlanStorage> storage = ResolvePlan(env, buffer.Data(), buffer.Length());

  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
    ThrowSyscallError(env, errno, "socketpair");
  }
  int child_end = fcntl(pair[1], F_DUPFD_CLOEXEC, static_cast<int>(kPlanMaxTargetFd));
  int dup_errno = errno;
  close(pair[1]);
  if (child_end < 0) {
    close(pair[0]);
    ThrowSyscallError(env, dup_errno, "fcntl");
  }

  ResolvedPlan plan;
  plan.steps = storage->steps.data();
  plan.count = static_cast<uint32_t>(storage->steps.size());
  plan.sync_fd = child_end;
  plan.sync_peer_fd = pair[0];

  // No signal handler of node's may run in the child before it resets them.
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);

  int pidfd = -1;
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = static_cast<uint64_t>(flags) | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) RunPlanInChild(plan);
  int clone_errno = errno;

  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  close(child_end);
  if (pid < 0) {
    close(pair[0]);
    ThrowSyscallError(env, clone_errno, "clone3");
  }

  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, static_cast<double>(pid)));
  result.Set("pidfd", Napi::Number::New(env, pidfd));
  result.Set("syncFd", Napi::Number::New(env, pair[0]));
  return result;
}

}  // namespace hutch
