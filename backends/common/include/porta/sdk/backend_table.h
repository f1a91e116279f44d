// The slots of porta_backend_table_t as a list, so that a backend declares its slot functions and
// builds its table without writing every signature and slot again, and the guard the table macros
// put around every slot so that no C++ exception crosses the ABI.
#ifndef PORTA_SDK_BACKEND_TABLE_H_
#define PORTA_SDK_BACKEND_TABLE_H_

#include <cstddef>
#include <tuple>
#include <type_traits>

#include "porta/porta_backend.h"

// Every slot after the table's header, in table order, as X(table field, function name).
#define PORTA_BACKEND_SLOTS(X)                 \
  X(init, Init)                                \
  X(shutdown, Shutdown)                        \
  X(device_count, DeviceCount)                 \
  X(device_open, DeviceOpen)                   \
  X(device_close, DeviceClose)                 \
  X(device_get_info, DeviceGetInfo)            \
  X(buffer_alloc, BufferAlloc)                 \
  X(buffer_free, BufferFree)                   \
  X(buffer_map, BufferMap)                     \
  X(buffer_unmap, BufferUnmap)                 \
  X(stream_create, StreamCreate)               \
  X(stream_destroy, StreamDestroy)             \
  X(stream_synchronize, StreamSynchronize)     \
  X(stream_query, StreamQuery)                 \
  X(copy_host_to_device, CopyHostToDevice)     \
  X(copy_device_to_host, CopyDeviceToHost)     \
  X(copy_device_to_device, CopyDeviceToDevice) \
  X(fill_buffer, FillBuffer)                   \
  X(event_create, EventCreate)                 \
  X(event_destroy, EventDestroy)               \
  X(event_record, EventRecord)                 \
  X(stream_wait_event, StreamWaitEvent)        \
  X(event_wait, EventWait)                     \
  X(event_query, EventQuery)                   \
  X(event_elapsed_ms, EventElapsedMs)          \
  X(module_load, ModuleLoad)                   \
  X(module_destroy, ModuleDestroy)             \
  X(module_get_kernel, ModuleGetKernel)        \
  X(kernel_launch, KernelLaunch)               \
  X(buffer_native_handle, BufferNativeHandle)  \
  X(copy_peer, CopyPeer)

// The native graph slots of ABI 1.2, optional as a group, as X(table field, function name).
#define PORTA_BACKEND_GRAPH_SLOTS(X)                 \
  X(graph_create, GraphCreate)                       \
  X(graph_launch, GraphLaunch)                       \
  X(graph_update_kernel_args, GraphUpdateKernelArgs) \
  X(graph_destroy, GraphDestroy)

// The slots of ABI 1.3, after the graph slots, as X(table field, function name). A backend built
// with the table macros defines them (returning PORTA_ERROR_UNSUPPORTED where it has no answer).
#define PORTA_BACKEND_V13_SLOTS(X) X(device_memory_info, DeviceMemoryInfo)

// The native interop and host registration slots and stream_host_func of ABI 1.4, after
// device_memory_info, as X(table field, function name). A backend built with the table macros
// defines them (returning PORTA_ERROR_UNSUPPORTED where it has no answer).
#define PORTA_BACKEND_V14_SLOTS(X)                              \
  X(device_native_handles, DeviceNativeHandles)                 \
  X(stream_native_handles, StreamNativeHandles)                 \
  X(buffer_native_handles, BufferNativeHandles)                 \
  X(buffer_import, BufferImport)                                \
  X(host_register, HostRegister)                                \
  X(host_unregister, HostUnregister)                            \
  X(copy_host_to_device_registered, CopyHostToDeviceRegistered) \
  X(copy_device_to_host_registered, CopyDeviceToHostRegistered) \
  X(stream_host_func, StreamHostFunc)

namespace porta::common {

// The function type a table slot of type |SlotPointer| points to.
template <typename SlotPointer>
using SlotFunction = std::remove_pointer_t<SlotPointer>;

// Returns |table| through |out_table| when the runtime offers the ABI major it implements;
// the body of a backend's entry function, named porta_<table.name>_backend_entry in messages.
// Host or out_table NULL is PORTA_ERROR_INVALID_ARGUMENT, another major PORTA_ERROR_ABI_MISMATCH.
porta_status_t ServeTable(const porta_backend_table_t& table, const porta_backend_host_t* host,
                          const porta_backend_table_t** out_table, porta_be_msg msg);

// A slot's name ("buffer_alloc") as a template argument.
template <size_t N>
struct SlotName {
  // Implicit, so that a string literal names the slot: Guarded<&Init, "init">.
  constexpr SlotName(const char (&name)[N]) {
    for (size_t i = 0; i < N; ++i) text[i] = name[i];
  }
  char text[N];
};

// Handles the exception being handled after slot |slot| threw: writes "the <slot> slot threw
// ..." (with what() where the exception has it) into |msg| and returns PORTA_ERROR_OUT_OF_MEMORY
// for std::bad_alloc, PORTA_ERROR_BACKEND for anything else. |msg| NULL (a slot without a
// status, such as a destroy): the text goes to the log sink (message.h) instead. Never throws.
porta_status_t SlotThrew(const char* slot, porta_be_msg msg) noexcept;

// The message buffer among a slot's arguments: its last one when that is a porta_be_msg (every
// slot that returns a status has it there), else NULL.
template <typename... Args>
porta_be_msg SlotMessage(Args... args) {
  if constexpr (sizeof...(Args) == 0) {
    return nullptr;
  } else {
    using Last = std::tuple_element_t<sizeof...(Args) - 1, std::tuple<Args...>>;
    if constexpr (std::is_same_v<Last, porta_be_msg>) {
      return std::get<sizeof...(Args) - 1>(std::forward_as_tuple(args...));
    } else {
      return nullptr;
    }
  }
}

// The slot guard: Guarded<&BufferAlloc, "buffer_alloc">::Call has exactly BufferAlloc's signature,
// calls it, and turns a C++ exception that escapes it into the slot's failure (SlotThrew): a
// status and a message naming the slot, or for a slot returning void a line in the log. The table
// macros below put it in every slot, generated from the slot list, so a backend writes no
// try/catch of its own at the boundary. It costs nothing until something throws.
template <auto Function, SlotName Name>
struct Guarded;

template <typename Result, typename... Args, Result (*Function)(Args...), SlotName Name>
struct Guarded<Function, Name> {
  static Result Call(Args... args) noexcept {
    try {
      return Function(args...);
    } catch (...) {
      if constexpr (std::is_void_v<Result>) {
        SlotThrew(Name.text, nullptr);
      } else {
        static_assert(std::is_same_v<Result, porta_status_t>, "a slot returns a status or nothing");
        return SlotThrew(Name.text, SlotMessage<Args...>(args...));
      }
    }
  }
};

}  // namespace porta::common

