// Native interop: the native objects behind devices, streams and buffers, and buffers that wrap
// memory the application allocated (porta_buffer_import).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <iterator>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "conformance/cts.h"
#include "conformance/gate.h"

namespace porta_cts {
namespace {

// Which handles porta.h promises per built-in backend: how many, and which of them are never 0
// (device ordinals and queue family indices may be).
struct Layout {
  uint32_t count;
  std::vector<uint32_t> nonzero;
};

struct BackendLayouts {
  Layout device;
  Layout stream;
  Layout buffer;
};

const std::map<std::string, BackendLayouts>& BuiltInLayouts() {
  static const std::map<std::string, BackendLayouts> layouts = {
      {"cpu", {{0, {}}, {0, {}}, {1, {PORTA_NATIVE_CPU_BUFFER_POINTER}}}},
      {"cuda",
       {{2, {PORTA_NATIVE_CUDA_CONTEXT}},
        {1, {PORTA_NATIVE_CUDA_STREAM}},
        {2, {PORTA_NATIVE_CUDA_BUFFER_POINTER}}}},
      {"hip", {{1, {}}, {1, {PORTA_NATIVE_HIP_STREAM}}, {2, {PORTA_NATIVE_HIP_BUFFER_POINTER}}}},
      {"opencl",
       {{3,
         {PORTA_NATIVE_OPENCL_PLATFORM, PORTA_NATIVE_OPENCL_DEVICE, PORTA_NATIVE_OPENCL_CONTEXT}},
        {1, {PORTA_NATIVE_OPENCL_QUEUE}},
        {1, {PORTA_NATIVE_OPENCL_BUFFER_MEM}}}},
      {"vulkan",
       {{4,
         {PORTA_NATIVE_VULKAN_INSTANCE, PORTA_NATIVE_VULKAN_PHYSICAL_DEVICE,
          PORTA_NATIVE_VULKAN_DEVICE}},
        {3, {PORTA_NATIVE_VULKAN_QUEUE, PORTA_NATIVE_VULKAN_STREAM_TIMELINE}},
        {3, {PORTA_NATIVE_VULKAN_BUFFER, PORTA_NATIVE_VULKAN_BUFFER_MEMORY}}}},
      {"level_zero",
       {{3,
         {PORTA_NATIVE_LEVEL_ZERO_DRIVER, PORTA_NATIVE_LEVEL_ZERO_DEVICE,
          PORTA_NATIVE_LEVEL_ZERO_CONTEXT}},
        {1, {PORTA_NATIVE_LEVEL_ZERO_QUEUE}},
        {1, {PORTA_NATIVE_LEVEL_ZERO_BUFFER_POINTER}}}},
  };
  return layouts;
}

testing::AssertionResult MatchesLayout(const porta_native_handles_t& handles, const Layout& layout,
                                       const std::string& backend) {
  if (backend != handles.backend) {
    return testing::AssertionFailure()
           << "backend \"" << handles.backend << "\", expected \"" << backend << "\"";
  }
  if (handles.count != layout.count) {
    return testing::AssertionFailure()
           << handles.count << " handles, porta.h promises " << layout.count;
  }
  for (uint32_t index : layout.nonzero) {
    if (handles.handles[index] == 0)
      return testing::AssertionFailure() << "handle " << index << " is 0";
  }
  for (uint32_t i = handles.count; i < PORTA_NATIVE_HANDLE_MAX; ++i) {
    if (handles.handles[i] != 0) {
      return testing::AssertionFailure() << "handle " << i << " beyond count is not 0";
    }
  }
  return testing::AssertionSuccess();
}

class InteropTest : public StreamTest {
 protected:
  // The layouts porta.h documents for this device's backend, or NULL (with the skip recorded)
  // for a plugin, whose handles porta.h does not describe.
  const BackendLayouts* Layouts() {
    auto it = BuiltInLayouts().find(info_.backend);
    return it == BuiltInLayouts().end() ? nullptr : &it->second;
  }
};

TEST_P(InteropTest, NativeHandlesFollowTheBackendLayout) {
  const BackendLayouts* layouts = Layouts();
  if (layouts == nullptr) {
    RecordSkipReason("native handle layout");
    GTEST_SKIP() << "porta.h documents no native handle layout for backend " << info_.backend;
  }
  porta_native_handles_t device = PORTA_NATIVE_HANDLES_INIT;
  ASSERT_PORTA_OK(porta_device_get_native_handles(device_, &device));
  EXPECT_EQ(device.struct_size, sizeof(porta_native_handles_t));
  EXPECT_TRUE(MatchesLayout(device, layouts->device, info_.backend)) << "device";

  porta_native_handles_t stream = PORTA_NATIVE_HANDLES_INIT;
  ASSERT_PORTA_OK(porta_stream_get_native_handles(stream_.get(), &stream));
  EXPECT_TRUE(MatchesLayout(stream, layouts->stream, info_.backend)) << "stream";
  // The queue handed out stays the stream's queue.
  porta_native_handles_t again = PORTA_NATIVE_HANDLES_INIT;
  ASSERT_PORTA_OK(porta_stream_get_native_handles(stream_.get(), &again));
  EXPECT_EQ(std::memcmp(again.handles, stream.handles, sizeof(stream.handles)), 0);
  EventHandle start, end;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, start.out()));
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, end.out()));
  ASSERT_PORTA_OK(porta_event_record(start.get(), stream_.get()));
  ASSERT_PORTA_OK(porta_event_record(end.get(), stream_.get()));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  ASSERT_PORTA_OK(porta_stream_get_native_handles(stream_.get(), &again));
  EXPECT_EQ(std::memcmp(again.handles, stream.handles, sizeof(stream.handles)), 0)
      << "recording timed events changed the stream's native queue";
  // A stream whose queue was handed out still reports idle once its work is done (the backend
  // can no longer count what is queued on it).
  porta_status_t idle = PORTA_NOT_READY;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((idle = porta_stream_query(stream_.get())) == PORTA_NOT_READY &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_PORTA_OK(idle);

  for (porta_memory_kind_t kind : {PORTA_MEMORY_DEVICE, PORTA_MEMORY_HOST_VISIBLE}) {
    if (kind == PORTA_MEMORY_HOST_VISIBLE &&
        !(info_.capabilities & PORTA_CAP_HOST_VISIBLE_MEMORY)) {
      continue;
    }
    SCOPED_TRACE(kind == PORTA_MEMORY_DEVICE ? "device memory" : "host-visible memory");
    BufferHandle buffer;
    ASSERT_PORTA_OK(porta_buffer_alloc(device_, 256, kind, buffer.out()));
    porta_native_handles_t native = PORTA_NATIVE_HANDLES_INIT;
    ASSERT_PORTA_OK(porta_buffer_get_native_handles(buffer.get(), &native));
    EXPECT_TRUE(MatchesLayout(native, layouts->buffer, info_.backend)) << "buffer";
    uint64_t single = 0;
    ASSERT_PORTA_OK(porta_buffer_native_handle(buffer.get(), &single));
    EXPECT_EQ(native.handles[0], single) << "handles[0] is porta_buffer_native_handle's handle";
  }
}

