// The addon's side of plan validation: plan_core does the work, a malformed
// plan becomes a TypeError in the parent, before any clone.
#include "plan_storage.h"

#include <string>

namespace hutch {

std::unique_ptr<PlanStorage> ResolvePlan(Napi::Env env, const uint8_t* buffer, size_t length) {
  auto storage = std::make_unique<PlanStorage>();
  std::string error;
  if (!ResolvePlanBuffer(buffer, length, storage.get(), &error)) {
    throw Napi::TypeError::New(env, error);
  }
  return storage;
}

}  // namespace hutch