#define PORTA_DECLARE_BACKEND_SLOT_(field, function) \
  ::porta::common::SlotFunction<decltype(porta_backend_table_t::field)> function;

// Declares, in the enclosing namespace, one function per slot (Init, Shutdown, ... CopyPeer) with
// exactly the slot's signature from porta_backend.h; the backend defines each of them in that
// namespace.
#define PORTA_DECLARE_BACKEND_SLOTS()                  \
  PORTA_BACKEND_SLOTS(PORTA_DECLARE_BACKEND_SLOT_)     \
  PORTA_BACKEND_V13_SLOTS(PORTA_DECLARE_BACKEND_SLOT_) \
  PORTA_BACKEND_V14_SLOTS(PORTA_DECLARE_BACKEND_SLOT_)

// Declares the functions of the native graph slots (GraphCreate, GraphLaunch,
// GraphUpdateKernelArgs, GraphDestroy), for a backend built with PORTA_BACKEND_TABLE_WITH_GRAPHS.
#define PORTA_DECLARE_BACKEND_GRAPH_SLOTS() PORTA_BACKEND_GRAPH_SLOTS(PORTA_DECLARE_BACKEND_SLOT_)

// Each slot points at its function's guard (porta::common::Guarded), named after the slot.
#define PORTA_BACKEND_SLOT_INITIALIZER_(field, function) \
  .field = ::porta::common::Guarded<&function, #field>::Call,
// Names the slot as NULL, so that a plugin compiled with -Wextra gets no
// missing-field-initializers warning for the slots it leaves out.
#define PORTA_BACKEND_NULL_SLOT_INITIALIZER_(field, function) .field = nullptr,

// The initializer of a table named |backend_name| whose slots are the functions
// PORTA_DECLARE_BACKEND_SLOTS() declares, each behind the slot guard, without native graphs (those
// slots stay NULL and the runtime replays graphs node by node): `const porta_backend_table_t kTable
// = PORTA_BACKEND_TABLE("acme");`.
#define PORTA_BACKEND_TABLE(backend_name)                                               \
  {                                                                                     \
    .struct_size = sizeof(porta_backend_table_t), .abi_major = PORTA_BACKEND_ABI_MAJOR, \
    .abi_minor = PORTA_BACKEND_ABI_MINOR, .name = backend_name,                         \
    PORTA_BACKEND_SLOTS(PORTA_BACKEND_SLOT_INITIALIZER_)                                \
        PORTA_BACKEND_GRAPH_SLOTS(PORTA_BACKEND_NULL_SLOT_INITIALIZER_)                 \
            PORTA_BACKEND_V13_SLOTS(PORTA_BACKEND_SLOT_INITIALIZER_)                    \
                PORTA_BACKEND_V14_SLOTS(PORTA_BACKEND_SLOT_INITIALIZER_)                \
  }

// The same with the native graph slots too (PORTA_DECLARE_BACKEND_GRAPH_SLOTS() declares them).
#define PORTA_BACKEND_TABLE_WITH_GRAPHS(backend_name)                                   \
  {                                                                                     \
    .struct_size = sizeof(porta_backend_table_t), .abi_major = PORTA_BACKEND_ABI_MAJOR, \
    .abi_minor = PORTA_BACKEND_ABI_MINOR, .name = backend_name,                         \
    PORTA_BACKEND_SLOTS(PORTA_BACKEND_SLOT_INITIALIZER_)                                \
        PORTA_BACKEND_GRAPH_SLOTS(PORTA_BACKEND_SLOT_INITIALIZER_)                      \
            PORTA_BACKEND_V13_SLOTS(PORTA_BACKEND_SLOT_INITIALIZER_)                    \
                PORTA_BACKEND_V14_SLOTS(PORTA_BACKEND_SLOT_INITIALIZER_)                \
  }

#endif  // PORTA_SDK_BACKEND_TABLE_H_
