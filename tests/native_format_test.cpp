// PORTA_FORMAT_NATIVE in the runtime, against the native test plugin (MINI_NATIVE), whose device
// runs the byte-code of tests/plugins/mini_native.h under the tags PORTA_TEST_NATIVE_TAGS names:
// the runtime cleans the tags a plugin declares, matches a source's tag against them, takes the
// first source that fits, refuses a foreign tag naming both sides, and hands the binary over.
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "porta/porta.h"
#include "test_support.h"
#include "tests/plugins/mini_native.h"

namespace porta_test {
namespace {

struct ModuleDeleter {
  void operator()(porta_module* module) const { porta_module_destroy(module); }
};
using ModulePtr = std::unique_ptr<porta_module, ModuleDeleter>;

class NativeFormatTest : public LoaderTest {
 protected:
  // Creates the runtime with the native plugin alone and finds its device.
  void Open() {
    ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_NATIVE}, &runtime_), PORTA_OK)
        << porta_last_error_message();
    device_ = FindDevice(runtime_.get(), "native");
    ASSERT_NE(device_, nullptr) << Diagnostics(runtime_.get());
    info_ = Info(device_);
  }

  std::string Reason() {
    const auto report = ReportByName(runtime_.get(), "native");
    return report ? report->reason : "(no report)";
  }

  std::vector<std::string> Tags() const {
    std::vector<std::string> tags;
    for (uint32_t i = 0; i < info_.native_tag_count; ++i) tags.emplace_back(info_.native_tags[i]);
    return tags;
  }

  porta_status_t Load(const std::vector<porta_module_source_t>& sources, ModulePtr* module) {
    porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
    desc.sources = sources.data();
    desc.source_count = static_cast<uint32_t>(sources.size());
    porta_module_t raw = nullptr;
    const porta_status_t status = porta_module_load(device_, &desc, &raw);
    module->reset(raw);
    return status;
  }

  RuntimePtr runtime_;
  porta_device_t device_ = nullptr;
  porta_device_info_t info_ = PORTA_DEVICE_INFO_INIT;
};

porta_module_source_t Source(const std::vector<uint8_t>& bytes) {
  porta_module_source_t source = {};
  source.format = PORTA_FORMAT_NATIVE;
  source.data = bytes.data();
  source.size = bytes.size();
  return source;
}

mini_native::Kernel TestKernel(const std::string& name) {
  for (const mini_native::Kernel& kernel : mini_native::TestKernels()) {
    if (kernel.name == name) return kernel;
  }
  ADD_FAILURE() << "no test kernel " << name;
  return {};
}

// Runs vector_add of |module| on 300 elements in blocks of 64 and checks c = a + b; returns the
// synchronize status.
porta_status_t RunVectorAdd(porta_device_t device, porta_module_t module) {
  constexpr uint32_t kN = 300;
  porta_kernel_t kernel = nullptr;
  EXPECT_EQ(porta_module_get_kernel(module, "vector_add", &kernel), PORTA_OK)
      << porta_last_error_message();
  std::vector<float> a(kN), b(kN), c(kN, -1.0f);
  for (uint32_t i = 0; i < kN; ++i) {
    a[i] = static_cast<float>(i) * 0.5f;
    b[i] = 100.0f - static_cast<float>(i);
  }
  porta_stream_t raw_stream = nullptr;
  EXPECT_EQ(porta_stream_create(device, &raw_stream), PORTA_OK);
  StreamPtr stream(raw_stream);
  porta_buffer_t raw[3] = {};
  for (porta_buffer_t& buffer : raw) {
    EXPECT_EQ(porta_buffer_alloc(device, kN * 4, PORTA_MEMORY_DEVICE, &buffer), PORTA_OK);
  }
  BufferPtr buffers[3] = {BufferPtr(raw[0]), BufferPtr(raw[1]), BufferPtr(raw[2])};
  EXPECT_EQ(porta_copy_host_to_device(stream.get(), raw[0], 0, a.data(), kN * 4), PORTA_OK);
  EXPECT_EQ(porta_copy_host_to_device(stream.get(), raw[1], 0, b.data(), kN * 4), PORTA_OK);
  const uint32_t n = kN;
  const porta_kernel_arg_t args[] = {porta_arg_buffer(raw[0], 0), porta_arg_buffer(raw[1], 0),
                                     porta_arg_buffer(raw[2], 0), porta_arg_scalar(&n, 4)};
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.block[0] = 64;
  config.grid[0] = (kN + 63) / 64;
  EXPECT_EQ(porta_kernel_launch(stream.get(), kernel, &config, args, 4), PORTA_OK)
      << porta_last_error_message();
  EXPECT_EQ(porta_copy_device_to_host(stream.get(), c.data(), raw[2], 0, kN * 4), PORTA_OK);
  const porta_status_t status = porta_stream_synchronize(stream.get());
  if (status == PORTA_OK) {
    for (uint32_t i = 0; i < kN; ++i) {
      if (c[i] != a[i] + b[i]) {
        ADD_FAILURE() << "element " << i << ": " << c[i] << " != " << a[i] + b[i];
        break;
      }
    }
  }
  return status;
}

