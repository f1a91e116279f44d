// Bad input, part 1: runtime, device, buffer, stream, copy and fill functions. Every function of
// porta.h is called with each kind of bad argument it can get: NULL handles, NULL out-pointers,
// destroyed handles, handles of another type, illegal zeros, ranges outside a buffer and offset +
// size overflow. Each must return the documented status and a message naming the argument.
// Events, modules and launches are in errors_module_test.cpp.
#include <algorithm>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "conformance/c_callers.h"
#include "conformance/cts.h"

namespace porta_cts {
namespace {

class ErrorsTest : public BufferTest {
 protected:
  // A handle that was valid and has been freed (StaleHandlesStayInvalid checks that this holds
  // however many objects are created after it).
  porta_buffer_t FreedBuffer() {
    porta_buffer_t buffer = nullptr;
    EXPECT_PORTA_OK(porta_buffer_alloc(device_, 64, PORTA_MEMORY_DEVICE, &buffer));
    EXPECT_PORTA_OK(porta_buffer_free(buffer));
    return buffer;
  }
  porta_stream_t DestroyedStream() {
    porta_stream_t stream = nullptr;
    EXPECT_PORTA_OK(porta_stream_create(device_, &stream));
    EXPECT_PORTA_OK(porta_stream_destroy(stream));
    return stream;
  }
  // Handles of another type than the parameter expects.
  porta_buffer_t StreamAsBuffer() { return reinterpret_cast<porta_buffer_t>(stream_.get()); }
  porta_stream_t BufferAsStream() { return reinterpret_cast<porta_stream_t>(buffer_.get()); }
  porta_device_t StreamAsDevice() { return reinterpret_cast<porta_device_t>(stream_.get()); }
  porta_runtime_t DeviceAsRuntime() { return reinterpret_cast<porta_runtime_t>(device_); }
};

TEST_P(ErrorsTest, VersionAndStatusStrings) {
  porta_version(nullptr, nullptr, nullptr);
  uint32_t major = 99, minor = 99, patch = 99;
  porta_version(&major, nullptr, nullptr);
  EXPECT_EQ(major, static_cast<uint32_t>(PORTA_VERSION_MAJOR));
  porta_version(&major, &minor, &patch);
  const std::string text = porta_version_string();
  EXPECT_EQ(text,
            std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch));
  for (int status = PORTA_OK; status <= PORTA_ERROR_BACKEND; ++status) {
    const char* name = porta_status_string(static_cast<porta_status_t>(status));
    ASSERT_NE(name, nullptr);
    EXPECT_EQ(std::strncmp(name, "PORTA_", 6), 0) << name;
    EXPECT_STRNE(name, "PORTA_STATUS_UNKNOWN") << "status " << status;
  }
  EXPECT_STREQ(porta_status_string(PORTA_ERROR_OUT_OF_RANGE), "PORTA_ERROR_OUT_OF_RANGE");
  EXPECT_STREQ(porta_cts_status_string_raw(999), "PORTA_STATUS_UNKNOWN");
  EXPECT_STREQ(porta_cts_status_string_raw(-1), "PORTA_STATUS_UNKNOWN");
  EXPECT_NE(porta_last_error_message(), nullptr);
}

TEST_P(ErrorsTest, RuntimeCreateAndDestroy) {
  porta_runtime_options_t options = RuntimeOptions();
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_runtime",
                     porta_runtime_create(&options, nullptr));
  RuntimeHandle runtime;
  options.struct_size = 1;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "struct_size",
                     porta_runtime_create(&options, runtime.out()));
  options = RuntimeOptions();
  options.device_filter = "cpu:zero";
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "filter|PORTA_DEVICES|zero",
                     porta_runtime_create(&options, runtime.out()));
  EXPECT_FALSE(runtime) << "a failed create must not hand out a runtime";

  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "runtime", porta_runtime_destroy(nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "runtime",
                     porta_runtime_destroy(DeviceAsRuntime()));
  // A destroyed runtime handle is detected, not dereferenced.
  options = RuntimeOptions();
  porta_runtime_t destroyed = nullptr;
  ASSERT_PORTA_OK(porta_runtime_create(&options, &destroyed));
  ASSERT_PORTA_OK(porta_runtime_destroy(destroyed));
  uint32_t count = 0;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "runtime",
                     porta_runtime_device_count(destroyed, &count));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "runtime", porta_runtime_destroy(destroyed));
}

