// The device filter (PORTA_DEVICES / porta_runtime_options_t.device_filter): selection by
// backend name and index, ordering, precedence of the option over the environment, and errors.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "porta/porta.h"
#include "test_support.h"

namespace porta_test {
namespace {

// Runtimes here see the good plugin with two devices and the old_minor plugin with one.
class DeviceFilterTest : public LoaderTest {
 protected:
  porta_status_t Create(std::optional<std::string> filter, RuntimePtr* out,
                        uint32_t flags = PORTA_RUNTIME_NO_BUILTIN_BACKENDS |
                                         PORTA_RUNTIME_IGNORE_PLUGIN_PATH_ENV) {
    return CreateRuntime(
        {.plugin_paths = std::string(PORTA_TEST_PLUGIN_GOOD) + ":" + PORTA_TEST_PLUGIN_OLD_MINOR,
         .device_filter = std::move(filter),
         .flags = flags},
        out);
  }

  // "backend:index" of every visible device, in order.
  static std::vector<std::string> Visible(porta_runtime_t runtime) {
    std::vector<std::string> names;
    for (porta_device_t device : Devices(runtime)) {
      porta_device_info_t info = Info(device);
      names.push_back(std::string(info.backend) + ":" + std::to_string(info.backend_device_index));
    }
    return names;
  }

  std::vector<std::string> VisibleWith(const std::string& filter) {
    RuntimePtr runtime;
    porta_status_t status = Create(filter, &runtime);
    EXPECT_EQ(status, PORTA_OK) << filter << ": " << porta_last_error_message();
    if (status != PORTA_OK) return {};
    return Visible(runtime.get());
  }

