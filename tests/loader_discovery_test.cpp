// Plugin discovery: the runtime options, PORTA_PLUGIN_PATH (files and folders), the flags that
// switch sources off, and the lifetime of loaded plugins.
#include <dlfcn.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "porta/porta.h"
#include "test_support.h"

namespace porta_test {
namespace {

namespace fs = std::filesystem;

using LoaderDiscoveryTest = LoaderTest;

// A fresh folder under the system's temporary directory, removed with its contents afterwards.
class TempFolder {
 public:
  TempFolder() {
    std::string pattern = (fs::temp_directory_path() / "porta_unit_XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempFolder() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Index of the report with |source| in the runtime's list, or -1.
int ReportIndex(porta_runtime_t runtime, const std::string& source) {
  std::vector<porta_backend_report_t> reports = Reports(runtime);
  for (size_t i = 0; i < reports.size(); ++i) {
    if (source == reports[i].source) return static_cast<int>(i);
  }
  return -1;
}

TEST_F(LoaderDiscoveryTest, OptionPathsLoadEveryColonSeparatedFile) {
  RuntimePtr runtime;
  std::string paths = std::string(PORTA_TEST_PLUGIN_GOOD) + ":" + PORTA_TEST_PLUGIN_ZERO_DEVICES +
                      ":" + PORTA_TEST_PLUGIN_OLD_MINOR;
  ASSERT_EQ(CreateRuntime({.plugin_paths = paths}, &runtime), PORTA_OK);
  EXPECT_EQ(Reports(runtime.get()).size(), 3u) << Diagnostics(runtime.get());
  int good = ReportIndex(runtime.get(), PORTA_TEST_PLUGIN_GOOD);
  int zero = ReportIndex(runtime.get(), PORTA_TEST_PLUGIN_ZERO_DEVICES);
  int old = ReportIndex(runtime.get(), PORTA_TEST_PLUGIN_OLD_MINOR);
  ASSERT_GE(good, 0);
  ASSERT_GE(zero, 0);
  ASSERT_GE(old, 0);
  EXPECT_LT(good, zero);
  EXPECT_LT(zero, old);
  std::vector<porta_device_t> devices = Devices(runtime.get());
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_STREQ(Info(devices[0]).backend, "good");
  EXPECT_STREQ(Info(devices[1]).backend, "old_minor");
}

TEST_F(LoaderDiscoveryTest, EnvironmentPathLoadsFiles) {
  ScopedEnv env("PORTA_PLUGIN_PATH",
                std::string(PORTA_TEST_PLUGIN_GOOD) + ":" + PORTA_TEST_PLUGIN_OLD_MINOR);
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.flags = PORTA_RUNTIME_NO_BUILTIN_BACKENDS}, &runtime), PORTA_OK);
  auto good = ReportBySource(runtime.get(), PORTA_TEST_PLUGIN_GOOD);
  auto old = ReportBySource(runtime.get(), PORTA_TEST_PLUGIN_OLD_MINOR);
  ASSERT_TRUE(good.has_value()) << Diagnostics(runtime.get());
  ASSERT_TRUE(old.has_value()) << Diagnostics(runtime.get());
  EXPECT_NE(good->loaded, 0);
  EXPECT_NE(old->loaded, 0);
  EXPECT_EQ(Devices(runtime.get()).size(), 2u);
  ExpectRoundTrip(FindDevice(runtime.get(), "good"), 64);
}

TEST_F(LoaderDiscoveryTest, EnvironmentPathFolderTriesEverySharedLibrary) {
  TempFolder folder;
  ASSERT_FALSE(folder.path().empty());
  fs::path good = folder.path() / "libporta_test_good.so";
  fs::copy_file(PORTA_TEST_PLUGIN_GOOD, good);
  // Not a shared object at all: must be reported, not crash the loader.
  fs::path garbage = folder.path() / "libgarbage.so";
  std::ofstream(garbage) << "this is not an ELF file\n";
  // Not named like a shared library: must not be tried.
  fs::path notes = folder.path() / "notes.txt";
  std::ofstream(notes) << "plugins live here\n";

  ScopedEnv env("PORTA_PLUGIN_PATH", folder.path().string());
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.flags = PORTA_RUNTIME_NO_BUILTIN_BACKENDS}, &runtime), PORTA_OK);
  std::string diagnostics = Diagnostics(runtime.get());

  auto good_report = ReportBySource(runtime.get(), good.string());
  ASSERT_TRUE(good_report.has_value()) << diagnostics;
  EXPECT_NE(good_report->loaded, 0) << good_report->reason;
  EXPECT_STREQ(good_report->name, "good");

  auto garbage_report = ReportBySource(runtime.get(), garbage.string());
  ASSERT_TRUE(garbage_report.has_value()) << diagnostics;
  EXPECT_EQ(garbage_report->loaded, 0);
  EXPECT_STRNE(garbage_report->reason, "");
  EXPECT_NE(diagnostics.find(garbage.string()), std::string::npos) << diagnostics;

  EXPECT_FALSE(ReportBySource(runtime.get(), notes.string()).has_value()) << diagnostics;
  EXPECT_EQ(Reports(runtime.get()).size(), 2u) << diagnostics;

  porta_device_t device = FindDevice(runtime.get(), "good");
  ASSERT_NE(device, nullptr);
  ExpectRoundTrip(device, 512);
}

