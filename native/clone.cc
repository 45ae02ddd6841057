#include "clone.h"

#include <errno.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "child.h"

namespace hutch {

long ClonePlanChild(const PlanStorage& storage, uint64_t flags, int sync_fd, int sync_peer_fd,
                    int* pidfd) {
  ResolvedPlan plan;
  plan.steps = storage.steps.data();
  plan.count = static_cast<uint32_t>(storage.steps.size());
  plan.sync_fd = sync_fd;
  plan.sync_peer_fd = sync_peer_fd;

  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);

  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = flags;
  if (pidfd != nullptr) {
    args.flags |= CLONE_PIDFD;
    args.pidfd = reinterpret_cast<uint64_t>(pidfd);
  }
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) RunPlanInChild(plan);
  int clone_errno = errno;

  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  errno = clone_errno;
  return pid;
}

}  // namespace hutch
