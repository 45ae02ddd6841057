// Both halves of passing an fd (fd_passing.h). SendFd runs in the child after
// clone: system calls, memset and memcpy only (signal-safety(7)).
#include "fd_passing.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace hutch {

namespace {

// A message of one data byte with room for one fd; the buffers are the caller's.
struct FdMessage {
  char byte = 'M';
  struct iovec iov;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  struct msghdr header;

  FdMessage() {
    iov.iov_base = &byte;
    iov.iov_len = 1;
    memset(control, 0, sizeof control);
    memset(&header, 0, sizeof header);
    header.msg_iov = &iov;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;
};

}  // namespace

int SendFd(int socket, int fd) {
  FdMessage message;
  struct cmsghdr* header = CMSG_FIRSTHDR(&message.header);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(header), &fd, sizeof(int));
  while (sendmsg(socket, &message.header, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

int ReceiveFd(int socket) {
  FdMessage message;
  ssize_t n;
  do {
    n = recvmsg(socket, &message.header, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  struct cmsghdr* header = n > 0 ? CMSG_FIRSTHDR(&message.header) : nullptr;
  if (header == nullptr || header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) {
    errno = 0;
    return -1;
  }
  int fd;
  memcpy(&fd, CMSG_DATA(header), sizeof fd);
  return fd;
}

}  // namespace hutch
