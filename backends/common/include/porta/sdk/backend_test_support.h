// Test scaffolding shared by the backends' unit tests, which drive a backend's table directly as
// the runtime does. Linked only into test executables (porta_backend_test_support).
#ifndef PORTA_SDK_BACKEND_TEST_SUPPORT_H_
#define PORTA_SDK_BACKEND_TEST_SUPPORT_H_

#include <cstdint>
#include <functional>
#include <string>

#include "porta/porta_backend.h"

namespace porta::test {

// The host description the runtime passes to a backend, offering ABI |major|.
porta_backend_host_t Host(uint32_t major = PORTA_BACKEND_ABI_MAJOR);

// A message buffer as the runtime passes it to the backend.
struct Message {
  char text[4096] = {};
  porta_be_message_t msg = {text, sizeof(text)};
  porta_be_msg get() { return &msg; }
};

// Sets an environment variable for one test and restores it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::string old_;
  bool had_ = false;
};

// The table |entry| returns for the current ABI (a test failure and null when it fails).
const porta_backend_table_t* Table(porta_backend_entry_fn entry);

// Checks that |entry| returns a table named |name| for the current ABI with every slot set.
void ExpectCompleteTable(porta_backend_entry_fn entry, const char* name);

// Checks that |entry| refuses another ABI major with PORTA_ERROR_ABI_MISMATCH and says so.
void ExpectRefusesOtherMajor(porta_backend_entry_fn entry);

// Checks that with the vendor library override |env_var| naming |missing_path|, the backend
// initializes with zero devices and a reason that names the path (the runtime then opens none).
void ExpectMissingLibraryGivesZeroDevices(porta_backend_entry_fn entry, const char* env_var,
                                          const char* missing_path);

// Runs one opened device's checks; |index| is below the backend's device count.
using DeviceCheck = void (*)(const porta_backend_table_t* table, porta_be_backend_t backend,
                             uint32_t index);

// Initializes the backend with its default vendor library. With zero devices, checks that init
// was fast and that the reason names |library_hint|, then skips the calling test with that reason
// (no device was checked); otherwise runs |check| on every device.
void ExpectDefaultLibraryWorks(porta_backend_entry_fn entry, const char* library_hint,
                               DeviceCheck check);

// What ExpectDeviceSmoke checks of one device of a GPU backend.
struct DeviceSmoke {
  const char* backend = nullptr;  // the device's info.backend
  // Further checks of the device's info (architecture naming, formats, limits); may be empty.
  std::function<void(const porta_device_info_t&)> check_info;
  // A source the device must refuse with PORTA_ERROR_BUILD_FAILED, and a piece of that message.
  porta_module_source_t bad_module{};
  const char* bad_module_error = nullptr;
  // Optional (format 0 when absent): a module whose kernel |store_kernel| stores the uint32 42
  // through its one buffer argument.
  porta_module_source_t store_module{};
  const char* store_kernel = nullptr;
};

// Exercises device |index| through the table, as a DeviceCheck: its info (backend, nonzero global
// memory, |smoke|.check_info); on a stream, between two timed events, 4 KiB copied in, 8 bytes
// filled at offset 16, the store kernel (when given) launched on the last word, and everything
// copied back and checked word by word; the elapsed time is read. With the store kernel, a
// missing kernel name is PORTA_ERROR_NOT_FOUND and a launch without its argument is refused.
// Finally |smoke|.bad_module is refused with its message.
void ExpectDeviceSmoke(const porta_backend_table_t* table, porta_be_backend_t backend,
                       uint32_t index, const DeviceSmoke& smoke);

// Checks the native interop slots of a backend whose buffers are device pointers (CUDA, HIP,
// Level Zero) on an opened device: the device, |stream| and |buffer| (|size| bytes of device
// memory) hand out native handles; |buffer|'s memory imports as a second buffer whose
// buffer_free frees nothing (the same memory imports again afterwards); and an import larger than
// the allocation, of an address that is no allocation, and (when
// |host_visible_needs_host_pointer|) a host-visible one without its host address are refused.
void ExpectPointerImport(const porta_backend_table_t* table, porta_be_device_t device,
                         porta_be_stream_t stream, porta_be_buffer_t buffer, uint64_t size,
                         bool host_visible_needs_host_pointer);

// Checks the host registration slots of a backend on a fake driver: a host range registers (the
// fake then holds |registered|() == 1 ranges), copies through the registration both ways queue
// on |stream| (with |buffer|, at least 4096 bytes) and complete, and host_unregister releases the
// range in the driver (|registered|() == 0). Then, with |fail_next_register|() having made the
// driver's next registration call (|register_call|) answer out-of-memory, host_register fails
// with PORTA_ERROR_OUT_OF_MEMORY naming that call and leaves nothing registered.
void ExpectHostRegistration(const porta_backend_table_t* table, porta_be_device_t device,
                            porta_be_stream_t stream, porta_be_buffer_t buffer,
                            const std::function<size_t()>& registered,
                            const std::function<void()>& fail_next_register,
                            const char* register_call);

}  // namespace porta::test

#endif  // PORTA_SDK_BACKEND_TEST_SUPPORT_H_
