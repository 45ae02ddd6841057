#pragma once

#include <napi.h>

namespace hutch {

// spawnPlan(plan: Buffer, cloneFlags: number) -> {pid, pidfd, syncFd}
Napi::Value SpawnPlan(const Napi::CallbackInfo& info);

}  // namespace hutch
