// Tests of the OpenCL backend driven through its function table, the way the runtime drives it:
// device description, memory, launches, events, the program cache and the constrained profile,
// plus the zero-device paths (no loader, no platform). Device tests need an OpenCL device (PoCL
// in CI) and skip without one.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "porta/porta_backend.h"

extern "C" porta_status_t porta_opencl_backend_entry(const porta_backend_host_t* host,
                                                     const porta_backend_table_t** out_table,
                                                     porta_be_msg msg);

namespace {

constexpr char kKernels[] = R"CLC(
__kernel void vector_add(__global const float* a, __global const float* b, __global float* c,
                         uint n) {
  uint i = get_global_id(0);
  if (i < n) c[i] = a[i] + b[i];
}
__kernel void reduce_sum(__global const float* in, __global float* out, uint n,
                         __local float* scratch) {
  uint lid = get_local_id(0);
  uint i = get_global_id(0);
  scratch[lid] = i < n ? in[i] : 0.0f;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint s = get_local_size(0) / 2; s > 0; s >>= 1) {
    if (lid < s) scratch[lid] += scratch[lid + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) out[get_group_id(0)] = scratch[0];
}
__kernel void static_local(__global float* out, __local float* scratch) {
  __local float tile[4096];
  tile[get_local_id(0)] = 1.0f;
  barrier(CLK_LOCAL_MEM_FENCE);
  scratch[get_local_id(0)] = tile[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  if (get_local_id(0) == 0) out[0] = scratch[0];
}
)CLC";

// One backend instance with a private cache folder and a captured log.
class Backend {
 public:
  Backend() {
    char pattern[] = "/tmp/porta_opencl_test_XXXXXX";
    cache_dir_ = mkdtemp(pattern);
    porta_be_message_t msg = Msg();
    host_.struct_size = sizeof(host_);
    host_.abi_major = PORTA_BACKEND_ABI_MAJOR;
    host_.abi_minor = PORTA_BACKEND_ABI_MINOR;
    host_.porta_version = "0.1.0-test";
    host_.cache_dir = cache_dir_.c_str();
    host_.log = [](void* user, int, const char* text) {
      auto* self = static_cast<Backend*>(user);
      std::lock_guard<std::mutex> lock(self->log_mutex_);
      self->log_.emplace_back(text);
    };
    host_.log_user = this;
    status_ = porta_opencl_backend_entry(&host_, &table_, &msg);
    if (status_ == PORTA_OK) status_ = table_->init(&host_, &backend_, &msg);
    if (status_ == PORTA_OK) status_ = table_->device_count(backend_, &count_, &msg);
    reason_ = text_;
    if (status_ == PORTA_OK && count_ > 0)
      status_ = table_->device_open(backend_, 0, &device_, &msg);
    if (device_ != nullptr) table_->device_get_info(device_, &info_, &msg);
  }
  ~Backend() {
    if (device_ != nullptr) table_->device_close(device_);
    if (backend_ != nullptr) table_->shutdown(backend_);
    std::filesystem::remove_all(cache_dir_);
  }

  porta_be_message_t Msg() { return {text_, sizeof(text_)}; }
  const char* text() const { return text_; }
  // Counts log lines containing |needle| and returns the text after it of the last one.
  int CountLog(const std::string& needle, std::string* last = nullptr) {
    std::lock_guard<std::mutex> lock(log_mutex_);
    int count = 0;
    for (const std::string& line : log_) {
      if (line.find(needle) == std::string::npos) continue;
      ++count;
      if (last != nullptr) *last = line;
    }
    return count;
  }

  porta_be_module_t Load(const char* source, const char* options = nullptr) {
    porta_module_source_t src = {
        PORTA_FORMAT_OPENCL_C, source, std::strlen(source), options, nullptr, 0};
    porta_be_module_t module = nullptr;
    porta_be_message_t msg = Msg();
    last_status_ = table_->module_load(device_, &src, &module, &msg);
    return module;
  }

