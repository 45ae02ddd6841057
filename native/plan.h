// The plan: a list of steps that the child runs after clone(2), as data.
//
// TypeScript encodes it (src/host/plan.ts) as one buffer:
//   header  "HPLN" u32 version, u32 step count, u32 data size
//   steps   count x 64-byte records (layout below, little endian)
//   data    strings (NUL terminated), string lists and blobs
// Offsets into data are stored plus one, so 0 means "absent".
//
// The parent validates the buffer and resolves every offset into pointers
// (ResolvedStep) before clone, where it can still throw. The child only reads
// ResolvedStep: no allocation, no parsing, no JS after clone.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace hutch {

constexpr uint32_t kPlanMagic = 0x4e4c5048;  // "HPLN"
constexpr uint32_t kPlanVersion = 1;
constexpr size_t kPlanHeaderSize = 16;
constexpr size_t kPlanRecordSize = 64;
constexpr uint32_t kPlanMaxSteps = 4096;
constexpr uint32_t kPlanMaxList = 65536;

// Keep in sync with PlanOp in src/host/plan.ts (a unit test compares them).
enum PlanOp : uint32_t {
  kOpWaitParent = 1,    // read one byte from the sync fd (the parent's "go")
  kOpNotifyParent = 2,  // a = tag: send a notify report
  kOpSetsid = 3,
  kOpParentDeathSignal = 4,  // a = signal
  kOpSetName = 5,            // s0 = comm name
  kOpUnshare = 6,            // a = CLONE_* flags
  kOpSetns = 7,              // s0 = /proc/PID/ns/X path, a = nstype
  kOpMount = 8,              // s0 source, s1 target, s2 fstype, s3 data, a = flags
  kOpUmount = 9,             // s0 target, a = flags
  kOpMkdir = 10,             // s0 path, a = mode; flag kFlagIgnoreExists
  kOpMknod = 11,             // s0 path, a = mode, b = dev
  kOpSymlink = 12,           // s0 target, s1 link path; flag kFlagIgnoreExists
  kOpChdir = 13,             // s0 path
  kOpPivotRoot = 14,         // s0 new root, s1 put old
  kOpChroot = 15,            // s0 path
  kOpSethostname = 16,       // s0 name
  kOpSetdomainname = 17,     // s0 name
  kOpSetgroups = 18,         // blob = u32 gids
  kOpSetresgid = 19,         // a, b, c
  kOpSetresuid = 20,         // a, b, c
  kOpCapBounding = 21,       // a = mask of capabilities to keep in the bounding set
  kOpCapSet = 22,            // a = effective, b = permitted, c = inheritable
  kOpCapAmbient = 23,        // a = mask to raise (the ambient set is cleared first)
  kOpKeepCaps = 24,          // a = 0 or 1 (PR_SET_KEEPCAPS)
  kOpNoNewPrivs = 25,
  kOpSeccomp = 26,      // blob = struct sock_filter[], a = SECCOMP_FILTER_FLAG_*
  kOpDup2 = 27,         // a = old fd, b = new fd (close-on-exec cleared)
  kOpCloseFrom = 28,    // a = lowest fd, b = one fd above it to keep (-1: none), the sync
                        // fd is always kept; flag kFlagCloexecOnly marks instead of closing
  kOpWriteFile = 29,    // s0 path, blob = content
  kOpExec = 30,         // s0 file, s1 PATH for lookup (if s0 has no '/'), list0 argv, list1 envp
  kOpUmask = 31,        // a = mask
  kOpSetrlimit = 32,    // a = resource, b = soft, c = hard (-1 = infinity)
  kOpSetCtty = 33,      // a = fd (TIOCSCTTY)
  kOpExit = 34,         // a = status: the plan ends here without exec
  kOpOpenConsole = 35,  // a = unix socket fd: open a pty in this /dev/pts, send
                        // its master there (SCM_RIGHTS), put the slave on fds 3-5
  kOpLinkUp = 36,       // s0 = interface name: set IFF_UP on it in this network namespace
  kOpVerifyCwd = 37,    // getcwd(2) must name a path under this root (not "(unreachable)…"),
                        // else EXDEV: the working directory escaped the container
  kOpMax = 38,
};

enum PlanFlag : uint32_t {
  kFlagIgnoreExists = 1u << 0,
  kFlagCloexecOnly = 1u << 1,
  kFlagIgnoreErrors = 1u << 2,
};

// What the child sends on the sync socket (SOCK_SEQPACKET, one record a message).
enum ReportKind : int32_t {
  kReportFailed = 1,  // step failed with err (errno)
  kReportNotify = 2,  // NotifyParent reached, tag in tag
};

struct ChildReport {
  int32_t kind;
  int32_t step;
  int32_t err;
  int32_t tag;
};

struct ResolvedStep {
  uint32_t op;
  uint32_t flags;
  int64_t num[3];
  const char* str[4];
  char* const* list[2];
  const void* blob;
  size_t blob_len;
};

struct ResolvedPlan {
  ResolvedStep* steps;
  uint32_t count;
  int sync_fd;
  int sync_peer_fd;  // the parent's end, closed first thing in the child
};

}  // namespace hutch