TEST_P(InteropTest, NativeHandleCallsRefuseBadArguments) {
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 64, PORTA_MEMORY_DEVICE, buffer.out()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out",
                     porta_device_get_native_handles(device_, nullptr));
  porta_native_handles_t small = PORTA_NATIVE_HANDLES_INIT;
  small.struct_size = offsetof(porta_native_handles_t, handles);
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "struct_size",
                     porta_device_get_native_handles(device_, &small));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "struct_size",
                     porta_stream_get_native_handles(stream_.get(), &small));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out",
                     porta_buffer_get_native_handles(buffer.get(), nullptr));
  porta_native_handles_t out = PORTA_NATIVE_HANDLES_INIT;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_stream_get_native_handles(nullptr, &out));

  // A stream that captures has no native queue to hand out: what would be queued on it would
  // bypass the capture.
  ASSERT_PORTA_OK(porta_stream_begin_capture(stream_.get()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_OPERATION, "captur",
                     porta_stream_get_native_handles(stream_.get(), &out));
  porta_graph_t graph = nullptr;
  EXPECT_NE(porta_stream_end_capture(stream_.get(), &graph), PORTA_OK)
      << "the capture survived a call that bypasses it";
  if (graph != nullptr) porta_graph_destroy(graph);
}

// Counts calls of the release callback.
void CountRelease(void* user_data) {
  static_cast<std::atomic<int>*>(user_data)->fetch_add(1);
}

