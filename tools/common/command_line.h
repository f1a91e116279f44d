// The command-line handling every tool shares: option parsing with the same messages, --help, and
// creating the runtime with the options a user gave.
#ifndef PORTA_TOOLS_COMMON_COMMAND_LINE_H_
#define PORTA_TOOLS_COMMON_COMMAND_LINE_H_

#include <functional>
#include <optional>
#include <vector>

#include "porta/porta.h"

namespace porta::tools {

// One option of a tool. A flag (|set_value| empty) sets *|flag|; an option that takes a value
// passes the next argument to |set_value|.
struct CommandOption {
  const char* name;
  bool* flag = nullptr;
  std::function<void(const char* value)> set_value;
};

// Parses |argv| against |options| plus --help / -h and --version, with CLI11 (so "--name=value"
// works too). Returns the exit code when the tool should stop now: 0 after printing |usage| to
// stdout for --help or "<tool> <version>" for --version, 2 after printing the problem (CLI11's
// message naming the unknown argument or the option that needs a value) and |usage| to stderr;
// nothing when the tool should go on.
std::optional<int> ParseCommandLine(const char* tool, const char* usage, int argc, char** argv,
                                    const std::vector<CommandOption>& options);

// porta_runtime_create with |plugin_paths| and |device_filter| (null or empty for none). On
// failure prints "<tool>: porta_runtime_create failed: <status>: <message>" to stderr and returns
// null.
porta_runtime_t CreateRuntime(const char* tool, const char* plugin_paths,
                              const char* device_filter);

}  // namespace porta::tools

#endif  // PORTA_TOOLS_COMMON_COMMAND_LINE_H_