TEST_F(NativeFormatTest, DeviceDeclaresItsTagAndTheFormat) {
  Open();
  EXPECT_EQ(Tags(), std::vector<std::string>{mini_native::kTag});
  EXPECT_NE(info_.kernel_formats & PORTA_FORMAT_BIT(PORTA_FORMAT_NATIVE), 0u);
  EXPECT_NE(info_.kernel_formats & PORTA_FORMAT_BIT(PORTA_FORMAT_HOST), 0u);
  EXPECT_STREQ(Reason().c_str(), "");
  // A caller built before the tags existed gets the fields it knows, and nothing past them.
  std::vector<unsigned char> bytes(sizeof(porta_device_info_t), 0xcd);
  const size_t old_size = offsetof(porta_device_info_t, native_tags);
  std::memcpy(bytes.data(), &old_size, sizeof(old_size));
  ASSERT_EQ(porta_device_get_info(device_, reinterpret_cast<porta_device_info_t*>(bytes.data())),
            PORTA_OK);
  for (size_t i = old_size; i < bytes.size(); ++i) ASSERT_EQ(bytes[i], 0xcd) << "byte " << i;
}

TEST_F(NativeFormatTest, MatchingTagLoadsAndRuns) {
  Open();
  const std::vector<uint8_t> binary =
      mini_native::Encode(mini_native::TestKernels(), mini_native::kTag);
  const char* const entries[] = {"vector_add", "scale_add", "index_2d"};
  porta_module_source_t source = Source(binary);
  source.entry_names = entries;
  source.entry_count = 3;
  ModulePtr module;
  ASSERT_EQ(Load({source}, &module), PORTA_OK) << porta_last_error_message();
  EXPECT_EQ(RunVectorAdd(device_, module.get()), PORTA_OK) << porta_last_error_message();
  char tag[PORTA_NATIVE_TAG_SIZE] = {};
  ASSERT_EQ(porta_native_binary_tag(binary.data(), binary.size(), tag), PORTA_OK);
  EXPECT_STREQ(tag, mini_native::kTag);
}

TEST_F(NativeFormatTest, FirstSourceThatFitsWins) {
  ScopedEnv tags("PORTA_TEST_NATIVE_TAGS", "porta-mini:bc1,porta-mini:bc0");
  Open();
  ASSERT_EQ(Tags(), (std::vector<std::string>{"porta-mini:bc1", "porta-mini:bc0"}));
  // A foreign binary first (never handed over: its payload is not even byte-code), then two the
  // device runs, with different kernels so that the one chosen shows.
  const std::vector<uint8_t> foreign = mini_native::Encode({}, "acme-npu2:v3");
  const std::vector<uint8_t> bc0 = mini_native::Encode({TestKernel("scale_add")}, "porta-mini:bc0");
  const std::vector<uint8_t> bc1 =
      mini_native::Encode({TestKernel("vector_add")}, "porta-mini:bc1");
  ModulePtr module;
  ASSERT_EQ(Load({Source(foreign), Source(bc0), Source(bc1)}, &module), PORTA_OK)
      << porta_last_error_message();
  porta_kernel_t kernel = nullptr;
  EXPECT_EQ(porta_module_get_kernel(module.get(), "scale_add", &kernel), PORTA_OK);
  EXPECT_EQ(porta_module_get_kernel(module.get(), "vector_add", &kernel), PORTA_ERROR_NOT_FOUND);
  ASSERT_EQ(Load({Source(foreign), Source(bc1), Source(bc0)}, &module), PORTA_OK);
  EXPECT_EQ(RunVectorAdd(device_, module.get()), PORTA_OK) << porta_last_error_message();
}

