// DLPack (porta_dlpack.h): export of tensors as DLPack managed tensors and import back, zero copy,
// on every device; the buffer's life across the exchange; the deleter's single call; and the
// errors, with messages naming what was wrong.
#include "porta/porta_dlpack.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "conformance/cts.h"
#include "porta/porta_ops.h"

namespace porta_cts {
namespace {

class DlpackTest : public StreamTest {
 protected:
  // DLPack names device types, not backends: a plugin's backend has none, so the export refuses
  // its tensors (checked here, naming the backend) and the exchange tests skip on its devices.
  void SetUp() override {
    StreamTest::SetUp();
    if (IsSkipped() || HasFatalFailure() || DeviceType() != -1) return;
    BufferHandle buffer;
    ASSERT_PORTA_OK(porta_buffer_alloc(device_, 256, PORTA_MEMORY_DEVICE, buffer.out()));
    const int64_t shape[1] = {4};
    const porta_tensor_t tensor =
        porta_tensor_contiguous(buffer.get(), 0, PORTA_DTYPE_F32, 1, shape);
    DLManagedTensorVersioned* managed = nullptr;
    EXPECT_PORTA_STATUS(PORTA_ERROR_UNSUPPORTED, porta_tensor_to_dlpack(&tensor, &managed));
    EXPECT_EQ(managed, nullptr);
    EXPECT_NE(std::string(porta_last_error_message()).find(info_.backend), std::string::npos)
        << porta_last_error_message();
    RecordSkipReason("a DLPack device type (a plugin's backend has none)");
    GTEST_SKIP() << "DLPack has no device type for backend " << info_.backend;
  }

  // The DLPack device type porta_dlpack.h maps this device's backend to.
  int32_t DeviceType() const {
    const std::string backend = info_.backend;
    if (backend == "cpu") return kDLCPU;
    if (backend == "cuda") return kDLCUDA;
    if (backend == "hip") return kDLROCM;
    if (backend == "opencl") return kDLOpenCL;
    if (backend == "vulkan") return kDLVulkan;
    if (backend == "level_zero") return PORTA_DLPACK_DEVICE_ONEAPI;
    return -1;
  }
  // DLTensor.data is an address (cpu, cuda, hip, level_zero), not a cl_mem or VkBuffer.
  bool PointerDevice() const {
    const int32_t type = DeviceType();
    return type != kDLOpenCL && type != kDLVulkan;
  }
};

uint64_t NativeMemory(porta_buffer_t buffer) {
  porta_native_handles_t native = PORTA_NATIVE_HANDLES_INIT;
  if (porta_buffer_get_native_handles(buffer, &native) != PORTA_OK) return 0;
  return native.handles[0];
}

// A managed tensor that wraps another one and counts its deleter's calls, as a consumer-side
// probe: its deleter counts, then calls the wrapped tensor's.
struct Counted {
  DLManagedTensorVersioned managed{};
  DLManagedTensorVersioned* inner = nullptr;
  std::atomic<int>* deletes = nullptr;
};

void DeleteCounted(DLManagedTensorVersioned* self) {
  auto* counted = static_cast<Counted*>(self->manager_ctx);
  counted->deletes->fetch_add(1);
  if (counted->inner != nullptr) counted->inner->deleter(counted->inner);
  delete counted;
}

DLManagedTensorVersioned* Count(DLManagedTensorVersioned* inner, std::atomic<int>* deletes) {
  auto* counted = new Counted;
  counted->managed = *inner;
  counted->managed.manager_ctx = counted;
  counted->managed.deleter = DeleteCounted;
  counted->inner = inner;
  counted->deletes = deletes;
  return &counted->managed;
}

TEST_P(DlpackTest, ExportDescribesTheTensor) {
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 4096, PORTA_MEMORY_DEVICE, buffer.out()));
  const int64_t shape[3] = {2, 3, 5};
  porta_tensor_t tensor = porta_tensor_contiguous(buffer.get(), 64, PORTA_DTYPE_F32, 3, shape);
  porta_tensor_t view{};
  const int32_t perm[3] = {2, 0, 1};
  ASSERT_PORTA_OK(porta_tensor_permute(&tensor, perm, &view));
  DLManagedTensorVersioned* managed = nullptr;
  ASSERT_PORTA_OK(porta_tensor_to_dlpack(&view, &managed));
  ASSERT_NE(managed, nullptr);
  EXPECT_EQ(managed->version.major, 1u);
  EXPECT_EQ(managed->version.minor, PORTA_DLPACK_MINOR_VERSION);
  EXPECT_EQ(managed->flags, 0u) << "a Porta tensor is writable and not a copy";
  const DLTensor& t = managed->dl_tensor;
  EXPECT_EQ(static_cast<int32_t>(t.device.device_type), DeviceType());
  EXPECT_EQ(t.device.device_id, static_cast<int>(info_.backend_device_index));
  EXPECT_EQ(t.dtype.code, kDLFloat);
  EXPECT_EQ(t.dtype.bits, 32);
  EXPECT_EQ(t.dtype.lanes, 1);
  ASSERT_EQ(t.ndim, 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(t.shape[i], view.shape[i]) << "dimension " << i;
    EXPECT_EQ(t.strides[i], view.strides[i]) << "dimension " << i << " (strides in elements)";
  }
  EXPECT_NE(t.shape, view.shape) << "the shape lives in the managed tensor's own memory";
  const uint64_t memory = NativeMemory(buffer.get());
  if (PointerDevice()) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data), memory + 64) << "data is the first element";
    EXPECT_EQ(t.byte_offset, 0u);
  } else {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data), memory) << "data is the cl_mem or VkBuffer";
    EXPECT_EQ(t.byte_offset, 64u);
  }
  managed->deleter(managed);

  // Every element type DLPack can describe.
  const struct {
    porta_dtype_t dtype;
    uint8_t code;
    uint8_t bits;
  } types[] = {{PORTA_DTYPE_F16, kDLFloat, 16},
               {PORTA_DTYPE_BF16, kDLBfloat, 16},
               {PORTA_DTYPE_I32, kDLInt, 32},
               {PORTA_DTYPE_I8, kDLInt, 8}};
  for (const auto& type : types) {
    SCOPED_TRACE(porta_dtype_name(type.dtype));
    const porta_tensor_t typed = porta_tensor_contiguous(buffer.get(), 0, type.dtype, 3, shape);
    ASSERT_PORTA_OK(porta_tensor_to_dlpack(&typed, &managed));
    EXPECT_EQ(managed->dl_tensor.dtype.code, type.code);
    EXPECT_EQ(managed->dl_tensor.dtype.bits, type.bits);
    managed->deleter(managed);
  }
}

