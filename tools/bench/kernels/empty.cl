// porta-bench's empty kernel in OpenCL C 1.2: embedded as text for OpenCL devices, and compiled
// to OpenCL-flavour SPIR-V (spirv-kernel) for Level Zero. It does nothing, so a launch of it times
// only what the launch itself costs.
__kernel void empty(void) {}
