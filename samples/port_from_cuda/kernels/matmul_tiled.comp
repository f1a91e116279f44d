#version 450
// matmul_tiled of ../original/matmul_reduce_kernels.cuh in GLSL, for Vulkan devices. Porta's
// spirv-shader convention: buffer arguments are storage buffers at set 0, bindings 0, 1, 2 in
// argument order; the scalars m, n, k are packed into one push-constant block; specialization
// constants 0 and 1 are the launch's block size, so the tile edge is the work-group's edge and
// the shared tiles are sized by it. The build renames the entry point to "matmul_tiled".
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer C { float c[]; };
layout(push_constant) uniform Args {
  uint m;
  uint n;
  uint k;
} args;

// The launch's block is TILE x TILE.
#define TILE gl_WorkGroupSize.x
shared float tile_a[gl_WorkGroupSize.y][gl_WorkGroupSize.x];
shared float tile_b[gl_WorkGroupSize.y][gl_WorkGroupSize.x];

void main() {
  const uint tx = gl_LocalInvocationID.x;
  const uint ty = gl_LocalInvocationID.y;
  const uint row = gl_WorkGroupID.y * TILE + ty;
  const uint col = gl_WorkGroupID.x * TILE + tx;
  float acc = 0.0;
  for (uint t = 0u; t < args.k; t += TILE) {
    tile_a[ty][tx] = row < args.m && t + tx < args.k ? a[row * args.k + t + tx] : 0.0;
    tile_b[ty][tx] = t + ty < args.k && col < args.n ? b[(t + ty) * args.n + col] : 0.0;
    memoryBarrierShared();
    barrier();
    for (uint i = 0u; i < TILE; ++i) {
      acc += tile_a[ty][i] * tile_b[i][tx];
    }
    memoryBarrierShared();
    barrier();
  }
  if (row < args.m && col < args.n) {
    c[row * args.n + col] = acc;
  }
}