TEST_P(DlpackTest, RoundTripSharesTheMemory) {
  constexpr uint64_t kBytes = 4096;
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kBytes, PORTA_MEMORY_DEVICE, buffer.out()));
  // Offsets that are 16-byte aligned and not, for the CPU device's alignment rule.
  for (uint64_t offset : {uint64_t{0}, uint64_t{256}, uint64_t{36}}) {
    SCOPED_TRACE("offset " + std::to_string(offset));
    const int64_t shape[2] = {8, 16};
    const porta_tensor_t tensor =
        porta_tensor_contiguous(buffer.get(), offset, PORTA_DTYPE_F32, 2, shape);
    DLManagedTensorVersioned* managed = nullptr;
    ASSERT_PORTA_OK(porta_tensor_to_dlpack(&tensor, &managed));
    std::atomic<int> deletes{0};
    DLManagedTensorVersioned* counted = Count(managed, &deletes);
    porta_tensor_t back{};
    ASSERT_PORTA_OK(porta_tensor_from_dlpack(Env().runtime, counted, &back));
    BufferHandle imported(back.buffer);
    EXPECT_EQ(back.dtype, PORTA_DTYPE_F32);
    ASSERT_EQ(back.rank, 2u);
    EXPECT_EQ(back.shape[0], 8);
    EXPECT_EQ(back.shape[1], 16);
    EXPECT_EQ(back.strides[0], 16);
    EXPECT_EQ(back.strides[1], 1);
    porta_device_t owner = nullptr;
    ASSERT_PORTA_OK(porta_buffer_device(back.buffer, &owner));
    EXPECT_EQ(owner, device_) << "imported on the device the DLPack tensor names";
    // Zero copy: the import wraps the very memory of the original buffer.
    EXPECT_EQ(NativeMemory(back.buffer) + back.offset, NativeMemory(buffer.get()) + offset)
        << "the imported tensor's first element is not the original's";

    // Bytes written through one are read through the other, both ways.
    const std::vector<float> values = RandomFloats(128, static_cast<uint32_t>(offset) + 1);
    ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), back.buffer, back.offset,
                                              values.data(), 128 * sizeof(float)));
    std::vector<float> read(128);
    ASSERT_TRUE(ReadBuffer(stream_.get(), buffer.get(), offset, 128 * sizeof(float), read.data()));
    EXPECT_EQ(read, values) << "written through the import, read through the original";
    const float one = 1.0f;
    ASSERT_PORTA_OK(
        porta_fill_buffer(stream_.get(), buffer.get(), offset, 64 * sizeof(float), &one, 4));
    ASSERT_TRUE(
        ReadBuffer(stream_.get(), back.buffer, back.offset, 128 * sizeof(float), read.data()));
    EXPECT_EQ(read[0], 1.0f);
    EXPECT_EQ(read[63], 1.0f);
    EXPECT_EQ(read[64], values[64]) << "written through the original, read through the import";

    EXPECT_EQ(deletes.load(), 0) << "the deleter ran while Porta still uses the tensor";
    ASSERT_PORTA_OK(porta_buffer_free(imported.release()));
    ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
    EXPECT_EQ(deletes.load(), 1) << "the deleter runs once the imported buffer is gone";
  }
}

