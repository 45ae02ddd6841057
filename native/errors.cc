#include "errors.h"

namespace hutch {

namespace {
// One per process: the addon is loaded once, by src/native.ts.
Napi::FunctionReference* syscall_error_class = nullptr;
}  // namespace

void SetSyscallErrorClass(const Napi::CallbackInfo& info) {
  if (info.Length() != 1 || !info[0].IsFunction()) {
    throw Napi::TypeError::New(info.Env(), "setErrorClass(SyscallError): a class is required");
  }
  if (syscall_error_class == nullptr) syscall_error_class = new Napi::FunctionReference();
  *syscall_error_class = Napi::Persistent(info[0].As<Napi::Function>());
}

Napi::Error MakeSyscallError(Napi::Env env, int err, const char* syscall, const std::string& path) {
  if (syscall_error_class == nullptr || syscall_error_class->IsEmpty()) {
    return Napi::Error::New(env, std::string(syscall) + " failed: errno " + std::to_string(err));
  }
  Napi::Value args[3] = {Napi::Number::New(env, err), Napi::String::New(env, syscall),
                         path.empty() ? env.Undefined() : Napi::String::New(env, path)};
  Napi::Object error = syscall_error_class->New({args[0], args[1], args[2]});
  return Napi::Error(env, error);
}

void ThrowSyscallError(Napi::Env env, int err, const char* syscall, const std::string& path) {
  throw MakeSyscallError(env, err, syscall, path);
}

}  // namespace hutch