TEST_F(NativeFormatTest, ForeignTagIsUnsupportedNamingBothSides) {
  Open();
  const std::vector<uint8_t> foreign =
      mini_native::Encode({TestKernel("vector_add")}, "porta-mini:bc9");
  const char source_text[] = "__kernel void k() {}";
  porta_module_source_t opencl = {};
  opencl.format = PORTA_FORMAT_OPENCL_C;
  opencl.data = source_text;
  opencl.size = sizeof(source_text) - 1;
  ModulePtr module;
  EXPECT_EQ(Load({Source(foreign), opencl}, &module), PORTA_ERROR_UNSUPPORTED);
  EXPECT_EQ(module, nullptr);
  const std::string message = porta_last_error_message();
  EXPECT_NE(message.find("accepts kernel formats [host, native] with native tags "
                         "[porta-mini:bc1]; the module offers only [native (tag porta-mini:bc9), "
                         "opencl-c]"),
            std::string::npos)
      << message;
}

TEST_F(NativeFormatTest, DeviceWithoutTagsRunsNoNativeBinary) {
  // The plugin sets the format's bit but lists no tag: the runtime clears the bit.
  ScopedEnv tags("PORTA_TEST_NATIVE_TAGS", "");
  Open();
  EXPECT_EQ(info_.native_tag_count, 0u);
  EXPECT_EQ(info_.kernel_formats & PORTA_FORMAT_BIT(PORTA_FORMAT_NATIVE), 0u);
  const std::vector<uint8_t> binary =
      mini_native::Encode({TestKernel("vector_add")}, mini_native::kTag);
  ModulePtr module;
  EXPECT_EQ(Load({Source(binary)}, &module), PORTA_ERROR_UNSUPPORTED);
  const std::string message = porta_last_error_message();
  EXPECT_NE(message.find("accepts kernel formats [host] and no native tags"), std::string::npos)
      << message;
}

TEST_F(NativeFormatTest, MalformedAndRepeatedTagsAreDroppedWithANote) {
  const std::string unterminated(PORTA_NATIVE_TAG_SIZE, 'u');
  ScopedEnv tags("PORTA_TEST_NATIVE_TAGS",
                 "porta-mini:bc1,bad tag,,porta-mini:bc1," + unterminated + ",porta-mini:bc0");
  Open();
  EXPECT_EQ(Tags(), (std::vector<std::string>{"porta-mini:bc1", "porta-mini:bc0"}));
  EXPECT_NE(info_.kernel_formats & PORTA_FORMAT_BIT(PORTA_FORMAT_NATIVE), 0u);
  const std::string reason = Reason();
  for (const char* part :
       {"device 0's native_tags[1] has ' ' at position 3", "native_tags[2] is empty",
        "native_tags[3] \"porta-mini:bc1\" repeats an earlier tag",
        "native_tags[4] is not NUL-terminated within its 56 bytes"}) {
    EXPECT_NE(reason.find(part), std::string::npos) << part << "\nin: " << reason;
  }
  // Every byte after the tags kept is zero, whatever the plugin wrote there.
  for (uint32_t i = 2; i < PORTA_MAX_NATIVE_TAGS; ++i) {
    for (char c : info_.native_tags[i]) ASSERT_EQ(c, '\0') << "native_tags[" << i << "]";
  }
}

TEST_F(NativeFormatTest, TagCountBeyondTheArrayIsCut) {
  ScopedEnv count("PORTA_TEST_NATIVE_TAG_COUNT", "1000");
  Open();
  EXPECT_EQ(Tags(), std::vector<std::string>{mini_native::kTag});
  const std::string reason = Reason();
  EXPECT_NE(reason.find("declared native_tag_count 1000, more than PORTA_MAX_NATIVE_TAGS (8)"),
            std::string::npos)
      << reason;
}

TEST_F(NativeFormatTest, MalformedByteCodeIsABuildFailure) {
  Open();
  std::vector<uint8_t> binary = mini_native::Encode({TestKernel("vector_add")}, mini_native::kTag);
  std::vector<uint8_t> bad_magic = binary;
  bad_magic[sizeof(porta_native_header_t)] = 'X';
  mini_native::Kernel bad_register = TestKernel("vector_add");
  bad_register.code[0].a = 16;
  ModulePtr module;
  EXPECT_EQ(Load({Source(bad_magic)}, &module), PORTA_ERROR_BUILD_FAILED);
  EXPECT_NE(std::string(porta_last_error_message()).find("does not start with \"MBC1\""),
            std::string::npos)
      << porta_last_error_message();
  EXPECT_EQ(Load({Source(mini_native::Encode({bad_register}, mini_native::kTag))}, &module),
            PORTA_ERROR_BUILD_FAILED);
  EXPECT_NE(std::string(porta_last_error_message()).find("instruction 0"), std::string::npos)
      << porta_last_error_message();
}

