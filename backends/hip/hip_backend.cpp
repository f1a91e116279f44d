// The HIP backend: the GPU layer (backends/gpu/) over the HIP module API, opened from
// libamdhip64 with dlopen. See docs/backends/hip.md.
#include "backends/gpu/gpu.h"
#include "backends/hip/hip_api.h"
#include "porta/porta_backend.h"
#include "porta/sdk/backend_table.h"

namespace porta::hip {
namespace {

// The GPU layer's slots for the HIP map. The table's initializer is in the struct's scope, where
// the table macro finds the slots by their names.
struct Slots : gpu::Slots<Api> {
  static const porta_backend_table_t kTable;
};

const porta_backend_table_t Slots::kTable = PORTA_BACKEND_TABLE_WITH_GRAPHS("hip");

}  // namespace
}  // namespace porta::hip

// Entry of the built-in HIP backend (and, through the generated shim, of its plugin).
extern "C" porta_status_t porta_hip_backend_entry(const porta_backend_host_t* host,
                                                  const porta_backend_table_t** out_table,
                                                  porta_be_msg msg) {
  return porta::common::ServeTable(porta::hip::Slots::kTable, host, out_table, msg);
}
