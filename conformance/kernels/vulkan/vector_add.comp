// CTS kernel vector_add (see ../README.md): c[i] = a[i] + b[i] for every global x index i < n.
#version 450

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer C { float c[]; };

layout(push_constant) uniform Args {
  uint n;
} args;

void main() {
  const uint i = gl_GlobalInvocationID.x;
  if (i < args.n) {
    c[i] = a[i] + b[i];
  }
}