  const porta_backend_table_t* table_ = nullptr;
  porta_be_backend_t backend_ = nullptr;
  porta_be_device_t device_ = nullptr;
  porta_device_info_t info_ = PORTA_DEVICE_INFO_INIT;
  porta_status_t status_ = PORTA_OK;
  porta_status_t last_status_ = PORTA_OK;
  uint32_t count_ = 0;
  std::string reason_;
  std::string cache_dir_;

 private:
  porta_backend_host_t host_{};
  char text_[16384] = "";
  std::mutex log_mutex_;
  std::vector<std::string> log_;
};

#define REQUIRE_DEVICE(b)                                                   \
  ASSERT_EQ((b).status_, PORTA_OK) << (b).text();                           \
  if ((b).count_ == 0) GTEST_SKIP() << "no OpenCL device: " << (b).reason_; \
  ASSERT_NE((b).device_, nullptr)

std::string PathInLog(const std::string& line) {
  const size_t open = line.rfind('(');
  const size_t close = line.rfind(')');
  return open == std::string::npos ? "" : line.substr(open + 1, close - open - 1);
}

// Runs vector_add on n elements with both inputs |in_offset| bytes into their buffers and
// checks the result.
void CheckVectorAdd(Backend& b, porta_be_module_t module, uint64_t in_offset) {
  const porta_backend_table_t* t = b.table_;
  porta_be_message_t msg = b.Msg();
  porta_be_kernel_t kernel = nullptr;
  ASSERT_EQ(t->module_get_kernel(module, "vector_add", &kernel, &msg), PORTA_OK) << b.text();
  const uint32_t n = 1000;
  std::vector<float> a(n), c(n, -1.0f);
  for (uint32_t i = 0; i < n; ++i) a[i] = static_cast<float>(i);
  porta_be_buffer_t in_a = nullptr, in_b = nullptr, out = nullptr;
  const uint64_t bytes = n * sizeof(float);
  ASSERT_EQ(t->buffer_alloc(b.device_, in_offset + bytes, PORTA_MEMORY_DEVICE, &in_a, &msg),
            PORTA_OK);
  ASSERT_EQ(t->buffer_alloc(b.device_, in_offset + bytes, PORTA_MEMORY_DEVICE, &in_b, &msg),
            PORTA_OK);
  ASSERT_EQ(t->buffer_alloc(b.device_, bytes, PORTA_MEMORY_DEVICE, &out, &msg), PORTA_OK);
  porta_be_stream_t stream = nullptr;
  ASSERT_EQ(t->stream_create(b.device_, &stream, &msg), PORTA_OK) << b.text();
  ASSERT_EQ(t->copy_host_to_device(stream, in_a, in_offset, a.data(), bytes, &msg), PORTA_OK);
  ASSERT_EQ(t->copy_host_to_device(stream, in_b, in_offset, a.data(), bytes, &msg), PORTA_OK);
  porta_be_arg_t args[4] = {{PORTA_ARG_BUFFER, in_a, in_offset, nullptr, 0},
                            {PORTA_ARG_BUFFER, in_b, in_offset, nullptr, 0},
                            {PORTA_ARG_BUFFER, out, 0, nullptr, 0},
                            {PORTA_ARG_SCALAR, nullptr, 0, &n, sizeof(n)}};
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.block[0] = 64;
  config.grid[0] = (n + 63) / 64;
  ASSERT_EQ(t->kernel_launch(stream, kernel, &config, args, 4, &msg), PORTA_OK) << b.text();
  ASSERT_EQ(t->copy_device_to_host(stream, c.data(), out, 0, bytes, &msg), PORTA_OK);
  ASSERT_EQ(t->stream_synchronize(stream, &msg), PORTA_OK) << b.text();
  for (uint32_t i = 0; i < n; ++i) {
    ASSERT_EQ(c[i], 2.0f * static_cast<float>(i)) << "element " << i << ", offset " << in_offset;
  }
  if (in_offset % 128 != 0) {
    // One buffer twice at an offset no sub-buffer can express: refused, with the reason.
    args[1].buffer = in_a;
    EXPECT_EQ(t->kernel_launch(stream, kernel, &config, args, 4, &msg), PORTA_ERROR_UNSUPPORTED);
    EXPECT_NE(std::strstr(b.text(), "base address alignment"), nullptr) << b.text();
  }
  t->stream_destroy(stream);
  t->buffer_free(in_a);
  t->buffer_free(in_b);
  t->buffer_free(out);
}

TEST(OpenclBackend, DescribesTheDeviceFromTheDriver) {
  Backend b;
  REQUIRE_DEVICE(b);
  EXPECT_STREQ(b.info_.backend, "opencl");
  EXPECT_GT(std::strlen(b.info_.name), 0u);
  EXPECT_GT(std::strlen(b.info_.vendor), 0u);
  EXPECT_EQ(std::strncmp(b.info_.architecture, "OpenCL C ", 9), 0) << b.info_.architecture;
  EXPECT_GT(b.info_.max_work_group_size, 0u);
  EXPECT_GT(b.info_.local_memory_bytes, 0u);
  EXPECT_GT(b.info_.max_allocation_bytes, 0u);
  EXPECT_GE(b.info_.subgroup_size_count, 1u);
  EXPECT_TRUE(b.info_.kernel_formats & PORTA_FORMAT_BIT(PORTA_FORMAT_OPENCL_C));
  EXPECT_TRUE(b.info_.capabilities & PORTA_CAP_HOST_VISIBLE_MEMORY);
}

TEST(OpenclBackend, CopiesAndFillsWithOffsets) {
  Backend b;
  REQUIRE_DEVICE(b);
  const porta_backend_table_t* t = b.table_;
  porta_be_message_t msg = b.Msg();
  porta_be_stream_t stream = nullptr;
  ASSERT_EQ(t->stream_create(b.device_, &stream, &msg), PORTA_OK);
  porta_be_buffer_t x = nullptr, y = nullptr;
  ASSERT_EQ(t->buffer_alloc(b.device_, 256, PORTA_MEMORY_DEVICE, &x, &msg), PORTA_OK);
  ASSERT_EQ(t->buffer_alloc(b.device_, 256, PORTA_MEMORY_HOST_VISIBLE, &y, &msg), PORTA_OK);
  std::vector<uint8_t> host(256);
  for (int i = 0; i < 256; ++i) host[i] = static_cast<uint8_t>(i);
  ASSERT_EQ(t->copy_host_to_device(stream, x, 0, host.data(), 256, &msg), PORTA_OK);
  const uint8_t p1 = 0xab;
  const uint16_t p2 = 0x1234;
  const uint32_t p4 = 0xdeadbeef;
  ASSERT_EQ(t->fill_buffer(stream, x, 3, 7, &p1, 1, &msg), PORTA_OK) << b.text();
  ASSERT_EQ(t->fill_buffer(stream, x, 14, 22, &p2, 2, &msg), PORTA_OK) << b.text();
  ASSERT_EQ(t->fill_buffer(stream, x, 40, 100, &p4, 4, &msg), PORTA_OK) << b.text();
  ASSERT_EQ(t->copy_device_to_device(stream, y, 5, x, 0, 200, &msg), PORTA_OK);
  ASSERT_EQ(t->stream_synchronize(stream, &msg), PORTA_OK) << b.text();
  void* mapped = nullptr;
  ASSERT_EQ(t->buffer_map(y, 5, 200, &mapped, &msg), PORTA_OK) << b.text();
  std::vector<uint8_t> expected = host;
  std::memset(expected.data() + 3, 0xab, 7);
  for (int i = 14; i < 36; i += 2) std::memcpy(&expected[i], &p2, 2);
  for (int i = 40; i < 140; i += 4) std::memcpy(&expected[i], &p4, 4);
  EXPECT_EQ(std::memcmp(mapped, expected.data(), 200), 0);
  ASSERT_EQ(t->buffer_unmap(y, &msg), PORTA_OK);
  std::vector<uint8_t> back(16, 0);
  ASSERT_EQ(t->copy_device_to_host(stream, back.data(), x, 130, 16, &msg), PORTA_OK);
  ASSERT_EQ(t->stream_synchronize(stream, &msg), PORTA_OK);
  EXPECT_EQ(std::memcmp(back.data(), expected.data() + 130, 16), 0);
  t->stream_destroy(stream);
  t->buffer_free(x);
  t->buffer_free(y);
}

TEST(OpenclBackend, LaunchesWithOffsetsAndDynamicLocalMemory) {
  Backend b;
  REQUIRE_DEVICE(b);
  porta_be_module_t module = b.Load(kKernels);
  ASSERT_EQ(b.last_status_, PORTA_OK) << b.text();
  CheckVectorAdd(b, module, 0);
  CheckVectorAdd(b, module, 128);  // a sub-buffer
  CheckVectorAdd(b, module, 12);   // staged through a temporary
  const porta_backend_table_t* t = b.table_;
  porta_be_message_t msg = b.Msg();
  porta_be_kernel_t reduce = nullptr;
  ASSERT_EQ(t->module_get_kernel(module, "reduce_sum", &reduce, &msg), PORTA_OK);
  porta_be_kernel_t again = nullptr;
  ASSERT_EQ(t->module_get_kernel(module, "reduce_sum", &again, &msg), PORTA_OK);
  EXPECT_EQ(reduce, again);
  EXPECT_EQ(t->module_get_kernel(module, "missing", &again, &msg), PORTA_ERROR_NOT_FOUND);
  const uint32_t n = 300;
  std::vector<float> in(n, 1.0f), out(5, 0.0f);
  porta_be_buffer_t in_buffer = nullptr, out_buffer = nullptr;
  ASSERT_EQ(t->buffer_alloc(b.device_, n * 4, PORTA_MEMORY_DEVICE, &in_buffer, &msg), PORTA_OK);
  ASSERT_EQ(t->buffer_alloc(b.device_, 5 * 4, PORTA_MEMORY_DEVICE, &out_buffer, &msg), PORTA_OK);
  porta_be_stream_t stream = nullptr;
  ASSERT_EQ(t->stream_create(b.device_, &stream, &msg), PORTA_OK);
  ASSERT_EQ(t->copy_host_to_device(stream, in_buffer, 0, in.data(), n * 4, &msg), PORTA_OK);
  porta_be_arg_t args[3] = {{PORTA_ARG_BUFFER, in_buffer, 0, nullptr, 0},
                            {PORTA_ARG_BUFFER, out_buffer, 0, nullptr, 0},
                            {PORTA_ARG_SCALAR, nullptr, 0, &n, sizeof(n)}};
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.block[0] = 64;
  config.grid[0] = 5;
  config.local_memory_bytes = 64 * sizeof(float);
  ASSERT_EQ(t->kernel_launch(stream, reduce, &config, args, 3, &msg), PORTA_OK) << b.text();
  config.local_memory_bytes = 0;
  EXPECT_EQ(t->kernel_launch(stream, reduce, &config, args, 3, &msg), PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::strstr(b.text(), "parameters"), nullptr) << b.text();
  ASSERT_EQ(t->copy_device_to_host(stream, out.data(), out_buffer, 0, 5 * 4, &msg), PORTA_OK);
  ASSERT_EQ(t->stream_synchronize(stream, &msg), PORTA_OK) << b.text();
  EXPECT_EQ(out[0], 64.0f);
  EXPECT_EQ(out[4], 300.0f - 256.0f);
  t->stream_destroy(stream);
  t->buffer_free(in_buffer);
  t->buffer_free(out_buffer);
  t->module_destroy(module);
}

TEST(OpenclBackend, BuildFailureCarriesTheLog) {
  Backend b;
  REQUIRE_DEVICE(b);
  EXPECT_EQ(b.Load("__kernel void broken(__global float* p) { p[0] = undeclared_name; }",
                   "-DPORTA_TEST_OPTION=1"),
            nullptr);
  EXPECT_EQ(b.last_status_, PORTA_ERROR_BUILD_FAILED);
  EXPECT_NE(std::strstr(b.text(), "undeclared_name"), nullptr) << b.text();
  EXPECT_NE(std::strstr(b.text(), "-DPORTA_TEST_OPTION=1"), nullptr) << b.text();
}

TEST(OpenclBackend, EventsOrderStreamsAndTime) {
  Backend b;
  REQUIRE_DEVICE(b);
  const porta_backend_table_t* t = b.table_;
  porta_be_message_t msg = b.Msg();
  porta_be_stream_t s1 = nullptr, s2 = nullptr;
  ASSERT_EQ(t->stream_create(b.device_, &s1, &msg), PORTA_OK);
  ASSERT_EQ(t->stream_create(b.device_, &s2, &msg), PORTA_OK);
  porta_be_event_t start = nullptr, end = nullptr;
  ASSERT_EQ(t->event_create(b.device_, PORTA_EVENT_DEFAULT, &start, &msg), PORTA_OK);
  ASSERT_EQ(t->event_create(b.device_, PORTA_EVENT_DEFAULT, &end, &msg), PORTA_OK);
  EXPECT_EQ(t->event_query(start, &msg), PORTA_OK);  // a new event counts as complete
  float ms = 0;
  const uint64_t bytes = 16 << 20;
  porta_be_buffer_t a = nullptr, c = nullptr;
  ASSERT_EQ(t->buffer_alloc(b.device_, bytes, PORTA_MEMORY_DEVICE, &a, &msg), PORTA_OK);
  ASSERT_EQ(t->buffer_alloc(b.device_, bytes, PORTA_MEMORY_DEVICE, &c, &msg), PORTA_OK);
  const uint32_t value = 0x01020304;
  ASSERT_EQ(t->event_record(start, s1, &msg), PORTA_OK);
  ASSERT_EQ(t->fill_buffer(s1, a, 0, bytes, &value, 4, &msg), PORTA_OK);
  ASSERT_EQ(t->event_record(end, s1, &msg), PORTA_OK);
  ASSERT_EQ(t->stream_wait_event(s2, end, &msg), PORTA_OK);
  ASSERT_EQ(t->copy_device_to_device(s2, c, 0, a, 0, bytes, &msg), PORTA_OK);
  uint32_t last = 0;
  ASSERT_EQ(t->copy_device_to_host(s2, &last, c, bytes - 4, 4, &msg), PORTA_OK);
  ASSERT_EQ(t->stream_synchronize(s2, &msg), PORTA_OK);
  EXPECT_EQ(last, value);
  ASSERT_EQ(t->event_wait(end, 5'000'000'000ull, &msg), PORTA_OK) << b.text();
  EXPECT_EQ(t->stream_query(s1, &msg), PORTA_OK);
  if (b.info_.capabilities & PORTA_CAP_TIMESTAMPS) {
    ASSERT_EQ(t->event_elapsed_ms(start, end, &ms, &msg), PORTA_OK) << b.text();
    EXPECT_GE(ms, 0.0f);
  }
  t->event_destroy(start);
  t->event_destroy(end);
  t->stream_destroy(s1);
  t->stream_destroy(s2);
  t->buffer_free(a);
  t->buffer_free(c);
}

TEST(OpenclBackend, SecondLoadHitsTheProgramCacheAndATruncatedEntryIsRebuilt) {
  Backend b;
  REQUIRE_DEVICE(b);
  porta_be_module_t first = b.Load(kKernels);
  ASSERT_NE(first, nullptr) << b.text();
  std::string store_line;
  ASSERT_EQ(b.CountLog("program cache store for module", &store_line), 1);
  const std::string path = PathInLog(store_line);
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  EXPECT_EQ(path.rfind(b.cache_dir_ + "/opencl/", 0), 0u) << path;
  b.table_->module_destroy(first);

  porta_be_module_t second = b.Load(kKernels);
  ASSERT_NE(second, nullptr) << b.text();
  EXPECT_EQ(b.CountLog("program cache hit for module"), 1);
  CheckVectorAdd(b, second, 0);
  b.table_->module_destroy(second);

  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  porta_be_module_t third = b.Load(kKernels);
  ASSERT_NE(third, nullptr) << b.text();
  EXPECT_EQ(b.CountLog("program cache hit for module"), 1);
  EXPECT_EQ(b.CountLog("program cache store for module"), 2);
  CheckVectorAdd(b, third, 0);
  b.table_->module_destroy(third);

  // Other options are another program: no stale reuse.
  porta_be_module_t other = b.Load(kKernels, "-DOTHER=1");
  ASSERT_NE(other, nullptr) << b.text();
  EXPECT_EQ(b.CountLog("program cache hit for module"), 1);
  b.table_->module_destroy(other);
}

TEST(OpenclBackendProfile, NpuProfileNarrowsAndEnforcesTheLimits) {
  setenv("PORTA_OPENCL_PROFILE", "npu", 1);
  Backend b;
  unsetenv("PORTA_OPENCL_PROFILE");
  REQUIRE_DEVICE(b);
  const porta_backend_table_t* t = b.table_;
  porta_be_message_t msg = b.Msg();
  EXPECT_EQ(b.info_.type, PORTA_DEVICE_TYPE_ACCELERATOR);
  EXPECT_LE(b.info_.max_work_group_size, 128u);
  EXPECT_LE(b.info_.local_memory_bytes, 32u * 1024u);
  EXPECT_FALSE(b.info_.capabilities & PORTA_CAP_FP64);
  EXPECT_FALSE(b.info_.capabilities & PORTA_CAP_FP16);
  EXPECT_STREQ(b.info_.architecture, "OpenCL C 1.2");
  EXPECT_EQ(b.info_.kernel_formats, PORTA_FORMAT_BIT(PORTA_FORMAT_OPENCL_C));

  EXPECT_EQ(b.Load(kKernels, "-cl-std=CL2.0"), nullptr);
  EXPECT_EQ(b.last_status_, PORTA_ERROR_UNSUPPORTED);
  EXPECT_EQ(b.Load("// double in a comment is fine\n__kernel void d(__global double* p) {}"),
            nullptr);
  EXPECT_EQ(b.last_status_, PORTA_ERROR_BUILD_FAILED) << b.text();
  EXPECT_NE(std::strstr(b.text(), "line 2 uses double"), nullptr) << b.text();
  // An unterminated character literal ends at its line, whose newline still counts (found by
  // the opencl_c fuzz target: the line named was one too low).
  EXPECT_EQ(b.Load("char c = 'x\n__kernel void d(__global double* p) {}"), nullptr);
  EXPECT_EQ(b.last_status_, PORTA_ERROR_BUILD_FAILED) << b.text();
  EXPECT_NE(std::strstr(b.text(), "line 2 uses double"), nullptr) << b.text();

  porta_be_module_t module = b.Load(kKernels);
  ASSERT_NE(module, nullptr) << b.text();
  porta_be_kernel_t reduce = nullptr;
  ASSERT_EQ(t->module_get_kernel(module, "reduce_sum", &reduce, &msg), PORTA_OK);
  porta_be_buffer_t buffer = nullptr;
  ASSERT_EQ(t->buffer_alloc(b.device_, 4096, PORTA_MEMORY_DEVICE, &buffer, &msg), PORTA_OK);
  porta_be_stream_t stream = nullptr;
  ASSERT_EQ(t->stream_create(b.device_, &stream, &msg), PORTA_OK);
  const uint32_t n = 256;
  porta_be_arg_t args[3] = {{PORTA_ARG_BUFFER, buffer, 0, nullptr, 0},
                            {PORTA_ARG_BUFFER, buffer, 2048, nullptr, 0},
                            {PORTA_ARG_SCALAR, nullptr, 0, &n, sizeof(n)}};
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.block[0] = 128;
  config.local_memory_bytes = 128 * 4;
  EXPECT_EQ(t->kernel_launch(stream, reduce, &config, args, 3, &msg), PORTA_OK) << b.text();
  // Within the profile's local memory as the runtime checks it, over it with the kernel's own
  // 16 KiB of static local memory: the backend's check, which only it can make.
  porta_be_kernel_t static_local = nullptr;
  ASSERT_EQ(t->module_get_kernel(module, "static_local", &static_local, &msg), PORTA_OK);
  config.local_memory_bytes = b.info_.local_memory_bytes;
  EXPECT_EQ(t->kernel_launch(stream, static_local, &config, args, 1, &msg),
            PORTA_ERROR_OUT_OF_RANGE);
  EXPECT_NE(std::strstr(b.text(), "bytes of local memory (16384 static"), nullptr) << b.text();

  // Fills take the kernel path under the profile; odd offsets exercise its narrow ends.
  const uint32_t zero = 0;
  ASSERT_EQ(t->fill_buffer(stream, buffer, 0, 4096, &zero, 4, &msg), PORTA_OK) << b.text();
  const uint16_t pattern = 0xbeef;
  ASSERT_EQ(t->fill_buffer(stream, buffer, 2, 4092, &pattern, 2, &msg), PORTA_OK) << b.text();
  std::vector<uint16_t> back(2048, 1);
  ASSERT_EQ(t->copy_device_to_host(stream, back.data(), buffer, 0, 4096, &msg), PORTA_OK);
  ASSERT_EQ(t->stream_synchronize(stream, &msg), PORTA_OK) << b.text();
  EXPECT_EQ(back[0], 0u);
  EXPECT_EQ(back[2047], 0u);
  for (size_t i = 1; i < 2047; ++i) ASSERT_EQ(back[i], pattern) << i;
  t->stream_destroy(stream);
  t->buffer_free(buffer);
  t->module_destroy(module);
}

TEST(OpenclBackendProfile, UnknownProfileExposesNoDeviceAndSaysWhy) {
  setenv("PORTA_OPENCL_PROFILE", "dsp9000", 1);
  Backend b;
  unsetenv("PORTA_OPENCL_PROFILE");
  ASSERT_EQ(b.status_, PORTA_OK);
  EXPECT_EQ(b.count_, 0u);
  EXPECT_NE(b.reason_.find("dsp9000"), std::string::npos) << b.reason_;
}

// The loader and the ICD's vendor list are read once per process, so these run in a child.
TEST(OpenclBackendDeathTest, NoLoaderMeansZeroDevicesWithAReason) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("PORTA_OPENCL_LIBRARY", "/nonexistent/libOpenCL.so.1", 1);
        Backend b;
        fprintf(stderr, "status=%d count=%u reason=%s\n", b.status_, b.count_, b.reason_.c_str());
        exit(b.status_ == PORTA_OK && b.count_ == 0 ? 0 : 1);
      },
      testing::ExitedWithCode(0), "count=0 reason=no OpenCL ICD loader.*/nonexistent/libOpenCL");
}

TEST(OpenclBackendDeathTest, NoPlatformMeansZeroDevicesWithAReason) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        char pattern[] = "/tmp/porta_no_icd_XXXXXX";
        setenv("OCL_ICD_VENDORS", mkdtemp(pattern), 1);
        Backend b;
        fprintf(stderr, "status=%d count=%u reason=%s\n", b.status_, b.count_, b.reason_.c_str());
        rmdir(pattern);
        exit(b.status_ == PORTA_OK && b.count_ == 0 ? 0 : 1);
      },
      testing::ExitedWithCode(0), "count=0 reason=no OpenCL platform found");
}

}  // namespace