// Wraps the memory of |original| as a second buffer of |size| bytes.
porta_status_t ImportAlias(porta_device_t device, porta_buffer_t original, uint64_t size,
                           porta_memory_kind_t kind, std::atomic<int>* releases,
                           porta_buffer_t* out) {
  porta_native_handles_t native = PORTA_NATIVE_HANDLES_INIT;
  porta_status_t status = porta_buffer_get_native_handles(original, &native);
  if (status != PORTA_OK) return status;
  porta_buffer_import_desc_t desc = PORTA_BUFFER_IMPORT_DESC_INIT;
  desc.native = &native;
  desc.size = size;
  desc.kind = kind;
  desc.release = CountRelease;
  desc.release_user_data = releases;
  return porta_buffer_import(device, &desc, out);
}

TEST_P(InteropTest, ImportedMemoryIsSharedWithItsOwner) {
  constexpr uint64_t kSize = 4096;
  for (porta_memory_kind_t kind : {PORTA_MEMORY_DEVICE, PORTA_MEMORY_HOST_VISIBLE}) {
    if (kind == PORTA_MEMORY_HOST_VISIBLE &&
        !(info_.capabilities & PORTA_CAP_HOST_VISIBLE_MEMORY)) {
      continue;
    }
    SCOPED_TRACE(kind == PORTA_MEMORY_DEVICE ? "device memory" : "host-visible memory");
    BufferHandle owner;
    ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, kind, owner.out()));
    porta_memory_info_t before = PORTA_MEMORY_INFO_INIT;
    ASSERT_PORTA_OK(porta_device_get_memory_info(device_, &before));
    std::atomic<int> releases{0};
    BufferHandle alias;
    ASSERT_PORTA_OK(ImportAlias(device_, owner.get(), kSize, kind, &releases, alias.out()));
    uint64_t size = 0;
    ASSERT_PORTA_OK(porta_buffer_size(alias.get(), &size));
    EXPECT_EQ(size, kSize);
    porta_device_t owner_device = nullptr;
    ASSERT_PORTA_OK(porta_buffer_device(alias.get(), &owner_device));
    EXPECT_EQ(owner_device, device_);
    porta_memory_info_t during = PORTA_MEMORY_INFO_INIT;
    ASSERT_PORTA_OK(porta_device_get_memory_info(device_, &during));
    EXPECT_EQ(during.allocated_bytes, before.allocated_bytes)
        << "imported memory is the application's and must not count as allocated";

    // Bytes written through one buffer are read through the other, both ways.
    const std::vector<uint8_t> pattern = RandomBytes(kSize, 11);
    std::vector<uint8_t> read(kSize);
    ASSERT_PORTA_OK(
        porta_copy_host_to_device(stream_.get(), alias.get(), 0, pattern.data(), kSize));
    ASSERT_TRUE(ReadBuffer(stream_.get(), owner.get(), 0, kSize, read.data()));
    EXPECT_EQ(read, pattern) << "written through the import, read through the owner";
    const uint32_t word = 0x5a5aa5a5u;
    ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), owner.get(), 1024, 512, &word, 4));
    ASSERT_TRUE(ReadBuffer(stream_.get(), alias.get(), 1024, 512, read.data()));
    for (size_t i = 0; i < 512; i += 4) {
      uint32_t got = 0;
      std::memcpy(&got, read.data() + i, 4);
      ASSERT_EQ(got, word) << "byte " << 1024 + i << " filled through the owner";
    }
    if (kind == PORTA_MEMORY_HOST_VISIBLE) {
      void* mapped = nullptr;
      ASSERT_PORTA_OK(porta_buffer_map(alias.get(), 0, kSize, &mapped));
      EXPECT_EQ(std::memcmp(mapped, pattern.data(), 1024), 0)
          << "the import's mapping shows the owner's bytes";
      static_cast<uint8_t*>(mapped)[7] = 0xee;
      ASSERT_PORTA_OK(porta_buffer_unmap(alias.get()));
      uint8_t byte = 0;
      ASSERT_TRUE(ReadBuffer(stream_.get(), owner.get(), 7, 1, &byte));
      EXPECT_EQ(byte, 0xee) << "written through the import's mapping, read through the owner";
    }

    ASSERT_PORTA_OK(porta_buffer_free(alias.release()));
    ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
    EXPECT_EQ(releases.load(), 1) << "the release callback runs once the import is gone";
    // The owner's memory is untouched by the import's end.
    ASSERT_TRUE(ReadBuffer(stream_.get(), owner.get(), 0, 16, read.data()));
    EXPECT_EQ(std::memcmp(read.data(), pattern.data(), 7), 0);
  }
}

