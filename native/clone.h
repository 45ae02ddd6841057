// clone3(2) of a child that runs a plan (child.cc): the one way both the addon
// (spawn.cc) and hutch-monitor (monitor.cc) start one. No N-API.
#pragma once

#include <stdint.h>

#include "plan_core.h"

namespace hutch {

// Clones a child with flags (CLONE_NEW* only; the caller checked) that runs
// the plan in storage, reporting on sync_fd (sync.h) and closing
// sync_peer_fd (-1: none) first. Every signal is blocked around the clone so
// that no handler of the parent's runs in the child before it resets them.
// With pidfd non-null, CLONE_PIDFD puts a pidfd there. Returns the child's
// pid, or -1 with errno set. storage may be freed once this returned: the
// child has its own copy of the address space.
long ClonePlanChild(const PlanStorage& storage, uint64_t flags, int sync_fd, int sync_peer_fd,
                    int* pidfd);

}  // namespace hutch
