// The slots of porta_backend_table_t as a list, so that a backend declares its slot functions and
// builds its table without writing every signature and slot again.
#ifndef PORTA_SDK_BACKEND_TABLE_H_
#define PORTA_SDK_BACKEND_TABLE_H_

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
porta_status_t ServeTable(const porta_backend_table_t& table, const porta_backend_host_t* host,
                          const porta_backend_table_t** out_table, porta_be_msg msg);

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

#define PORTA_BACKEND_SLOT_INITIALIZER_(field, function) .field = function,
// Names the slot as NULL, so that a plugin compiled with -Wextra gets no
// missing-field-initializers warning for the slots it leaves out.
#define PORTA_BACKEND_NULL_SLOT_INITIALIZER_(field, function) .field = nullptr,

// The initializer of a table named |backend_name| whose slots are the functions
// PORTA_DECLARE_BACKEND_SLOTS() declares, without native graphs (those slots stay NULL and the
// runtime replays graphs node by node): `const porta_backend_table_t kTable =
// PORTA_BACKEND_TABLE("acme");`.
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
