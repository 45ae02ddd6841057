// Thin wrappers for files and mounts (the rest: wrappers.cc): xattrs, device
// nodes, statfs, mounts made by node itself (a rootfs, in the session's mount
// namespace) and path resolution confined to a directory tree.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "wrappers.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_renameat2
#define SYS_renameat2 316
#endif

namespace hutch {

// getxattr(path, name): the value, or null when the attribute is absent.
Napi::Value Getxattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* signature = "getxattr(path: string, name: string)";
  std::string path = StringArg(info, 0, signature);
  std::string name = StringArg(info, 1, signature);
  char value[4096];
  ssize_t n = lgetxattr(path.c_str(), name.c_str(), value, sizeof value);
  if (n < 0) {
    if (errno == ENODATA || errno == ENOTSUP) return env.Null();
    ThrowSyscallError(env, errno, "getxattr", path);
  }
  return Napi::Buffer<char>::Copy(env, value, static_cast<size_t>(n));
}

// statfs(path): {type, flags, blockSize, blocks, blocksFree, blocksAvailable}.
Napi::Value Statfs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "statfs(path: string)");
  struct statfs st;
  if (statfs(path.c_str(), &st) < 0) ThrowSyscallError(env, errno, "statfs", path);
  Napi::Object result = Napi::Object::New(env);
  result.Set("type", Napi::Number::New(env, static_cast<double>(static_cast<uint32_t>(st.f_type))));
  result.Set("flags", Napi::Number::New(env, static_cast<double>(st.f_flags)));
  result.Set("blockSize", Napi::Number::New(env, static_cast<double>(st.f_bsize)));
  result.Set("blocks", Napi::Number::New(env, static_cast<double>(st.f_blocks)));
  result.Set("blocksFree", Napi::Number::New(env, static_cast<double>(st.f_bfree)));
  result.Set("blocksAvailable", Napi::Number::New(env, static_cast<double>(st.f_bavail)));
  return result;
}

// setxattr(path, name, value): lsetxattr(2), never following a symlink.
Napi::Value Setxattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* signature = "setxattr(path: string, name: string, value: Buffer)";
  std::string path = StringArg(info, 0, signature);
  std::string name = StringArg(info, 1, signature);
  if (info.Length() < 3 || !info[2].IsBuffer()) throw Napi::TypeError::New(env, signature);
  Napi::Buffer<char> value = info[2].As<Napi::Buffer<char>>();
  if (lsetxattr(path.c_str(), name.c_str(), value.Data(), value.Length(), 0) < 0) {
    ThrowSyscallError(env, errno, "setxattr", path);
  }
  return env.Undefined();
}

// listxattr(path): the attribute names of path itself (llistxattr(2)).
Napi::Value Listxattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "listxattr(path: string)");
  std::vector<char> names(1024);
  ssize_t n;
  for (;;) {
    n = llistxattr(path.c_str(), names.data(), names.size());
    if (n >= 0) break;
    if (errno == ERANGE && names.size() < 65536) {
      names.resize(names.size() * 4);
      continue;
    }
    if (errno == ENOTSUP) {
      n = 0;
      break;
    }
    ThrowSyscallError(env, errno, "listxattr", path);
  }
  Napi::Array result = Napi::Array::New(env);
  uint32_t index = 0;
  for (ssize_t at = 0; at < n;) {
    size_t len = strnlen(names.data() + at, static_cast<size_t>(n - at));
    result.Set(index++, Napi::String::New(env, names.data() + at, len));
    at += static_cast<ssize_t>(len) + 1;
  }
  return result;
}

// mknod(path, mode, major, minor): device nodes and overlay whiteouts (0:0).
Napi::Value Mknod(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* signature = "mknod(path: string, mode: number, major: number, minor: number)";
  std::string path = StringArg(info, 0, signature);
  int mode = FdArg(info, 1, signature);
  int major_number = FdArg(info, 2, signature);
  int minor_number = FdArg(info, 3, signature);
  if (mknod(path.c_str(), static_cast<mode_t>(mode),
            makedev(static_cast<unsigned>(major_number), static_cast<unsigned>(minor_number))) <
      0) {
    ThrowSyscallError(env, errno, "mknod", path);
  }
  return env.Undefined();
}

namespace {

// A string or null: mount(2) takes NULL for an unused source, type or data.
bool NullableStringArg(const Napi::CallbackInfo& info, size_t index, const char* signature,
                       std::string* value) {
  if (info.Length() > index && (info[index].IsNull() || info[index].IsUndefined())) return false;
  *value = StringArg(info, index, signature);
  return true;
}

// A directory fd, or AT_FDCWD (-100).
int DirFdArg(const Napi::CallbackInfo& info, size_t index, const char* signature) {
  if (info.Length() > index && info[index].IsNumber() &&
      info[index].As<Napi::Number>().Int64Value() == AT_FDCWD) {
    return AT_FDCWD;
  }
  return FdArg(info, index, signature);
}

// What an error about `path` inside `root` names: the two joined, as the host sees them.
std::string InRoot(const std::string& root, const std::string& path) {
  size_t start = path.find_first_not_of('/');
  std::string rel = start == std::string::npos ? std::string() : path.substr(start);
  if (rel.empty()) return root;
  return root.size() > 0 && root.back() == '/' ? root + rel : root + "/" + rel;
}

long CallOpenat2(int dirfd, const std::string& path, uint64_t flags, uint64_t mode,
                 uint64_t resolve) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = flags;
  // openat2(2) refuses a mode unless something is created.
  bool creates = (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
  how.mode = creates ? mode : 0;
  how.resolve = resolve;
  long fd;
  do {
    fd = syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
    // The kernel asks for a retry when a rename raced with the resolution (RESOLVE_IN_ROOT).
  } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
  return fd;
}

constexpr uint64_t kInRoot = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

// The root directory as an O_PATH fd, for resolutions beneath it.
int OpenRoot(Napi::Env env, const std::string& root) {
  int fd = open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) ThrowSyscallError(env, errno, "open", root);
  return fd;
}

}  // namespace

