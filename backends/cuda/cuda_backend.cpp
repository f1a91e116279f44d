// The CUDA backend: the GPU layer (backends/gpu/) over the CUDA driver API, opened from
// libcuda.so.1 with dlopen. See docs/backends/cuda.md.
#include "backends/cuda/cuda_api.h"
#include "backends/gpu/gpu.h"
#include "porta/porta_backend.h"
#include "porta/sdk/backend_table.h"

namespace porta::cuda {
namespace {

// The GPU layer's slots for the CUDA map. The table's initializer is in the struct's scope, where
// the table macro finds the slots by their names.
struct Slots : gpu::Slots<Api> {
  static const porta_backend_table_t kTable;
};

const porta_backend_table_t Slots::kTable = PORTA_BACKEND_TABLE_WITH_GRAPHS("cuda");

}  // namespace
}  // namespace porta::cuda

// Entry of the built-in CUDA backend (and, through the generated shim, of its plugin).
extern "C" porta_status_t porta_cuda_backend_entry(const porta_backend_host_t* host,
                                                   const porta_backend_table_t** out_table,
                                                   porta_be_msg msg) {
  return porta::common::ServeTable(porta::cuda::Slots::kTable, host, out_table, msg);
}
