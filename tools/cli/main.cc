// reforge: the command-line entry point. `reforge help` lists subcommands.
#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <system_error>

#include "base/error.h"
#include "tools/cli/command.h"

int main(int argc, char** argv) {
  // Past a file-size limit a write fails with EFBIG and is reported, with
  // the file it was for, instead of the signal killing the process.
  std::signal(SIGXFSZ, SIG_IGN);
  using reforge::cli::commands;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help") {
    fmt::print("usage: reforge <command> [flags]\n\ncommands:\n");
    for (const auto& [name, command] : commands()) fmt::print("  {:<10} {}\n", name, command.summary);
    return args.empty() ? 2 : 0;
  }
  auto it = commands().find(args[0]);
  if (it == commands().end()) {
    fmt::print(stderr, "reforge: unknown command '{}' (try `reforge help`)\n", args[0]);
    return 2;
  }
  int status = 0;
  try {
    status = it->second.run(std::vector<std::string>(args.begin() + 1, args.end()));
  } catch (const reforge::UsageError& e) {
    fmt::print(stderr, "reforge {}: error: {}\n", args[0], e.what());
    return 2;
  } catch (const reforge::Error& e) {
    fmt::print(stderr, "reforge {}: error: {}\n", args[0], e.what());
    return 1;
  } catch (const std::system_error& e) {
    // fmt reports a failed write to standard output (a full disk, a closed
    // pipe) this way.
    fmt::print(stderr, "reforge {}: error: cannot write to standard output: {}\n", args[0], e.code().message());
    return 1;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "reforge {}: error: out of memory; make the model or --seq_len/--batch smaller\n", args[0]);
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "reforge {}: internal error: {}\n", args[0], e.what());
    return 3;
  }
  // Output that did not reach its destination (a full disk, a closed
  // pipe) is a failure, not success.
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    fmt::print(stderr, "reforge {}: error: cannot write to standard output: {}\n", args[0], std::strerror(errno));
    return 1;
  }
  return status;
}
