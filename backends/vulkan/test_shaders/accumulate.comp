// Test shader of porta_vulkan_tests: data[i] = data[i] * mul + add for i < n. Applying it twice
// with different arguments gives a result that depends on the order, so a test can tell which
// arguments each queued launch ran with.
#version 450

layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) buffer Data {
  uint data[];
};

layout(push_constant) uniform Args {
  uint mul;
  uint add;
  uint n;
} args;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i < args.n) {
    data[i] = data[i] * args.mul + args.add;
  }
}
