// bin/hutch: the command users run.
//
// Node is multi-threaded, so it can never enter a user namespace itself
// (setns(CLONE_NEWUSER) and unshare(CLONE_NEWUSER) require a single thread).
// This small single-threaded program does it for node: when the user has a
// session (a user and mount namespace held open by a "hutch-session" process,
// podman's pause process), it joins both namespaces and then execs node on
// hutch's CLI, so node starts once per command, already inside. Without a
// session it execs node outside; the CLI creates the session when a command
// needs one and execs this program again (src/host/userns-session.ts).
//
// The same binary, started with argv[0] "hutch-session", is the session
// holder: it closes every fd and sleeps until killed. Started as "hutch-init"
// (bind-mounted into a container at /run/hutch-init by --init), it is a
// minimal pid 1: it runs the command, forwards signals to it, reaps zombies,
// and exits with the command's status.
//
// The runtime directory rule here must match src/host/dirs.ts (a test checks that
// the CLI and this program find the same session).
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_HUTCH_ERROR 125
#define EXIT_NOT_FOUND 127

static int hold_session(void) {
  prctl(PR_SET_NAME, "hutch-session", 0, 0, 0);
  if (chdir("/") < 0) return EXIT_HUTCH_ERROR;
  syscall(SYS_close_range, 0U, ~0U, 0U);
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  for (;;) pause();
}

// pid 1 of a container (--init). The command gets its own process group,
// which becomes the terminal's foreground group, so keys like Ctrl-C reach it
// once (from the terminal) and not again through us; everything sent to us
// from outside (hutch stop, hutch kill) is forwarded.
static int run_init(int argc, char** argv) {
  int first = (argc > 1 && strcmp(argv[1], "--") == 0) ? 2 : 1;
  if (first >= argc) {
    fprintf(stderr, "hutch-init: no command given\n");
    return EXIT_HUTCH_ERROR;
  }
  sigset_t all, original;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &original);
  pid_t child = fork();
  if (child < 0) {
    fprintf(stderr, "hutch-init: fork: %s\n", strerror(errno));
    return EXIT_HUTCH_ERROR;
  }
  if (child == 0) {
    setpgid(0, 0);
    if (isatty(STDIN_FILENO)) {
      signal(SIGTTOU, SIG_IGN);
      tcsetpgrp(STDIN_FILENO, getpid());
      signal(SIGTTOU, SIG_DFL);
    }
    sigprocmask(SIG_SETMASK, &original, NULL);
    execvp(argv[first], argv + first);
    int err = errno;
    fprintf(stderr, "hutch-init: %s: %s\n", argv[first], strerror(err));
    _exit(err == ENOENT ? EXIT_NOT_FOUND : 126);
  }
  for (;;) {
    siginfo_t info;
    if (sigwaitinfo(&all, &info) < 0) continue;
    if (info.si_signo != SIGCHLD) {
      kill(child, info.si_signo);
      continue;
    }
    for (;;) {
      int status;
      pid_t done = waitpid(-1, &status, WNOHANG);
      if (done <= 0) break;
      if (done != child) continue;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
}

// The runtime directory: $XDG_RUNTIME_DIR/hutch when XDG_RUNTIME_DIR is an
// absolute path to a directory we own, else /tmp/hutch-UID.
static int runtime_dir(char* out, size_t size) {
  const char* xdg = getenv("XDG_RUNTIME_DIR");
  struct stat st;
  int n;
  if (xdg != NULL && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode) &&
      st.st_uid == getuid()) {
    n = snprintf(out, size, "%s/hutch", xdg);
  } else {
    n = snprintf(out, size, "/tmp/hutch-%u", (unsigned)getuid());
  }
  return n > 0 && (size_t)n < size ? 0 : -1;
}

// Reads the session holder's pid, trusting only files we own in a directory
// only we can write. Returns 0 when there is no usable session.
static pid_t session_pid(void) {
  char dir[PATH_MAX], file[PATH_MAX + 16], buf[32];
  struct stat st;
  if (runtime_dir(dir, sizeof dir) < 0) return 0;
  if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
      (st.st_mode & 022) != 0) {
    return 0;
  }
  snprintf(file, sizeof file, "%s/session.pid", dir);
  int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  int owned = fstat(fd, &st) == 0 && st.st_uid == getuid();
  close(fd);
  if (n <= 0 || !owned) return 0;
  buf[n] = '\0';
  char* end = NULL;
  long pid = strtol(buf, &end, 10);
  if (pid <= 1 || pid > INT_MAX || (*end != '\n' && *end != '\0')) return 0;

  // The pid may have been reused since: check that it is our holder.
  char path[64], cmdline[32];
  snprintf(path, sizeof path, "/proc/%ld", pid);
  if (stat(path, &st) < 0 || st.st_uid != getuid()) return 0;
  snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  n = read(fd, cmdline, sizeof cmdline);
  close(fd);
  if (n != (ssize_t)sizeof "hutch-session" || memcmp(cmdline, "hutch-session", n) != 0) return 0;
  return (pid_t)pid;
}

