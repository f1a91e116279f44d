// porta-cts: the Porta conformance test suite. Parses its own flags, creates the runtime and
// enumerates the devices before gtest registers the parameterized tests (the device list is the
// parameter set), then runs every test once per device and prints a per-device summary.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "conformance/cts.h"
#include "conformance/kernels/test_kernels.h"
#include "conformance/report.h"

namespace {

constexpr const char* kUsage =
    "Usage: porta-cts [options] [gtest options]\n"
    "  --plugin PATH          test only the backend plugin PATH (a shared library or a folder);\n"
    "                         the built-in backends and PORTA_PLUGIN_PATH are ignored\n"
    "  --devices FILTER       device filter, PORTA_DEVICES syntax (e.g. \"opencl:0,cpu\")\n"
    "  --junit FILE           write JUnit XML results to FILE\n"
    "  --run-known-failures   run known failures with normal pass/fail semantics\n"
    "  --kernel-file NAME:FORMAT:FILE\n"
    "                         add FILE as test kernel NAME in FORMAT (\"cubin\", \"opencl-c\", "
    "...),\n"
    "                         tried before the built-in sources; repeatable. How a vendor gives\n"
    "                         its device the gate and fault kernels "
    "(conformance/kernels/README.md)\n"
    "  --suites api|ops|all   run the runtime API suites, the operator-library suites (Ops*),\n"
    "                         or both (default); combines with --gtest_filter\n"
    "  --version              print the version\n"
    "  --help                 this text, then gtest's options\n"
    "Any other argument must be a gtest flag (--gtest_...); a filter that selects no test fails.\n";

struct Flags {
  std::string plugin;
  bool has_plugin = false;
  std::string devices;
  bool has_devices = false;
  std::string junit;
  bool run_known_failures = false;
  std::vector<std::string> kernel_files;
  // "api", "ops" or "all".
  std::string suites = "all";
  bool help = false;
  bool version = false;
};

// Parses the CTS's own flags with CLI11; gtest's own are left for gtest. Anything else (a
// misspelt flag, a stray word) is an error: gtest would ignore it silently and run everything.
bool ParseFlags(int argc, char** argv, Flags* flags) {
  CLI::App app{"", "porta-cts"};
  app.set_help_flag();
  app.allow_extras();
  app.add_option("--plugin", flags->plugin);
  app.add_option("--devices", flags->devices);
  app.add_option("--junit", flags->junit)->check([](const std::string& value) {
    return value.empty() ? std::string("--junit needs a file name") : std::string();
  });
  app.add_option("--suites", flags->suites)->check(CLI::IsMember({"api", "ops", "all"}));
  app.add_flag("--run-known-failures", flags->run_known_failures);
  app.add_option("--kernel-file", flags->kernel_files);
  app.add_flag("--version", flags->version);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    std::fprintf(stderr, "porta-cts: %s\n", error.what());
    return false;
  }
  flags->has_plugin = app.count("--plugin") > 0;
  flags->has_devices = app.count("--devices") > 0;
  // What remains must be gtest's (always --gtest_name[=value]) or --help; gtest reads those from
  // the whole command line.
  const std::vector<std::string> extras = app.remaining();
  for (const std::string& extra : extras) {
    const bool gtest = extra.rfind("--gtest_", 0) == 0 || extra.rfind("-gtest_", 0) == 0;
    if (extra == "--help" || extra == "-h") {
      flags->help = true;
    } else if (!gtest) {
      std::fprintf(stderr, "porta-cts: unknown argument '%s'\n", extra.c_str());
      return false;
    }
  }
  return true;
}

