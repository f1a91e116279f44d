#include "kernels/cpu/host_kernels.h"

namespace porta::ops {
namespace {

// Filled on first use: the functions come from other translation units.
const porta_host_kernel_t* Entries() {
  static const porta_host_kernel_t kEntries[] = {
      {"porta_ew", host::EwHostKernel()},
      {"porta_reduce", host::ReduceHostKernel()},
      {"porta_softmax", host::SoftmaxHostKernel()},
      {"porta_norm", host::NormHostKernel()},
      {"porta_gather", host::GatherHostKernel()},
      {"porta_rope", host::RopeHostKernel()},
      {"porta_attention", host::AttentionHostKernel()},
      {"porta_matmul", host::MatmulHostKernel()},
      {"porta_conv2d", host::Conv2dHostKernel()},
      {"porta_pool2d", host::Pool2dHostKernel()},
      {"porta_qmatvec", host::QmatvecHostKernel()},
      {"porta_qdequant", host::QdequantHostKernel()},
  };
  return kEntries;
}

constexpr size_t kEntryCount = 12;

}  // namespace

const porta_host_kernel_t* HostKernelTable() {
  return Entries();
}

size_t HostKernelTableSize() {
  return kEntryCount * sizeof(porta_host_kernel_t);
}

}  // namespace porta::ops
