// hutch-monitor's loop: one poll(2) over the container's output, the attach
// socket and its clients, SIGCHLD (a signalfd) and the --die-with-client fd,
// woken for the --timeout and --periodic-ms timers; then, once the container
// exited, the exit file, the exit frame and the exit command.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monitor.h"

namespace hutch {

namespace {

long long NowMs() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<long long>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

}  // namespace

void Monitor::SetContainer(pid_t pid) {
  container_ = pid;
  started_ms_ = NowMs();
  next_periodic_ms_ = started_ms_ + options_.periodic_ms;
}

void Monitor::Run() {
  while (!exited_) Iterate();
  Finish();
}

void Monitor::Add(int fd, short events, Kind kind, size_t index) {
  poll_fds_.push_back({fd, events, 0});
  poll_what_.push_back({kind, index});
}

void Monitor::Iterate() {
  poll_fds_.clear();
  poll_what_.clear();
  // Order matters: a client that connected before the container was told
  // to go is accepted before that container's first output is relayed.
  if (listen_fd_ >= 0) Add(listen_fd_, POLLIN, kListen, 0);
  for (size_t i = 0; i < sources_.size(); i++) {
    if (sources_[i].open) Add(sources_[i].fd, POLLIN, kSource, i);
  }
  if (stdin_fd_ >= 0 && stdin_at_ < stdin_.size()) Add(stdin_fd_, POLLOUT, kStdin, 0);
  bool take_input = stdin_.size() - stdin_at_ < kStdinHighWater;
  for (size_t i = 0; i < clients_.size(); i++) {
    Client& c = clients_[i];
    short events = static_cast<short>((c.reading && take_input ? POLLIN : 0) |
                                      (c.Pending() > 0 ? POLLOUT : 0));
    Add(c.fd, events, kClient, i);
  }
  Add(signal_fd_, POLLIN, kSignal, 0);
  if (console_fd_ >= 0) Add(console_fd_, POLLIN, kConsole, 0);
  if (client_fd_ >= 0) Add(client_fd_, POLLIN, kClientGone, 0);

  int n = poll(poll_fds_.data(), poll_fds_.size(), PollTimeout());
  if (n < 0) {
    if (errno != EINTR) dprintf(2, "hutch-monitor: poll: %s\n", strerror(errno));
    return;
  }
  RunTimers();
  for (size_t i = 0; i < poll_fds_.size(); i++) {
    short revents = poll_fds_[i].revents;
    if (revents == 0) continue;
    size_t index = poll_what_[i].second;
    switch (poll_what_[i].first) {
      case kListen:
        Accept();
        break;
      case kSource:
        ReadSource(sources_[index]);
        break;
      case kStdin:
        FlushStdin();
        break;
      case kClient:
        if (clients_[index].dead) break;
        if (revents & POLLOUT) FlushClient(clients_[index]);
        if (!clients_[index].dead && (revents & (POLLIN | POLLHUP | POLLERR))) {
          ReadClient(clients_[index], revents);
        }
        break;
      case kSignal:
        Reap();
        break;
      case kConsole:
        ReceiveTerminal();
        break;
      case kClientGone:
        CheckClient();
        break;
    }
  }
  RemoveDeadClients();
}

// Reads once; returns false when the source is done (EOF, EIO of a pty
// whose slave side is closed, or an error) or has nothing to read.
bool Monitor::ReadSource(Source& source) {
  ssize_t n;
  do {
    n = read(source.fd, buffer_, sizeof buffer_);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    log_.Write(source.stream, buffer_, static_cast<size_t>(n));
    Broadcast(source.frame, buffer_, static_cast<size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
  source.open = false;
  if (source.fd != master_) close(source.fd);
  return false;
}

// The client never writes to its end: EOF or an error means it is gone.
// SIGKILL to the container (pid 1 of its pid namespace: the kernel kills
// the rest of the namespace with it); the usual exit path follows.
void Monitor::CheckClient() {
  char data[64];
  ssize_t n;
  do {
    n = read(client_fd_, data, sizeof data);
  } while (n < 0 && errno == EINTR);
  if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) return;
  close(client_fd_);
  client_fd_ = -1;
  if (container_ > 0 && !exited_) kill(container_, SIGKILL);
}

// SIGCHLD: reap the container and anything reparented to us (we are a
// subreaper), whatever the number of signals that coalesced.
void Monitor::Reap() {
  struct signalfd_siginfo info;
  while (read(signal_fd_, &info, sizeof info) > 0) {
  }
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return;
    if (pid == container_) {
      exited_ = true;
      status_ = status;
      clock_gettime(CLOCK_REALTIME, &finished_);
    } else if (pid == periodic_) {
      periodic_ = -1;
      next_periodic_ms_ = NowMs() + options_.periodic_ms;
    }
  }
}

// Milliseconds until the next timer is due (-1: none), for poll(2).
int Monitor::PollTimeout() const {
  long long due = -1;
  if (options_.timeout_s > 0 && !timed_out_) due = started_ms_ + options_.timeout_s * 1000;
  if (options_.periodic_ms > 0 && periodic_ < 0 && (due < 0 || next_periodic_ms_ < due)) {
    due = next_periodic_ms_;
  }
  if (due < 0) return -1;
  long long left = due - NowMs();
  return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : static_cast<int>(left);
}

void Monitor::RunTimers() {
  if (exited_ || container_ <= 0) return;
  long long now = NowMs();
  if (options_.timeout_s > 0 && !timed_out_ && now >= started_ms_ + options_.timeout_s * 1000) {
    timed_out_ = true;
    kill(container_, SIGKILL);
    return;
  }
  if (options_.periodic_ms > 0 && periodic_ < 0 && now >= next_periodic_ms_) StartPeriodic();
}

// The periodic command starts as the exit command does: default signal
// handling, nothing blocked, none of our fds (all close-on-exec), our stdio
// (/dev/null once detached). A failed fork is tried again after the period.
void Monitor::StartPeriodic() {
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGPIPE, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    char** argv = const_cast<char**>(options_.periodic_command.data());
    execv(argv[0], argv);
    dprintf(2, "hutch-monitor: %s: exec the periodic command %s: %s\n", options_.id, argv[0],
            strerror(errno));
    _exit(127);
  }
  if (pid < 0) {
    dprintf(2, "hutch-monitor: %s: fork the periodic command: %s\n", options_.id, strerror(errno));
    next_periodic_ms_ = NowMs() + options_.periodic_ms;
    return;
  }
  periodic_ = pid;
}

