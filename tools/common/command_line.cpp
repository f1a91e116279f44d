#include "tools/common/command_line.h"

#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace porta::tools {

std::optional<int> ParseCommandLine(const char* tool, const char* usage, int argc, char** argv,
                                    const std::vector<CommandOption>& options) {
  CLI::App app{"", tool};
  // The tool's own usage text is the help; CLI11 only parses.
  app.set_help_flag();
  bool help = false;
  bool version = false;
  app.add_flag("-h,--help", help);
  app.add_flag("--version", version);
  for (const CommandOption& option : options) {
    if (!option.set_value) {
      app.add_flag(option.name, *option.flag);
      continue;
    }
    // Every occurrence reaches the tool, in order, as with repeatable options.
    app.add_option_function<std::vector<std::string>>(
           option.name,
           [&option](const std::vector<std::string>& values) {
             for (const std::string& value : values) option.set_value(value.c_str());
           })
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->allow_extra_args(false);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    std::fprintf(stderr, "%s: %s\n", tool, error.what());
    std::fputs(usage, stderr);
    return 2;
  }
  if (help) {
    std::fputs(usage, stdout);
    return 0;
  }
  if (version) {
    std::printf("%s %s\n", tool, porta_version_string());
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