TEST_P(ErrorsTest, RuntimeQueries) {
  const porta_runtime_t runtime = Env().runtime;
  uint32_t count = 0;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "runtime",
                     porta_runtime_device_count(nullptr, &count));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "runtime",
                     porta_runtime_device_count(DeviceAsRuntime(), &count));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_count",
                     porta_runtime_device_count(runtime, nullptr));
  ASSERT_PORTA_OK(porta_runtime_device_count(runtime, &count));

  porta_device_t device = nullptr;
  const std::string index_needles = "index|" + std::to_string(count);
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "runtime",
                     porta_runtime_device(nullptr, 0, &device));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, index_needles.c_str(),
                     porta_runtime_device(runtime, count, &device));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "index",
                     porta_runtime_device(runtime, UINT32_MAX, &device));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_device",
                     porta_runtime_device(runtime, 0, nullptr));

  uint32_t backends = 0;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "runtime",
                     porta_runtime_backend_count(nullptr, &backends));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_count",
                     porta_runtime_backend_count(runtime, nullptr));
  ASSERT_PORTA_OK(porta_runtime_backend_count(runtime, &backends));
  porta_backend_report_t report = PORTA_BACKEND_REPORT_INIT;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "runtime",
                     porta_runtime_backend_report(nullptr, 0, &report));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "index",
                     porta_runtime_backend_report(runtime, backends, &report));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "report",
                     porta_runtime_backend_report(runtime, 0, nullptr));
  report.struct_size = 0;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "struct_size",
                     porta_runtime_backend_report(runtime, 0, &report));

  size_t required = 0;
  char small[4];
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "runtime",
                     porta_runtime_diagnostics(nullptr, small, sizeof(small), &required));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "buffer",
                     porta_runtime_diagnostics(runtime, nullptr, 16, &required));
  ASSERT_PORTA_OK(porta_runtime_diagnostics(runtime, nullptr, 0, &required));
  EXPECT_GT(required, 1u);
  ASSERT_PORTA_OK(porta_runtime_diagnostics(runtime, small, sizeof(small), nullptr));
  EXPECT_EQ(small[sizeof(small) - 1], '\0') << "a truncated diagnostics text is NUL-terminated";
}

TEST_P(ErrorsTest, DeviceGetInfo) {
  porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "device", porta_device_get_info(nullptr, &info));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "device",
                     porta_device_get_info(StreamAsDevice(), &info));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "info", porta_device_get_info(device_, nullptr));
  for (size_t size : {size_t{0}, size_t{1}, sizeof(size_t) - 1}) {
    info.struct_size = size;
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "struct_size",
                       porta_device_get_info(device_, &info));
  }
}

TEST_P(ErrorsTest, BufferAlloc) {
  BufferHandle buffer;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "device",
                     porta_buffer_alloc(nullptr, 64, PORTA_MEMORY_DEVICE, buffer.out()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "device",
                     porta_buffer_alloc(StreamAsDevice(), 64, PORTA_MEMORY_DEVICE, buffer.out()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "size",
                     porta_buffer_alloc(device_, 0, PORTA_MEMORY_DEVICE, buffer.out()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "size|max_allocation",
                     porta_buffer_alloc(device_, info_.max_allocation_bytes + 1,
                                        PORTA_MEMORY_DEVICE, buffer.out()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "size|max_allocation",
                     porta_buffer_alloc(device_, UINT64_MAX, PORTA_MEMORY_DEVICE, buffer.out()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "kind",
                     porta_cts_buffer_alloc_raw_kind(device_, 64, 7, buffer.out()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_buffer",
                     porta_buffer_alloc(device_, 64, PORTA_MEMORY_DEVICE, nullptr));
  if ((info_.capabilities & PORTA_CAP_HOST_VISIBLE_MEMORY) == 0) {
    EXPECT_PORTA_ERROR(PORTA_ERROR_UNSUPPORTED, "host",
                       porta_buffer_alloc(device_, 64, PORTA_MEMORY_HOST_VISIBLE, buffer.out()));
  }
  EXPECT_FALSE(buffer) << "a failed alloc must not hand out a buffer";
}

TEST_P(ErrorsTest, BufferHandleFunctions) {
  uint64_t size = 0, native = 0;
  porta_device_t device = nullptr;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer", porta_buffer_free(nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer", porta_buffer_free(StreamAsBuffer()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer", porta_buffer_free(FreedBuffer()));

  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer", porta_buffer_size(nullptr, &size));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer",
                     porta_buffer_size(StreamAsBuffer(), &size));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer", porta_buffer_size(FreedBuffer(), &size));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_size",
                     porta_buffer_size(buffer_.get(), nullptr));

  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer", porta_buffer_device(nullptr, &device));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer",
                     porta_buffer_device(FreedBuffer(), &device));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_device",
                     porta_buffer_device(buffer_.get(), nullptr));

  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer",
                     porta_buffer_native_handle(nullptr, &native));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer",
                     porta_buffer_native_handle(FreedBuffer(), &native));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_handle",
                     porta_buffer_native_handle(buffer_.get(), nullptr));
}

