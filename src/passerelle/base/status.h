// Status and Result<T>: how every fallible function in Passerelle reports failure.
// Our code does not throw; a Status carries a code (mapped one-to-one to an HTTP status and to
// the CLI's exit code) and a message written for the person who has to fix the problem.
#ifndef PASSERELLE_BASE_STATUS_H_
#define PASSERELLE_BASE_STATUS_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace passerelle {

enum class StatusCode {
  kOk,
  kInvalidArgument,     // bad input from a file, a flag or a request (HTTP 400, exit 2)
  kNotFound,            // a named thing does not exist (404, exit 1)
  kAlreadyExists,       // creating something that is there (409, exit 1)
  kFailedPrecondition,  // the system is not in a state that allows this (412, exit 1)
  kPermissionDenied,    // a rule or a policy refuses it (403, exit 1)
  kUnavailable,         // a peer or resource is down; retrying may help (503, exit 1)
  kInternal,            // a broken invariant or a failing dependency (500, exit 1)
};

// Name of the code, e.g. "invalid_argument".
std::string_view StatusCodeName(StatusCode code);
// The HTTP status that carries this code.
int HttpStatusFor(StatusCode code);
// The CLI exit code: 0 ok, 2 bad input, 1 anything else.
int ExitCodeFor(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid_argument: message", or "ok".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status PermissionDenied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// A value or the Status that explains why there is none.
// REQUIRES: a Result built from a Status is built from a non-OK one.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace passerelle

#define PASSERELLE_CONCAT_INNER(a, b) a##b
#define PASSERELLE_CONCAT(a, b) PASSERELLE_CONCAT_INNER(a, b)

// Returns the Status of `expr` from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::passerelle::Status status_macro_ = (expr);   \
    if (!status_macro_.ok()) return status_macro_; \
  } while (false)

// `ASSIGN_OR_RETURN(auto x, F())`: declares x from F()'s value, or returns F()'s Status.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  ASSIGN_OR_RETURN_IMPL(PASSERELLE_CONCAT(result_macro_, __LINE__), lhs, rexpr)
#define ASSIGN_OR_RETURN_IMPL(result, lhs, rexpr) \
  auto result = (rexpr);                          \
  if (!result.ok()) return result.status();       \
  lhs = std::move(result).value()

#endif  // PASSERELLE_BASE_STATUS_H_
