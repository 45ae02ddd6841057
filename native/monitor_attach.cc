// hutch-monitor's attach side: the clients of DIR/attach (frames in and
// out, docs/monitor.md), the container's stdin they feed, and the terminal
// whose master the child sends once it made it.
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "fd_passing.h"
#include "monitor.h"

namespace hutch {

void Monitor::Accept() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        dprintf(2, "hutch-monitor: accept: %s\n", strerror(errno));
      }
      return;
    }
    clients_.emplace_back();
    clients_.back().fd = fd;
  }
}

void Monitor::Broadcast(uint8_t type, const char* data, size_t size) {
  for (Client& c : clients_) {
    if (c.dead) continue;
    Queue(c, type, data, size);
    if (!c.dead) FlushClient(c);
  }
}

void Monitor::Queue(Client& c, uint8_t type, const char* data, size_t size) {
  if (c.Pending() + kFrameHeader + size > kClientMaxBuffered) {
    Drop(c, "it left more than 1 MiB of output unread");
    return;
  }
  if (c.out_at > 0 && c.out_at >= c.out.size() / 2) {
    c.out.erase(c.out.begin(), c.out.begin() + static_cast<ptrdiff_t>(c.out_at));
    c.out_at = 0;
  }
  char header[kFrameHeader] = {static_cast<char>(type), static_cast<char>(size >> 24),
                               static_cast<char>(size >> 16), static_cast<char>(size >> 8),
                               static_cast<char>(size)};
  c.out.insert(c.out.end(), header, header + kFrameHeader);
  c.out.insert(c.out.end(), data, data + size);
}

