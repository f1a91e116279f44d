// Public API: native interop — the backend objects behind devices, streams and buffers, and
// buffers that wrap the application's own memory.
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "hal/objects.h"
#include "hal/runtime.h"
#include "hal/slot_guard.h"
#include "hal/stream_ops.h"

using porta::hal::BackendFail;
using porta::hal::BackendMessage;
using porta::hal::Buffer;
using porta::hal::Device;
using porta::hal::Fail;
using porta::hal::Lookup;
using porta::hal::Ref;
using porta::hal::Stream;

namespace {

// The bytes of porta_native_handles_t up to the end of |handles|, which every caller must provide.
constexpr size_t kNativeHandlesSize =
    offsetof(porta_native_handles_t, handles) + sizeof(porta_native_handles_t::handles);

porta_status_t CheckNativeOut(const char* fn, const porta_native_handles_t* out) {
  if (out == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, fn, "out is NULL");
  if (out->struct_size < kNativeHandlesSize) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, fn,
                "out->struct_size is %zu; set it to sizeof(porta_native_handles_t) (%zu)",
                out->struct_size, sizeof(porta_native_handles_t));
  }
  return PORTA_OK;
}

porta_status_t MissingSlot(const char* fn, const porta_backend_table_t& table, const char* slot) {
  return Fail(PORTA_ERROR_UNSUPPORTED, fn,
              "the %s backend (ABI %u.%u) does not provide the %s slot, so it exposes no native "
              "handles",
              table.name, table.abi_major, table.abi_minor, slot);
}

// Calls |get| with a zeroed full-size struct named after the device's backend, checks the count
// the backend wrote, and copies the answer into |out| (keeping the caller's struct_size).
template <typename Get>
porta_status_t GetNative(const char* fn, const Device& device, porta_native_handles_t* out,
                         Get&& get) {
  porta_native_handles_t answer = PORTA_NATIVE_HANDLES_INIT;
  std::snprintf(answer.backend, sizeof(answer.backend), "%s", device.table().name);
  BackendMessage message;
  porta_status_t status = get(&answer, message.get());
  if (status != PORTA_OK) return BackendFail(status, fn, device, message);
  if (answer.count > PORTA_NATIVE_HANDLE_MAX) {
    return Fail(PORTA_ERROR_BACKEND, fn,
                "the %s backend wrote %u native handles; at most %u fit (PORTA_NATIVE_HANDLE_MAX)",
                device.table().name, answer.count, PORTA_NATIVE_HANDLE_MAX);
  }
  for (uint32_t i = answer.count; i < PORTA_NATIVE_HANDLE_MAX; ++i) answer.handles[i] = 0;
  std::snprintf(answer.backend, sizeof(answer.backend), "%s", device.table().name);
  const size_t caller_size = out->struct_size;
  std::memcpy(out, &answer, std::min(caller_size, sizeof(answer)));
  out->struct_size = caller_size;
  return PORTA_OK;
}

}  // namespace

