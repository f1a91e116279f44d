#version 450
// block_reduce_sum of ../original/matmul_reduce_kernels.cuh in GLSL, for Vulkan devices. Vulkan
// has no dynamically sized shared memory: Porta passes the launch's local_memory_bytes (CUDA's
// third <<<>>> argument) as specialization constant 3, which sizes the shared array. Buffers are
// bindings 0 and 1, the scalar n is the push-constant block, specialization constant 0 is the
// block size. The build renames the entry point to "block_reduce_sum".
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(constant_id = 3) const uint kLocalMemoryBytes = 4;

layout(std430, set = 0, binding = 0) readonly buffer In { float values[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Out { float sums[]; };
layout(push_constant) uniform Args {
  uint n;
} args;

shared float partial[kLocalMemoryBytes / 4u];

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint size = gl_WorkGroupSize.x;
  const uint i = gl_WorkGroupID.x * 2u * size + tid;
  float value = i < args.n ? values[i] : 0.0;
  if (i + size < args.n) {
    value += values[i + size];
  }
  partial[tid] = value;
  memoryBarrierShared();
  barrier();
  for (uint stride = size / 2u; stride > 0u; stride /= 2u) {
    if (tid < stride) {
      partial[tid] += partial[tid + stride];
    }
    memoryBarrierShared();
    barrier();
  }
  if (tid == 0u) {
    sums[gl_WorkGroupID.x] = partial[0];
  }
}