TEST_P(DlpackTest, UnversionedRoundTrip) {
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 1024, PORTA_MEMORY_DEVICE, buffer.out()));
  const int64_t shape[1] = {100};
  const porta_tensor_t tensor =
      porta_tensor_contiguous(buffer.get(), 32, PORTA_DTYPE_I32, 1, shape);
  DLManagedTensor* managed = nullptr;
  ASSERT_PORTA_OK(porta_tensor_to_dlpack_unversioned(&tensor, &managed));
  EXPECT_EQ(static_cast<int32_t>(managed->dl_tensor.device.device_type), DeviceType());
  EXPECT_EQ(managed->dl_tensor.dtype.code, kDLInt);
  porta_tensor_t back{};
  ASSERT_PORTA_OK(porta_tensor_from_dlpack_unversioned(Env().runtime, managed, &back));
  EXPECT_EQ(NativeMemory(back.buffer) + back.offset, NativeMemory(buffer.get()) + 32);
  EXPECT_EQ(back.dtype, PORTA_DTYPE_I32);
  EXPECT_PORTA_OK(porta_buffer_free(back.buffer));
}

// The export holds the buffer: freeing it leaves the memory allocated and its contents readable
// through the DLPack tensor, until the deleter runs.
TEST_P(DlpackTest, ExportKeepsTheBufferAliveUntilTheDeleter) {
  constexpr uint64_t kBytes = 8192;
  porta_memory_info_t before = PORTA_MEMORY_INFO_INIT;
  ASSERT_PORTA_OK(porta_device_get_memory_info(device_, &before));
  porta_buffer_t buffer = nullptr;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kBytes, PORTA_MEMORY_DEVICE, &buffer));
  const std::vector<uint8_t> pattern = RandomBytes(kBytes, 3);
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), buffer, 0, pattern.data(), kBytes));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  const int64_t shape[1] = {kBytes};
  const porta_tensor_t tensor = porta_tensor_contiguous(buffer, 0, PORTA_DTYPE_I8, 1, shape);
  DLManagedTensorVersioned* first = nullptr;
  DLManagedTensorVersioned* second = nullptr;
  ASSERT_PORTA_OK(porta_tensor_to_dlpack(&tensor, &first));
  ASSERT_PORTA_OK(porta_tensor_to_dlpack(&tensor, &second));
  ASSERT_PORTA_OK(porta_buffer_free(buffer));
  porta_memory_info_t during = PORTA_MEMORY_INFO_INIT;
  ASSERT_PORTA_OK(porta_device_get_memory_info(device_, &during));
  EXPECT_EQ(during.allocated_bytes, before.allocated_bytes + kBytes)
      << "the buffer's memory went with the application's free while exports hold it";

  // A consumer (here Porta itself) still reads the bytes.
  porta_tensor_t back{};
  ASSERT_PORTA_OK(porta_tensor_from_dlpack(Env().runtime, first, &back));
  std::vector<uint8_t> read(kBytes);
  ASSERT_TRUE(ReadBuffer(stream_.get(), back.buffer, back.offset, kBytes, read.data()));
  EXPECT_TRUE(BytesEqual(read, pattern));
  ASSERT_PORTA_OK(porta_buffer_free(back.buffer));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  ASSERT_PORTA_OK(porta_device_get_memory_info(device_, &during));
  EXPECT_EQ(during.allocated_bytes, before.allocated_bytes + kBytes)
      << "one deleter of two released the memory";
  second->deleter(second);
  porta_memory_info_t after = PORTA_MEMORY_INFO_INIT;
  ASSERT_PORTA_OK(porta_device_get_memory_info(device_, &after));
  EXPECT_EQ(after.allocated_bytes, before.allocated_bytes) << "the last deleter frees the memory";
}

