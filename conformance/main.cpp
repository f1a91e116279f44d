// porta-cts: the Porta conformance test suite. Parses its own flags, creates the runtime and
// enumerates the devices before gtest registers the parameterized tests (the device list is the
// parameter set), then runs every test once per device and prints a per-device summary. With
// --isolate this process only starts and watches a child that runs the tests (isolate.h).
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
#include "conformance/isolate.h"
#include "conformance/kernels/test_kernels.h"
#include "conformance/report.h"

namespace {

constexpr const char* kUsage =
    "Usage: porta-cts [options] [gtest options]\n"
    "  --plugin PATH          test only the backend plugin PATH (a shared library or a folder);\n"
    "                         the built-in backends and PORTA_PLUGIN_PATH are ignored\n"
    "  --devices FILTER       device filter, PORTA_DEVICES syntax (e.g. \"opencl:0,cpu\")\n"
    "  --junit FILE           write JUnit XML results to FILE\n"
    "  --isolate              run the tests in a child process: a test that crashes (its signal\n"
    "                         is named) or hangs fails, and the run goes on with the next test\n"
    "  --test-timeout SECONDS with --isolate, a test still running after SECONDS fails as\n"
    "                         \"timed out\" and its process is killed (default 300)\n"
    "  --known-failures FILE  known failures of your backend, one per line:\n"
    "                           backend | device | test | reason\n"
    "                         (docs/backend_sdk.md); they are reported as known failures, and as\n"
    "                         UNEXPECTED PASS (a failure) when they pass\n"
    "  --run-known-failures   run known failures with normal pass/fail semantics\n"
    "  --kernel-file NAME:FORMAT:FILE\n"
    "                         add FILE as test kernel NAME in FORMAT (\"cubin\", \"opencl-c\", "
    "...),\n"
    "                         tried before the built-in sources; repeatable. How a vendor gives\n"
    "                         its device the gate and fault kernels "
    "(conformance/kernels/README.md),\n"
    "                         and its native binaries (FORMAT native: FILE starts with a\n"
    "                         porta_native_header_t naming the architecture tag)\n"
    "  --suites api|ops|all   run the runtime API suites, the operator-library suites (Ops*),\n"
    "                         or both (default); combines with --gtest_filter\n"
    "  --version              print the version\n"
    "  --help                 this text, then gtest's options\n"
    "Any other argument must be a gtest flag (--gtest_...); a filter that selects no test fails.\n"
    "Exit status: 0 pass; 1 a test failed, crashed, timed out or passed unexpectedly, or\n"
    "nothing ran; 2 a bad command line or known-failures file; 3 nothing failed, but a device\n"
    "skipped more than a tenth of its tests (incomplete coverage; the summary lists why).\n"
    "Failure locations are files of the Porta sources (conformance/...:LINE).\n";

struct Flags {
  std::string plugin;
  bool has_plugin = false;
  std::string devices;
  bool has_devices = false;
  std::string junit;
  bool run_known_failures = false;
  std::vector<std::string> kernel_files;
  std::string known_failures;
  bool isolate = false;
  int test_timeout = 300;
  // Internal, set by the --isolate parent for its child: the protocol pipe's fd, and the file
  // listing the tests a restarted child runs.
  int isolate_child = -1;
  std::string isolate_tests;
  // "api", "ops" or "all".
  std::string suites = "all";
  bool help = false;
  bool version = false;
};

// Parses the CTS's own flags with CLI11 and leaves gtest's in argv. Anything else (a misspelt
// flag, a stray word) is an error: gtest would ignore it silently and run everything.
bool ParseFlags(int* argc, char** argv, Flags* flags) {
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
  app.add_option("--known-failures", flags->known_failures)->check([](const std::string& value) {
    return value.empty() ? std::string("--known-failures needs a file name") : std::string();
  });
  app.add_flag("--isolate", flags->isolate);
  app.add_option("--test-timeout", flags->test_timeout)->check(CLI::Range(1, 86400));
  app.add_option("--isolate-child", flags->isolate_child)->check(CLI::NonNegativeNumber);
  app.add_option("--isolate-tests", flags->isolate_tests);
  app.add_flag("--version", flags->version);
  try {
    app.parse(*argc, argv);
  } catch (const CLI::ParseError& error) {
    std::fprintf(stderr, "porta-cts: %s\n", error.what());
    return false;
  }
  flags->has_plugin = app.count("--plugin") > 0;
  flags->has_devices = app.count("--devices") > 0;
  // gtest's flags (always --gtest_name[=value]) and --help go on to gtest, in order.
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
  int out = 1;
  size_t next = 0;
  for (int i = 1; i < *argc && next < extras.size(); ++i) {
    if (extras[next] == argv[i]) {
      argv[out++] = argv[i];
      ++next;
    }
  }
  argv[out] = nullptr;
  *argc = out;
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
                   "spirv-kernel, spirv-shader, ptx, cubin, hsaco, native)\n",
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
    // A native binary names its architecture in its header; a file without one cannot be matched
    // to a device, so it is a usage error rather than a test failure.
    if (format == PORTA_FORMAT_NATIVE &&
        porta_native_binary_tag(bytes.data(), bytes.size(), nullptr) != PORTA_OK) {
      std::fprintf(stderr, "porta-cts: --kernel-file '%s': %s\n", value.c_str(),
                   porta_last_error_message());
      return false;
    }
    porta_cts::AddSuppliedKernel(name, format, std::move(bytes));
  }
  return true;
}

