// CTS test kernel scale_add (contract in ../README.md): y[i] = alpha * x[i] + y[i] for i < n.
__kernel void scale_add(__global float* y, __global const float* x, float alpha, uint n) {
  const size_t i = get_global_id(0);
  if (i < n) y[i] = alpha * x[i] + y[i];
}
