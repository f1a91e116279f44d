// The element-type combinations each operation defines, written once for the op functions and
// for porta_ops_supported.
#ifndef PORTA_KERNELS_OPS_DTYPE_RULES_H_
#define PORTA_KERNELS_OPS_DTYPE_RULES_H_

#include <cstdint>
#include <string>

#include "porta/porta_ops.h"

namespace porta::ops {

struct Context;

// True when porta_ops_supported takes |count| dtypes for |op|.
bool OpTakesCount(porta_op_t op, uint32_t count);

// Checks the dtypes of |op|'s tensors, given in the order porta_ops_supported documents, with
// |names| naming each for messages. Returns "" when the op defines the combination, otherwise why
// not (a wrong count is reported too).
std::string DtypeRuleProblem(porta_op_t op, const porta_dtype_t* dtypes, const char* const* names,
                             uint32_t count);

// The whole capability answer for |op| with |dtypes| (each a valid porta_dtype_t): the type rule,
// then what the device lacks (a kernel format, 16-bit storage). Returns PORTA_OK or a failed status
// with the message set; a rule violation is |rule_status| (INVALID_ARGUMENT from op calls,
// UNSUPPORTED from porta_ops_supported).
porta_status_t CheckOpDtypes(const Context& context, porta_op_t op, const porta_dtype_t* dtypes,
                             const char* const* names, uint32_t count, porta_status_t rule_status);

}  // namespace porta::ops

#endif  // PORTA_KERNELS_OPS_DTYPE_RULES_H_
