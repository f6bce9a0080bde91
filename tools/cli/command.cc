#include "tools/cli/command.h"

#include <fmt/format.h>

#include <cmath>

#include "base/error.h"

namespace reforge::cli {

static std::map<std::string, Command>& table() {
  static auto* commands = new std::map<std::string, Command>();
  return *commands;
}

void register_command(Command command) { table()[command.name] = std::move(command); }
const std::map<std::string, Command>& commands() { return table(); }

Flags::Flags(const std::vector<std::string>& args, const std::map<std::string, std::string>& defaults)
    : values_(defaults) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0) {
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (!values_.count(name)) {
      std::vector<std::string> known;
      for (const auto& [k, v] : defaults) known.push_back("--" + k);
      throw UsageError(fmt::format("unknown flag --{} (known: {})", name, fmt::join(known, " ")));
    }
    if (eq == std::string::npos) {
      bool is_bool = values_[name] == "true" || values_[name] == "false";
      if (is_bool) {
        value = "true";
      } else {
        if (i + 1 >= args.size()) throw UsageError("flag --" + name + " needs a value");
        value = args[++i];
      }
    }
    values_[name] = value;
    given_.insert(name);
  }
}

const std::string& Flags::get(const std::string& name) const { return values_.at(name); }

long long Flags::get_int(const std::string& name) const {
  try {
    size_t used = 0;
    long long v = std::stoll(get(name), &used);
    if (used == get(name).size()) return v;
  } catch (const std::out_of_range&) {
    throw UsageError(fmt::format("--{}={} does not fit in a 64-bit integer", name, get(name)));
  } catch (const std::logic_error&) {
  }
  throw UsageError(fmt::format("--{} must be an integer, got '{}'", name, get(name)));
}

double Flags::get_double(const std::string& name) const {
  try {
    size_t used = 0;
    double v = std::stod(get(name), &used);
    if (used == get(name).size() && std::isfinite(v)) return v;
  } catch (const std::logic_error&) {
  }
  throw UsageError(fmt::format("--{} must be a finite number, got '{}'", name, get(name)));
}

bool Flags::get_bool(const std::string& name) const {
  if (get(name) == "true" || get(name) == "1") return true;
  if (get(name) == "false" || get(name) == "0") return false;
  throw UsageError(fmt::format("--{} must be true or false, got '{}'", name, get(name)));
}

}  // namespace reforge::cli
