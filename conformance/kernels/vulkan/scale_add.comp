// CTS kernel scale_add (see ../README.md): y[i] = alpha * x[i] + y[i] for i < n.
#version 450

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(std430, set = 0, binding = 0) buffer Y { float y[]; };
layout(std430, set = 0, binding = 1) readonly buffer X { float x[]; };

layout(push_constant) uniform Args {
  float alpha;
  uint n;
} args;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i < args.n) {
    y[i] = args.alpha * x[i] + y[i];
  }
}
