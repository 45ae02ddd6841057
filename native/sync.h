// The sync socket between a plan's child and node, whoever clones the child
// (the addon's spawnPlan, or hutch-monitor): one channel, one record format.
//
// The channel is a SOCK_SEQPACKET socketpair, both ends close-on-exec, made by
// MakeSyncPair (spawnPlan, or node's syncSocketpair() for hutch-monitor); the
// child's end sits at fd >= kPlanMaxTargetFd so that plans may dup2 onto the
// low fds. Each message is one record: a SyncRecord, then for some kinds up to
// kSyncTextMax bytes of text.
//
//   failed   step >= 0: that step of the plan failed with errno err (the child);
//            step -1: hutch-monitor's own setup failed with err before any
//            clone, text "SYSCALL" or "SYSCALL\0PATH"
//   started  hutch-monitor cloned the child: value is its pid
//   refused  hutch-monitor refused its arguments or the plan, before any
//            clone: text is the reason (a TypeError in node)
//
// Node sends one byte, 1 ("go"), to let a child held in a WaitParent step go
// on. EOF at node's end (every copy of the child's end closed: the child's at
// execve, as it is close-on-exec, or at its exit; hutch-monitor's right after
// clone) means success when no failure came first.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace hutch {

enum SyncKind : int32_t {
  kSyncFailed = 1,
  kSyncStarted = 2,
  kSyncRefused = 3,
};

struct SyncRecord {
  int32_t kind;
  int32_t step;
  int32_t err;
  int32_t value;
};

constexpr size_t kSyncTextMax = 4096;
constexpr uint8_t kSyncGo = 1;

// A SOCK_SEQPACKET socketpair, both ends close-on-exec; *child_end above the
// fds a plan may dup2 onto. Returns 0 or errno (nothing left open then).
int MakeSyncPair(int* parent_end, int* child_end);

// Sends one record (text may be null). Async-signal-safe: the child calls it
// after clone. Failures are ignored: nobody is left to tell.
void SendSyncRecord(int fd, int32_t kind, int32_t step, int32_t err, int32_t value,
                    const char* text = nullptr, size_t text_length = 0);

}  // namespace hutch
