// Tests of the Vulkan backend through its ABI table alone (no runtime): discovery without a
// loader or a driver, the on-disk pipeline cache, the copy, fill and event paths with and
// without forced staging, texel views of buffer arguments, and native graphs (recorded replays
// and argument updates).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "porta/porta_backend.h"
#include "porta/sdk/backend_test_support.h"

extern const unsigned char porta_vulkan_test_accumulate_spv[];
extern const std::size_t porta_vulkan_test_accumulate_spv_size;
extern const unsigned char porta_vulkan_test_texel_view_spv[];
extern const std::size_t porta_vulkan_test_texel_view_spv_size;
extern const unsigned char porta_vulkan_test_texel_view_required_spv[];
extern const std::size_t porta_vulkan_test_texel_view_required_spv_size;
extern const unsigned char porta_vulkan_test_texel_view_misplaced_spv[];
extern const std::size_t porta_vulkan_test_texel_view_misplaced_spv_size;

extern "C" porta_status_t porta_vulkan_backend_entry(const porta_backend_host_t* host,
                                                     const porta_backend_table_t** out_table,
                                                     porta_be_msg msg);

namespace {

using porta::test::ScopedEnv;

// One initialized backend with its log captured.
class Session {
 public:
  explicit Session(const std::string& cache_dir = "") : cache_dir_(cache_dir) {
    message_.text = text_;
    message_.capacity = sizeof(text_);
    host_.struct_size = sizeof(host_);
    host_.abi_major = PORTA_BACKEND_ABI_MAJOR;
    host_.abi_minor = PORTA_BACKEND_ABI_MINOR;
    host_.porta_version = "test";
    host_.cache_dir = cache_dir_.empty() ? nullptr : cache_dir_.c_str();
    host_.log = [](void* user, int /*level*/, const char* text) {
      auto* self = static_cast<Session*>(user);
      std::lock_guard<std::mutex> lock(self->log_mutex_);
      self->log_ += text;
      self->log_ += "\n";
    };
    host_.log_user = this;
    EXPECT_EQ(porta_vulkan_backend_entry(&host_, &table_, &message_), PORTA_OK);
    EXPECT_EQ(table_->init(&host_, &backend_, &message_), PORTA_OK) << text_;
    text_[0] = '\0';
    EXPECT_EQ(table_->device_count(backend_, &device_count_, &message_), PORTA_OK);
    reason_ = text_;
  }
  ~Session() {
    if (device_ != nullptr) table_->device_close(device_);
    table_->shutdown(backend_);
  }

  porta_be_device_t OpenDevice() {
    EXPECT_EQ(table_->device_open(backend_, 0, &device_, &message_), PORTA_OK) << text_;
    return device_;
  }
  void CloseDevice() {
    table_->device_close(device_);
    device_ = nullptr;
  }

  const porta_backend_table_t* t() const { return table_; }
  porta_be_msg msg() { return &message_; }
  const char* text() const { return text_; }
  uint32_t device_count() const { return device_count_; }
  const std::string& reason() const { return reason_; }
  std::string log() {
    std::lock_guard<std::mutex> lock(log_mutex_);
    return log_;
  }

