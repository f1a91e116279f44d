// The one error type of the model runner library: every failure to read, check or run a model
// (a missing file, a truncated header, an unknown tensor type, a device that refuses an op) is a
// ModelError whose message names the file, the item and the limit, so porta-run can print it as
// it is and a framework can catch it.
#ifndef PORTA_TOOLS_RUN_MODEL_ERROR_H_
#define PORTA_TOOLS_RUN_MODEL_ERROR_H_

#include <stdexcept>

namespace porta::run {

struct ModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace porta::run

#endif  // PORTA_TOOLS_RUN_MODEL_ERROR_H_
