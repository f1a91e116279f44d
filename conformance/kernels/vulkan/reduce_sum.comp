// CTS kernel reduce_sum (see ../README.md): work-group g writes out[g], the sum of in[i] over
// the global x indices i < n of its items. The launch passes block[0] * 4 bytes of dynamic local
// memory, which arrives as specialization constant 3 and sizes the shared array.
#version 450

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(constant_id = 3) const uint kLocalMemoryBytes = 4;

layout(std430, set = 0, binding = 0) readonly buffer In { float values[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Out { float sums[]; };

layout(push_constant) uniform Args {
  uint n;
} args;

shared float partial[kLocalMemoryBytes / 4u];

void main() {
  const uint lid = gl_LocalInvocationID.x;
  const uint gid = gl_GlobalInvocationID.x;
  partial[lid] = gid < args.n ? values[gid] : 0.0;
  memoryBarrierShared();
  barrier();
  for (uint stride = gl_WorkGroupSize.x / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    memoryBarrierShared();
    barrier();
  }
  if (lid == 0u) {
    sums[gl_WorkGroupID.x] = partial[0];
  }
}