// The build's plugin folder holds one plugin of every kind; each must end in its own state.
TEST_F(LoaderDiscoveryTest, OptionFolderLoadsEveryVariantIndependently) {
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_DIR}, &runtime), PORTA_OK);
  std::string diagnostics = Diagnostics(runtime.get());
  struct Expected {
    const char* path;
    bool loaded;
    uint32_t devices;
  };
  const Expected kExpected[] = {
      {PORTA_TEST_PLUGIN_GOOD, true, 1},         {PORTA_TEST_PLUGIN_MAJOR2, false, 0},
      {PORTA_TEST_PLUGIN_OLD_MINOR, true, 1},    {PORTA_TEST_PLUGIN_MISSING_REQUIRED, false, 0},
      {PORTA_TEST_PLUGIN_INIT_FAILS, false, 0},  {PORTA_TEST_PLUGIN_NO_ENTRY, false, 0},
      {PORTA_TEST_PLUGIN_ZERO_DEVICES, true, 0}, {PORTA_TEST_PLUGIN_SMALL_MEMORY, true, 1},
      {PORTA_TEST_PLUGIN_GRAPHS, true, 1},       {PORTA_TEST_PLUGIN_HOSTILE, true, 1},
      {PORTA_TEST_PLUGIN_FAULTY, true, 1},
  };
  for (const Expected& expected : kExpected) {
    // The runtime may spell the folder's entries differently (e.g. with a doubled slash), so
    // match on the file name.
    std::optional<porta_backend_report_t> report;
    for (const porta_backend_report_t& candidate : Reports(runtime.get())) {
      if (fs::path(candidate.source).filename() == fs::path(expected.path).filename()) {
        report = candidate;
      }
    }
    ASSERT_TRUE(report.has_value()) << expected.path << "\n" << diagnostics;
    EXPECT_EQ(report->loaded != 0, expected.loaded) << expected.path << ": " << report->reason;
    EXPECT_EQ(report->device_count, expected.devices) << expected.path;
    if (!expected.loaded || expected.devices == 0) {
      EXPECT_STRNE(report->reason, "") << expected.path;
    }
  }
  std::set<std::string> backends;
  for (porta_device_t device : Devices(runtime.get())) backends.insert(Info(device).backend);
  EXPECT_EQ(backends, (std::set<std::string>{"faulty", "good", "graphs", "hostile", "old_minor",
                                             "small_memory"}));
}

TEST_F(LoaderDiscoveryTest, EnvironmentPluginsComeBeforeOptionPlugins) {
  ScopedEnv env("PORTA_PLUGIN_PATH", PORTA_TEST_PLUGIN_GOOD);
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_OLD_MINOR,
                           .flags = PORTA_RUNTIME_NO_BUILTIN_BACKENDS},
                          &runtime),
            PORTA_OK);
  int good = ReportIndex(runtime.get(), PORTA_TEST_PLUGIN_GOOD);
  int old = ReportIndex(runtime.get(), PORTA_TEST_PLUGIN_OLD_MINOR);
  ASSERT_GE(good, 0) << Diagnostics(runtime.get());
  ASSERT_GE(old, 0) << Diagnostics(runtime.get());
  EXPECT_LT(good, old);
}

