// Casts between the backend ABI's opaque handles and a backend's own objects, and pointer
// arithmetic on untyped device addresses.
#ifndef PORTA_SDK_HANDLES_H_
#define PORTA_SDK_HANDLES_H_

#include <cstdint>

namespace porta::common {

// The object behind |handle|, e.g. As<Device>(be_device).
template <typename T, typename Handle>
T* As(Handle handle) {
  return reinterpret_cast<T*>(handle);
}

// The handle the runtime gets for |object|, e.g. ToHandle<porta_be_device_t>(device).
template <typename Handle, typename T>
Handle ToHandle(T* object) {
  return reinterpret_cast<Handle>(object);
}

// |pointer| advanced by |offset| bytes (device pointers of the APIs that use plain void*).
inline void* Offset(void* pointer, uint64_t offset) {
  return static_cast<unsigned char*>(pointer) + offset;
}

}  // namespace porta::common

#endif  // PORTA_SDK_HANDLES_H_