TEST_P(ErrorsTest, BufferMapAndUnmap) {
  void* ptr = nullptr;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer", porta_buffer_map(nullptr, 0, 4, &ptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer",
                     porta_buffer_map(FreedBuffer(), 0, 4, &ptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer", porta_buffer_unmap(nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer", porta_buffer_unmap(StreamAsBuffer()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_UNSUPPORTED, "host", porta_buffer_map(buffer_.get(), 0, 4, &ptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "mapped", porta_buffer_unmap(buffer_.get()));
  PORTA_CTS_REQUIRE_CAP(info_, PORTA_CAP_HOST_VISIBLE_MEMORY);

  constexpr uint64_t kSize = 256;
  BufferHandle visible;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_HOST_VISIBLE, visible.out()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_ptr",
                     porta_buffer_map(visible.get(), 0, 4, nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "offset|size|range",
                     porta_buffer_map(visible.get(), kSize - 2, 4, &ptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "offset|size|range",
                     porta_buffer_map(visible.get(), kSize, 1, &ptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "offset|size|range",
                     porta_buffer_map(visible.get(), UINT64_MAX, 2, &ptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "offset|size|range",
                     porta_buffer_map(visible.get(), 8, UINT64_MAX, &ptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "size",
                     porta_buffer_map(visible.get(), 0, 0, &ptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "mapped", porta_buffer_unmap(visible.get()));
  ASSERT_PORTA_OK(porta_buffer_map(visible.get(), 0, kSize, &ptr));
  void* second = nullptr;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "mapped",
                     porta_buffer_map(visible.get(), 0, 4, &second));
  EXPECT_PORTA_OK(porta_buffer_unmap(visible.get()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "mapped", porta_buffer_unmap(visible.get()));
}

TEST_P(ErrorsTest, StreamFunctions) {
  StreamHandle stream;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "device",
                     porta_stream_create(nullptr, stream.out()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "device",
                     porta_stream_create(StreamAsDevice(), stream.out()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_stream",
                     porta_stream_create(device_, nullptr));
  EXPECT_FALSE(stream);
  for (auto* fn : {porta_stream_destroy, porta_stream_synchronize, porta_stream_query}) {
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream", fn(nullptr));
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream", fn(BufferAsStream()));
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream", fn(DestroyedStream()));
  }
  porta_device_t owner = nullptr;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream", porta_stream_device(nullptr, &owner));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_stream_device(DestroyedStream(), &owner));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_device",
                     porta_stream_device(stream_.get(), nullptr));
  ASSERT_PORTA_OK(porta_stream_device(stream_.get(), &owner));
  EXPECT_EQ(owner, device_);
}

// A destroyed handle never comes back to life: destroying a stream twice after another stream was
// created in between fails and leaves the new stream alone, a freed buffer's handle does not
// answer for the buffer allocated after it, and thousands of objects created after a destruction
// (reusing the memory and the runtime's bookkeeping of the destroyed ones) get handle values of
// their own.
TEST_P(ErrorsTest, StaleHandlesStayInvalid) {
  porta_stream_t a = nullptr;
  ASSERT_PORTA_OK(porta_stream_create(device_, &a));
  ASSERT_PORTA_OK(porta_stream_destroy(a));
  StreamHandle b;
  ASSERT_PORTA_OK(porta_stream_create(device_, b.out()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream", porta_stream_destroy(a));
  EXPECT_PORTA_OK(porta_stream_synchronize(b.get()));

  porta_buffer_t x = FreedBuffer();
  BufferHandle y;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 128, PORTA_MEMORY_DEVICE, y.out()));
  uint64_t size = 0;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer", porta_buffer_size(x, &size));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer", porta_buffer_free(x));
  ASSERT_PORTA_OK(porta_buffer_size(y.get(), &size));
  EXPECT_EQ(size, 128u);

  porta_event_t event = nullptr;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, &event));
  ASSERT_PORTA_OK(porta_event_destroy(event));
  EventHandle other_event;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, other_event.out()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "event", porta_event_destroy(event));
  EXPECT_PORTA_OK(porta_event_query(other_event.get()));

  // Many allocations and frees: every handle value is new and every freed one stays dead.
  constexpr int kRounds = 3000;
  std::vector<porta_buffer_t> freed;
  freed.reserve(kRounds);
  for (int i = 0; i < kRounds; ++i) {
    porta_buffer_t buffer = nullptr;
    ASSERT_PORTA_OK(porta_buffer_alloc(device_, 64, PORTA_MEMORY_DEVICE, &buffer));
    ASSERT_PORTA_OK(porta_buffer_free(buffer));
    freed.push_back(buffer);
  }
  std::vector<porta_buffer_t> sorted = freed;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end())
      << "a handle value was handed out twice";
  for (int i = 0; i < kRounds; i += 97) {
    EXPECT_PORTA_STATUS(PORTA_ERROR_INVALID_HANDLE, porta_buffer_size(freed[i], &size))
        << "freed buffer " << i;
  }
}

// A layered library reports its failures through the runtime's last-error channel.
TEST_P(ErrorsTest, SetLastError) {
  EXPECT_EQ(porta_set_last_error(PORTA_ERROR_OUT_OF_RANGE, "layered: index 9 is past 4"),
            PORTA_ERROR_OUT_OF_RANGE);
  EXPECT_STREQ(porta_last_error_message(), "layered: index 9 is past 4");
  EXPECT_EQ(porta_set_last_error(PORTA_OK, nullptr), PORTA_OK);
  EXPECT_STREQ(porta_last_error_message(), "");
  // Per thread: another thread's message is its own.
  std::string other;
  std::thread([&other] {
    porta_set_last_error(PORTA_ERROR_BACKEND, "from another thread");
    other = porta_last_error_message();
  }).join();
  EXPECT_EQ(other, "from another thread");
  EXPECT_STREQ(porta_last_error_message(), "");
}

TEST_P(ErrorsTest, CopyHostToDevice) {
  const porta_stream_t s = stream_.get();
  const porta_buffer_t b = buffer_.get();
  const uint8_t src[8] = {};
  const std::string size_text = std::to_string(kBufferSize);
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_copy_host_to_device(nullptr, b, 0, src, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_copy_host_to_device(BufferAsStream(), b, 0, src, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_copy_host_to_device(DestroyedStream(), b, 0, src, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "dst",
                     porta_copy_host_to_device(s, nullptr, 0, src, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "dst",
                     porta_copy_host_to_device(s, FreedBuffer(), 0, src, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "dst",
                     porta_copy_host_to_device(s, StreamAsBuffer(), 0, src, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "src",
                     porta_copy_host_to_device(s, b, 0, nullptr, 4));
  // Out of range: the message carries the buffer's size, as documented.
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, size_text.c_str(),
                     porta_copy_host_to_device(s, b, kBufferSize - 2, src, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, size_text.c_str(),
                     porta_copy_host_to_device(s, b, kBufferSize + 1, src, 0));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "dst_offset|size|range",
                     porta_copy_host_to_device(s, b, UINT64_MAX, src, 2));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "dst_offset|size|range",
                     porta_copy_host_to_device(s, b, 4, src, UINT64_MAX));
  if (Env().devices.size() >= 2) {
    BufferHandle foreign;
    ASSERT_PORTA_OK(
        porta_buffer_alloc(OtherDevices(device_).front(), 64, PORTA_MEMORY_DEVICE, foreign.out()));
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "device",
                       porta_copy_host_to_device(s, foreign.get(), 0, src, 4));
  }
}

TEST_P(ErrorsTest, CopyDeviceToHost) {
  const porta_stream_t s = stream_.get();
  const porta_buffer_t b = buffer_.get();
  uint8_t dst[8] = {};
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_copy_device_to_host(nullptr, dst, b, 0, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_copy_device_to_host(DestroyedStream(), dst, b, 0, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "src",
                     porta_copy_device_to_host(s, dst, nullptr, 0, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "src",
                     porta_copy_device_to_host(s, dst, FreedBuffer(), 0, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "src",
                     porta_copy_device_to_host(s, dst, StreamAsBuffer(), 0, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "dst",
                     porta_copy_device_to_host(s, nullptr, b, 0, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "src_offset|size|range",
                     porta_copy_device_to_host(s, dst, b, kBufferSize - 2, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "src_offset|size|range",
                     porta_copy_device_to_host(s, dst, b, UINT64_MAX, 2));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "src_offset|size|range",
                     porta_copy_device_to_host(s, dst, b, 4, UINT64_MAX));
  if (Env().devices.size() >= 2) {
    BufferHandle foreign;
    ASSERT_PORTA_OK(
        porta_buffer_alloc(OtherDevices(device_).front(), 64, PORTA_MEMORY_DEVICE, foreign.out()));
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "device",
                       porta_copy_device_to_host(s, dst, foreign.get(), 0, 4));
  }
}

TEST_P(ErrorsTest, CopyDeviceToDevice) {
  const porta_stream_t s = stream_.get();
  const porta_buffer_t b = buffer_.get();
  BufferHandle other;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 128, PORTA_MEMORY_DEVICE, other.out()));
  const porta_buffer_t o = other.get();
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_copy_device_to_device(nullptr, o, 0, b, 0, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "dst",
                     porta_copy_device_to_device(s, nullptr, 0, b, 0, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "src",
                     porta_copy_device_to_device(s, o, 0, nullptr, 0, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "dst",
                     porta_copy_device_to_device(s, FreedBuffer(), 0, b, 0, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "src",
                     porta_copy_device_to_device(s, o, 0, FreedBuffer(), 0, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "src",
                     porta_copy_device_to_device(s, o, 0, StreamAsBuffer(), 0, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "dst_offset|size|range",
                     porta_copy_device_to_device(s, o, 120, b, 0, 16));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "src_offset|size|range",
                     porta_copy_device_to_device(s, o, 0, b, kBufferSize - 8, 16));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "dst_offset|size|range",
                     porta_copy_device_to_device(s, o, UINT64_MAX, b, 0, 2));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "src_offset|size|range",
                     porta_copy_device_to_device(s, o, 0, b, UINT64_MAX, 2));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "offset|size|range",
                     porta_copy_device_to_device(s, o, 0, b, 0, UINT64_MAX));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "overlap",
                     porta_copy_device_to_device(s, b, 0, b, 10, 20));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "overlap",
                     porta_copy_device_to_device(s, b, 100, b, 100, 1));
  if (Env().devices.size() >= 2) {
    // Neither buffer belongs to the stream's device.
    const porta_device_t foreign_device = OtherDevices(device_).front();
    BufferHandle f1, f2;
    ASSERT_PORTA_OK(porta_buffer_alloc(foreign_device, 64, PORTA_MEMORY_DEVICE, f1.out()));
    ASSERT_PORTA_OK(porta_buffer_alloc(foreign_device, 64, PORTA_MEMORY_DEVICE, f2.out()));
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "device",
                       porta_copy_device_to_device(s, f1.get(), 0, f2.get(), 0, 4));
  }
}

TEST_P(ErrorsTest, FillBuffer) {
  const porta_stream_t s = stream_.get();
  const porta_buffer_t b = buffer_.get();
  const uint32_t pattern = 0x01020304u;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_fill_buffer(nullptr, b, 0, 4, &pattern, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_fill_buffer(DestroyedStream(), b, 0, 4, &pattern, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "dst",
                     porta_fill_buffer(s, nullptr, 0, 4, &pattern, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "dst",
                     porta_fill_buffer(s, FreedBuffer(), 0, 4, &pattern, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "pattern",
                     porta_fill_buffer(s, b, 0, 4, nullptr, 4));
  for (uint32_t bad_size : {0u, 3u, 8u, 16u}) {
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "pattern_size",
                       porta_fill_buffer(s, b, 0, 48, &pattern, bad_size));
  }
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "offset",
                     porta_fill_buffer(s, b, 1, 4, &pattern, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "offset",
                     porta_fill_buffer(s, b, 3, 4, &pattern, 2));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "size",
                     porta_fill_buffer(s, b, 0, 6, &pattern, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "offset|size|range",
                     porta_fill_buffer(s, b, kBufferSize - 4, 8, &pattern, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "offset|size|range",
                     porta_fill_buffer(s, b, UINT64_MAX - 3, 4, &pattern, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "offset|size|range",
                     porta_fill_buffer(s, b, 4, UINT64_MAX - 3, &pattern, 4));
}

PORTA_CTS_INSTANTIATE(ErrorsTest);

}  // namespace
}  // namespace porta_cts