// Reads each --kernel-file NAME:FORMAT:FILE into the test kernel sources. Returns false with a
// message for a malformed value, an unknown or host format, or a file that cannot be read.
bool AddKernelFiles(const std::vector<std::string>& values) {
  for (const std::string& value : values) {
    const size_t first = value.find(':');
    const size_t second = first == std::string::npos ? first : value.find(':', first + 1);
    if (second == std::string::npos || first == 0 || second == first + 1 ||
        second + 1 == value.size()) {
      std::fprintf(stderr, "porta-cts: --kernel-file '%s' is not NAME:FORMAT:FILE\n",
                   value.c_str());
      return false;
    }
    const std::string name = value.substr(0, first);
    const std::string format_name = value.substr(first + 1, second - first - 1);
    const std::string path = value.substr(second + 1);
    const porta_kernel_format_t format = porta_cts::KernelFormatFromName(format_name);
    if (format == 0 || format == PORTA_FORMAT_HOST) {
      std::fprintf(stderr,
                   "porta-cts: --kernel-file '%s': '%s' is not a file format (one of opencl-c, "
                   "spirv-kernel, spirv-shader, ptx, cubin, hsaco)\n",
                   value.c_str(), format_name.c_str());
      return false;
    }
    std::ifstream file(path, std::ios::binary);
    if (!file.is_open()) {
      std::fprintf(stderr, "porta-cts: --kernel-file '%s': cannot open %s\n", value.c_str(),
                   path.c_str());
      return false;
    }
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(file)),
                                     std::istreambuf_iterator<char>());
    if (file.bad() || bytes.empty()) {
      std::fprintf(stderr, "porta-cts: --kernel-file '%s': %s cannot be read or is empty\n",
                   value.c_str(), path.c_str());
      return false;
    }
    porta_cts::AddSuppliedKernel(name, format, std::move(bytes));
  }
  return true;
}

// The operator library's suites are named Ops* (after gtest's "Devices/" instantiation prefix);
// report.cpp counts them apart by the same rule.
bool IsOpsSuite(const std::string& suite) {
  const size_t slash = suite.find('/');
  return suite.compare(slash == std::string::npos ? 0 : slash + 1, 3, "Ops") == 0;
}

// Narrows the run to the API or the operator-library suites by adding every suite of the other
// kind to gtest's negative filter patterns, so a --gtest_filter (or GTEST_FILTER) the user gave
// keeps working. Needs the parameterized suites registered, i.e. InitGoogleTest done.
void SelectSuites(const std::string& suites) {
  if (suites == "all") return;
  const bool want_ops = suites == "ops";
  std::string excluded;
  const testing::UnitTest* unit = testing::UnitTest::GetInstance();
  for (int i = 0; i < unit->total_test_suite_count(); ++i) {
    const std::string name = unit->GetTestSuite(i)->name();
    if (IsOpsSuite(name) == want_ops) continue;
    excluded += (excluded.empty() ? "" : ":") + name + ".*";
  }
  if (excluded.empty()) return;
  std::string filter = GTEST_FLAG_GET(filter);
  filter += filter.find('-') == std::string::npos ? "-" : ":";
  filter += excluded;
  GTEST_FLAG_SET(filter, filter);
}

std::string Sanitize(const char* text) {
  std::string out;
  for (const char* c = text; *c != '\0'; ++c) {
    out += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
  }
  return out.empty() ? "device" : out;
}

std::string Diagnostics(porta_runtime_t runtime) {
  size_t required = 0;
  if (porta_runtime_diagnostics(runtime, nullptr, 0, &required) != PORTA_OK || required == 0) {
    return "(no diagnostics: " + std::string(porta_last_error_message()) + ")";
  }
  std::string text(required, '\0');
  if (porta_runtime_diagnostics(runtime, text.data(), text.size(), &required) != PORTA_OK) {
    return "(no diagnostics: " + std::string(porta_last_error_message()) + ")";
  }
  text.resize(std::strlen(text.c_str()));
  return text;
}

