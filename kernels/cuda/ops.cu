// The operator-library kernels for CUDA and HIP: the OpenCL C family sources compiled as one
// translation unit through the portability layer (kernels/opencl/prelude.h), with the matmul
// variants the CUDA, HIP and SPIR-V builds ship (the lead's CMake mirrors this list).
// Build with -I kernels.
#include "common/params.h"
#include "opencl/prelude.h"

#include "opencl/attention.cl"
#include "opencl/conv2d.cl"
#include "opencl/ew.cl"
#include "opencl/gather.cl"
#include "opencl/norm.cl"
#include "opencl/pool2d.cl"
#include "opencl/qdequant.cl"
#include "opencl/qmatvec.cl"
#include "opencl/reduce.cl"
#include "opencl/rope.cl"
#include "opencl/softmax.cl"

#define PORTA_MM_TM 64
#define PORTA_MM_TN 64
#define PORTA_MM_TK 16
#define PORTA_MM_WM 4
#define PORTA_MM_WN 4
#define PORTA_MM_NAME porta_matmul_t64x64x16_w4x4
#include "opencl/matmul.cl"

#define PORTA_MM_TM 32
#define PORTA_MM_TN 32
#define PORTA_MM_TK 16
#define PORTA_MM_WM 2
#define PORTA_MM_WN 2
#define PORTA_MM_NAME porta_matmul_t32x32x16_w2x2
#include "opencl/matmul.cl"

#define PORTA_MM_TM 32
#define PORTA_MM_TN 64
#define PORTA_MM_TK 16
#define PORTA_MM_WM 4
#define PORTA_MM_WN 4
#define PORTA_MM_NAME porta_matmul_t32x64x16_w4x4
#include "opencl/matmul.cl"

#define PORTA_MM_TM 4
#define PORTA_MM_TN 128
#define PORTA_MM_TK 32
#define PORTA_MM_WM 1
#define PORTA_MM_WN 4
#define PORTA_MM_NAME porta_matmul_t4x128x32_w1x4
#include "opencl/matmul.cl"
