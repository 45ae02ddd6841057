// Argument checks shared by the thin wrappers (wrappers.cc, fs_wrappers.cc):
// a wrong type is a TypeError naming the signature, a number out of range a
// RangeError, a string with a NUL byte a TypeError.
#pragma once

#include <napi.h>
#include <stdint.h>

#include <string>

namespace hutch {

inline int FdArg(const Napi::CallbackInfo& info, size_t index, const char* signature) {
  if (info.Length() <= index || !info[index].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), signature);
  }
  int64_t fd = info[index].As<Napi::Number>().Int64Value();
  if (fd < 0 || fd > INT32_MAX) throw Napi::RangeError::New(info.Env(), signature);
  return static_cast<int>(fd);
}

inline std::string StringArg(const Napi::CallbackInfo& info, size_t index, const char* signature) {
  if (info.Length() <= index || !info[index].IsString()) {
    throw Napi::TypeError::New(info.Env(), signature);
  }
  std::string value = info[index].As<Napi::String>().Utf8Value();
  if (value.find('\0') != std::string::npos) throw Napi::TypeError::New(info.Env(), signature);
  return value;
}

}  // namespace hutch
