// double in a comment
/* double
   in a block comment */
const char* s = "double in a string"; char c = 'd';
#ifdef cl_khr_fp64
kernel void k(global double2* out) { out[0] = (double2)(1.0, 2.0); }
#endif
