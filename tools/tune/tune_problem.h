// One tuning problem of porta-tune: a family's operation at the shape of one bucket, with its
// inputs on the device, the host reference (double accumulation) and the error bound the
// conformance suite holds that operation to. Built on the public headers only.
#ifndef PORTA_TOOLS_TUNE_TUNE_PROBLEM_H_
#define PORTA_TOOLS_TUNE_TUNE_PROBLEM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "porta/porta.h"
#include "porta/porta_ops.h"

namespace porta::tune {

class TuneProblem {
 public:
  // Sets up |family| ("matmul", "softmax", "norm", "reduce", "ew", "attention" in f32; "qmatvec"
  // with Q8_0 weights) at |dims| (as porta_ops_tuning_shape gives them) on the stream's device.
  // Returns null with *error set when the family has no problem here or the device refuses a step.
  static std::unique_ptr<TuneProblem> Create(const std::string& family, const int64_t dims[3],
                                             porta_ops_context_t context, porta_stream_t stream,
                                             std::string* error);
  ~TuneProblem();
  TuneProblem(const TuneProblem&) = delete;
  TuneProblem& operator=(const TuneProblem&) = delete;

  // Enqueues the operation once with whatever parameters the context chooses now.
  porta_status_t Enqueue();
  // Reads the output back (synchronizing) and compares it with the reference: *nmse is
  // sum (out - ref)^2 / sum ref^2, and the result false when it exceeds the bound.
  bool Check(double* nmse, double* bound, std::string* error);
  // "256x256x256".
  std::string ShapeText() const;

 private:
  TuneProblem() = default;

  std::string family_;
  int64_t dims_[3] = {1, 1, 1};
  porta_ops_context_t context_ = nullptr;
  porta_stream_t stream_ = nullptr;
  std::vector<porta_buffer_t> buffers_;
  porta_tensor_t a_{};
  porta_tensor_t b_{};
  porta_tensor_t c_{};  // attention's v
  porta_tensor_t out_{};
  std::vector<double> reference_;
  double bound_ = 0;
};

}  // namespace porta::tune

#endif  // PORTA_TOOLS_TUNE_TUNE_PROBLEM_H_
