// The plan: a list of steps that the child runs after clone(2), as data.
//
// TypeScript encodes it (src/host/plan.ts) as one buffer:
//   header  "HPLN" u32 version, u32 step count, u32 data size
//   steps   count x 64-byte records (layout below, little endian)
//   data    strings (NUL terminated), string lists and blobs
// Offsets into data are stored plus one, so 0 means "absent".
//
// A failing step ends the child: it reports {step, errno} on the sync fd
// (sync.h) and exits 125.
//
// The parent validates the buffer and resolves every offset into pointers
// (ResolvedStep) before clone, where it can still throw. The child only reads
// ResolvedStep: no allocation, no parsing, no JS after clone.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace hutch {

constexpr uint32_t kPlanMagic = 0x4e4c5048;  // "HPLN"
constexpr uint32_t kPlanVersion = 2;
constexpr size_t kPlanHeaderSize = 16;
constexpr size_t kPlanRecordSize = 64;
constexpr uint32_t kPlanMaxSteps = 4096;
constexpr uint32_t kPlanMaxList = 65536;

// Keep in sync with PlanOp in src/host/plan.ts (a unit test compares them).
enum PlanOp : uint32_t {
  kOpWaitParent = 1,  // read one byte from the sync fd (the parent's "go", sync.h)
  kOpSetsid = 2,
  kOpUnshare = 3,       // a = CLONE_* flags
  kOpSetns = 4,         // s0 = /proc/PID/ns/X path, a = nstype
  kOpMount = 5,         // s0 source, s1 target, s2 fstype, s3 data, a = flags
  kOpUmount = 6,        // s0 target, a = flags
  kOpMkdir = 7,         // s0 path, a = mode; flag kFlagIgnoreExists
  kOpMknod = 8,         // s0 path, a = mode, b = dev; flag kFlagIgnoreExists
  kOpSymlink = 9,       // s0 target, s1 link path; flag kFlagIgnoreExists
  kOpChdir = 10,        // s0 path
  kOpPivotRoot = 11,    // s0 new root, s1 put old
  kOpSethostname = 12,  // s0 name
  kOpSetgroups = 13,    // blob = u32 gids
  kOpSetresgid = 14,    // a, b, c
  kOpSetresuid = 15,    // a, b, c
  kOpCapBounding = 16,  // a = mask of capabilities to keep in the bounding set
  kOpCapSet = 17,       // a = effective, b = permitted, c = inheritable
  kOpCapAmbient = 18,   // a = mask to raise (the ambient set is cleared first)
  kOpKeepCaps = 19,     // a = 0 or 1 (PR_SET_KEEPCAPS)
  kOpNoNewPrivs = 20,
  kOpSeccomp = 21,      // blob = struct sock_filter[], a = SECCOMP_FILTER_FLAG_*
  kOpDup2 = 22,         // a = old fd, b = new fd (close-on-exec cleared)
  kOpCloseFrom = 23,    // a = lowest fd, b = one fd above it to keep (-1: none); the sync
                        // fd is always kept
  kOpWriteFile = 24,    // s0 path, blob = content
  kOpExec = 25,         // s0 file, s1 PATH for lookup (if s0 has no '/'), list0 argv, list1 envp
  kOpUmask = 26,        // a = mask
  kOpSetrlimit = 27,    // a = resource, b = soft, c = hard (-1 = infinity)
  kOpSetCtty = 28,      // a = fd (TIOCSCTTY)
  kOpExit = 29,         // a = status: the plan ends here without exec
  kOpOpenConsole = 30,  // a = unix socket fd: open a pty in this /dev/pts, send
                        // its master there (SCM_RIGHTS), put the slave on fds 3-5
  kOpLinkUp = 31,       // s0 = interface name: set IFF_UP on it in this network namespace
  kOpVerifyCwd = 32,    // getcwd(2) must name a path under this root (not "(unreachable)…"),
                        // else EXDEV: the working directory escaped the container
  kOpMax = 33,
};

enum PlanFlag : uint32_t {
  kFlagIgnoreExists = 1u << 0,
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
  const ResolvedStep* steps;
  uint32_t count;
  int sync_fd;
  int sync_peer_fd;  // the parent's end, closed first thing in the child
};

}  // namespace hutch
