// CTS kernel index_2d (see ../README.md): out[y * width + x] = (y << 16) | x for every global
// (x, y) inside width x height.
#version 450

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(std430, set = 0, binding = 0) writeonly buffer Out { uint values[]; };

layout(push_constant) uniform Args {
  uint width;
  uint height;
} args;

void main() {
  const uint x = gl_GlobalInvocationID.x;
  const uint y = gl_GlobalInvocationID.y;
  if (x < args.width && y < args.height) {
    values[y * args.width + x] = (y << 16) | x;
  }
}
