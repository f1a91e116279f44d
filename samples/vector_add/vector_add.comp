#version 450
// vector_add for Vulkan devices: c[i] = a[i] + b[i] for i < n. Porta's spirv-shader convention:
// buffer arguments are storage buffers at set 0, bindings 0, 1, 2 in argument order; scalar
// arguments are packed into one push-constant block; specialization constant 0 is the
// work-group size in x. The entry point is renamed from "main" to "vector_add" at build time.
layout(local_size_x_id = 0, local_size_y = 1, local_size_z = 1) in;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer C { float c[]; };
layout(push_constant) uniform Args { uint n; } args;

void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i < args.n) {
    c[i] = a[i] + b[i];
  }
}
