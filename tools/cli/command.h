// The `reforge` command line: each subcommand is one file registering a
// Command here; main.cc dispatches by name.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace reforge::cli {

struct Command {
  std::string name;
  std::string summary;  // one line for `reforge help`
  std::function<int(const std::vector<std::string>& args)> run;
};

void register_command(Command command);
const std::map<std::string, Command>& commands();

// Parses "--name=value" / "--name value" / "--flag" arguments. Unknown
// flags are an error that lists the known ones.
class Flags {
 public:
  Flags(const std::vector<std::string>& args, const std::map<std::string, std::string>& defaults_with_help);
  const std::string& get(const std::string& name) const;
  long long get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  // Whether the command line set the flag (its value may equal the default).
  bool given(const std::string& name) const { return given_.count(name) > 0; }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> given_;
  std::vector<std::string> positional_;
};

}  // namespace reforge::cli