extern "C" {

PORTA_API porta_status_t porta_device_get_native_handles(porta_device_t device,
                                                         porta_native_handles_t* out) try {
  constexpr const char* kFn = "porta_device_get_native_handles";
  porta_status_t status;
  Ref<Device> dev = Lookup<Device>(device, kFn, "device", &status);
  if (!dev) return status;
  if ((status = CheckNativeOut(kFn, out)) != PORTA_OK) return status;
  const porta_backend_table_t& table = dev->table();
  if (table.device_native_handles == nullptr) {
    return MissingSlot(kFn, table, "device_native_handles");
  }
  return GetNative(kFn, *dev, out, [&](porta_native_handles_t* answer, porta_be_msg msg) {
    return PORTA_SLOT_CALL(table, device_native_handles, dev->be(), answer, msg);
  });
} catch (...) {
  return porta::hal::ExceptionStatus("porta_device_get_native_handles");
}

PORTA_API porta_status_t porta_stream_get_native_handles(porta_stream_t stream,
                                                         porta_native_handles_t* out) try {
  constexpr const char* kFn = "porta_stream_get_native_handles";
  porta_status_t status;
  Ref<Stream> s = Lookup<Stream>(stream, kFn, "stream", &status);
  if (!s) return status;
  if ((status = CheckNativeOut(kFn, out)) != PORTA_OK) return status;
  const porta_backend_table_t& table = s->device->table();
  if (table.stream_native_handles == nullptr) {
    return MissingSlot(kFn, table, "stream_native_handles");
  }
  std::lock_guard<std::mutex> lock(s->mutex);
  if (s->capture != nullptr) {
    return porta::hal::RejectInCapture(kFn, *s, "asking for the capturing stream's native queue");
  }
  return GetNative(kFn, *s->device, out, [&](porta_native_handles_t* answer, porta_be_msg msg) {
    return PORTA_SLOT_CALL(table, stream_native_handles, s->be, answer, msg);
  });
} catch (...) {
  return porta::hal::ExceptionStatus("porta_stream_get_native_handles");
}

PORTA_API porta_status_t porta_buffer_get_native_handles(porta_buffer_t buffer,
                                                         porta_native_handles_t* out) try {
  constexpr const char* kFn = "porta_buffer_get_native_handles";
  porta_status_t status;
  Ref<Buffer> buf = Lookup<Buffer>(buffer, kFn, "buffer", &status);
  if (!buf) return status;
  if ((status = CheckNativeOut(kFn, out)) != PORTA_OK) return status;
  const porta_backend_table_t& table = buf->device->table();
  if (table.buffer_native_handles != nullptr) {
    return GetNative(kFn, *buf->device, out, [&](porta_native_handles_t* answer, porta_be_msg msg) {
      return PORTA_SLOT_CALL(table, buffer_native_handles, buf->be, answer, msg);
    });
  }
  if (table.buffer_native_handle == nullptr)
    return MissingSlot(kFn, table, "buffer_native_handles");
  // A backend of ABI 1.1 to 1.3 has one handle per buffer.
  return GetNative(kFn, *buf->device, out, [&](porta_native_handles_t* answer, porta_be_msg msg) {
    answer->count = 1;
    return PORTA_SLOT_CALL(table, buffer_native_handle, buf->be, &answer->handles[0], msg);
  });
} catch (...) {
  return porta::hal::ExceptionStatus("porta_buffer_get_native_handles");
}

PORTA_API porta_status_t porta_buffer_import(porta_device_t device,
                                             const porta_buffer_import_desc_t* desc,
                                             porta_buffer_t* out_buffer) try {
  constexpr const char* kFn = "porta_buffer_import";
  porta_status_t status;
  Ref<Device> dev = Lookup<Device>(device, kFn, "device", &status);
  if (!dev) return status;
  if (out_buffer == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "out_buffer is NULL");
  *out_buffer = nullptr;
  if (desc == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "desc is NULL");
  constexpr size_t kDescSize = offsetof(porta_buffer_import_desc_t, release_user_data) +
                               sizeof(porta_buffer_import_desc_t::release_user_data);
  if (desc->struct_size < kDescSize) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "desc->struct_size is %zu; set it to sizeof(porta_buffer_import_desc_t) (%zu)",
                desc->struct_size, sizeof(porta_buffer_import_desc_t));
  }
  const porta_native_handles_t* native = desc->native;
  if (native == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "desc->native is NULL");
  if (native->struct_size < kNativeHandlesSize) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "desc->native->struct_size is %zu; set it to sizeof(porta_native_handles_t) (%zu)",
                native->struct_size, sizeof(porta_native_handles_t));
  }
  const porta_backend_table_t& table = dev->table();
  if (strnlen(native->backend, sizeof(native->backend)) == sizeof(native->backend) ||
      std::strcmp(native->backend, table.name) != 0) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "desc->native holds handles of backend \"%.*s\" but device %s belongs to the %s "
                "backend",
                static_cast<int>(sizeof(native->backend)), native->backend, dev->label().c_str(),
                table.name);
  }
  if (native->count == 0 || native->count > PORTA_NATIVE_HANDLE_MAX) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn,
                "desc->native->count is %u; it must be 1 to %u (PORTA_NATIVE_HANDLE_MAX)",
                native->count, PORTA_NATIVE_HANDLE_MAX);
  }
  if (native->handles[0] == 0) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "desc->native->handles[0] is 0");
  }
  if (desc->size == 0) return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "desc->size is 0");
  // Read as an integer: a value outside the enum must be refused, not loaded as the enum.
  int32_t raw_kind = 0;
  static_assert(sizeof(raw_kind) == sizeof(desc->kind));
  std::memcpy(&raw_kind, &desc->kind, sizeof(raw_kind));
  if (raw_kind != PORTA_MEMORY_DEVICE && raw_kind != PORTA_MEMORY_HOST_VISIBLE) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT, kFn, "desc->kind %d is not a porta_memory_kind_t",
                static_cast<int>(raw_kind));
  }
  const auto kind = static_cast<porta_memory_kind_t>(raw_kind);
  if (kind == PORTA_MEMORY_HOST_VISIBLE &&
      !(dev->info().capabilities & PORTA_CAP_HOST_VISIBLE_MEMORY)) {
    return Fail(PORTA_ERROR_UNSUPPORTED, kFn,
                "desc->kind is PORTA_MEMORY_HOST_VISIBLE but device %s has no host-visible memory",
                dev->label().c_str());
  }
  if (table.buffer_import == nullptr) {
    return Fail(PORTA_ERROR_UNSUPPORTED, kFn,
                "the %s backend (ABI %u.%u) does not provide the buffer_import slot", table.name,
                table.abi_major, table.abi_minor);
  }
  // The backend reads only the handles the caller set.
  porta_native_handles_t handles = PORTA_NATIVE_HANDLES_INIT;
  std::memcpy(handles.backend, native->backend, sizeof(handles.backend));
  handles.count = native->count;
  std::memcpy(handles.handles, native->handles, sizeof(uint64_t) * native->count);
  BackendMessage message;
  porta_be_buffer_t be = nullptr;
  status = PORTA_SLOT_CALL(table, buffer_import, dev->be(), &handles, desc->size, kind, &be,
                           message.get());
  status = porta::hal::Created(status, be, "buffer", &message);
  if (status != PORTA_OK) return BackendFail(status, kFn, *dev, message);
  Ref<Buffer> buf = porta::hal::Wrap<Buffer>([&] { PORTA_SLOT_CALL(table, buffer_free, be); }, dev,
                                             be, desc->size, kind);
  buf->imported = true;
  buf->release = desc->release;
  buf->release_user_data = desc->release_user_data;
  *out_buffer =
      porta::hal::Publish<porta_buffer_t>(std::move(buf), porta::hal::HandleType::kBuffer);
  return PORTA_OK;
} catch (...) {
  return porta::hal::ExceptionStatus("porta_buffer_import");
}

}  // extern "C"