// mount(source, target, fstype, flags, data): mount(2) in node's own mount namespace.
Napi::Value Mount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* signature =
      "mount(source: string | null, target: string, fstype: string | null, flags: number, data: "
      "string | null)";
  std::string source, fstype, data;
  bool has_source = NullableStringArg(info, 0, signature, &source);
  std::string target = StringArg(info, 1, signature);
  bool has_fstype = NullableStringArg(info, 2, signature, &fstype);
  if (info.Length() <= 3 || !info[3].IsNumber()) throw Napi::TypeError::New(env, signature);
  int64_t flags = info[3].As<Napi::Number>().Int64Value();
  if (flags < 0 || flags > UINT32_MAX) throw Napi::RangeError::New(env, signature);
  bool has_data = NullableStringArg(info, 4, signature, &data);
  if (mount(has_source ? source.c_str() : nullptr, target.c_str(),
            has_fstype ? fstype.c_str() : nullptr, static_cast<unsigned long>(flags),
            has_data ? data.c_str() : nullptr) < 0) {
    ThrowSyscallError(env, errno, "mount", target);
  }
  return env.Undefined();
}

// umount(target, flags): umount2(2) (MNT_DETACH = 2).
Napi::Value Umount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* signature = "umount(target: string, flags: number)";
  std::string target = StringArg(info, 0, signature);
  int flags = FdArg(info, 1, signature);
  if (umount2(target.c_str(), flags) < 0) ThrowSyscallError(env, errno, "umount2", target);
  return env.Undefined();
}

// openInRoot(root, path, flags, mode): path resolved as if root were "/" (symlinks and ".."
// never leave it; RESOLVE_IN_ROOT), refusing /proc magic links (RESOLVE_NO_MAGICLINKS).
Napi::Value OpenInRoot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* signature = "openInRoot(root: string, path: string, flags: number, mode: number)";
  std::string root = StringArg(info, 0, signature);
  std::string path = StringArg(info, 1, signature);
  int flags = FdArg(info, 2, signature);
  int mode = FdArg(info, 3, signature);
  int rootfd = OpenRoot(env, root);
  long fd = CallOpenat2(rootfd, path, static_cast<uint64_t>(flags) | O_CLOEXEC,
                        static_cast<uint64_t>(mode), kInRoot);
  int err = errno;
  close(rootfd);
  if (fd < 0) ThrowSyscallError(env, err, "openat2", InRoot(root, path));
  return Napi::Number::New(env, static_cast<double>(fd));
}

// mkdirInRoot(root, path, mode): mkdirat(2) of path's last component in its parent, the
// parent resolved as openInRoot does. The last component is never followed: a symlink
// there gives EEXIST.
Napi::Value MkdirInRoot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* signature = "mkdirInRoot(root: string, path: string, mode: number)";
  std::string root = StringArg(info, 0, signature);
  std::string path = StringArg(info, 1, signature);
  int mode = FdArg(info, 2, signature);
  size_t end = path.find_last_not_of('/');
  if (end == std::string::npos) throw Napi::TypeError::New(env, "mkdirInRoot: path names the root");
  size_t slash = path.rfind('/', end);
  std::string parent = slash == std::string::npos ? std::string(".") : path.substr(0, slash + 1);
  std::string name = path.substr(slash == std::string::npos ? 0 : slash + 1,
                                 end - (slash == std::string::npos ? 0 : slash + 1) + 1);
  if (name == "." || name == "..") {
    throw Napi::TypeError::New(env, "mkdirInRoot: the last component must be a name");
  }
  int rootfd = OpenRoot(env, root);
  long parentfd = CallOpenat2(rootfd, parent, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kInRoot);
  int err = errno;
  close(rootfd);
  if (parentfd < 0) ThrowSyscallError(env, err, "openat2", InRoot(root, parent));
  int rc = mkdirat(static_cast<int>(parentfd), name.c_str(), static_cast<mode_t>(mode));
  err = errno;
  close(static_cast<int>(parentfd));
  if (rc < 0) ThrowSyscallError(env, err, "mkdir", InRoot(root, path));
  return env.Undefined();
}

// renameat2(olddirfd, oldpath, newdirfd, newpath, flags): RENAME_NOREPLACE = 1, RENAME_EXCHANGE
// = 2.
Napi::Value Renameat2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* signature =
      "renameat2(olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags: "
      "number)";
  int olddirfd = DirFdArg(info, 0, signature);
  std::string oldpath = StringArg(info, 1, signature);
  int newdirfd = DirFdArg(info, 2, signature);
  std::string newpath = StringArg(info, 3, signature);
  int flags = FdArg(info, 4, signature);
  if (syscall(SYS_renameat2, olddirfd, oldpath.c_str(), newdirfd, newpath.c_str(), flags) < 0) {
    ThrowSyscallError(env, errno, "rename", newpath);
  }
  return env.Undefined();
}

}  // namespace hutch
