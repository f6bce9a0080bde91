// The one exception type Reforge throws for user-facing errors, and the
// source location it can carry (the user's DSL call site).
#pragma once

#include <stdexcept>
#include <string>

namespace reforge {

struct SourceLoc {
  std::string file;
  int line = 0;

  bool known() const { return line > 0; }
  std::string to_string() const { return file + ":" + std::to_string(line); }
  bool operator==(const SourceLoc&) const = default;
};

// Every error a user can cause (bad shapes, malformed IR text, missing feeds,
// corrupt files) is an Error with a message that says what to change.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// An Error in how a command was called (a flag's value out of range, a
// missing argument): the command line exits with status 2, not 1.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& message) : Error(message) {}
};

}  // namespace reforge
