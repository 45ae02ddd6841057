#pragma once

#include <napi.h>

namespace hutch {

Napi::Value PollReadable(const Napi::CallbackInfo& info);
Napi::Value SyncSocketpair(const Napi::CallbackInfo& info);
Napi::Value RecvSyncRecord(const Napi::CallbackInfo& info);
Napi::Value SendByte(const Napi::CallbackInfo& info);
Napi::Value WaitPidfd(const Napi::CallbackInfo& info);
Napi::Value PidfdSendSignal(const Napi::CallbackInfo& info);
Napi::Value PidfdOpen(const Napi::CallbackInfo& info);
Napi::Value Execve(const Napi::CallbackInfo& info);
Napi::Value Flock(const Napi::CallbackInfo& info);
Napi::Value Getxattr(const Napi::CallbackInfo& info);
Napi::Value Statfs(const Napi::CallbackInfo& info);
Napi::Value Strerror(const Napi::CallbackInfo& info);
Napi::Value MakeRaw(const Napi::CallbackInfo& info);
Napi::Value RestoreTerminal(const Napi::CallbackInfo& info);
Napi::Value Setxattr(const Napi::CallbackInfo& info);
Napi::Value Listxattr(const Napi::CallbackInfo& info);
Napi::Value Mknod(const Napi::CallbackInfo& info);
Napi::Value Mount(const Napi::CallbackInfo& info);
Napi::Value Umount(const Napi::CallbackInfo& info);
Napi::Value OpenInRoot(const Napi::CallbackInfo& info);
Napi::Value MkdirInRoot(const Napi::CallbackInfo& info);
Napi::Value Renameat2(const Napi::CallbackInfo& info);

}  // namespace hutch