 private:
  std::string cache_dir_;
  porta_backend_host_t host_{};
  const porta_backend_table_t* table_ = nullptr;
  porta_be_backend_t backend_ = nullptr;
  porta_be_device_t device_ = nullptr;
  char text_[8192] = {};
  porta_be_message_t message_{};
  uint32_t device_count_ = 0;
  std::string reason_;
  std::mutex log_mutex_;
  std::string log_;
};

TEST(VulkanBackend, EntryServesACompleteTable) {
  porta::test::ExpectCompleteTable(porta_vulkan_backend_entry, "vulkan");
  porta::test::ExpectRefusesOtherMajor(porta_vulkan_backend_entry);
}

TEST(VulkanDiscovery, NoLoaderMeansZeroDevicesWithAReason) {
  ScopedEnv library("PORTA_VULKAN_LIBRARY", "/nonexistent/libvulkan.so.1");
  Session session;
  EXPECT_EQ(session.device_count(), 0u);
  EXPECT_NE(session.reason().find("loader could not be opened"), std::string::npos)
      << session.reason();
  EXPECT_NE(session.reason().find("/nonexistent/libvulkan.so.1"), std::string::npos);
}

TEST(VulkanDiscovery, NoDriverMeansZeroDevicesWithAReason) {
  // Both spellings: older loaders read VK_ICD_FILENAMES, newer ones prefer VK_DRIVER_FILES.
  ScopedEnv icd("VK_ICD_FILENAMES", "/nonexistent/porta_no_driver.json");
  ScopedEnv driver("VK_DRIVER_FILES", "/nonexistent/porta_no_driver.json");
  Session session;
  EXPECT_EQ(session.device_count(), 0u);
  // Loaders differ in which call finds no driver (vkCreateInstance or the device enumeration);
  // the reason says the same either way.
  EXPECT_NE(session.reason().find("no Vulkan driver: none is installed, or VK_ICD_FILENAMES / "
                                  "VK_DRIVER_FILES names none"),
            std::string::npos)
      << session.reason();
}

TEST(VulkanDiscovery, DeviceInfoIsFilled) {
  Session session;
  if (session.device_count() == 0) GTEST_SKIP() << "no Vulkan device: " << session.reason();
  porta_be_device_t device = session.OpenDevice();
  porta_device_info_t info{};
  info.struct_size = sizeof(info);
  ASSERT_EQ(session.t()->device_get_info(device, &info, session.msg()), PORTA_OK);
  EXPECT_STREQ(info.backend, "vulkan");
  EXPECT_GT(std::strlen(info.name), 0u);
  EXPECT_GT(std::strlen(info.driver_version), 0u);
  EXPECT_GT(info.global_memory_bytes, 0u);
  EXPECT_GT(info.max_allocation_bytes, 0u);
  EXPECT_GE(info.max_work_group_size, 128u);  // Vulkan's guaranteed minimum
  EXPECT_GE(info.local_memory_bytes, 16384u);
  EXPECT_GE(info.subgroup_size_count, 1u);
  EXPECT_EQ(info.kernel_formats, PORTA_FORMAT_BIT(PORTA_FORMAT_SPIRV_SHADER));
  EXPECT_TRUE(info.capabilities & PORTA_CAP_HOST_VISIBLE_MEMORY);
}

// Exercises copies, fills and events on device 0 and checks every byte against a host model.
void RunCopyAndFill(Session& session) {
  const porta_backend_table_t* t = session.t();
  porta_be_device_t device = session.OpenDevice();
  porta_be_stream_t stream = nullptr;
  ASSERT_EQ(t->stream_create(device, &stream, session.msg()), PORTA_OK) << session.text();
  constexpr uint64_t kSize = 4096;
  porta_be_buffer_t a = nullptr;
  porta_be_buffer_t b = nullptr;
  ASSERT_EQ(t->buffer_alloc(device, kSize, PORTA_MEMORY_DEVICE, &a, session.msg()), PORTA_OK);
  ASSERT_EQ(t->buffer_alloc(device, kSize, PORTA_MEMORY_HOST_VISIBLE, &b, session.msg()), PORTA_OK);

  std::vector<uint8_t> model(kSize);
  for (uint64_t i = 0; i < kSize; ++i) model[i] = static_cast<uint8_t>(i * 7 + 1);
  ASSERT_EQ(t->copy_host_to_device(stream, a, 0, model.data(), kSize, session.msg()), PORTA_OK);
  struct Fill {
    uint64_t offset;
    uint64_t size;
    uint32_t pattern;
    uint32_t pattern_size;
  };
  const Fill fills[] = {{1, 1, 0xab, 1},    {5, 2, 0xcd, 1},     {9, 10, 0x5a, 1},
                        {32, 64, 0x11, 1},  {102, 2, 0xbeef, 2}, {106, 30, 0x1234, 2},
                        {200, 64, 0x77, 1}, {300, 1, 0x42, 1},   {400, 8, 0xdeadbeef, 4},
                        {3, 0, 0x99, 1}};
  for (const Fill& fill : fills) {
    if (fill.size == 0) continue;
    ASSERT_EQ(t->fill_buffer(stream, a, fill.offset, fill.size, &fill.pattern, fill.pattern_size,
                             session.msg()),
              PORTA_OK)
        << session.text();
    for (uint64_t i = 0; i < fill.size; ++i) {
      model[fill.offset + i] = static_cast<uint8_t>(fill.pattern >> (8 * (i % fill.pattern_size)));
    }
  }
  ASSERT_EQ(t->copy_device_to_device(stream, b, 0, a, 0, kSize, session.msg()), PORTA_OK);
  std::vector<uint8_t> result(kSize, 0);
  ASSERT_EQ(t->copy_device_to_host(stream, result.data(), b, 0, kSize, session.msg()), PORTA_OK);

  // Only an event wait is observed: the read-back must still have landed in |result|.
  porta_be_event_t start = nullptr;
  porta_be_event_t end = nullptr;
  ASSERT_EQ(t->event_create(device, PORTA_EVENT_DEFAULT, &start, session.msg()), PORTA_OK);
  ASSERT_EQ(t->event_create(device, PORTA_EVENT_DEFAULT, &end, session.msg()), PORTA_OK);
  ASSERT_EQ(t->event_record(end, stream, session.msg()), PORTA_OK) << session.text();
  ASSERT_EQ(t->event_wait(end, UINT64_MAX, session.msg()), PORTA_OK) << session.text();
  EXPECT_EQ(result, model);

  void* mapped = nullptr;
  ASSERT_EQ(t->buffer_map(b, 0, kSize, &mapped, session.msg()), PORTA_OK);
  EXPECT_EQ(std::memcmp(mapped, model.data(), kSize), 0);
  ASSERT_EQ(t->buffer_unmap(b, session.msg()), PORTA_OK);

  ASSERT_EQ(t->event_record(start, stream, session.msg()), PORTA_OK);
  ASSERT_EQ(t->fill_buffer(stream, a, 0, kSize, &fills[0].pattern, 1, session.msg()), PORTA_OK);
  ASSERT_EQ(t->event_record(end, stream, session.msg()), PORTA_OK);
  ASSERT_EQ(t->stream_synchronize(stream, session.msg()), PORTA_OK) << session.text();
  float ms = -1.0f;
  porta_device_info_t info{};
  info.struct_size = sizeof(info);
  ASSERT_EQ(t->device_get_info(device, &info, session.msg()), PORTA_OK);
  if (info.capabilities & PORTA_CAP_TIMESTAMPS) {
    ASSERT_EQ(t->event_elapsed_ms(start, end, &ms, session.msg()), PORTA_OK) << session.text();
    EXPECT_GE(ms, 0.0f);
  }

  // A buffer whose size is not a whole number of words: the last word is partly outside it.
  porta_be_buffer_t odd = nullptr;
  ASSERT_EQ(t->buffer_alloc(device, 7, PORTA_MEMORY_DEVICE, &odd, session.msg()), PORTA_OK);
  const uint8_t zero = 0;
  const uint8_t five = 5;
  ASSERT_EQ(t->fill_buffer(stream, odd, 0, 7, &zero, 1, session.msg()), PORTA_OK);
  ASSERT_EQ(t->fill_buffer(stream, odd, 5, 2, &five, 1, session.msg()), PORTA_OK);
  uint8_t odd_result[7] = {};
  ASSERT_EQ(t->copy_device_to_host(stream, odd_result, odd, 0, 7, session.msg()), PORTA_OK);
  ASSERT_EQ(t->stream_synchronize(stream, session.msg()), PORTA_OK) << session.text();
  const uint8_t odd_expected[7] = {0, 0, 0, 0, 0, 5, 5};
  EXPECT_EQ(std::memcmp(odd_result, odd_expected, 7), 0);
  t->buffer_free(odd);

  t->event_destroy(start);
  t->event_destroy(end);
  t->buffer_free(a);
  t->buffer_free(b);
  t->stream_destroy(stream);
}

TEST(VulkanCommands, CopiesFillsAndEvents) {
  Session session;
  if (session.device_count() == 0) GTEST_SKIP() << "no Vulkan device: " << session.reason();
  RunCopyAndFill(session);
}

TEST(VulkanCommands, CopiesFillsAndEventsWithForcedStaging) {
  ScopedEnv staging("PORTA_VULKAN_FORCE_STAGING", "1");
  Session session;
  if (session.device_count() == 0) GTEST_SKIP() << "no Vulkan device: " << session.reason();
  RunCopyAndFill(session);
}

TEST(VulkanCommands, CopiesFillsAndEventsWithoutPushDescriptors) {
  ScopedEnv push("PORTA_VULKAN_DISABLE_PUSH_DESCRIPTOR", "1");
  Session session;
  if (session.device_count() == 0) GTEST_SKIP() << "no Vulkan device: " << session.reason();
  RunCopyAndFill(session);
}

TEST(VulkanPipelineCache, WrittenAtCloseAndReusedAtOpen) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("porta_vulkan_cache_test_" + std::to_string(static_cast<long>(getpid())));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    Session session(dir.string());
    if (session.device_count() == 0) GTEST_SKIP() << "no Vulkan device: " << session.reason();
    porta_be_device_t device = session.OpenDevice();
    porta_be_stream_t stream = nullptr;
    porta_be_buffer_t buffer = nullptr;
    ASSERT_EQ(session.t()->stream_create(device, &stream, session.msg()), PORTA_OK);
    ASSERT_EQ(session.t()->buffer_alloc(device, 64, PORTA_MEMORY_DEVICE, &buffer, session.msg()),
              PORTA_OK);
    // An unaligned 1-byte fill runs the built-in fill shader, which creates a pipeline.
    const uint8_t pattern = 0x3c;
    ASSERT_EQ(session.t()->fill_buffer(stream, buffer, 3, 5, &pattern, 1, session.msg()), PORTA_OK);
    ASSERT_EQ(session.t()->stream_synchronize(stream, session.msg()), PORTA_OK);
    session.t()->buffer_free(buffer);
    session.t()->stream_destroy(stream);
    session.CloseDevice();
    EXPECT_NE(session.log().find("pipeline cache: stored"), std::string::npos) << session.log();
  }
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "vulkan")) {
    if (entry.path().extension() == ".bin") ++files;
  }
  EXPECT_EQ(files, 1u);
  {
    Session session(dir.string());
    session.OpenDevice();
    EXPECT_NE(session.log().find("pipeline cache: loaded"), std::string::npos) << session.log();
  }
  std::filesystem::remove_all(dir);
}

