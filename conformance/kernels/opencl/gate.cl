// CTS test kernel gate (contract in ../README.md): holds its stream until the host writes a
// nonzero words[0] into the mapped host-visible buffer, or gives up after |rounds| rounds of 1024
// reads. words[1] tells the host where the kernel is: 1 spinning, 2 opened, 3 timed out.
// volatile makes every read go to memory; the fences push the state writes out to the host.
__kernel void gate(__global volatile uint* words, uint rounds) {
  if (get_global_id(0) != 0 || get_global_id(1) != 0 || get_global_id(2) != 0) return;
  words[1] = 1u;
  mem_fence(CLK_GLOBAL_MEM_FENCE);
  // One loop counting reads and rounds: llvm-spirv-15 mistranslates the nested form.
  uint state = 3u;
  uint round = 0u;
  uint read = 0u;
  while (round < rounds) {
    if (words[0] != 0u) {
      state = 2u;
      break;
    }
    if (++read == 1024u) {
      read = 0u;
      ++round;
    }
  }
  words[1] = state;
  mem_fence(CLK_GLOBAL_MEM_FENCE);
}
