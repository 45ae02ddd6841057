// The sync socket's two ends (sync.h): no N-API, linked into the addon and
// into hutch-monitor. SendSyncRecord runs in the child after clone: it may
// only make system calls and use memcpy (signal-safety(7)).
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "plan_core.h"

namespace hutch {

int MakeSyncPair(int* parent_end, int* child_end) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) return errno;
  int moved = fcntl(pair[1], F_DUPFD_CLOEXEC, static_cast<int>(kPlanMaxTargetFd));
  int err = errno;
  close(pair[1]);
  if (moved < 0) {
    close(pair[0]);
    return err;
  }
  *parent_end = pair[0];
  *child_end = moved;
  return 0;
}

void SendSyncRecord(int fd, int32_t kind, int32_t step, int32_t err, int32_t value,
                    const char* text, size_t text_length) {
  SyncRecord record = {kind, step, err, value};
  if (text_length > kSyncTextMax) text_length = kSyncTextMax;
  struct iovec parts[2] = {{&record, sizeof record}, {const_cast<char*>(text), text_length}};
  struct msghdr message;
  memset(&message, 0, sizeof message);
  message.msg_iov = parts;
  message.msg_iovlen = text_length > 0 ? 2 : 1;
  // MSG_NOSIGNAL: a parent that went away must not kill us with SIGPIPE.
  while (sendmsg(fd, &message, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

}  // namespace hutch