// Creates the runtime and fills the environment's device list. Returns false with a message when
// there is nothing to test.
// In the --isolate child (|child| not null) every device is also sent to the parent, and a
// restarted child does not print the device list again.
bool SetUpDevices(const Flags& flags, std::FILE* child) {
  porta_cts::Environment* env = porta_cts::MutableEnv();
  env->plugin_path = flags.plugin;
  env->has_device_filter = flags.has_devices;
  env->device_filter = flags.devices;
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
  const bool quiet = child != nullptr && !flags.isolate_tests.empty();
  if (!quiet) {
    std::printf("porta-cts %s: %u device(s)%s%s\n", porta_version_string(), count,
                flags.has_plugin ? " from plugin " : "", flags.plugin.c_str());
  }
  for (const porta_cts::DeviceParam& param : env->devices) {
    if (!quiet) std::printf("  %s: %s\n", param.id.c_str(), param.name.c_str());
    if (child != nullptr) porta_cts::WriteDevice(child, param);
  }
  if (count == 0) {
    std::fprintf(stderr, "porta-cts: no device to test. Backends tried:\n%s\n",
                 Diagnostics(env->runtime).c_str());
    return false;
  }
  std::fflush(stdout);
  return true;
}

// The arguments of the --isolate child: the flags that shape the run, and gtest's (left in argv).
std::vector<std::string> ChildArgs(const Flags& flags, int argc, char** argv) {
  std::vector<std::string> args;
  if (flags.has_plugin) args.push_back("--plugin=" + flags.plugin);
  if (flags.has_devices) args.push_back("--devices=" + flags.devices);
  args.push_back("--suites=" + flags.suites);
  if (flags.run_known_failures) args.push_back("--run-known-failures");
  if (!flags.known_failures.empty()) args.push_back("--known-failures=" + flags.known_failures);
  for (const std::string& file : flags.kernel_files) args.push_back("--kernel-file=" + file);
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  return args;
}

bool HasGtestFlag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    for (const char* prefix : {"--gtest_", "-gtest_"}) {
      if (arg.rfind(std::string(prefix) + name, 0) == 0) return true;
    }
  }
  return false;
}

