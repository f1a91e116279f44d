// The fixture the CUDA and HIP graph tests share (test code only): the backend's table on its
// fake vendor library, a test double that records what the backend asks of it, with one device,
// two 4 KiB device buffers, a module holding the fake's kernel "k", and one or two streams. The
// vendor test reaches the fake's recorded state through the symbol it names.
#ifndef PORTA_BACKENDS_GPU_GPU_FAKE_TEST_H_
#define PORTA_BACKENDS_GPU_GPU_FAKE_TEST_H_

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "porta/porta_backend.h"
#include "porta/sdk/backend_test_support.h"

namespace porta::gpu::test {

// The value of type T that the fake recorded as |bytes|.
template <typename T>
T Read(const std::vector<unsigned char>& bytes) {
  T value{};
  EXPECT_EQ(bytes.size(), sizeof(T));
  std::memcpy(&value, bytes.data(), sizeof(T));
  return value;
}

class FakeGpuTest : public ::testing::Test {
 protected:
  // Points the backend at the fake |library| through |library_env| and opens the library for the
  // test too, so that the fake's recorded state lives across the backend's load and unload.
  // |*state_symbol_out| is the fake's |state_symbol|; the caller resets the state before
  // OpenDevice.
  void LoadFake(const char* library_env, const char* library, const char* state_symbol,
                void** state_symbol_out) {
    env_ = std::make_unique<porta::test::ScopedEnv>(library_env, library);
    handle_ = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle_, nullptr) << dlerror();
    *state_symbol_out = dlsym(handle_, state_symbol);
    ASSERT_NE(*state_symbol_out, nullptr) << state_symbol;
  }

  // Initializes the backend of |entry| on the fake and opens its one device, the two buffers, the
  // fake's kernel "k" from a module of |format| and |stream_count| (1 or 2) streams.
  void OpenDevice(porta_backend_entry_fn entry, porta_kernel_format_t format, int stream_count) {
    table_ = porta::test::Table(entry);
    ASSERT_NE(table_, nullptr);
    const porta_backend_host_t host = porta::test::Host();
    ASSERT_EQ(table_->init(&host, &backend_, message_.get()), PORTA_OK) << message_.text;
    uint32_t count = 0;
    ASSERT_EQ(table_->device_count(backend_, &count, message_.get()), PORTA_OK);
    ASSERT_EQ(count, 1u) << message_.text;
    ASSERT_EQ(table_->device_open(backend_, 0, &device_, message_.get()), PORTA_OK)
        << message_.text;
    for (porta_be_buffer_t* buffer : {&a_, &b_}) {
      ASSERT_EQ(table_->buffer_alloc(device_, 4096, PORTA_MEMORY_DEVICE, buffer, message_.get()),
                PORTA_OK)
          << message_.text;
    }
    const char binary[] = "fake";
    porta_module_source_t source = {};
    source.format = format;
    source.data = binary;
    source.size = sizeof(binary) - 1;
    ASSERT_EQ(table_->module_load(device_, &source, &module_, message_.get()), PORTA_OK)
        << message_.text;
    ASSERT_EQ(table_->module_get_kernel(module_, "k", &kernel_, message_.get()), PORTA_OK)
        << message_.text;
    porta_be_stream_t* streams[2] = {&stream_, &other_stream_};
    for (int i = 0; i < stream_count; ++i) {
      ASSERT_EQ(table_->stream_create(device_, streams[i], message_.get()), PORTA_OK)
          << message_.text;
    }
  }

  void TearDown() override {
    for (porta_be_stream_t stream : {stream_, other_stream_}) {
      if (stream != nullptr) table_->stream_destroy(stream);
    }
    if (module_ != nullptr) table_->module_destroy(module_);
    for (porta_be_buffer_t buffer : {a_, b_}) {
      if (buffer != nullptr) table_->buffer_free(buffer);
    }
    if (device_ != nullptr) table_->device_close(device_);
    if (backend_ != nullptr) table_->shutdown(backend_);
    if (handle_ != nullptr) dlclose(handle_);
  }

  // The device pointer behind |buffer|.
  uint64_t NativeHandle(porta_be_buffer_t buffer) {
    uint64_t handle = 0;
    EXPECT_EQ(table_->buffer_native_handle(buffer, &handle, message_.get()), PORTA_OK);
    return handle;
  }

  // (a + 16, |scalar|, b), as the fake's kernels take them.
  std::vector<porta_be_arg_t> Args(const uint32_t* scalar) const {
    std::vector<porta_be_arg_t> args(3);
    args[0].kind = PORTA_ARG_BUFFER;
    args[0].buffer = a_;
    args[0].offset = 16;
    args[1].kind = PORTA_ARG_SCALAR;
    args[1].scalar = scalar;
    args[1].scalar_size = sizeof(*scalar);
    args[2].kind = PORTA_ARG_BUFFER;
    args[2].buffer = b_;
    return args;
  }

  // kernel(Args(scalar)) on a 4x2x1 grid of |block|x1x1; copy 128 bytes a + 64 -> b; fill a + 256
  // with 64 bytes of the 16-bit pattern 0xBEEF.
  porta_status_t CreateThreeNodeGraph(const uint32_t* scalar, porta_be_graph_t* graph,
                                      uint32_t block = 64) {
    args_ = Args(scalar);
    config_ = {};
    config_.grid[0] = 4;
    config_.grid[1] = 2;
    config_.grid[2] = 1;
    config_.block[0] = block;
    config_.block[1] = 1;
    config_.block[2] = 1;
    porta_be_graph_node_t nodes[3] = {};
    nodes[0].kind = PORTA_GRAPH_NODE_KERNEL;
    nodes[0].kernel = kernel_;
    nodes[0].config = &config_;
    nodes[0].args = args_.data();
    nodes[0].arg_count = static_cast<uint32_t>(args_.size());
    nodes[1].kind = PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE;
    nodes[1].dst = b_;
    nodes[1].src = a_;
    nodes[1].src_offset = 64;
    nodes[1].size = 128;
    nodes[2].kind = PORTA_GRAPH_NODE_FILL;
    nodes[2].dst = a_;
    nodes[2].dst_offset = 256;
    nodes[2].size = 64;
    nodes[2].pattern = &pattern_;
    nodes[2].pattern_size = sizeof(pattern_);
    return table_->graph_create(device_, nodes, 3, graph, message_.get());
  }

  std::unique_ptr<porta::test::ScopedEnv> env_;
  void* handle_ = nullptr;
  const porta_backend_table_t* table_ = nullptr;
  porta::test::Message message_;
  porta_be_backend_t backend_ = nullptr;
  porta_be_device_t device_ = nullptr;
  porta_be_buffer_t a_ = nullptr;
  porta_be_buffer_t b_ = nullptr;
  porta_be_module_t module_ = nullptr;
  porta_be_kernel_t kernel_ = nullptr;
  porta_be_stream_t stream_ = nullptr;
  porta_be_stream_t other_stream_ = nullptr;
  std::vector<porta_be_arg_t> args_;
  porta_launch_config_t config_ = {};
  const uint16_t pattern_ = 0xBEEF;
};

}  // namespace porta::gpu::test

#endif  // PORTA_BACKENDS_GPU_GPU_FAKE_TEST_H_
