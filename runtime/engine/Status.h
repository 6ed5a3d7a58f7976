//===- Status.h - Error code and message of the runtime engine --*- C++ -*-===//
//
// The engine never throws and never prints: every fallible call returns a
// Status, which is either ok or carries a code (what kind of failure, so that
// callers can react, e.g. stop generating when the sequence is full) and one
// line of text naming the file, field or argument at fault.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_RUNTIME_ENGINE_STATUS_H
#define ZAMBA2_RUNTIME_ENGINE_STATUS_H

#include <string>
#include <utility>

namespace zamba2 {

/// Kinds of failure. The values are those of zamba2_status in
/// zamba2_runtime.h.
enum class StatusCode : int {
  Ok = 0,
  InvalidArgument = 1, ///< bad argument: batch size, token id, null pointer
  Io = 2,              ///< a file is missing or cannot be read, mapped, loaded
  Format = 3,          ///< manifest.json or the library breaks the contract
  Unsupported = 4,     ///< valid package this runtime or CPU cannot run
  OutOfMemory = 5,     ///< an allocation failed
  Capacity = 6,        ///< the call would run past the session's max_seq
};

class Status {
public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status error(StatusCode code, std::string message) {
    Status s;
    s.c = code;
    s.msg = std::move(message);
    return s;
  }

  bool isOk() const { return c == StatusCode::Ok; }
  explicit operator bool() const { return isOk(); }
  StatusCode code() const { return c; }
  /// One line; empty when ok.
  const std::string &message() const { return msg; }

private:
  StatusCode c = StatusCode::Ok;
  std::string msg;
};

} // namespace zamba2

#endif // ZAMBA2_RUNTIME_ENGINE_STATUS_H
