// CTS test kernel vector_add (contract in ../README.md): c[i] = a[i] + b[i] for i < n.
// OpenCL C 1.2, so it builds for the weakest conforming device.
__kernel void vector_add(__global const float* a, __global const float* b, __global float* c,
                         uint n) {
  const size_t i = get_global_id(0);
  if (i < n) c[i] = a[i] + b[i];
}
