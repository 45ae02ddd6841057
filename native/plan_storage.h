// Parent-side storage of a resolved plan (plan.cc). Freed right after clone:
// the child runs on its own copy of the address space.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "plan.h"

namespace hutch {

// Plans may dup2 onto fds below this; the sync socket is moved above it.
constexpr int64_t kPlanMaxTargetFd = 100;

struct PlanStorage {
  std::vector<char> data;
  std::vector<ResolvedStep> steps;
  std::vector<std::vector<char*>> lists;
};

// Throws a TypeError naming the step when the buffer is malformed.
std::unique_ptr<PlanStorage> ResolvePlan(Napi::Env env, const uint8_t* buffer, size_t length);

}  // namespace hutch