TEST_F(LoaderDiscoveryTest, IgnorePluginPathEnvFlagIsHonoured) {
  ScopedEnv env("PORTA_PLUGIN_PATH", PORTA_TEST_PLUGIN_GOOD);
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime(
                {.plugin_paths = PORTA_TEST_PLUGIN_OLD_MINOR,
                 .flags = PORTA_RUNTIME_NO_BUILTIN_BACKENDS | PORTA_RUNTIME_IGNORE_PLUGIN_PATH_ENV},
                &runtime),
            PORTA_OK);
  EXPECT_FALSE(ReportBySource(runtime.get(), PORTA_TEST_PLUGIN_GOOD).has_value())
      << Diagnostics(runtime.get());
  EXPECT_FALSE(ReportByName(runtime.get(), "good").has_value());
  EXPECT_EQ(FindDevice(runtime.get(), "good"), nullptr);
  EXPECT_NE(FindDevice(runtime.get(), "old_minor"), nullptr);
}

TEST_F(LoaderDiscoveryTest, NoBuiltinBackendsFlagIsHonoured) {
  const std::vector<std::string> builtins = BuiltinBackendNames();
  {
    RuntimePtr runtime;
    ASSERT_EQ(CreateRuntime({.flags = PORTA_RUNTIME_IGNORE_PLUGIN_PATH_ENV}, &runtime), PORTA_OK);
    std::set<std::string> found;
    for (const porta_backend_report_t& report : Reports(runtime.get())) {
      if (std::string(report.source) == "built-in") found.insert(report.name);
    }
    EXPECT_EQ(found, std::set<std::string>(builtins.begin(), builtins.end()))
        << Diagnostics(runtime.get());
  }
  {
    RuntimePtr runtime;
    ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_GOOD}, &runtime), PORTA_OK);
    for (const porta_backend_report_t& report : Reports(runtime.get())) {
      EXPECT_STRNE(report.source, "built-in") << report.name;
    }
    std::vector<porta_device_t> devices = Devices(runtime.get());
    ASSERT_EQ(devices.size(), 1u);
    EXPECT_STREQ(Info(devices[0]).backend, "good");
  }
}

TEST_F(LoaderDiscoveryTest, DiagnosticsTruncateSafely) {
  RuntimePtr runtime;
  std::string paths = std::string(PORTA_TEST_PLUGIN_GOOD) + ":" + PORTA_TEST_PLUGIN_INIT_FAILS;
  ASSERT_EQ(CreateRuntime({.plugin_paths = paths}, &runtime), PORTA_OK);
  std::string full = Diagnostics(runtime.get());
  ASSERT_GT(full.size(), 16u);
  size_t required = 0;
  ASSERT_EQ(porta_runtime_diagnostics(runtime.get(), nullptr, 0, &required), PORTA_OK);
  EXPECT_EQ(required, full.size() + 1);
  char small[17];
  std::memset(small, 'x', sizeof(small));
  ASSERT_EQ(porta_runtime_diagnostics(runtime.get(), small, sizeof(small), &required), PORTA_OK);
  EXPECT_EQ(required, full.size() + 1);
  EXPECT_EQ(small[16], '\0');
  EXPECT_EQ(std::string(small), full.substr(0, 16));
}

// The system plugin folder is <libporta's folder>/porta/plugins (where an installation's backend
// packages put their plugins), searched with the built-in backends and named in the diagnostics;
// without the built-in backends it is not searched. The build tree has none, so the line says
// so; tests/sdk/plugin_template_test.sh loads a plugin from an installed one.
TEST_F(LoaderDiscoveryTest, SystemPluginFolderIsBesideLibporta) {
  Dl_info info{};
  ASSERT_NE(dladdr(reinterpret_cast<void*>(&porta_runtime_create), &info), 0);
  ASSERT_NE(info.dli_fname, nullptr);
  const fs::path folder =
      fs::canonical(fs::path(info.dli_fname).parent_path()) / "porta" / "plugins";
  ASSERT_FALSE(fs::exists(folder)) << folder << " exists in the build tree";
  {
    RuntimePtr runtime;
    ASSERT_EQ(CreateRuntime({.flags = PORTA_RUNTIME_IGNORE_PLUGIN_PATH_ENV}, &runtime), PORTA_OK);
    EXPECT_NE(Diagnostics(runtime.get())
                  .find("system plugin folder " + folder.string() + ": not present\n"),
              std::string::npos)
        << Diagnostics(runtime.get());
  }
  {
    RuntimePtr runtime;
    ASSERT_EQ(CreateRuntime({.flags = PORTA_RUNTIME_NO_BUILTIN_BACKENDS}, &runtime), PORTA_OK);
    EXPECT_EQ(Diagnostics(runtime.get()).find("system plugin folder"), std::string::npos)
        << Diagnostics(runtime.get());
  }
}

