// Device buffers, views and the stream/context pair the models run on.
#include "tools/run/engine.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "tools/common/command_line.h"
#include "tools/run/model_error.h"

namespace porta::run {

void Check(porta_status_t status, std::string_view what) {
  if (status == PORTA_OK) return;
  throw ModelError(std::string(what) + ": " + porta_status_string(status) + ": " +
                   porta_last_error_message());
}

DeviceMemory::DeviceMemory(porta_device_t device) : device_(device) {
  // Best effort: without the trim or the sample the figures only count less precisely.
  porta_device_pool_trim(device_, 0);
  porta_memory_info_t info = PORTA_MEMORY_INFO_INIT;
  if (porta_device_get_memory_info(device_, &info) == PORTA_OK) baseline_ = info.allocated_bytes;
}

void DeviceMemory::Added(uint64_t bytes) {
  buffer_bytes_ += bytes;
  buffer_peak_ = std::max(buffer_peak_, buffer_bytes_);
  Sample();
}

void DeviceMemory::Removing(uint64_t bytes) {
  Sample();
  buffer_bytes_ -= bytes;
}

void DeviceMemory::Sample() {
  porta_memory_info_t info = PORTA_MEMORY_INFO_INIT;
  if (porta_device_get_memory_info(device_, &info) == PORTA_OK &&
      info.allocated_bytes > baseline_) {
    device_peak_ = std::max(device_peak_, info.allocated_bytes - baseline_);
  }
  // The engine's own buffers are on the device in any case.
  device_peak_ = std::max(device_peak_, buffer_bytes_);
}

DeviceBuffer::DeviceBuffer(porta_device_t device, uint64_t bytes, std::string_view what,
                           DeviceMemory* memory)
    : size_(bytes) {
  // A zero-byte tensor still gets a real (one-byte) buffer so that every view has one.
  Check(porta_buffer_alloc(device, std::max<uint64_t>(bytes, 1), PORTA_MEMORY_DEVICE, &buffer_),
        std::string("allocating ") + std::to_string(bytes) + " bytes for " + std::string(what));
  memory_ = memory;
  if (memory_ != nullptr) memory_->Added(size_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : buffer_(std::exchange(other.buffer_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      memory_(std::exchange(other.memory_, nullptr)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    Free();
    buffer_ = std::exchange(other.buffer_, nullptr);
    size_ = std::exchange(other.size_, 0);
    memory_ = std::exchange(other.memory_, nullptr);
  }
  return *this;
}

DeviceBuffer::~DeviceBuffer() {
  Free();
}

void DeviceBuffer::Free() {
  if (buffer_ == nullptr) return;
  if (memory_ != nullptr) memory_->Removing(size_);
  porta_buffer_free(buffer_);
  buffer_ = nullptr;
}

porta_tensor_t Contiguous(porta_buffer_t buffer, uint64_t offset, porta_dtype_t dtype,
                          std::initializer_list<int64_t> shape) {
  const std::vector<int64_t> dims(shape);
  return porta_tensor_contiguous(buffer, offset, dtype, static_cast<uint32_t>(dims.size()),
                                 dims.data());
}

porta_tensor_t Strided(porta_buffer_t buffer, uint64_t offset, porta_dtype_t dtype,
                       std::initializer_list<int64_t> shape,
                       std::initializer_list<int64_t> strides) {
  porta_tensor_t tensor{};
  tensor.buffer = buffer;
  tensor.offset = offset;
  tensor.dtype = dtype;
  tensor.rank = static_cast<uint32_t>(shape.size());
  std::copy(shape.begin(), shape.end(), tensor.shape);
  std::copy(strides.begin(), strides.end(), tensor.strides);
  return tensor;
}

DeviceChoice::DeviceChoice(const std::string& filter) {
  runtime_ =
      porta::tools::CreateRuntime("porta-run", nullptr, filter.empty() ? nullptr : filter.c_str());
  if (runtime_ == nullptr) throw ModelError("the Porta runtime did not start");
  uint32_t count = 0;
  const porta_status_t status = porta_runtime_device_count(runtime_, &count);
  if (status == PORTA_OK && count > 0) {
    if (porta_runtime_device(runtime_, 0, &device_) == PORTA_OK) return;
  }
  porta_runtime_destroy(runtime_);
  throw ModelError("no device matches the device filter " +
                   (filter.empty() ? std::string("(PORTA_DEVICES)") : "'" + filter + "'") +
                   "; porta-info lists the devices and why a backend found none");
}

DeviceChoice::~DeviceChoice() {
  porta_runtime_destroy(runtime_);
}

Engine::Engine(porta_device_t device)
    : device_(device), info_(PORTA_DEVICE_INFO_INIT), memory_(device) {
  Check(porta_device_get_info(device, &info_), "porta_device_get_info");
  Check(porta_stream_create(device, &stream_), "porta_stream_create");
  const porta_status_t status = porta_ops_context_create(device, nullptr, &ops_);
  if (status != PORTA_OK) {
    porta_stream_destroy(stream_);
    Check(status, "porta_ops_context_create");
  }
}

Engine::~Engine() {
  // Queued work must finish before the context that launched it goes; errors here have nowhere
  // to go (they were reported by the synchronize that ended the model's last call).
  porta_stream_synchronize(stream_);
  porta_ops_context_destroy(ops_);
  porta_stream_destroy(stream_);
}

std::string Engine::Describe() const {
  return std::string(info_.backend) + ":" + std::to_string(info_.backend_device_index) + " (" +
         info_.name + ")";
}

DeviceBuffer Engine::Allocate(uint64_t bytes, std::string_view what) {
  return DeviceBuffer(device_, bytes, what, &memory_);
}

DeviceBuffer Engine::Upload(const void* data, uint64_t bytes, std::string_view what) {
  DeviceBuffer buffer = Allocate(bytes, what);
  if (bytes > 0) {
    Check(porta_copy_host_to_device(stream_, buffer.get(), 0, data, bytes),
          std::string("uploading ") + std::string(what));
    Synchronize();
  }
  return buffer;
}

void Engine::CopyToHost(void* dst, const DeviceBuffer& src, uint64_t offset, uint64_t bytes) {
  Check(porta_copy_device_to_host(stream_, dst, src.get(), offset, bytes), "reading a result");
  Synchronize();
}

void Engine::CopyToDevice(const DeviceBuffer& dst, uint64_t offset, const void* src,
                          uint64_t bytes) {
  Check(porta_copy_host_to_device(stream_, dst.get(), offset, src, bytes), "writing an input");
}

void Engine::Op(porta_status_t status, std::string_view what) {
  Check(status, what);
  if (!profile_) return;
  Synchronize();
  const auto now = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(now - last_op_).count();
  last_op_ = now;
  auto it = std::find_if(profile_entries_.begin(), profile_entries_.end(),
                         [&](const ProfileEntry& entry) { return entry.what == what; });
  if (it == profile_entries_.end()) {
    profile_entries_.push_back({std::string(what), 0, 0});
    it = profile_entries_.end() - 1;
  }
  ++it->calls;
  it->seconds += seconds;
}

void Engine::EnableProfile() {
  Synchronize();
  profile_ = true;
  last_op_ = std::chrono::steady_clock::now();
}

std::vector<std::string> Engine::ProfileReport() const {
  std::vector<ProfileEntry> entries = profile_entries_;
  std::sort(entries.begin(), entries.end(),
            [](const ProfileEntry& a, const ProfileEntry& b) { return a.seconds > b.seconds; });
  std::vector<std::string> lines;
  char line[256];
  for (const ProfileEntry& entry : entries) {
    std::snprintf(line, sizeof line, "%-32s %8llu calls %10.2f ms", entry.what.c_str(),
                  static_cast<unsigned long long>(entry.calls), entry.seconds * 1e3);
    lines.push_back(line);
  }
  return lines;
}

void Engine::Synchronize() {
  Check(porta_stream_synchronize(stream_), "porta_stream_synchronize");
}

}  // namespace porta::run