static int open_ns(pid_t pid, const char* kind) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, kind);
  return open(path, O_RDONLY | O_CLOEXEC);
}

static void fail(const char* what, int err, const char* hint) {
  fprintf(stderr, "Error: %s: %s\n", what, strerror(err));
  if (hint != NULL) fprintf(stderr, "hint: %s\n", hint);
  exit(EXIT_HUTCH_ERROR);
}

// Enters the session's user and mount namespaces and tells node so through
// HUTCH_SESSION. Leaves everything as it was when there is no session.
static void join_session(void) {
  unsetenv("HUTCH_SESSION");
  pid_t pid = session_pid();
  if (pid == 0) return;
  int user_fd = open_ns(pid, "user");
  int mnt_fd = open_ns(pid, "mnt");
  if (user_fd < 0 || mnt_fd < 0) return;  // the holder exited in the meantime

  char pid_text[16];
  snprintf(pid_text, sizeof pid_text, "%d", (int)pid);
  struct stat ours, theirs;
  if (stat("/proc/self/ns/user", &ours) == 0 && fstat(user_fd, &theirs) == 0 &&
      ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev) {
    // Already inside (hutch started from `hutch unshare`).
    setenv("HUTCH_SESSION", pid_text, 1);
    close(user_fd);
    close(mnt_fd);
    return;
  }

  // setns(CLONE_NEWNS) moves us to the namespace's root: come back afterwards.
  char cwd[PATH_MAX];
  int have_cwd = getcwd(cwd, sizeof cwd) != NULL;
  if (setns(user_fd, CLONE_NEWUSER) < 0) {
    fail("join the user namespace of the hutch session", errno,
         "kill the session holder (pkill -u $USER hutch-session) and retry");
  }
  if (setns(mnt_fd, CLONE_NEWNS) < 0) {
    fail("join the mount namespace of the hutch session", errno,
         "kill the session holder (pkill -u $USER hutch-session) and retry");
  }
  close(user_fd);
  close(mnt_fd);
  if (!have_cwd || chdir(cwd) < 0) {
    fail("enter the working directory inside the hutch session", errno,
         "run hutch from a directory that existed when the session started, or restart it "
         "(pkill -u $USER hutch-session)");
  }
  setenv("HUTCH_SESSION", pid_text, 1);
}

int main(int argc, char** argv) {
  if (argc >= 1 && strcmp(argv[0], "hutch-session") == 0) return hold_session();
  if (argc >= 1 && strcmp(argv[0], "hutch-init") == 0) return run_init(argc, argv);

  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) fail("find the hutch executable (/proc/self/exe)", errno, "is /proc mounted?");
  exe[n] = '\0';
  // bin/hutch -> the package root is one directory up from bin/.
  for (int up = 0; up < 2; up++) {
    char* slash = strrchr(exe, '/');
    if (slash == NULL) break;
    *slash = '\0';
  }
  char entry[PATH_MAX + 32];
  snprintf(entry, sizeof entry, "%s/dist/hutch.cjs", exe);
  if (access(entry, R_OK) < 0) {
    fprintf(stderr,
            "Error: hutch is not built: %s is missing\nhint: run npm ci (or npm run build)"
            " in %s\n",
            entry, exe);
    return EXIT_HUTCH_ERROR;
  }

  if (getuid() != 0) join_session();

  const char* node = getenv("HUTCH_NODE");
  if (node == NULL || node[0] == '\0') node = "node";
  char** args = calloc((size_t)argc + 4, sizeof *args);
  if (args == NULL) fail("start node", ENOMEM, NULL);
  args[0] = (char*)node;
  // V8 starts with a 1 MiB young generation and grows it one scavenge at a
  // time: a short command paid three to five scavenges (5-15 ms each) on the
  // way. 16 MiB from the start holds what one command allocates; pages are
  // only resident once used.
  args[1] = "--min-semi-space-size=16";
  // Node 20 takes --env-file from anywhere in argv unless -- ends its own options.
  args[2] = "--";
  args[3] = entry;
  for (int i = 1; i < argc; i++) args[i + 3] = argv[i];
  execvp(node, args);
  int err = errno;
  fprintf(stderr,
          "Error: cannot start node (%s): %s\nhint: install Node.js 20 or newer, or set "
          "HUTCH_NODE to its path\n",
          node, strerror(err));
  return err == ENOENT ? EXIT_NOT_FOUND : EXIT_HUTCH_ERROR;
}
