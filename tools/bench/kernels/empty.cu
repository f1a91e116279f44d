// porta-bench's empty kernel in CUDA C++: nvcc builds it as a fatbin (cubin) and as PTX, hipcc as
// an AMD code object (hsaco). It does nothing, so a launch of it times only what the launch itself
// costs.
extern "C" __global__ void empty() {}