// A tensor without elements has no memory to share: the import gets a buffer of its own and the
// deleter runs at once.
TEST_P(DlpackTest, EmptyTensorImportsWithoutItsMemory) {
  int64_t shape[2] = {0, 4};
  std::atomic<int> deletes{0};
  auto* counted = new Counted;
  counted->deletes = &deletes;
  DLManagedTensorVersioned& managed = counted->managed;
  managed.version = {1, 0};
  managed.manager_ctx = counted;
  managed.deleter = DeleteCounted;
  managed.dl_tensor.data = nullptr;
  managed.dl_tensor.device = {static_cast<DLDeviceType>(DeviceType()),
                              static_cast<int>(info_.backend_device_index)};
  managed.dl_tensor.ndim = 2;
  managed.dl_tensor.dtype = {kDLFloat, 16, 1};
  managed.dl_tensor.shape = shape;
  porta_tensor_t out{};
  ASSERT_PORTA_OK(porta_tensor_from_dlpack(Env().runtime, &managed, &out));
  EXPECT_EQ(deletes.load(), 1);
  EXPECT_EQ(out.dtype, PORTA_DTYPE_F16);
  EXPECT_EQ(out.shape[0], 0);
  EXPECT_EQ(out.strides[0], 4) << "NULL strides are row-major";
  EXPECT_PORTA_OK(porta_buffer_free(out.buffer));
}

TEST_P(DlpackTest, ExportRefusesBadTensors) {
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 1024, PORTA_MEMORY_DEVICE, buffer.out()));
  const int64_t shape[2] = {4, 32};
  DLManagedTensorVersioned* managed = nullptr;
  porta_tensor_t tensor = porta_tensor_contiguous(buffer.get(), 0, PORTA_DTYPE_F32, 2, shape);
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "tensor is NULL",
                     porta_tensor_to_dlpack(nullptr, &managed));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out is NULL",
                     porta_tensor_to_dlpack(&tensor, nullptr));
  porta_tensor_t quantized = porta_tensor_contiguous(buffer.get(), 0, PORTA_DTYPE_Q4_0, 2, shape);
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "q4_0",
                     porta_tensor_to_dlpack(&quantized, &managed));
  porta_tensor_t bad = tensor;
  bad.rank = PORTA_TENSOR_MAX_RANK + 1;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "rank", porta_tensor_to_dlpack(&bad, &managed));
  bad = tensor;
  bad.strides[0] = -32;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "negative",
                     porta_tensor_to_dlpack(&bad, &managed));
  bad = tensor;
  bad.offset = 2;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "multiple",
                     porta_tensor_to_dlpack(&bad, &managed));
  bad = tensor;
  bad.shape[0] = 100;
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "1024", porta_tensor_to_dlpack(&bad, &managed));
  EXPECT_EQ(managed, nullptr) << "a failed export wrote its output";
  porta_buffer_t freed = buffer.release();
  ASSERT_PORTA_OK(porta_buffer_free(freed));
  tensor.buffer = freed;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer",
                     porta_tensor_to_dlpack(&tensor, &managed));
}

