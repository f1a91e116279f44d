kernel void k(global float* x) { x[0] = 1.0f; }
