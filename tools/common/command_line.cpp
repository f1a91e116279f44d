#include "tools/common/command_line.h"

#include <cstdio>
#include <cstring>

namespace porta::tools {
namespace {

// Returns false (after printing why) on a bad command line.
bool ParseOptions(const char* tool, int argc, char** argv,
                  const std::vector<CommandOption>& options, bool* help) {
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    if (std::strcmp(arg, "--help") == 0 || std::strcmp(arg, "-h") == 0) {
      *help = true;
      continue;
    }
    const CommandOption* match = nullptr;
    for (const CommandOption& option : options) {
      if (std::strcmp(arg, option.name) == 0) {
        match = &option;
        break;
      }
    }
    if (match == nullptr) {
      std::fprintf(stderr, "%s: unknown argument '%s'\n", tool, arg);
      return false;
    }
    if (!match->set_value) {
      *match->flag = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s: %s needs a value\n", tool, arg);
      return false;
    }
    match->set_value(argv[++i]);
  }
  return true;
}

}  // namespace

std::optional<int> ParseCommandLine(const char* tool, const char* usage, int argc, char** argv,
                                    const std::vector<CommandOption>& options) {
  bool help = false;
  if (!ParseOptions(tool, argc, argv, options, &help)) {
    std::fputs(usage, stderr);
    return 2;
  }
  if (help) {
    std::fputs(usage, stdout);
    return 0;
  }
  return std::nullopt;
}

porta_runtime_t CreateRuntime(const char* tool, const char* plugin_paths,
                              const char* device_filter) {
  porta_runtime_options_t options = PORTA_RUNTIME_OPTIONS_INIT;
  if (plugin_paths != nullptr && plugin_paths[0] != '\0') options.plugin_paths = plugin_paths;
  if (device_filter != nullptr) options.device_filter = device_filter;
  porta_runtime_t runtime = nullptr;
  const porta_status_t status = porta_runtime_create(&options, &runtime);
  if (status != PORTA_OK) {
    std::fprintf(stderr, "%s: porta_runtime_create failed: %s: %s\n", tool,
                 porta_status_string(status), porta_last_error_message());
    return nullptr;
  }
  return runtime;
}

}  // namespace porta::tools
