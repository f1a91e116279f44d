// Test shader of porta_vulkan_tests: out[i] = in[i] for i < n, read through the texel view of
// buffer argument 0 (binding 16) when the backend says it is real (specialization constant 4,
// bit 0), else from the storage buffer; out[n + i] records which (1: the view, 0: the buffer).
// With -DREQUIRED the kernel declares no specialization constant 4 and always reads the view.
#version 450
#extension GL_EXT_samplerless_texture_functions : require

layout(local_size_x_id = 0) in;
#if !defined(REQUIRED)
layout(constant_id = 4) const uint texel_views = 0u;
#else
const uint texel_views = 1u;
#endif

layout(std430, set = 0, binding = 0) readonly buffer In {
  uint in_words[];
};
layout(std430, set = 0, binding = 1) buffer Out {
  uint out_words[];
};
layout(set = 0, binding = 16) uniform utextureBuffer in_texels;

layout(push_constant) uniform Args {
  uint n;
} args;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i >= args.n) return;
  if ((texel_views & 1u) != 0u) {
    out_words[i] = texelFetch(in_texels, int(i >> 2))[i & 3u];
    out_words[args.n + i] = 1u;
  } else {
    out_words[i] = in_words[i];
    out_words[args.n + i] = 0u;
  }
}