TEST_P(InteropTest, KernelsRunOnImportedBuffers) {
  PORTA_CTS_REQUIRE_KERNEL(info_, "vector_add");
  ModuleHandle module;
  porta_kernel_t kernel = nullptr;
  ASSERT_PORTA_OK(LoadTestKernel(device_, "vector_add", &module, &kernel));
  constexpr uint32_t kN = 1000;
  constexpr uint64_t kBytes = kN * sizeof(float);
  BufferHandle owners[3];
  BufferHandle aliases[3];
  std::atomic<int> releases{0};
  for (int i = 0; i < 3; ++i) {
    ASSERT_PORTA_OK(porta_buffer_alloc(device_, kBytes, PORTA_MEMORY_DEVICE, owners[i].out()));
    ASSERT_PORTA_OK(ImportAlias(device_, owners[i].get(), kBytes, PORTA_MEMORY_DEVICE, &releases,
                                aliases[i].out()));
  }
  const std::vector<float> a = RandomFloats(kN, 1);
  const std::vector<float> b = RandomFloats(kN, 2);
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), owners[0].get(), 0, a.data(), kBytes));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), owners[1].get(), 0, b.data(), kBytes));
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.block[0] = BlockSizeFor(info_, 64);
  config.grid[0] = (kN + config.block[0] - 1) / config.block[0];
  const uint32_t n = kN;
  const porta_kernel_arg_t args[] = {
      porta_arg_buffer(aliases[0].get(), 0), porta_arg_buffer(aliases[1].get(), 0),
      porta_arg_buffer(aliases[2].get(), 0), porta_arg_scalar(&n, 4)};
  ASSERT_PORTA_OK(porta_kernel_launch(stream_.get(), kernel, &config, args, 4));
  std::vector<float> c(kN);
  ASSERT_TRUE(ReadBuffer(stream_.get(), owners[2].get(), 0, kBytes, c.data()));
  for (uint32_t i = 0; i < kN; ++i) ASSERT_EQ(c[i], a[i] + b[i]) << "element " << i;
  for (BufferHandle& alias : aliases) ASSERT_PORTA_OK(porta_buffer_free(alias.release()));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  EXPECT_EQ(releases.load(), 3);
}

TEST_P(InteropTest, ReleaseWaitsForQueuedWork) {
  PORTA_CTS_REQUIRE_GATE(device_);
  Gate gate;
  ASSERT_TRUE(gate.Load(device_));
  BufferHandle owner;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 1024, PORTA_MEMORY_DEVICE, owner.out()));
  std::atomic<int> releases{0};
  BufferHandle alias;
  ASSERT_PORTA_OK(
      ImportAlias(device_, owner.get(), 1024, PORTA_MEMORY_DEVICE, &releases, alias.out()));
  const uint32_t word = 7;
  {
    SyncOnExit sync(stream_.get(), &gate);
    ASSERT_PORTA_OK(gate.Close(stream_.get()));
    ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), alias.get(), 0, 1024, &word, 4));
    ASSERT_PORTA_OK(porta_buffer_free(alias.release()));
    EXPECT_EQ(releases.load(), 0) << "released while a queued fill still uses the memory";
    gate.Open();
  }
  EXPECT_EQ(releases.load(), 1);
  uint32_t got = 0;
  ASSERT_TRUE(ReadBuffer(stream_.get(), owner.get(), 1020, 4, &got));
  EXPECT_EQ(got, word);
}