// ---- Texel views ------------------------------------------------------------------------------

constexpr uint32_t kTexelWords = 64;

// The texel_view test shader (or its variant without specialization constant 4) on a device.
class TexelCopy {
 public:
  TexelCopy(Session& session, porta_be_device_t device, bool required) : session_(session) {
    porta_module_source_t source{};
    source.format = PORTA_FORMAT_SPIRV_SHADER;
    source.data =
        required ? porta_vulkan_test_texel_view_required_spv : porta_vulkan_test_texel_view_spv;
    source.size = required ? porta_vulkan_test_texel_view_required_spv_size
                           : porta_vulkan_test_texel_view_spv_size;
    EXPECT_EQ(session.t()->module_load(device, &source, &module_, session.msg()), PORTA_OK)
        << session.text();
    EXPECT_EQ(session.t()->module_get_kernel(module_, "main", &kernel_, session.msg()), PORTA_OK)
        << session.text();
    config_.block[0] = 32;
    config_.grid[0] = kTexelWords / 32;
  }
  ~TexelCopy() {
    if (module_ != nullptr) session_.t()->module_destroy(module_);
  }
  // Copies kTexelWords words from |in| at byte |in_offset| into |out|, with the path flags after
  // them.
  porta_status_t Launch(porta_be_stream_t stream, porta_be_buffer_t in, uint64_t in_offset,
                        porta_be_buffer_t out) {
    const uint32_t n = kTexelWords;
    const porta_be_arg_t args[3] = {{PORTA_ARG_BUFFER, in, in_offset, nullptr, 0},
                                    {PORTA_ARG_BUFFER, out, 0, nullptr, 0},
                                    {PORTA_ARG_SCALAR, nullptr, 0, &n, 4}};
    return session_.t()->kernel_launch(stream, kernel_, &config_, args, 3, session_.msg());
  }