// Runs the tests in this process; |child| is the --isolate parent's pipe, or null.
// |command_line| is porta-cts's whole command line: gtest reads its own flags from it, and a death
// test re-runs porta-cts with it, so the child tests the same devices with the same kernels.
int RunTests(const Flags& flags, std::vector<std::string> command_line, std::FILE* child) {
  if (!flags.help && !SetUpDevices(flags, child)) return porta_cts::kExitFail;
  std::vector<char*> gtest_argv;
  for (std::string& arg : command_line) gtest_argv.push_back(arg.data());
  gtest_argv.push_back(nullptr);
  int gtest_argc = static_cast<int>(command_line.size());
  testing::InitGoogleTest(&gtest_argc, gtest_argv.data());
  // The children re-execute porta-cts rather than fork a process that holds driver threads.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  if (!flags.isolate_tests.empty()) {
    // A restarted child runs exactly the tests its parent lists.
    std::string filter, error;
    if (!porta_cts::ReadTestList(flags.isolate_tests, &filter, &error)) {
      std::fprintf(stderr, "porta-cts: %s\n", error.c_str());
      return porta_cts::kExitFail;
    }
    GTEST_FLAG_SET(filter, filter);
  } else {
    SelectSuites(flags.suites);
  }
  porta_cts::Results results(flags.junit);
  // gtest owns and deletes appended listeners.
  testing::UnitTest::GetInstance()->listeners().Append(new porta_cts::Reporter(&results, child));
  const int gtest_result = RUN_ALL_TESTS();
  if (flags.help || GTEST_FLAG_GET(list_tests)) return gtest_result;
  const testing::UnitTest& unit = *testing::UnitTest::GetInstance();
  // The --isolate parent accounts and reports the child's tests.
  int exit_code = child != nullptr
                      ? porta_cts::kExitPass
                      : results.Finish(static_cast<double>(unit.elapsed_time()) / 1000.0,
                                       unit.ad_hoc_test_result().Failed());
  if (unit.test_to_run_count() == 0) {
    std::fprintf(stderr,
                 "porta-cts: no test was selected (check --gtest_filter, --suites and the "
                 "devices); that is a failure, not a pass\n");
    exit_code = porta_cts::kExitFail;
  }
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  // The command line for gtest, less the --isolate protocol's own flags: a death test's child
  // must not write into the isolating parent's pipe.
  std::vector<std::string> command_line;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--isolate-child", 0) == 0 || arg.rfind("--isolate-tests", 0) == 0) {
      if (arg.find('=') == std::string::npos && i + 1 < argc) ++i;
      continue;
    }
    command_line.push_back(arg);
  }
  Flags flags;
  if (!ParseFlags(&argc, argv, &flags) || !AddKernelFiles(flags.kernel_files)) {
    std::fputs(kUsage, stderr);
    return porta_cts::kExitUsage;
  }
  if (flags.version) {
    std::printf("porta-cts %s\n", porta_version_string());
    return porta_cts::kExitPass;
  }
  if (flags.help) std::fputs(kUsage, stdout);
  porta_cts::Environment* env = porta_cts::MutableEnv();
  env->run_known_failures = flags.run_known_failures;
  if (!flags.known_failures.empty()) {
    env->known_failure_file = std::make_unique<porta_cts::KnownFailureFile>();
    std::string error;
    if (!env->known_failure_file->Load(flags.known_failures, &error)) {
      std::fprintf(stderr, "porta-cts: %s\n", error.c_str());
      return porta_cts::kExitUsage;
    }
  }
  std::FILE* child = nullptr;
  if (flags.isolate_child >= 0) {
    child = fdopen(flags.isolate_child, "w");
    if (child == nullptr) {
      std::fprintf(stderr, "porta-cts: --isolate-child=%d is not an open file descriptor\n",
                   flags.isolate_child);
      return porta_cts::kExitUsage;
    }
    // What a test printed must reach the parent's output even when the test then crashes.
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
  }
  int exit_code;
  if (flags.isolate && child == nullptr && !flags.help && !HasGtestFlag(argc, argv, "list_tests")) {
    if (HasGtestFlag(argc, argv, "repeat")) {
      std::fprintf(stderr, "porta-cts: --isolate does not combine with --gtest_repeat\n");
      return porta_cts::kExitUsage;
    }
    porta_cts::Results results(flags.junit);
    exit_code = porta_cts::RunIsolated(ChildArgs(flags, argc, argv), flags.test_timeout, &results);
  } else {
    exit_code = RunTests(flags, std::move(command_line), child);
  }
  env->devices.clear();
  if (env->runtime != nullptr) porta_runtime_destroy(env->runtime);
  env->runtime = nullptr;
  if (child != nullptr) std::fclose(child);
  return exit_code;
}
