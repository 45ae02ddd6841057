// The child half of the plan executor (child.cc). Async-signal-safe code only.
#pragma once

#include "plan.h"

namespace hutch {

// Exit statuses of a child that did not reach execve. The parent learns the
// reason from the sync socket; these only tell a failure from an exit step.
constexpr int kChildFailedStatus = 125;
constexpr int kChildAbandonedStatus = 124;

[[noreturn]] void RunPlanInChild(const ResolvedPlan& plan);

}  // namespace hutch
