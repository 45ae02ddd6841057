// spawnPlan(plan, cloneFlags): clone a child that runs the plan (child.cc),
// reporting on a sync socket of its own (sync.h, drawn in
// docs/architecture.md): node gets the parent's end, the child closes it
// first thing; node's copy of the child's end is closed here, so that node
// sees EOF once the child execs or exits.
#include "spawn.h"

#include <errno.h>
#include <linux/sched.h>
#include <unistd.h>

#include "clone.h"
#include "errors.h"
#include "plan_storage.h"
#include "sync.h"

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

  int parent_end, child_end;
  int err = MakeSyncPair(&parent_end, &child_end);
  if (err != 0) ThrowSyscallError(env, err, "socketpair");

  int pidfd = -1;
  long pid = ClonePlanChild(*storage, static_cast<uint64_t>(flags), child_end, parent_end, &pidfd);
  int clone_errno = errno;
  close(child_end);
  if (pid < 0) {
    close(parent_end);
    ThrowSyscallError(env, clone_errno, "clone3");
  }

  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, static_cast<double>(pid)));
  result.Set("pidfd", Napi::Number::New(env, pidfd));
  result.Set("syncFd", Napi::Number::New(env, parent_end));
  return result;
}

}  // namespace hutch