 private:
  Session& session_;
  porta_be_module_t module_ = nullptr;
  porta_be_kernel_t kernel_ = nullptr;
  porta_launch_config_t config_ = PORTA_LAUNCH_CONFIG_INIT;
};

// Runs the texel_view shader on a buffer of its own (or, with |import|, on an import of that
// buffer's VkBuffer, which can have no view) and checks the words and the path it took.
void RunTexelCopy(Session& session, bool import, uint64_t offset, uint32_t expected_path) {
  const porta_backend_table_t* t = session.t();
  porta_be_device_t device = session.OpenDevice();
  TexelCopy copy(session, device, false);
  porta_be_stream_t stream = nullptr;
  ASSERT_EQ(t->stream_create(device, &stream, session.msg()), PORTA_OK);
  const uint64_t in_bytes = offset + kTexelWords * 4;
  porta_be_buffer_t in = nullptr, out = nullptr, imported = nullptr;
  ASSERT_EQ(t->buffer_alloc(device, in_bytes, PORTA_MEMORY_DEVICE, &in, session.msg()), PORTA_OK);
  ASSERT_EQ(t->buffer_alloc(device, 2 * kTexelWords * 4, PORTA_MEMORY_DEVICE, &out, session.msg()),
            PORTA_OK);
  std::vector<uint32_t> words(in_bytes / 4);
  for (uint32_t i = 0; i < words.size(); ++i) words[i] = 0x9e3779b9u * (i + 1);
  ASSERT_EQ(t->copy_host_to_device(stream, in, 0, words.data(), in_bytes, session.msg()), PORTA_OK);
  porta_be_buffer_t source = in;
  if (import) {
    porta_native_handles_t native{};
    ASSERT_EQ(t->buffer_native_handles(in, &native, session.msg()), PORTA_OK) << session.text();
    ASSERT_EQ(
        t->buffer_import(device, &native, in_bytes, PORTA_MEMORY_DEVICE, &imported, session.msg()),
        PORTA_OK)
        << session.text();
    source = imported;
  }
  ASSERT_EQ(copy.Launch(stream, source, offset, out), PORTA_OK) << session.text();
  std::vector<uint32_t> result(2 * kTexelWords, 0xffffffffu);
  ASSERT_EQ(t->copy_device_to_host(stream, result.data(), out, 0, result.size() * 4, session.msg()),
            PORTA_OK);
  ASSERT_EQ(t->stream_synchronize(stream, session.msg()), PORTA_OK) << session.text();
  for (uint32_t i = 0; i < kTexelWords; ++i) {
    EXPECT_EQ(result[i], words[offset / 4 + i]) << "word " << i;
    EXPECT_EQ(result[kTexelWords + i], expected_path) << "word " << i << " (1: read via the view)";
  }
  if (imported != nullptr) t->buffer_free(imported);
  t->buffer_free(in);
  t->buffer_free(out);
  t->stream_destroy(stream);
}

