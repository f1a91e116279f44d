// CTS test kernel index_2d (contract in ../README.md): out[y * width + x] = (y << 16) | x for
// every global (x, y) inside width x height.
__kernel void index_2d(__global uint* out, uint width, uint height) {
  const uint x = (uint)get_global_id(0);
  const uint y = (uint)get_global_id(1);
  if (x < width && y < height) out[(size_t)y * width + x] = (y << 16) | x;
}