void Monitor::FlushClient(Client& c) {
  while (c.Pending() > 0) {
    ssize_t n = send(c.fd, c.out.data() + c.out_at, c.Pending(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      Drop(c, nullptr);  // the client went away
      return;
    }
    c.out_at += static_cast<size_t>(n);
  }
  c.out.clear();
  c.out_at = 0;
  if (c.out.capacity() > (64u << 10)) c.out.shrink_to_fit();
}

// One read. A full hang-up (POLLHUP) drops the client once its last bytes
// are read; a half close (shutdown of its sending side) only stops reading.
void Monitor::ReadClient(Client& c, short revents) {
  char data[16384];
  ssize_t n;
  do {
    n = recv(c.fd, data, sizeof data, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) Drop(c, nullptr);
    return;
  }
  if (n == 0) {
    if (revents & (POLLHUP | POLLERR)) {
      Drop(c, nullptr);
    } else {
      c.reading = false;
    }
    return;
  }
  c.in.insert(c.in.end(), data, data + n);
  size_t at = 0;
  while (!c.dead && c.in.size() - at >= kFrameHeader) {
    const unsigned char* h = reinterpret_cast<const unsigned char*>(c.in.data() + at);
    size_t size = (static_cast<size_t>(h[1]) << 24) | (static_cast<size_t>(h[2]) << 16) |
                  (static_cast<size_t>(h[3]) << 8) | h[4];
    if (size > kClientMaxFrame) {
      Drop(c, "it sent a frame larger than 1 MiB");
      return;
    }
    if (c.in.size() - at < kFrameHeader + size) break;
    HandleFrame(c, h[0], c.in.data() + at + kFrameHeader, size);
    at += kFrameHeader + size;
  }
  if (!c.dead) c.in.erase(c.in.begin(), c.in.begin() + static_cast<ptrdiff_t>(at));
}

// The pty master from the child's OpenConsole step, or EOF when the child
// failed (or exec'd) without sending one.
void Monitor::ReceiveTerminal() {
  int master = ReceiveFd(console_fd_);
  if (master < 0 && errno == EAGAIN) return;
  if (master >= 0) {
    SetNonBlocking(master);
    SetTerminal(master);
    // The child waits for this before it goes on to exec.
    char ack = 'A';
    while (send(console_fd_, &ack, 1, MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
  }
  close(console_fd_);
  console_fd_ = -1;
}

void Monitor::SetTerminal(int master) {
  master_ = master;
  sources_.push_back({master, "stdout", kFrameStdout, true});
  if (options_.stdin_open) stdin_fd_ = master;
  if (pending_size_.ws_row != 0 || pending_size_.ws_col != 0)
    ioctl(master_, TIOCSWINSZ, &pending_size_);
  FlushStdin();
}

bool Monitor::TakesStdin() const {
  return !stdin_eof_ && (stdin_fd_ >= 0 || (console_fd_ >= 0 && options_.stdin_open));
}

void Monitor::HandleFrame(Client& c, uint8_t type, const char* data, size_t size) {
  switch (type) {
    case kFrameStdin:
      if (TakesStdin()) {
        stdin_.insert(stdin_.end(), data, data + size);
        FlushStdin();
      }
      return;
    case kFrameStdinEof:
      if (!TakesStdin()) return;
      if (master_ >= 0) {
        // A terminal has no EOF of its own: send its EOF character, as a
        // person typing ^D at the start of a line would.
        struct termios t;
        char veof = tcgetattr(master_, &t) == 0 ? static_cast<char>(t.c_cc[VEOF]) : '\x04';
        stdin_.push_back(veof);
      }
      stdin_eof_ = true;
      FlushStdin();
      return;
    case kFrameResize:
      if (size == 4) {
        const unsigned char* p = reinterpret_cast<const unsigned char*>(data);
        struct winsize ws;
        memset(&ws, 0, sizeof ws);
        ws.ws_row = static_cast<unsigned short>((p[0] << 8) | p[1]);
        ws.ws_col = static_cast<unsigned short>((p[2] << 8) | p[3]);
        if (master_ < 0) {
          pending_size_ = ws;  // applied when the terminal arrives
        } else if (ioctl(master_, TIOCSWINSZ, &ws) < 0) {
          dprintf(2, "hutch-monitor: resize the terminal: %s\n", strerror(errno));
        }
      }
      return;
    case kFrameCleanupTaken:
      c.takes_cleanup = true;
      return;
    case kFrameCleanupDone:
      c.cleaned_up = true;
      return;
    default:
      Drop(c, "it sent an unknown frame type");
      return;
  }
}

void Monitor::FlushStdin() {
  while (stdin_fd_ >= 0 && stdin_at_ < stdin_.size()) {
    ssize_t n = write(stdin_fd_, stdin_.data() + stdin_at_, stdin_.size() - stdin_at_);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      // EPIPE: the container closed its stdin; what clients send is dropped.
      CloseStdin();
      return;
    }
    stdin_at_ += static_cast<size_t>(n);
  }
  stdin_.clear();
  stdin_at_ = 0;
  if (stdin_.capacity() > (64u << 10)) stdin_.shrink_to_fit();
  if (stdin_eof_) CloseStdin();
}

void Monitor::CloseStdin() {
  if (stdin_fd_ >= 0 && stdin_fd_ != master_) close(stdin_fd_);
  stdin_fd_ = -1;
  stdin_.clear();
  stdin_.shrink_to_fit();
  stdin_at_ = 0;
}

void Monitor::Drop(Client& c, const char* why) {
  if (c.dead) return;
  if (why != nullptr) {
    dprintf(2, "hutch-monitor: %s: dropped an attach client: %s\n", options_.id, why);
  }
  close(c.fd);
  c.dead = true;
  c.out = std::vector<char>();
  c.in = std::vector<char>();
}

void Monitor::RemoveDeadClients() {
  size_t kept = 0;
  for (size_t i = 0; i < clients_.size(); i++) {
    if (clients_[i].dead) continue;
    if (kept != i) clients_[kept] = std::move(clients_[i]);
    kept++;
  }
  clients_.resize(kept);
}

namespace {

long ElapsedMs(const struct timespec& start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
}

}  // namespace

// Polls the live clients for what events_of(client) asks (0: not this one)
// and hands each ready one to handle(client, revents), until done(), until
// no client is left to poll, or until timeout_ms have passed.
template <typename EventsOf, typename Handle, typename Done>
void Monitor::PollClients(int timeout_ms, EventsOf events_of, Handle handle, Done done) {
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  std::vector<struct pollfd> fds;
  std::vector<size_t> which;
  while (!done()) {
    fds.clear();
    which.clear();
    for (size_t i = 0; i < clients_.size(); i++) {
      short events = clients_[i].dead ? 0 : events_of(clients_[i]);
      if (events == 0) continue;
      fds.push_back({clients_[i].fd, events, 0});
      which.push_back(i);
    }
    if (fds.empty()) return;
    long left = timeout_ms - ElapsedMs(start);
    if (left <= 0) return;
    int n = poll(fds.data(), fds.size(), static_cast<int>(left));
    if (n < 0 && errno != EINTR) return;
    for (size_t i = 0; i < fds.size(); i++) {
      if (fds[i].revents != 0) handle(clients_[which[i]], fds[i].revents);
    }
  }
}

// A client's take-cleanup frame can still sit unread when a short container
// exits: the loop had no turn to poll it (or accepted it only in Finish).
// Read what every client has queued before deciding who cleans up.
void Monitor::ReadQueuedFrames() {
  for (Client& c : clients_) {
    for (size_t read = 0; !c.dead && c.reading && read < kClientMaxBuffered; read += 16384) {
      struct pollfd p = {c.fd, POLLIN, 0};
      if (poll(&p, 1, 0) <= 0) break;
      ReadClient(c, p.revents);
    }
  }
}

// An attached `hutch run` cleans up after its container itself: starting
// node again for the exit command would double the cost of a short run.
// It said so before the container ran; wait for its word that it is done,
// and run the exit command anyway if it hangs up first (killed) or takes
// longer than kCleanupWaitMs (stopped), since cleaning up twice is harmless.
bool Monitor::AwaitClientCleanup() {
  stdin_eof_ = true;  // nothing more goes to the container
  ReadQueuedFrames();
  auto cleaned_up = [this] {
    for (const Client& c : clients_) {
      if (!c.dead && c.takes_cleanup && c.cleaned_up) return true;
    }
    return false;
  };
  PollClients(
      kCleanupWaitMs, [](const Client& c) -> short { return c.takes_cleanup ? POLLIN : 0; },
      [this](Client& c, short revents) {
        ReadClient(c, revents);
        // A client that shut down its sending side without a word never will.
        if (!c.dead && !c.reading && !c.cleaned_up) Drop(c, nullptr);
      },
      cleaned_up);
  return cleaned_up();
}

void Monitor::FlushClientsUntil(int timeout_ms) {
  PollClients(
      timeout_ms, [](const Client& c) -> short { return c.Pending() > 0 ? POLLOUT : 0; },
      [this](Client& c, short) { FlushClient(c); }, [] { return false; });
}

}  // namespace hutch