TEST(VulkanTexelViews, AKernelReadsItsBuffersThroughViews) {
  Session session;
  if (session.device_count() == 0) GTEST_SKIP() << "no Vulkan device: " << session.reason();
  RunTexelCopy(session, false, 0, 1);
}

TEST(VulkanTexelViews, AnOffsetOfWholeTexelsGetsAViewFromThere) {
  Session session;
  if (session.device_count() == 0) GTEST_SKIP() << "no Vulkan device: " << session.reason();
  // 256 bytes: a multiple of 16 and of every device's storage and texel offset alignments.
  RunTexelCopy(session, false, 256, 1);
}

TEST(VulkanTexelViews, AnImportedBufferFallsBackToTheStorageBuffer) {
  Session session;
  if (session.device_count() == 0) GTEST_SKIP() << "no Vulkan device: " << session.reason();
  RunTexelCopy(session, true, 0, 0);
}

TEST(VulkanTexelViews, DisabledViewsFallBackToTheStorageBuffer) {
  ScopedEnv off("PORTA_VULKAN_DISABLE_TEXEL_VIEWS", "1");
  Session session;
  if (session.device_count() == 0) GTEST_SKIP() << "no Vulkan device: " << session.reason();
  RunTexelCopy(session, false, 0, 0);
}