// Objects outlive the runtime handle: the plugin must stay loaded until they are gone.
TEST_F(LoaderDiscoveryTest, BufferOutlivesRuntimeHandle) {
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_GOOD}, &runtime), PORTA_OK);
  porta_device_t device = FindDevice(runtime.get(), "good");
  ASSERT_NE(device, nullptr);
  porta_buffer_t buffer = nullptr;
  ASSERT_EQ(porta_buffer_alloc(device, 128, PORTA_MEMORY_HOST_VISIBLE, &buffer), PORTA_OK);
  void* mapped = nullptr;
  ASSERT_EQ(porta_buffer_map(buffer, 0, 128, &mapped), PORTA_OK) << porta_last_error_message();
  std::memset(mapped, 0x5a, 128);
  ASSERT_EQ(porta_buffer_unmap(buffer), PORTA_OK);

  runtime.reset();
  uint64_t size = 0;
  EXPECT_EQ(porta_buffer_size(buffer, &size), PORTA_OK) << porta_last_error_message();
  EXPECT_EQ(size, 128u);
  ASSERT_EQ(porta_buffer_map(buffer, 64, 64, &mapped), PORTA_OK) << porta_last_error_message();
  EXPECT_EQ(static_cast<const uint8_t*>(mapped)[63], 0x5a);
  EXPECT_EQ(porta_buffer_unmap(buffer), PORTA_OK);
  EXPECT_EQ(porta_buffer_free(buffer), PORTA_OK) << porta_last_error_message();
}

// Two runtimes load the same file; tearing one down must not unload it under the other.
TEST_F(LoaderDiscoveryTest, TwoRuntimesShareAPluginIndependently) {
  RuntimePtr first;
  RuntimePtr second;
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_GOOD}, &first), PORTA_OK);
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_GOOD}, &second), PORTA_OK);
  porta_device_t first_device = FindDevice(first.get(), "good");
  porta_device_t second_device = FindDevice(second.get(), "good");
  ASSERT_NE(first_device, nullptr);
  ASSERT_NE(second_device, nullptr);
  EXPECT_NE(first_device, second_device);
  first.reset();
  ExpectRoundTrip(second_device, 2048);
}

#ifdef PORTA_TEST_PLUGIN_CPU
TEST_F(LoaderDiscoveryTest, CpuBackendAsPluginGivesAWorkingCpuDevice) {
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_CPU}, &runtime), PORTA_OK);
  auto report = ReportBySource(runtime.get(), PORTA_TEST_PLUGIN_CPU);
  ASSERT_TRUE(report.has_value()) << Diagnostics(runtime.get());
  EXPECT_STREQ(report->name, "cpu");
  EXPECT_NE(report->loaded, 0) << report->reason;
  EXPECT_EQ(report->abi_major, 1u);
  EXPECT_GE(report->device_count, 1u);

  std::vector<porta_device_t> devices = Devices(runtime.get());
  ASSERT_GE(devices.size(), 1u) << Diagnostics(runtime.get());
  porta_device_info_t info = Info(devices[0]);
  EXPECT_STREQ(info.backend, "cpu");
  EXPECT_EQ(info.type, PORTA_DEVICE_TYPE_CPU);
  EXPECT_NE(info.kernel_formats & PORTA_FORMAT_BIT(PORTA_FORMAT_HOST), 0u);
  ExpectRoundTrip(devices[0], 1 << 20);
}
#endif

}  // namespace
}  // namespace porta_test