TEST_F(NativeFormatTest, NativeKernelsCheckTheirArgumentsAndFaultStickily) {
  Open();
  const std::vector<uint8_t> binary =
      mini_native::Encode({TestKernel("vector_add"), TestKernel("fault")}, mini_native::kTag);
  ModulePtr module;
  ASSERT_EQ(Load({Source(binary)}, &module), PORTA_OK) << porta_last_error_message();
  porta_kernel_t vector_add = nullptr;
  porta_kernel_t fault = nullptr;
  ASSERT_EQ(porta_module_get_kernel(module.get(), "vector_add", &vector_add), PORTA_OK);
  ASSERT_EQ(porta_module_get_kernel(module.get(), "fault", &fault), PORTA_OK);
  porta_stream_t raw_stream = nullptr;
  ASSERT_EQ(porta_stream_create(device_, &raw_stream), PORTA_OK);
  StreamPtr stream(raw_stream);
  porta_buffer_t raw_buffer = nullptr;
  ASSERT_EQ(porta_buffer_alloc(device_, 64, PORTA_MEMORY_DEVICE, &raw_buffer), PORTA_OK);
  BufferPtr buffer(raw_buffer);
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  // The signature is the kernel's own: three arguments for four is the plugin's refusal.
  const porta_kernel_arg_t short_args[] = {porta_arg_buffer(raw_buffer, 0),
                                           porta_arg_buffer(raw_buffer, 0),
                                           porta_arg_buffer(raw_buffer, 0)};
  EXPECT_EQ(porta_kernel_launch(stream.get(), vector_add, &config, short_args, 3),
            PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(porta_last_error_message()).find("takes 4 arguments"), std::string::npos)
      << porta_last_error_message();
  // n = 100 words in a 64-byte buffer: the store past its end faults, sticky on the stream.
  const uint32_t n = 100;
  const porta_kernel_arg_t args[] = {porta_arg_buffer(raw_buffer, 0),
                                     porta_arg_buffer(raw_buffer, 0),
                                     porta_arg_buffer(raw_buffer, 0), porta_arg_scalar(&n, 4)};
  config.block[0] = 128;
  ASSERT_EQ(porta_kernel_launch(stream.get(), vector_add, &config, args, 4), PORTA_OK);
  EXPECT_EQ(porta_stream_synchronize(stream.get()), PORTA_ERROR_DEVICE_LOST);
  EXPECT_NE(std::string(porta_last_error_message())
                .find("load from word 16 of argument 0, past its 64 bytes"),
            std::string::npos)
      << porta_last_error_message();

  porta_stream_t raw_other = nullptr;
  ASSERT_EQ(porta_stream_create(device_, &raw_other), PORTA_OK);
  StreamPtr other(raw_other);
  config.block[0] = 1;
  ASSERT_EQ(porta_kernel_launch(other.get(), fault, &config, args, 1), PORTA_OK);
  EXPECT_EQ(porta_stream_synchronize(other.get()), PORTA_ERROR_DEVICE_LOST);
  EXPECT_NE(
      std::string(porta_last_error_message()).find("returned 7 in work-group (0, 0, 0): trap 7"),
      std::string::npos)
      << porta_last_error_message();
}

TEST(NativeBinaryTagTest, RefusesNullAndReadsAValidHeader) {
  EXPECT_EQ(porta_native_binary_tag(nullptr, 100, nullptr), PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(porta_last_error_message()).find("data is NULL"), std::string::npos);
  const std::vector<uint8_t> binary = mini_native::Encode({}, "a.b_c:d+e-f");
  char tag[PORTA_NATIVE_TAG_SIZE];
  ASSERT_EQ(porta_native_binary_tag(binary.data(), binary.size(), tag), PORTA_OK);
  EXPECT_STREQ(tag, "a.b_c:d+e-f");
  // The longest tag, 55 characters, fills the field but for its NUL.
  const std::string longest(PORTA_NATIVE_TAG_SIZE - 1, 'z');
  const std::vector<uint8_t> full = mini_native::Encode({}, longest.c_str());
  ASSERT_EQ(porta_native_binary_tag(full.data(), full.size(), tag), PORTA_OK);
  EXPECT_EQ(std::string(tag), longest);
}

}  // namespace
}  // namespace porta_test