TEST(VulkanTexelViews, AKernelThatCannotFallBackNamesTheMissingView) {
  Session session;
  if (session.device_count() == 0) GTEST_SKIP() << "no Vulkan device: " << session.reason();
  const porta_backend_table_t* t = session.t();
  porta_be_device_t device = session.OpenDevice();
  TexelCopy copy(session, device, true);
  porta_be_stream_t stream = nullptr;
  ASSERT_EQ(t->stream_create(device, &stream, session.msg()), PORTA_OK);
  porta_be_buffer_t in = nullptr, out = nullptr, imported = nullptr;
  ASSERT_EQ(t->buffer_alloc(device, kTexelWords * 4, PORTA_MEMORY_DEVICE, &in, session.msg()),
            PORTA_OK);
  ASSERT_EQ(t->buffer_alloc(device, 2 * kTexelWords * 4, PORTA_MEMORY_DEVICE, &out, session.msg()),
            PORTA_OK);
  porta_native_handles_t native{};
  ASSERT_EQ(t->buffer_native_handles(in, &native, session.msg()), PORTA_OK);
  ASSERT_EQ(t->buffer_import(device, &native, kTexelWords * 4, PORTA_MEMORY_DEVICE, &imported,
                             session.msg()),
            PORTA_OK);
  // Its own buffer has a view; the import of the same VkBuffer cannot.
  EXPECT_EQ(copy.Launch(stream, in, 0, out), PORTA_OK) << session.text();
  EXPECT_EQ(copy.Launch(stream, imported, 0, out), PORTA_ERROR_UNSUPPORTED);
  const std::string text = session.text();
  EXPECT_NE(text.find("buffer argument 0 through a texel view (binding 16)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("specialization constant 4"), std::string::npos) << text;
  EXPECT_EQ(t->stream_synchronize(stream, session.msg()), PORTA_OK) << session.text();
  t->buffer_free(imported);
  t->buffer_free(in);
  t->buffer_free(out);
  t->stream_destroy(stream);
}

TEST(VulkanTexelViews, AViewOutsideItsBindingsIsRefusedAtLoad) {
  Session session;
  if (session.device_count() == 0) GTEST_SKIP() << "no Vulkan device: " << session.reason();
  porta_be_device_t device = session.OpenDevice();
  porta_module_source_t source{};
  source.format = PORTA_FORMAT_SPIRV_SHADER;
  source.data = porta_vulkan_test_texel_view_misplaced_spv;
  source.size = porta_vulkan_test_texel_view_misplaced_spv_size;
  porta_be_module_t module = nullptr;
  EXPECT_EQ(session.t()->module_load(device, &source, &module, session.msg()),
            PORTA_ERROR_BUILD_FAILED);
  const std::string text = session.text();
  EXPECT_NE(text.find("descriptor set 0 binding 3 is a uniform texel buffer"), std::string::npos)
      << text;
  EXPECT_NE(text.find("bindings 16 to 31"), std::string::npos) << text;
}

// ---- Native graphs ----------------------------------------------------------------------------

constexpr uint32_t kWords = 256;

// The arguments of one launch of the accumulate test shader on |buffer|.
struct AccumulateArgs {
  AccumulateArgs(porta_be_buffer_t buffer, uint32_t mul, uint32_t add) : scalars{mul, add, kWords} {
    args[0] = {PORTA_ARG_BUFFER, buffer, 0, nullptr, 0};
    for (int i = 0; i < 3; ++i) args[i + 1] = {PORTA_ARG_SCALAR, nullptr, 0, &scalars[i], 4};
  }
  // |args| points into the object itself.
  AccumulateArgs(const AccumulateArgs&) = delete;
  AccumulateArgs& operator=(const AccumulateArgs&) = delete;

  uint32_t scalars[3];
  porta_be_arg_t args[4];
};

// The accumulate test shader (data[i] = data[i] * mul + add for i < n) loaded on a device. Graph
// nodes and direct launches use different work-group sizes, hence different pipelines, so a
// direct launch after a replay that skipped binding its pipeline again would run the graph's.
class Accumulate {
 public:
  Accumulate(Session& session, porta_be_device_t device) : session_(session) {
    porta_module_source_t source{};
    source.format = PORTA_FORMAT_SPIRV_SHADER;
    source.data = porta_vulkan_test_accumulate_spv;
    source.size = porta_vulkan_test_accumulate_spv_size;
    EXPECT_EQ(session.t()->module_load(device, &source, &module_, session.msg()), PORTA_OK)
        << session.text();
    EXPECT_EQ(session.t()->module_get_kernel(module_, "main", &kernel_, session.msg()), PORTA_OK)
        << session.text();
    direct_.block[0] = 64;
    direct_.grid[0] = kWords / 64;
    node_.block[0] = 32;
    node_.grid[0] = kWords / 32;
  }
  ~Accumulate() {
    if (module_ != nullptr) session_.t()->module_destroy(module_);
  }

  porta_be_graph_node_t Node(const AccumulateArgs& args) const {
    porta_be_graph_node_t node{};
    node.kind = PORTA_GRAPH_NODE_KERNEL;
    node.kernel = kernel_;
    node.config = &node_;
    node.args = args.args;
    node.arg_count = 4;
    return node;
  }
  porta_status_t Launch(porta_be_stream_t stream, const AccumulateArgs& args) {
    return session_.t()->kernel_launch(stream, kernel_, &direct_, args.args, 4, session_.msg());
  }

 private:
  Session& session_;
  porta_be_module_t module_ = nullptr;
  porta_be_kernel_t kernel_ = nullptr;
  porta_launch_config_t direct_ = PORTA_LAUNCH_CONFIG_INIT;
  porta_launch_config_t node_ = PORTA_LAUNCH_CONFIG_INIT;
};

// Reads |buffer|'s kWords words after synchronizing |stream|.
std::vector<uint32_t> ReadWords(Session& session, porta_be_stream_t stream,
                                porta_be_buffer_t buffer) {
  std::vector<uint32_t> words(kWords, 0xffffffffu);
  EXPECT_EQ(
      session.t()->copy_device_to_host(stream, words.data(), buffer, 0, kWords * 4, session.msg()),
      PORTA_OK)
      << session.text();
  EXPECT_EQ(session.t()->stream_synchronize(stream, session.msg()), PORTA_OK) << session.text();
  return words;
}

porta_be_graph_node_t FillNode(porta_be_buffer_t dst, uint64_t offset, uint64_t size,
                               const void* pattern, uint32_t pattern_size) {
  porta_be_graph_node_t node{};
  node.kind = PORTA_GRAPH_NODE_FILL;
  node.dst = dst;
  node.dst_offset = offset;
  node.size = size;
  node.pattern = pattern;
  node.pattern_size = pattern_size;
  return node;
}

// A graph of fills (whole words and partial edge words), launches and a copy replays like the
// same slot calls, also between direct launches of the kernel the graph binds.
void RunGraphReplay(Session& session) {
  const porta_backend_table_t* t = session.t();
  ASSERT_NE(t->graph_create, nullptr);
  ASSERT_NE(t->graph_launch, nullptr);
  ASSERT_NE(t->graph_update_kernel_args, nullptr);
  ASSERT_NE(t->graph_destroy, nullptr);
  porta_be_device_t device = session.OpenDevice();
  Accumulate accumulate(session, device);
  porta_be_stream_t stream = nullptr;
  ASSERT_EQ(t->stream_create(device, &stream, session.msg()), PORTA_OK);
  porta_be_buffer_t a = nullptr;
  porta_be_buffer_t b = nullptr;
  ASSERT_EQ(t->buffer_alloc(device, kWords * 4, PORTA_MEMORY_DEVICE, &a, session.msg()), PORTA_OK);
  ASSERT_EQ(t->buffer_alloc(device, kWords * 4, PORTA_MEMORY_DEVICE, &b, session.msg()), PORTA_OK);

  const uint32_t zero = 0;
  const uint8_t byte = 0x07;
  const AccumulateArgs on_a(a, 3, 1);
  const AccumulateArgs on_b(b, 2, 5);
  porta_be_graph_node_t copy{};
  copy.kind = PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE;
  copy.dst = b;
  copy.src = a;
  copy.size = kWords * 4;
  const porta_be_graph_node_t nodes[5] = {FillNode(a, 0, kWords * 4, &zero, 4),
                                          FillNode(a, 5, 6, &byte, 1), accumulate.Node(on_a), copy,
                                          accumulate.Node(on_b)};
  porta_be_graph_t graph = nullptr;
  ASSERT_EQ(t->graph_create(device, nodes, 5, &graph, session.msg()), PORTA_OK) << session.text();

  // What one replay leaves: a = fill, then a*3+1; b = a*2+5.
  std::vector<uint32_t> a_words(kWords, 0);
  a_words[1] = 0x07070700u;  // bytes 5..7
  a_words[2] = 0x00070707u;  // bytes 8..10
  for (uint32_t& word : a_words) word = word * 3 + 1;
  // b is the replay's b, then two direct launches (one before, one after the second replay, of
  // the same pipeline) and a second replay rewrite it in stream order.
  ASSERT_EQ(t->graph_launch(stream, graph, session.msg()), PORTA_OK) << session.text();
  ASSERT_EQ(accumulate.Launch(stream, AccumulateArgs(b, 1, 100)), PORTA_OK) << session.text();
  ASSERT_EQ(t->graph_launch(stream, graph, session.msg()), PORTA_OK) << session.text();
  ASSERT_EQ(accumulate.Launch(stream, AccumulateArgs(b, 1, 1000)), PORTA_OK) << session.text();
  std::vector<uint32_t> b_words(kWords);
  for (uint32_t i = 0; i < kWords; ++i) b_words[i] = a_words[i] * 2 + 5 + 1000;
  EXPECT_EQ(ReadWords(session, stream, a), a_words);
  EXPECT_EQ(ReadWords(session, stream, b), b_words);

  t->graph_destroy(graph);
  t->buffer_free(a);
  t->buffer_free(b);
  t->stream_destroy(stream);
}

TEST(VulkanGraphs, ReplayMatchesTheSlotCalls) {
  Session session;
  if (session.device_count() == 0) GTEST_SKIP() << "no Vulkan device: " << session.reason();
  RunGraphReplay(session);
}

TEST(VulkanGraphs, ReplayMatchesTheSlotCallsWithoutPushDescriptors) {
  ScopedEnv push("PORTA_VULKAN_DISABLE_PUSH_DESCRIPTOR", "1");
  Session session;
  if (session.device_count() == 0) GTEST_SKIP() << "no Vulkan device: " << session.reason();
  RunGraphReplay(session);
}

// Replays queued before an argument update run with the old arguments, replays queued after it
// with the new ones, whether the earlier replay is still in the stream's open batch or already
// submitted, on the same stream or another.
void RunGraphUpdate(Session& session) {
  const porta_backend_table_t* t = session.t();
  porta_be_device_t device = session.OpenDevice();
  Accumulate accumulate(session, device);
  porta_be_stream_t streams[2] = {};
  ASSERT_EQ(t->stream_create(device, &streams[0], session.msg()), PORTA_OK);
  ASSERT_EQ(t->stream_create(device, &streams[1], session.msg()), PORTA_OK);
  porta_be_buffer_t a = nullptr;
  porta_be_buffer_t c = nullptr;
  ASSERT_EQ(t->buffer_alloc(device, kWords * 4, PORTA_MEMORY_DEVICE, &a, session.msg()), PORTA_OK);
  ASSERT_EQ(t->buffer_alloc(device, kWords * 4, PORTA_MEMORY_DEVICE, &c, session.msg()), PORTA_OK);
  const uint32_t zero = 0;
  ASSERT_EQ(t->fill_buffer(streams[0], a, 0, kWords * 4, &zero, 4, session.msg()), PORTA_OK);
  ASSERT_EQ(t->fill_buffer(streams[0], c, 0, kWords * 4, &zero, 4, session.msg()), PORTA_OK);

  // One replay: x = (x + add) * 2 on a.
  const AccumulateArgs add(a, 1, 1);
  const AccumulateArgs twice(a, 2, 0);
  const porta_be_graph_node_t nodes[2] = {accumulate.Node(add), accumulate.Node(twice)};
  porta_be_graph_t graph = nullptr;
  ASSERT_EQ(t->graph_create(device, nodes, 2, &graph, session.msg()), PORTA_OK) << session.text();

  // Queued in the open batch, not yet submitted, when the update comes.
  ASSERT_EQ(t->graph_launch(streams[0], graph, session.msg()), PORTA_OK) << session.text();
  const AccumulateArgs add_five(a, 1, 5);
  ASSERT_EQ(t->graph_update_kernel_args(graph, 0, add_five.args, 4, session.msg()), PORTA_OK)
      << session.text();
  ASSERT_EQ(t->graph_launch(streams[0], graph, session.msg()), PORTA_OK) << session.text();
  uint32_t expected = ((0 + 1) * 2 + 5) * 2;  // 14; 30 if the first replay took the new add
  EXPECT_EQ(ReadWords(session, streams[0], a), std::vector<uint32_t>(kWords, expected));

  // Submitted (an event record submits) when the update comes; the next replay runs on the other
  // stream after it, and the update moves node 1 to buffer c.
  porta_be_event_t event = nullptr;
  ASSERT_EQ(t->event_create(device, PORTA_EVENT_DISABLE_TIMING, &event, session.msg()), PORTA_OK);
  ASSERT_EQ(t->graph_launch(streams[0], graph, session.msg()), PORTA_OK) << session.text();
  ASSERT_EQ(t->event_record(event, streams[0], session.msg()), PORTA_OK) << session.text();
  const AccumulateArgs on_c(c, 3, 2);
  ASSERT_EQ(t->graph_update_kernel_args(graph, 1, on_c.args, 4, session.msg()), PORTA_OK)
      << session.text();
  ASSERT_EQ(t->stream_wait_event(streams[1], event, session.msg()), PORTA_OK) << session.text();
  ASSERT_EQ(t->graph_launch(streams[1], graph, session.msg()), PORTA_OK) << session.text();
  expected = (expected + 5) * 2;  // the replay before the update: 38
  expected += 5;                  // the one after adds 5 to a: 43
  EXPECT_EQ(ReadWords(session, streams[1], a), std::vector<uint32_t>(kWords, expected));
  EXPECT_EQ(ReadWords(session, streams[1], c), std::vector<uint32_t>(kWords, 2u));  // 0 * 3 + 2

  // An update the device rejects (an offset below minStorageBufferOffsetAlignment, where that
  // is above 4) leaves the graph as it was.
  AccumulateArgs bad(c, 1, 1);
  bad.args[0].offset = 4;
  const porta_status_t rejected = t->graph_update_kernel_args(graph, 1, bad.args, 4, session.msg());
  if (rejected != PORTA_OK) {
    EXPECT_EQ(rejected, PORTA_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(session.text()).find("minStorageBufferOffsetAlignment"),
              std::string::npos)
        << session.text();
    ASSERT_EQ(t->graph_launch(streams[1], graph, session.msg()), PORTA_OK) << session.text();
    EXPECT_EQ(ReadWords(session, streams[1], c), std::vector<uint32_t>(kWords, 8u));  // 2*3+2
  }

  t->graph_destroy(graph);
  t->event_destroy(event);
  t->buffer_free(a);
  t->buffer_free(c);
  t->stream_destroy(streams[0]);
  t->stream_destroy(streams[1]);
}

TEST(VulkanGraphs, UpdatesReachLaterReplaysOnly) {
  Session session;
  if (session.device_count() == 0) GTEST_SKIP() << "no Vulkan device: " << session.reason();
  RunGraphUpdate(session);
}

TEST(VulkanGraphs, UpdatesReachLaterReplaysOnlyWithoutPushDescriptors) {
  ScopedEnv push("PORTA_VULKAN_DISABLE_PUSH_DESCRIPTOR", "1");
  Session session;
  if (session.device_count() == 0) GTEST_SKIP() << "no Vulkan device: " << session.reason();
  RunGraphUpdate(session);
}

TEST(VulkanGraphs, HostSideNodesAreDeclined) {
  Session session;
  if (session.device_count() == 0) GTEST_SKIP() << "no Vulkan device: " << session.reason();
  porta_be_device_t device = session.OpenDevice();
  porta_be_buffer_t buffer = nullptr;
  ASSERT_EQ(session.t()->buffer_alloc(device, 64, PORTA_MEMORY_DEVICE, &buffer, session.msg()),
            PORTA_OK);
  const uint32_t zero = 0;
  porta_be_graph_node_t nodes[2] = {FillNode(buffer, 0, 64, &zero, 4), {}};
  nodes[1].kind = PORTA_GRAPH_NODE_EVENT_RECORD;
  porta_be_graph_t graph = nullptr;
  EXPECT_EQ(session.t()->graph_create(device, nodes, 2, &graph, session.msg()),
            PORTA_ERROR_UNSUPPORTED);
  EXPECT_NE(std::string(session.text()).find("graph node 1"), std::string::npos) << session.text();
  EXPECT_EQ(graph, nullptr);
  session.t()->buffer_free(buffer);
}

}  // namespace