TEST_P(DlpackTest, ImportRefusesBadTensorsAndKeepsNothing) {
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 1024, PORTA_MEMORY_DEVICE, buffer.out()));
  const int64_t shape[2] = {4, 32};
  const porta_tensor_t tensor = porta_tensor_contiguous(buffer.get(), 0, PORTA_DTYPE_F32, 2, shape);
  DLManagedTensorVersioned* exported = nullptr;
  ASSERT_PORTA_OK(porta_tensor_to_dlpack(&tensor, &exported));
  std::atomic<int> deletes{0};
  DLManagedTensorVersioned* managed = Count(exported, &deletes);
  DLTensor& t = managed->dl_tensor;
  const DLTensor good = t;
  porta_tensor_t out{};
  const porta_runtime_t runtime = Env().runtime;

  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "runtime is NULL",
                     porta_tensor_from_dlpack(nullptr, managed, &out));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "managed is NULL",
                     porta_tensor_from_dlpack(runtime, nullptr, &out));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out is NULL",
                     porta_tensor_from_dlpack(runtime, managed, nullptr));
  managed->version.major = 2;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "DLPack 2.0",
                     porta_tensor_from_dlpack(runtime, managed, &out));
  managed->version.major = 1;
  managed->flags = DLPACK_FLAG_BITMASK_READ_ONLY;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "read-only",
                     porta_tensor_from_dlpack(runtime, managed, &out));
  managed->flags = 0;
  t.dtype = {kDLFloat, 64, 1};
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "float64",
                     porta_tensor_from_dlpack(runtime, managed, &out));
  t.dtype = {kDLUInt, 8, 1};
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "uint8",
                     porta_tensor_from_dlpack(runtime, managed, &out));
  t.dtype = {kDLFloat, 32, 4};
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "float32x4",
                     porta_tensor_from_dlpack(runtime, managed, &out));
  t = good;
  t.ndim = PORTA_TENSOR_MAX_RANK + 1;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "9 dimensions",
                     porta_tensor_from_dlpack(runtime, managed, &out));
  t.ndim = -1;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "dimensions",
                     porta_tensor_from_dlpack(runtime, managed, &out));
  t = good;
  int64_t negative_shape[2] = {-4, 32};
  t.shape = negative_shape;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "negative",
                     porta_tensor_from_dlpack(runtime, managed, &out));
  t = good;
  int64_t negative_strides[2] = {-32, 1};
  t.strides = negative_strides;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "negative",
                     porta_tensor_from_dlpack(runtime, managed, &out));
  t = good;
  t.data = nullptr;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "data is NULL",
                     porta_tensor_from_dlpack(runtime, managed, &out));
  t = good;
  // An f32 tensor that starts 2 bytes into an element.
  t.byte_offset += 2;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "aligned|multiple",
                     porta_tensor_from_dlpack(runtime, managed, &out));
  t = good;
  t.device.device_id = 1000;
  EXPECT_PORTA_ERROR(PORTA_ERROR_NOT_FOUND, "1000",
                     porta_tensor_from_dlpack(runtime, managed, &out));
  EXPECT_TRUE(LastErrorSays(info_.backend)) << "the message lists the runtime's devices";
  t.device = {kDLMetal, 0};
  EXPECT_PORTA_ERROR(PORTA_ERROR_NOT_FOUND, "kDLMetal:0",
                     porta_tensor_from_dlpack(runtime, managed, &out));
  t = good;
  EXPECT_EQ(deletes.load(), 0) << "a failed import called the deleter (the caller keeps it)";
  managed->deleter(managed);
  EXPECT_EQ(deletes.load(), 1);
}

// A device type whose backend the runtime has no device of (CUDA where there is no CUDA device)
// is refused naming both sides.
TEST_P(DlpackTest, ImportNamesTheDeviceTypesWhenNoDeviceMatches) {
  for (const auto& device : Env().devices) {
    if (device.backend == "cuda") GTEST_SKIP() << "the runtime has a CUDA device";
  }
  float host[4] = {};
  int64_t shape[1] = {4};
  DLManagedTensorVersioned managed{};
  managed.version = {1, 0};
  managed.dl_tensor.data = host;
  managed.dl_tensor.device = {kDLCUDA, 0};
  managed.dl_tensor.ndim = 1;
  managed.dl_tensor.dtype = {kDLFloat, 32, 1};
  managed.dl_tensor.shape = shape;
  porta_tensor_t out{};
  EXPECT_PORTA_ERROR(PORTA_ERROR_NOT_FOUND, "kDLCUDA:0",
                     porta_tensor_from_dlpack(Env().runtime, &managed, &out));
  for (const auto& device : Env().devices) {
    EXPECT_TRUE(LastErrorSays((device.backend + ":").c_str()))
        << "the message does not list " << device.id;
  }
}

