// One operator context shared by several threads, each with its own stream: kernels built on
// first use by whichever thread gets there, the tuning lookup, and workspace blocks handed
// between streams (the long reductions split into parts use the workspace) must all hold up, and
// every thread's results must be right.
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "conformance/ops/ops_cts.h"

namespace porta_cts {
namespace {

class OpsThreadingTest : public OpsTest {};

// Runs |rounds| of (matmul, softmax over its rows, sum of everything) on |stream| and checks each
// round against the host. Returns "" or what went wrong.
std::string RunThread(porta_device_t device, porta_ops_context_t ctx, int thread, int rounds) {
  constexpr int64_t kM = 17, kK = 23, kN = 9000;  // kN long enough for the reduction to split
  porta_stream_t stream = nullptr;
  if (porta_stream_create(device, &stream) != PORTA_OK) return porta_last_error_message();
  std::string problem;
  BufferHandle a, b, c, sum;
  const uint64_t f = sizeof(float);
  if (porta_buffer_alloc(device, kM * kK * f, PORTA_MEMORY_DEVICE, a.out()) != PORTA_OK ||
      porta_buffer_alloc(device, kK * kN * f, PORTA_MEMORY_DEVICE, b.out()) != PORTA_OK ||
      porta_buffer_alloc(device, kM * kN * f, PORTA_MEMORY_DEVICE, c.out()) != PORTA_OK ||
      porta_buffer_alloc(device, f, PORTA_MEMORY_DEVICE, sum.out()) != PORTA_OK) {
    problem = std::string("allocating: ") + porta_last_error_message();
  }
  const int64_t a_shape[2] = {kM, kK}, b_shape[2] = {kK, kN}, c_shape[2] = {kM, kN};
  const porta_tensor_t ta = porta_tensor_contiguous(a.get(), 0, PORTA_DTYPE_F32, 2, a_shape);
  const porta_tensor_t tb = porta_tensor_contiguous(b.get(), 0, PORTA_DTYPE_F32, 2, b_shape);
  const porta_tensor_t tc = porta_tensor_contiguous(c.get(), 0, PORTA_DTYPE_F32, 2, c_shape);
  const porta_tensor_t ts = porta_tensor_contiguous(sum.get(), 0, PORTA_DTYPE_F32, 0, nullptr);
  const porta_matmul_desc_t matmul = PORTA_MATMUL_DESC_INIT;
  const porta_softmax_desc_t softmax = PORTA_SOFTMAX_DESC_INIT;
  for (int round = 0; problem.empty() && round < rounds; ++round) {
    const uint32_t seed = static_cast<uint32_t>(1000 * thread + round);
    const std::vector<float> ha = RandomFloats(kM * kK, seed);
    const std::vector<float> hb = RandomFloats(kK * kN, seed + 500);
    std::vector<float> hc(kM * kN);
    float hs = 0.0f;
    const bool enqueued =
        porta_copy_host_to_device(stream, a.get(), 0, ha.data(), ha.size() * f) == PORTA_OK &&
        porta_copy_host_to_device(stream, b.get(), 0, hb.data(), hb.size() * f) == PORTA_OK &&
        porta_ops_matmul(ctx, stream, &matmul, &ta, &tb, nullptr, &tc) == PORTA_OK &&
        porta_ops_softmax(ctx, stream, &softmax, &tc, nullptr, &tc) == PORTA_OK &&
        porta_ops_reduce(ctx, stream, PORTA_REDUCE_SUM, &tc, nullptr, 0, 0, &ts) == PORTA_OK &&
        porta_copy_device_to_host(stream, hc.data(), c.get(), 0, hc.size() * f) == PORTA_OK &&
        porta_copy_device_to_host(stream, &hs, sum.get(), 0, f) == PORTA_OK &&
        porta_stream_synchronize(stream) == PORTA_OK;
    if (!enqueued) {
      problem = std::string("round ") + std::to_string(round) + ": " + porta_last_error_message();
      break;
    }
    // Each softmax row sums to 1, so everything sums to kM; spot-check rows against the host.
    if (!(std::fabs(hs - static_cast<float>(kM)) <= 1e-3f * kM)) {
      problem = "round " + std::to_string(round) + ": the softmax rows sum to " +
                std::to_string(hs) + ", not " + std::to_string(kM);
      break;
    }
    for (int64_t m = 0; problem.empty() && m < kM; m += 8) {
      std::vector<double> row(kN);
      double max = -INFINITY, total = 0.0;
      for (int64_t n = 0; n < kN; ++n) {
        double dot = 0.0;
        for (int64_t k = 0; k < kK; ++k) dot += double{ha[m * kK + k]} * hb[k * kN + n];
        row[n] = dot;
        max = std::fmax(max, dot);
      }
      for (double& v : row) total += (v = std::exp(v - max));
      for (int64_t n = 0; n < kN; n += 97) {
        const double want = row[n] / total;
        if (!(std::fabs(hc[m * kN + n] - want) <= 1e-5 * want + 1e-9)) {
          problem = "round " + std::to_string(round) + ": softmax(" + std::to_string(m) + ", " +
                    std::to_string(n) + ") = " + std::to_string(hc[m * kN + n]) + ", want " +
                    std::to_string(want);
          break;
        }
      }
    }
  }
  porta_stream_destroy(stream);
  return problem;
}

TEST_P(OpsThreadingTest, ThreadsShareOneContext) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_MATMUL, PORTA_DTYPE_F32, PORTA_DTYPE_F32, PORTA_DTYPE_F32);
  constexpr int kThreads = 4;
  constexpr int kRounds = 3;
  std::vector<std::string> problems(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] { problems[t] = RunThread(device_, ctx(), t, kRounds); });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(problems[t], "") << "thread " << t;
}

PORTA_CTS_INSTANTIATE(OpsThreadingTest);

}  // namespace
}  // namespace porta_cts