TEST_P(InteropTest, ImportRefusesBadArguments) {
  BufferHandle owner;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 256, PORTA_MEMORY_DEVICE, owner.out()));
  porta_native_handles_t native = PORTA_NATIVE_HANDLES_INIT;
  const porta_status_t got = porta_buffer_get_native_handles(owner.get(), &native);
  if (got == PORTA_ERROR_UNSUPPORTED) {
    RecordSkipReason("native handles");
    GTEST_SKIP() << "backend " << info_.backend << " exposes no native handles";
  }
  ASSERT_PORTA_OK(got);
  porta_buffer_import_desc_t desc = PORTA_BUFFER_IMPORT_DESC_INIT;
  desc.native = &native;
  desc.size = 256;
  porta_buffer_t out = nullptr;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_buffer",
                     porta_buffer_import(device_, &desc, nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "desc",
                     porta_buffer_import(device_, nullptr, &out));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "device",
                     porta_buffer_import(nullptr, &desc, &out));

  porta_buffer_import_desc_t bad = desc;
  bad.struct_size = offsetof(porta_buffer_import_desc_t, kind);
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "struct_size",
                     porta_buffer_import(device_, &bad, &out));
  bad = desc;
  bad.native = nullptr;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "native",
                     porta_buffer_import(device_, &bad, &out));
  bad = desc;
  bad.size = 0;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "size",
                     porta_buffer_import(device_, &bad, &out));
  bad = desc;
  bad.kind = static_cast<porta_memory_kind_t>(9);
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "kind",
                     porta_buffer_import(device_, &bad, &out));
  EXPECT_TRUE(LastErrorNamesNumber(9));

  porta_native_handles_t other = native;
  std::strcpy(other.backend, "no_such_backend");
  bad = desc;
  bad.native = &other;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "no_such_backend",
                     porta_buffer_import(device_, &bad, &out));
  EXPECT_TRUE(LastErrorSays(info_.backend));
  other = native;
  other.count = 0;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "count",
                     porta_buffer_import(device_, &bad, &out));
  other = native;
  other.count = PORTA_NATIVE_HANDLE_MAX + 1;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "count",
                     porta_buffer_import(device_, &bad, &out));
  other = native;
  other.handles[0] = 0;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "handles[0]",
                     porta_buffer_import(device_, &bad, &out));
  EXPECT_EQ(out, nullptr) << "a refused import wrote a buffer";
}

TEST_P(InteropTest, ImportRefusesMemorySmallerThanTheBuffer) {
  if (info_.backend == std::string("cpu")) {
    RecordSkipReason("import size check");
    GTEST_SKIP() << "host memory has no size the CPU device could ask for";
  }
  BufferHandle owner;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 256, PORTA_MEMORY_DEVICE, owner.out()));
  std::atomic<int> releases{0};
  porta_buffer_t out = nullptr;
  constexpr uint64_t kClaimed = uint64_t{64} << 20;
  const porta_status_t status =
      ImportAlias(device_, owner.get(), kClaimed, PORTA_MEMORY_DEVICE, &releases, &out);
  if (status == PORTA_ERROR_UNSUPPORTED) {
    RecordSkipReason("buffer import");
    GTEST_SKIP() << "backend " << info_.backend << " does not import memory";
  }
  EXPECT_PORTA_STATUS(PORTA_ERROR_INVALID_ARGUMENT, status);
  EXPECT_TRUE(LastErrorNamesNumber(kClaimed));
  EXPECT_EQ(out, nullptr);
  EXPECT_EQ(releases.load(), 0) << "a refused import called the release callback";
}

PORTA_CTS_INSTANTIATE(InteropTest);

}  // namespace
}  // namespace porta_cts