std::string Monitor::StatusJson() const {
  std::string json = "{\"exitCode\":";
  if (timed_out_) {
    json += "-1,\"signal\":null";
  } else if (WIFEXITED(status_)) {
    json += std::to_string(WEXITSTATUS(status_)) + ",\"signal\":null";
  } else {
    json += "null,\"signal\":" + std::to_string(WTERMSIG(status_));
  }
  return json;
}

void Monitor::Finish() {
  // What the container wrote before it exited is still in the pipes (or in
  // the pty, whose read flushes pending input first): relay it.
  for (Source& source : sources_) {
    size_t drained = 0;
    while (source.open && drained < kDrainLimit && ReadSource(source)) drained += kReadChunk;
  }
  // Late clients get the exit frame; new ones find no socket and read DIR/exit.
  Accept();
  close(listen_fd_);
  listen_fd_ = -1;
  unlinkat(dirfd_, "attach", 0);

  char finished[kTimestampLength + 1];
  FormatTimestamp(finished_, finished);
  std::string status = StatusJson();
  int err = WriteFileAtomic(dirfd_, "exit", status + ",\"finishedAt\":\"" + finished + "\"}\n");
  if (err != 0) {
    dprintf(2, "hutch-monitor: %s: write %s/exit: %s\n", options_.id, options_.dir, strerror(err));
  }
  status += "}";
  Broadcast(kFrameExit, status.data(), status.size());
  FlushClientsUntil(kFinalFlushMs);
  bool cleaned_up = AwaitClientCleanup();
  for (Client& c : clients_) {
    if (c.dead) continue;
    // Unread input would turn our close into ECONNRESET on the client's side.
    char discard[4096];
    while (recv(c.fd, discard, sizeof discard, MSG_DONTWAIT) > 0) {
    }
    close(c.fd);
  }
  clients_.clear();
  for (Source& source : sources_) {
    if (source.open && source.fd != master_) close(source.fd);
  }
  if (master_ >= 0) close(master_);
  if (stdin_fd_ >= 0 && stdin_fd_ != master_) close(stdin_fd_);
  log_.Close();
  close(signal_fd_);
  close(dirfd_);

  if (options_.exit_command == nullptr || cleaned_up) _exit(0);
  // The exit command starts as a normal process: not a subreaper, default
  // signal dispositions, nothing blocked, no fd of ours (all close-on-exec).
  prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execv(options_.exit_command[0], options_.exit_command);
  dprintf(2, "hutch-monitor: %s: exec the exit command %s: %s\n", options_.id,
          options_.exit_command[0], strerror(errno));
  _exit(kExitFailure);
}

}  // namespace hutch