// DLPack tensors are the operands of an operator library op, which reads and writes them in
// place. On the CPU device they are plain host arrays (what NumPy hands over); elsewhere they are
// device buffers exported through DLPack (the only device memory this test can make).
TEST_P(DlpackTest, ImportedTensorsFeedAnOp) {
  constexpr int64_t kRows = 3;
  constexpr int64_t kCols = 5;
  constexpr int64_t kCount = kRows * kCols;
  const bool cpu = std::string(info_.backend) == "cpu";
  alignas(64) float host[3][kCount];
  for (int i = 0; i < kCount; ++i) {
    host[0][i] = static_cast<float>(i);
    host[1][i] = 100.0f * static_cast<float>(i);
    host[2][i] = -1.0f;
  }
  int64_t shape[2] = {kRows, kCols};
  std::atomic<int> deletes{0};
  BufferHandle owners[3];
  porta_tensor_t tensors[3];
  for (int i = 0; i < 3; ++i) {
    DLManagedTensorVersioned* inner = nullptr;
    if (!cpu) {
      ASSERT_PORTA_OK(
          porta_buffer_alloc(device_, sizeof(host[i]), PORTA_MEMORY_DEVICE, owners[i].out()));
      ASSERT_PORTA_OK(
          porta_copy_host_to_device(stream_.get(), owners[i].get(), 0, host[i], sizeof(host[i])));
      const porta_tensor_t owned =
          porta_tensor_contiguous(owners[i].get(), 0, PORTA_DTYPE_F32, 2, shape);
      ASSERT_PORTA_OK(porta_tensor_to_dlpack(&owned, &inner));
    }
    auto* counted = new Counted;
    counted->inner = inner;
    counted->deletes = &deletes;
    DLManagedTensorVersioned& managed = counted->managed;
    if (inner != nullptr) managed = *inner;
    managed.version = {1, 0};
    managed.manager_ctx = counted;
    managed.deleter = DeleteCounted;
    if (cpu) {
      managed.dl_tensor.data = host[i];
      managed.dl_tensor.device = {kDLCPU, static_cast<int>(info_.backend_device_index)};
      managed.dl_tensor.ndim = 2;
      managed.dl_tensor.dtype = {kDLFloat, 32, 1};
      managed.dl_tensor.shape = shape;
    }
    const porta_status_t status = porta_tensor_from_dlpack(Env().runtime, &managed, &tensors[i]);
    if (status != PORTA_OK) managed.deleter(&managed);
    ASSERT_PORTA_OK(status);
  }
  porta_ops_context_t context = nullptr;
  ASSERT_PORTA_OK(porta_ops_context_create(device_, nullptr, &context));
  EXPECT_PORTA_OK(porta_ops_binary(context, stream_.get(), PORTA_BINARY_ADD, &tensors[0],
                                   &tensors[1], &tensors[2]));
  float result[kCount];
  if (cpu) {
    EXPECT_PORTA_OK(porta_stream_synchronize(stream_.get()));
    std::memcpy(result, host[2], sizeof(result));
  } else {
    EXPECT_TRUE(ReadBuffer(stream_.get(), owners[2].get(), 0, sizeof(result), result));
  }
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(result[i], 101.0f * static_cast<float>(i))
        << "element " << i << (cpu ? " of the host array" : " of the exported buffer");
  }
  for (porta_tensor_t& tensor : tensors) EXPECT_PORTA_OK(porta_buffer_free(tensor.buffer));
  EXPECT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  EXPECT_PORTA_OK(porta_ops_context_destroy(context));
  EXPECT_EQ(deletes.load(), 3);
}

// DLPack names a device by type and index, and another runtime has a device of the same index
// with its own context: pointers (host addresses, CUDA/HIP/Level Zero pointers) import there,
// a cl_mem or VkBuffer of a Porta export is refused, naming the reason.
TEST_P(DlpackTest, ImportIntoAnotherRuntime) {
  const porta_runtime_options_t options = RuntimeOptions();
  RuntimeHandle other;
  ASSERT_PORTA_OK(porta_runtime_create(&options, other.out()));
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 256, PORTA_MEMORY_DEVICE, buffer.out()));
  const int64_t shape[1] = {64};
  const porta_tensor_t tensor = porta_tensor_contiguous(buffer.get(), 0, PORTA_DTYPE_F32, 1, shape);
  DLManagedTensorVersioned* managed = nullptr;
  ASSERT_PORTA_OK(porta_tensor_to_dlpack(&tensor, &managed));
  porta_tensor_t back{};
  if (PointerDevice()) {
    ASSERT_PORTA_OK(porta_tensor_from_dlpack(other.get(), managed, &back));
    EXPECT_EQ(NativeMemory(back.buffer) + back.offset, NativeMemory(buffer.get()));
    EXPECT_PORTA_OK(porta_buffer_free(back.buffer));
  } else {
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "another runtime",
                       porta_tensor_from_dlpack(other.get(), managed, &back));
    managed->deleter(managed);
  }
}

PORTA_CTS_INSTANTIATE(DlpackTest);

}  // namespace
}  // namespace porta_cts