 private:
  ScopedEnv two_good_devices_{"PORTA_TEST_GOOD_DEVICES", "2"};
};

using Names = std::vector<std::string>;

TEST_F(DeviceFilterTest, EmptyFilterShowsEveryDevice) {
  EXPECT_EQ(VisibleWith(""), (Names{"good:0", "good:1", "old_minor:0"}));
}

TEST_F(DeviceFilterTest, SelectsOneDeviceByIndex) {
  EXPECT_EQ(VisibleWith("good:0"), (Names{"good:0"}));
  EXPECT_EQ(VisibleWith("good:1"), (Names{"good:1"}));
  EXPECT_EQ(VisibleWith("old_minor:0"), (Names{"old_minor:0"}));
}

TEST_F(DeviceFilterTest, WildcardAndBareNameSelectEveryDeviceOfABackend) {
  EXPECT_EQ(VisibleWith("good:*"), (Names{"good:0", "good:1"}));
  EXPECT_EQ(VisibleWith("good"), (Names{"good:0", "good:1"}));
}

TEST_F(DeviceFilterTest, OrderFollowsTheFilter) {
  EXPECT_EQ(VisibleWith("old_minor,good"), (Names{"old_minor:0", "good:0", "good:1"}));
  EXPECT_EQ(VisibleWith("good,old_minor"), (Names{"good:0", "good:1", "old_minor:0"}));
  EXPECT_EQ(VisibleWith("good:1,old_minor:*,good:0"), (Names{"good:1", "old_minor:0", "good:0"}));
}

TEST_F(DeviceFilterTest, FilterDoesNotChangeWhatBackendsFound) {
  RuntimePtr runtime;
  ASSERT_EQ(Create("old_minor", &runtime), PORTA_OK) << porta_last_error_message();
  EXPECT_EQ(Visible(runtime.get()), (Names{"old_minor:0"}));
  auto good = ReportByName(runtime.get(), "good");
  ASSERT_TRUE(good.has_value());
  EXPECT_NE(good->loaded, 0);
  EXPECT_EQ(good->device_count, 2u);
  porta_device_t device = nullptr;
  EXPECT_EQ(porta_runtime_device(runtime.get(), 1, &device), PORTA_ERROR_OUT_OF_RANGE);
}

TEST_F(DeviceFilterTest, BuiltinCpuOrdersWithPlugins) {
  std::vector<std::string> builtins = BuiltinBackendNames();
  if (std::find(builtins.begin(), builtins.end(), "cpu") == builtins.end()) {
    GTEST_SKIP() << "this build links no built-in cpu backend";
  }
  RuntimePtr runtime;
  ASSERT_EQ(Create("cpu,good", &runtime, PORTA_RUNTIME_IGNORE_PLUGIN_PATH_ENV), PORTA_OK)
      << porta_last_error_message();
  Names visible = Visible(runtime.get());
  ASSERT_GE(visible.size(), 3u) << Diagnostics(runtime.get());
  EXPECT_EQ(visible.front().rfind("cpu:", 0), 0u) << visible.front();
  EXPECT_EQ(Names(visible.end() - 2, visible.end()), (Names{"good:0", "good:1"}));
  EXPECT_EQ(FindDevice(runtime.get(), "old_minor"), nullptr);

  ASSERT_EQ(Create("good:1,cpu", &runtime, PORTA_RUNTIME_IGNORE_PLUGIN_PATH_ENV), PORTA_OK);
  visible = Visible(runtime.get());
  ASSERT_GE(visible.size(), 2u);
  EXPECT_EQ(visible.front(), "good:1");
  EXPECT_EQ(visible.back().rfind("cpu:", 0), 0u) << visible.back();
}

TEST_F(DeviceFilterTest, EnvironmentFilterAppliesWhenOptionIsNull) {
  ScopedEnv env("PORTA_DEVICES", "good:1");
  RuntimePtr runtime;
  ASSERT_EQ(Create(std::nullopt, &runtime), PORTA_OK) << porta_last_error_message();
  EXPECT_EQ(Visible(runtime.get()), (Names{"good:1"}));
}

TEST_F(DeviceFilterTest, OptionOverridesEnvironmentFilter) {
  ScopedEnv env("PORTA_DEVICES", "good:1");
  EXPECT_EQ(VisibleWith("old_minor"), (Names{"old_minor:0"}));
  // An empty option means "no filter", not "use the environment".
  EXPECT_EQ(VisibleWith(""), (Names{"good:0", "good:1", "old_minor:0"}));
}

// Names are case-insensitive and spaces around entries do not count; a device type selects by
// type; every entry that matches nothing is named in the diagnostics with the reason, quoting at
// most a bounded prefix of what was written.
TEST_F(DeviceFilterTest, UnmatchedEntriesAreNamedWithTheReason) {
  const std::string huge(5000, 'q');
  RuntimePtr runtime;
  ASSERT_EQ(Create("good:5, nosuch ,GOOD:0, old_minor ,accelerator:1,gpu," + huge, &runtime),
            PORTA_OK)
      << porta_last_error_message();
  EXPECT_EQ(Visible(runtime.get()), (Names{"good:0", "old_minor:0", "good:1"}));
  const std::string text = Diagnostics(runtime.get());
  EXPECT_NE(text.find("\"good:5\" matched no device: backend good has 2 device(s), so index 5 "
                      "does not exist"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\"nosuch\" matched no device: no backend named \"nosuch\""),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\"gpu\" matched no device: no device has type gpu"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("GOOD:0"), std::string::npos) << text;
  EXPECT_EQ(text.find("accelerator:1\""), std::string::npos) << text;
  EXPECT_NE(text.find("(5000 characters)"), std::string::npos) << text;
  EXPECT_LT(text.size(), 2000u) << text;
}

TEST_F(DeviceFilterTest, MalformedFilterIsRejectedWithMessage) {
  // Each case, and the text the message must quote so the user can find the mistake.
  const std::pair<const char*, const char*> kCases[] = {
      {"good:abc", "abc"},
      {"good:1x", "1x"},
      {"good:-1", "-1"},
      {"good:", "good:"},
  };
  for (const auto& [filter, quoted] : kCases) {
    porta_runtime_t runtime = nullptr;
    porta_runtime_options_t options = PORTA_RUNTIME_OPTIONS_INIT;
    options.plugin_paths = PORTA_TEST_PLUGIN_GOOD;
    options.device_filter = filter;
    options.flags = PORTA_RUNTIME_NO_BUILTIN_BACKENDS | PORTA_RUNTIME_IGNORE_PLUGIN_PATH_ENV;
    porta_status_t status = porta_runtime_create(&options, &runtime);
    EXPECT_EQ(status, PORTA_ERROR_INVALID_ARGUMENT) << filter;
    if (status == PORTA_OK) {
      porta_runtime_destroy(runtime);
      continue;
    }
    std::string message = porta_last_error_message();
    EXPECT_NE(message.find(quoted), std::string::npos) << filter << ": " << message;
  }
}

TEST_F(DeviceFilterTest, MalformedEnvironmentFilterIsRejected) {
  ScopedEnv env("PORTA_DEVICES", "good:zero");
  RuntimePtr runtime;
  EXPECT_EQ(Create(std::nullopt, &runtime), PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(porta_last_error_message()).find("zero"), std::string::npos)
      << porta_last_error_message();
  EXPECT_EQ(runtime, nullptr);
}

}  // namespace
}  // namespace porta_test