// Creates the runtime and fills the environment's device list. Returns false with a message when
// there is nothing to test.
bool SetUpDevices(const Flags& flags) {
  porta_cts::Environment* env = porta_cts::MutableEnv();
  env->plugin_path = flags.plugin;
  env->has_device_filter = flags.has_devices;
  env->device_filter = flags.devices;
  env->run_known_failures = flags.run_known_failures;
  const porta_runtime_options_t options = porta_cts::RuntimeOptions();
  porta_status_t status = porta_runtime_create(&options, &env->runtime);
  if (status != PORTA_OK) {
    std::fprintf(stderr, "porta-cts: porta_runtime_create failed: %s: %s\n",
                 porta_status_string(status), porta_last_error_message());
    return false;
  }
  uint32_t count = 0;
  status = porta_runtime_device_count(env->runtime, &count);
  if (status != PORTA_OK) {
    std::fprintf(stderr, "porta-cts: porta_runtime_device_count failed: %s: %s\n",
                 porta_status_string(status), porta_last_error_message());
    return false;
  }
  for (uint32_t i = 0; i < count; ++i) {
    porta_cts::DeviceParam param;
    param.index = i;
    porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
    if (porta_runtime_device(env->runtime, i, &param.device) != PORTA_OK ||
        porta_device_get_info(param.device, &info) != PORTA_OK) {
      std::fprintf(stderr, "porta-cts: cannot query device %u: %s\n", i,
                   porta_last_error_message());
      return false;
    }
    param.backend = info.backend;
    param.name = info.name;
    param.id = Sanitize(info.backend) + "_" + std::to_string(i);
    env->devices.push_back(param);
  }
  std::printf("porta-cts %s: %u device(s)%s%s\n", porta_version_string(), count,
              flags.has_plugin ? " from plugin " : "", flags.plugin.c_str());
  for (const porta_cts::DeviceParam& param : env->devices) {
    std::printf("  %s: %s\n", param.id.c_str(), param.name.c_str());
  }
  if (count == 0) {
    std::fprintf(stderr, "porta-cts: no device to test. Backends tried:\n%s\n",
                 Diagnostics(env->runtime).c_str());
    return false;
  }
  std::fflush(stdout);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  // gtest gets the whole command line, its own flags and ours: a death test re-runs porta-cts
  // with it, and the child must test the same devices with the same kernels.
  std::vector<std::string> command_line(argv, argv + argc);
  Flags flags;
  if (!ParseFlags(argc, argv, &flags) || !AddKernelFiles(flags.kernel_files)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (flags.version) {
    std::printf("porta-cts %s\n", porta_version_string());
    return 0;
  }
  if (flags.help) std::fputs(kUsage, stdout);
  int exit_code = 1;
  if (flags.help || SetUpDevices(flags)) {
    std::vector<char*> gtest_argv;
    for (std::string& arg : command_line) gtest_argv.push_back(arg.data());
    gtest_argv.push_back(nullptr);
    int gtest_argc = static_cast<int>(command_line.size());
    testing::InitGoogleTest(&gtest_argc, gtest_argv.data());
    // The children re-execute porta-cts rather than fork a process that holds driver threads.
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    SelectSuites(flags.suites);
    auto* reporter = new porta_cts::Reporter(flags.junit);
    // gtest owns and deletes appended listeners.
    testing::UnitTest::GetInstance()->listeners().Append(reporter);
    const int gtest_result = RUN_ALL_TESTS();
    exit_code = flags.help ? gtest_result : (reporter->run_failed() ? 1 : 0);
    if (!flags.help && testing::UnitTest::GetInstance()->test_to_run_count() == 0) {
      std::fprintf(stderr,
                   "porta-cts: no test was selected (check --gtest_filter, --suites and the "
                   "devices); that is a failure, not a pass\n");
      exit_code = 1;
    }
  }
  porta_cts::Environment* env = porta_cts::MutableEnv();
  env->devices.clear();
  if (env->runtime != nullptr) porta_runtime_destroy(env->runtime);
  env->runtime = nullptr;
  return exit_code;
}
