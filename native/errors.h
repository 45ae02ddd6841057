// Errors that cross into JS: SyscallError (errno, syscall, path) built by the
// JS class registered once through setErrorClass, so callers get instanceof and
// a stable code, shaped like Node's own fs errors.
#pragma once

#include <napi.h>

#include <string>

namespace hutch {

void SetSyscallErrorClass(const Napi::CallbackInfo& info);

// Returns the error object (a SyscallError when the class is registered).
Napi::Error MakeSyscallError(Napi::Env env, int err, const char* syscall,
                             const std::string& path = std::string());

[[noreturn]] void ThrowSyscallError(Napi::Env env, int err, const char* syscall,
                                    const std::string& path = std::string());

}  // namespace hutch
