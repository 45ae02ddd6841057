// The addon's exports. Their exact shape is declared in src/native.ts, the
// only module that loads this file.
#include <napi.h>

#include "errors.h"
#include "spawn.h"
#include "wrappers.h"

namespace hutch {

namespace {

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  SetSyscallErrorClass(info);
  return info.Env().Undefined();
}

}  // namespace

}  // namespace hutch

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace hutch;
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
  exports.Set("spawnPlan", Napi::Function::New(env, SpawnPlan, "spawnPlan"));
  exports.Set("pollReadable", Napi::Function::New(env, PollReadable, "pollReadable"));
  exports.Set("syncSocketpair", Napi::Function::New(env, SyncSocketpair, "syncSocketpair"));
  exports.Set("recvSyncRecord", Napi::Function::New(env, RecvSyncRecord, "recvSyncRecord"));
  exports.Set("sendByte", Napi::Function::New(env, SendByte, "sendByte"));
  exports.Set("waitPidfd", Napi::Function::New(env, WaitPidfd, "waitPidfd"));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, PidfdSendSignal, "pidfdSendSignal"));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("execve", Napi::Function::New(env, Execve, "execve"));
  exports.Set("flock", Napi::Function::New(env, Flock, "flock"));
  exports.Set("getxattr", Napi::Function::New(env, Getxattr, "getxattr"));
  exports.Set("statfs", Napi::Function::New(env, Statfs, "statfs"));
  exports.Set("strerror", Napi::Function::New(env, Strerror, "strerror"));
  exports.Set("makeRaw", Napi::Function::New(env, MakeRaw, "makeRaw"));
  exports.Set("restoreTerminal", Napi::Function::New(env, RestoreTerminal, "restoreTerminal"));
  exports.Set("setxattr", Napi::Function::New(env, Setxattr, "setxattr"));
  exports.Set("listxattr", Napi::Function::New(env, Listxattr, "listxattr"));
  exports.Set("mknod", Napi::Function::New(env, Mknod, "mknod"));
  exports.Set("mount", Napi::Function::New(env, Mount, "mount"));
  exports.Set("umount", Napi::Function::New(env, Umount, "umount"));
  exports.Set("openInRoot", Napi::Function::New(env, OpenInRoot, "openInRoot"));
  exports.Set("mkdirInRoot", Napi::Function::New(env, MkdirInRoot, "mkdirInRoot"));
  exports.Set("renameat2", Napi::Function::New(env, Renameat2, "renameat2"));
  return exports;
}

NODE_API_MODULE(hutch_native, Init)
