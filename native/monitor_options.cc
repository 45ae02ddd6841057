// hutch-monitor's argv: flags into Options, checked, nothing else done here.
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"

namespace hutch {

const char kUsage[] =
    "usage: hutch-monitor --id ID --dir DIR --plan-fd N --sync-fd N "
    "[--log FILE [--log-size-max BYTES] [--log-max-files N]] [--stdio-fd N] "
    "[--clone-flags X] [--join PID] [--terminal] [--stdin] [--detach] "
    "[--die-with-client N] [--timeout SECONDS] [--periodic-ms MS --periodic-arg ARG...] "
    "[--exit-command ARG...]";

namespace {

// Every flag is parsed, so that --sync-fd is known even after a bad one; the
// first error is kept.
class Parser {
 public:
  Parser(int argc, char** argv, Options& o, std::string& error)
      : argc_(argc), argv_(argv), o_(o), error_(error) {}

  bool Run() {
    for (i_ = 1; i_ < argc_; i_++) Flag(argv_[i_]);
    if (!error_.empty()) return false;
    return Check();
  }

 private:
  bool Refuse(const char* why, const char* arg = nullptr) {
    if (error_.empty()) error_ = arg == nullptr ? why : std::string(why) + ": " + arg;
    return false;
  }

  const char* Value(const char* flag) {
    if (i_ + 1 >= argc_) {
      Refuse("missing value for", flag);
      return nullptr;
    }
    return argv_[++i_];
  }

  // A number in [min, max] in base (0: C's prefixes); *out untouched on error.
  template <typename T>
  void Number(const char* flag, long long min, long long max, int base, T* out) {
    const char* text = Value(flag);
    if (text == nullptr) return;
    errno = 0;
    char* end = nullptr;
    long long value = strtoll(text, &end, base);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
      Refuse("bad number for", flag);
      return;
    }
    *out = static_cast<T>(value);
  }

  void Flag(const char* arg) {
    if (strcmp(arg, "--id") == 0) {
      o_.id = Value(arg);
    } else if (strcmp(arg, "--dir") == 0) {
      o_.dir = Value(arg);
    } else if (strcmp(arg, "--log") == 0) {
      o_.log = Value(arg);
    } else if (strcmp(arg, "--log-size-max") == 0) {
      Number(arg, 0, INT64_MAX, 10, &o_.rotation.max_size);
    } else if (strcmp(arg, "--log-max-files") == 0) {
      Number(arg, 1, kLogMaxFiles, 10, &o_.rotation.max_files);
    } else if (strcmp(arg, "--stdio-fd") == 0) {
      Number(arg, kContainerStderr + 1, INT_MAX - 2, 10, &o_.stdio_fd);
    } else if (strcmp(arg, "--plan-fd") == 0) {
      Number(arg, 0, INT_MAX, 10, &o_.plan_fd);
    } else if (strcmp(arg, "--sync-fd") == 0) {
      Number(arg, 0, INT_MAX, 10, &o_.sync_fd);
    } else if (strcmp(arg, "--clone-flags") == 0) {
      Number(arg, 0, INT64_MAX, 0, &o_.clone_flags);
      if (o_.clone_flags & ~kNamespaceFlags) Refuse("only namespace clone flags are accepted");
    } else if (strcmp(arg, "--join") == 0) {
      Number(arg, 1, INT_MAX, 10, &o_.join);
    } else if (strcmp(arg, "--terminal") == 0) {
      o_.terminal = true;
    } else if (strcmp(arg, "--stdin") == 0) {
      o_.stdin_open = true;
    } else if (strcmp(arg, "--detach") == 0) {
      o_.detach = true;
    } else if (strcmp(arg, "--die-with-client") == 0) {
      Number(arg, 3, INT_MAX, 10, &o_.client_fd);
    } else if (strcmp(arg, "--timeout") == 0) {
      Number(arg, 1, INT32_MAX, 10, &o_.timeout_s);
    } else if (strcmp(arg, "--periodic-ms") == 0) {
      Number(arg, 1, INT32_MAX, 10, &o_.periodic_ms);
    } else if (strcmp(arg, "--periodic-arg") == 0) {
      const char* value = Value(arg);
      if (value != nullptr) o_.periodic_command.push_back(const_cast<char*>(value));
    } else if (strcmp(arg, "--exit-command") == 0) {
      if (i_ + 1 >= argc_) {
        Refuse("missing value for", arg);
        return;
      }
      o_.exit_command = argv_ + i_ + 1;
      if (o_.exit_command[0][0] != '/') Refuse("the exit command must be an absolute path");
      i_ = argc_;  // the rest is the command's
    } else {
      Refuse("unknown argument", arg);
    }
  }

  bool Check() {
    const Options& o = o_;
    if (!o.id || !o.dir || o.plan_fd < 0 || o.sync_fd < 0) {
      return Refuse("--id, --dir, --plan-fd and --sync-fd are required");
    }
    if (o.plan_fd == o.sync_fd || o.plan_fd <= 2 || o.sync_fd <= 2) {
      return Refuse("--plan-fd and --sync-fd must be distinct fds above 2");
    }
    if (o.client_fd >= 0 && (o.client_fd == o.plan_fd || o.client_fd == o.sync_fd)) {
      return Refuse("--die-with-client must differ from --plan-fd and --sync-fd");
    }
    if ((o.periodic_ms > 0) != !o.periodic_command.empty()) {
      return Refuse("--periodic-ms and --periodic-arg go together");
    }
    if (!o.periodic_command.empty() && o.periodic_command[0][0] != '/') {
      return Refuse("the periodic command must be an absolute path");
    }
    if (!o.log && (o.rotation.max_size > 0 || o.rotation.max_files != 1)) {
      return Refuse("--log-size-max and --log-max-files need --log");
    }
    if (o.stdio_fd >= 0) {
      if (o.terminal || o.stdin_open) return Refuse("--stdio-fd excludes --terminal and --stdin");
      for (int fd = o.stdio_fd; fd <= o.stdio_fd + 2; fd++) {
        if (fd == o.plan_fd || fd == o.sync_fd) {
          return Refuse("--stdio-fd overlaps --plan-fd or --sync-fd");
        }
      }
    }
    return true;
  }

  int argc_;
  char** argv_;
  Options& o_;
  std::string& error_;
  int i_ = 0;
};

}  // namespace

bool ParseOptions(int argc, char** argv, Options* options, std::string* error) {
  *options = Options();
  error->clear();
  bool parsed = Parser(argc, argv, *options, *error).Run();
  if (!options->periodic_command.empty())
    options->periodic_command.push_back(nullptr);  // for execv
  return parsed;
}

}  // namespace hutch
