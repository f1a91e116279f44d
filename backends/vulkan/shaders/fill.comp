// Writes a 1- or 2-byte fill pattern into the partial 32-bit words at the edges of a fill range
// (vkCmdFillBuffer only writes whole, 4-byte aligned words). Each invocation updates one word
// with two atomics so bytes outside the mask, which other work may own, are never rewritten.
#version 450

layout(local_size_x = 2) in;

layout(std430, set = 0, binding = 0) buffer Words {
  uint words[];
};

layout(push_constant) uniform Edges {
  uint pattern;  // the pattern replicated to 32 bits
  uint count;    // edge words to update: 1 or 2
  uint index0;
  uint mask0;
  uint index1;
  uint mask1;
} edges;

void main() {
  const uint i = gl_LocalInvocationID.x;
  if (i >= edges.count) {
    return;
  }
  const uint index = i == 0u ? edges.index0 : edges.index1;
  const uint mask = i == 0u ? edges.mask0 : edges.mask1;
  atomicAnd(words[index], ~mask);
  atomicOr(words[index], edges.pattern & mask);
}
