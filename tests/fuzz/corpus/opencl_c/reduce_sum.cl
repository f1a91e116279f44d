// CTS test kernel reduce_sum (contract in ../README.md): work-group g writes out[g], the sum of
// in[i] over its items' global indices i < n. The trailing __local parameter is the launch's
// dynamic local memory (block[0] * 4 bytes), which the backend appends after the listed
// arguments. block[0] is a power of two, so the tree halves evenly.
__kernel void reduce_sum(__global const float* in, __global float* out, uint n,
                         __local float* partial) {
  const size_t lid = get_local_id(0);
  const size_t i = get_global_id(0);
  partial[lid] = i < n ? in[i] : 0.0f;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (size_t stride = get_local_size(0) / 2; stride > 0; stride /= 2) {
    if (lid < stride) partial[lid] += partial[lid + stride];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) out[get_group_id(0)] = partial[0];
}
