// CTS kernel gate (see ../README.md): holds its stream until the host writes a nonzero words[0]
// into the mapped host-visible buffer, or gives up after args.rounds rounds of 256 reads.
// words[1] tells the host where the kernel is: 1 spinning, 2 opened, 3 timed out. The buffer is
// coherent and volatile, so every read goes to memory and sees a host write made while the
// kernel runs; the barriers push the state writes out.
//
// lavapipe ends a shader's loops after 65535 iterations in all (and drops the invocation's later
// writes), so a round is one loop iteration of 256 reads written out in full: one kernel spins at
// most 65535 rounds there (about a second), and the CTS queues as many gates as it needs to hold
// the stream. 1024 reads per round would take lavapipe half a minute to compile.
#version 450

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(std430, set = 0, binding = 0) coherent volatile buffer Gate { uint words[]; };

layout(push_constant) uniform Args {
  uint rounds;
} args;

#define READ_4 seen |= words[0]; seen |= words[0]; seen |= words[0]; seen |= words[0];
#define READ_32 READ_4 READ_4 READ_4 READ_4 READ_4 READ_4 READ_4 READ_4
#define READ_256 READ_32 READ_32 READ_32 READ_32 READ_32 READ_32 READ_32 READ_32

void main() {
  // Every invocation spins and only the first one writes the state: on lavapipe a loop after a
  // return that only some invocations take runs to its limit even when nothing is left to run.
  const bool first = gl_GlobalInvocationID == uvec3(0u);
  if (first) words[1] = 1u;
  memoryBarrierBuffer();
  uint seen = words[0];
  for (uint round = 0u; round < args.rounds && seen == 0u; ++round) {
    READ_256
  }
  if (first) words[1] = seen != 0u ? 2u : 3u;
  memoryBarrierBuffer();
}
