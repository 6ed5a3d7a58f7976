//===- DefaultPackage.cpp - zamba2-run's package when none is given -------===//
#include "tools/zamba2-run/DefaultPackage.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace zamba2::run {

namespace {

/// Modification time in nanoseconds; false when `path` does not exist.
bool mtime(const std::string &path, int64_t &out) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return false;
  out =
      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return true;
}

/// The newest modification time of the regular files directly in `dir`.
int64_t newestFileIn(const std::string &dir) {
  int64_t newest = 0;
  DIR *d = ::opendir(dir.c_str());
  if (!d)
    return newest;
  while (struct dirent *e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..")
      continue;
    int64_t t;
    struct stat st;
    std::string path = dir + "/" + name;
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        mtime(path, t) && t > newest)
      newest = t;
  }
  ::closedir(d);
  return newest;
}

/// The directory of this executable (from /proc/self/exe).
std::string selfDir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return "";
  std::string path(buf, static_cast<size_t>(n));
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

bool makeParents(const std::string &path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    std::string prefix = path.substr(0, slash);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
      return false;
  }
  return true;
}

bool runCompiler(const std::string &compiler, const std::string &checkpoint,
                 const std::string &package, std::string &err) {
  std::fprintf(stderr,
               "zamba2-run: compiling the default package: %s %s -o %s\n",
               compiler.c_str(), checkpoint.c_str(), package.c_str());
  std::fflush(stderr);
  if (!makeParents(package)) {
    err = package +
          ": cannot create its parent directory: " + std::strerror(errno);
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  std::string a0 = compiler, a1 = checkpoint, a2 = "-o", a3 = package;
  char *args[] = {a0.data(), a1.data(), a2.data(), a3.data(), nullptr};
  pid_t pid;
  int rc =
      posix_spawn(&pid, compiler.c_str(), &actions, nullptr, args, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    err = compiler + ": cannot run: " + std::strerror(rc);
    return false;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      err = compiler + ": cannot wait for it: " + std::strerror(errno);
      return false;
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    err = "zamba2-compile failed (" +
          (WIFEXITED(status)
               ? "exit status " + std::to_string(WEXITSTATUS(status))
               : "signal " + std::to_string(WTERMSIG(status))) +
          ") compiling " + checkpoint + " into " + package;
    return false;
  }
  return true;
}

} // namespace

bool ensureDefaultPackage(std::string &dir, std::string &err) {
  const std::string package = ZAMBA2_DEFAULT_PACKAGE;
  const std::string checkpoint = ZAMBA2_DEFAULT_CHECKPOINT;
  dir = package;
  std::string compiler = selfDir() + "/zamba2-compile";
  bool haveCompiler = ::access(compiler.c_str(), X_OK) == 0;

  // The package's age is that of its oldest file.
  int64_t packageTime = INT64_MAX, t = 0;
  bool complete = true;
  for (const char *file : {"manifest.json", "model.so", "weights.bin"}) {
    if (mtime(package + "/" + file, t))
      packageTime = std::min(packageTime, t);
    else
      complete = false;
  }
  std::string why;
  int64_t compilerTime = 0;
  if (!complete)
    why = "does not exist";
  else if (packageTime < newestFileIn(checkpoint))
    why = "is older than its checkpoint " + checkpoint;
  else if (haveCompiler && mtime(compiler, compilerTime) &&
           packageTime < compilerTime)
    why = "is older than " + compiler;
  if (why.empty())
    return true;
  if (!haveCompiler) {
    err = "the default package " + package + " " + why +
          ", and there is no zamba2-compile next to zamba2-run to compile it "
          "(a runtime-only build?); give a package directory, or compile "
          "one with: zamba2-compile " +
          checkpoint + " -o " + package;
    return false;
  }
  if (!runCompiler(compiler, checkpoint, package, err))
    return false;
  if (!mtime(package + "/manifest.json", t)) {
    err = "zamba2-compile succeeded but wrote no " + package + "/manifest.json";
    return false;
  }
  return true;
}

} // namespace zamba2::run
