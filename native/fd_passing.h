// One fd over a unix socket (SCM_RIGHTS, unix(7)), with one byte of data so
// that the message is never empty: the console socket of --terminal, where the
// child's OpenConsole step sends the pty master and hutch-monitor receives it.
#pragma once

namespace hutch {

// Sends fd on socket. Async-signal-safe (the child calls it after clone).
// Returns 0 or errno.
int SendFd(int socket, int fd);

// Receives one fd without blocking, close-on-exec. Returns it; -1 with errno
// set when the call failed (EAGAIN: nothing yet), or with errno 0 when the
// peer sent none (it closed the socket, or sent no fd).
int ReceiveFd(int socket);

}  // namespace hutch
