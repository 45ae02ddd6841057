// The addon's entry to plan validation (plan.cc, over plan_core.h). Storage is
// freed right after clone: the child runs on its own copy of the address space.
#pragma once

#include <napi.h>

#include <memory>

#include "plan_core.h"

namespace hutch {

// Throws a TypeError naming the step when the buffer is malformed.
std::unique_ptr<PlanStorage> ResolvePlan(Napi::Env env, const uint8_t* buffer, size_t length);

}  // namespace hutch
