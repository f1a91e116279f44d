// Test shader of porta_vulkan_tests: a uniform texel buffer outside bindings 16..31, which the
// backend refuses to load.
#version 450
#extension GL_EXT_samplerless_texture_functions : require

layout(local_size_x = 1) in;
layout(std430, set = 0, binding = 0) buffer Out {
  uint out_words[];
};
layout(set = 0, binding = 3) uniform utextureBuffer texels;

void main() {
  out_words[0] = texelFetch(texels, 0).x;
}
