// Parent-side validation and resolution of an encoded plan (plan.h), without
// N-API: the addon (plan.cc) and hutch-monitor (monitor.cc) both use it. The
// storage must outlive the clone; the child runs on its own copy of it.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <string>
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

// Checks every offset, size and required field of the buffer and points the
// steps of *storage into its own copy of the data area. On a malformed buffer
// returns false with *error set to the message ("invalid plan: step 3: unknown
// op 999"); *storage is then unspecified.
bool ResolvePlanBuffer(const uint8_t* buffer, size_t length, PlanStorage* storage,
                       std::string* error);

}  // namespace hutch
