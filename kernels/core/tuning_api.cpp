// The tuning functions of porta_ops.h: the tuning file's state, writing and removing it, the
// dispatcher's choice and where it came from, the candidates a tuner measures and their shapes.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "kernels/core/context.h"
#include "kernels/core/status.h"
#include "kernels/core/tuning_file.h"

namespace {

using porta::ops::Context;
using porta::ops::Fail;
using porta::ops::Family;
using porta::ops::Guard;

porta_kernel_format_t TuningFormat(const Context& context) {
  return context.format == 0 ? PORTA_FORMAT_HOST : context.format;
}

void CopyText(const std::string& text, char* out, size_t size) {
  std::snprintf(out, size, "%s", text.c_str());
}

porta_status_t ParseFamily(const char* family, Family* out) {
  if (family == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, "family is NULL");
  if (!porta::ops::FamilyByName(family, out)) {
    return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                "family '%s' is not a kernel family (ew, reduce, softmax, norm, gather, rope, "
                "attention, matmul, conv2d, pool2d, qmatvec, qdequant)",
                family);
  }
  return PORTA_OK;
}

porta_status_t ParseDtype(const char* dtype, porta_dtype_t* out) {
  for (int32_t value = PORTA_DTYPE_F32; value <= PORTA_DTYPE_Q8_0; ++value) {
    if (dtype != nullptr && std::strcmp(dtype, porta_dtype_name(value)) == 0) {
      *out = static_cast<porta_dtype_t>(value);
      return PORTA_OK;
    }
  }
  return Fail(PORTA_ERROR_INVALID_ARGUMENT,
              "dtype '%s' is not one of f32, f16, bf16, i32, i8, q4_0, q4_1, q8_0",
              dtype == nullptr ? "(NULL)" : dtype);
}

porta_status_t CheckBucket(const char* bucket) {
  if (bucket == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, "bucket is NULL");
  for (const char* known : {"small", "large", "gemv"}) {
    if (std::strcmp(bucket, known) == 0) return PORTA_OK;
  }
  return Fail(PORTA_ERROR_INVALID_ARGUMENT, "bucket '%s' is not one of small, large, gemv", bucket);
}

}  // namespace

extern "C" {

PORTA_OPS_API porta_status_t porta_ops_tuning_file_status(porta_ops_context_t context,
                                                          porta_ops_tuning_file_info_t* info) {
  return Guard("porta_ops_tuning_file_status", [&]() -> porta_status_t {
    Context* found = nullptr;
    PORTA_OPS_RETURN_IF_ERROR(porta::ops::LookupContext(context, &found));
    if (info == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, "info is NULL");
    if (info->struct_size < sizeof(porta_ops_tuning_file_info_t)) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "info->struct_size is %zu, below the %zu this library writes; set it with "
                  "PORTA_OPS_TUNING_FILE_INFO_INIT",
                  info->struct_size, sizeof(porta_ops_tuning_file_info_t));
    }
    std::lock_guard<std::mutex> lock(found->mutex);
    info->state = found->tuning_file.state;
    info->row_count = found->tuning_file.row_count;
    CopyText(found->tuning_file.path, info->path, sizeof(info->path));
    CopyText(found->tuning_file.reason, info->reason, sizeof(info->reason));
    return PORTA_OK;
  });
}

PORTA_OPS_API porta_status_t porta_ops_tuning_file_write(porta_ops_context_t context,
                                                         const char* rows) {
  return Guard("porta_ops_tuning_file_write", [&]() -> porta_status_t {
    Context* found = nullptr;
    PORTA_OPS_RETURN_IF_ERROR(porta::ops::LookupContext(context, &found));
    if (rows == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, "rows is NULL");
    std::vector<porta::ops::TuningRow> parsed;
    const std::string error =
        porta::ops::ParseRowsForDevice(rows, found->info, TuningFormat(*found), &parsed);
    if (!error.empty()) return Fail(PORTA_ERROR_INVALID_ARGUMENT, "rows: %s", error.c_str());
    const std::string& path = found->tuning_file.path;
    if (path.empty()) {
      return Fail(PORTA_ERROR_UNSUPPORTED,
                  "there is no cache folder to write to (PORTA_CACHE_DIR is off, or neither "
                  "XDG_CACHE_HOME nor HOME is set)");
    }
    const std::string why = porta::ops::WriteTuningFile(found->info, path, rows);
    if (!why.empty()) return Fail(PORTA_ERROR_BACKEND, "%s", why.c_str());
    return PORTA_OK;
  });
}

PORTA_OPS_API porta_status_t porta_ops_tuning_file_remove(porta_ops_context_t context) {
  return Guard("porta_ops_tuning_file_remove", [&]() -> porta_status_t {
    Context* found = nullptr;
    PORTA_OPS_RETURN_IF_ERROR(porta::ops::LookupContext(context, &found));
    const std::string& path = found->tuning_file.path;
    if (path.empty() || unlink(path.c_str()) == 0 || errno == ENOENT) return PORTA_OK;
    return Fail(PORTA_ERROR_BACKEND, "cannot remove %s: %s", path.c_str(), std::strerror(errno));
  });
}

PORTA_OPS_API porta_status_t porta_ops_tuning_choice(porta_ops_context_t context,
                                                     const char* family, const char* dtype,
                                                     const char* bucket,
                                                     porta_ops_tuning_choice_t* choice) {
  return Guard("porta_ops_tuning_choice", [&]() -> porta_status_t {
    Context* found = nullptr;
    PORTA_OPS_RETURN_IF_ERROR(porta::ops::LookupContext(context, &found));
    Family parsed_family = Family::kEw;
    PORTA_OPS_RETURN_IF_ERROR(ParseFamily(family, &parsed_family));
    PORTA_OPS_RETURN_IF_ERROR(CheckBucket(bucket));
    porta_dtype_t parsed_dtype = PORTA_DTYPE_F32;
    PORTA_OPS_RETURN_IF_ERROR(ParseDtype(dtype, &parsed_dtype));
    if (choice == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, "choice is NULL");
    if (choice->struct_size < sizeof(porta_ops_tuning_choice_t)) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT,
                  "choice->struct_size is %zu, below the %zu this library writes; set it with "
                  "PORTA_OPS_TUNING_CHOICE_INIT",
                  choice->struct_size, sizeof(porta_ops_tuning_choice_t));
    }
    const porta::ops::TuningChoice made =
        porta::ops::Choose(*found, parsed_family, parsed_dtype, bucket);
    CopyText(made.params.Text(), choice->params, sizeof(choice->params));
    CopyText(made.source, choice->source, sizeof(choice->source));
    return PORTA_OK;
  });
}

PORTA_OPS_API porta_status_t porta_ops_tuning_candidates(porta_ops_context_t context,
                                                         const char* family, const char* dtype,
                                                         const char* bucket, char* buffer,
                                                         size_t buffer_size, size_t* out_required) {
  return Guard("porta_ops_tuning_candidates", [&]() -> porta_status_t {
    Context* found = nullptr;
    PORTA_OPS_RETURN_IF_ERROR(porta::ops::LookupContext(context, &found));
    Family parsed_family = Family::kEw;
    PORTA_OPS_RETURN_IF_ERROR(ParseFamily(family, &parsed_family));
    porta_dtype_t parsed_dtype = PORTA_DTYPE_F32;
    PORTA_OPS_RETURN_IF_ERROR(ParseDtype(dtype, &parsed_dtype));
    PORTA_OPS_RETURN_IF_ERROR(CheckBucket(bucket));
    if (buffer == nullptr && buffer_size != 0) {
      return Fail(PORTA_ERROR_INVALID_ARGUMENT, "buffer is NULL but buffer_size is %zu",
                  buffer_size);
    }
    const porta::ops::TuningChoice current =
        porta::ops::Choose(*found, parsed_family, parsed_dtype, bucket);
    std::string text;
    for (const porta::ops::Params& params : porta::ops::TuningCandidates(
             parsed_family, bucket, current.params, found->info, TuningFormat(*found))) {
      text += params.Text() + "\n";
    }
    if (out_required != nullptr) *out_required = text.size() + 1;
    if (buffer_size != 0) CopyText(text, buffer, buffer_size);
    return PORTA_OK;
  });
}

PORTA_OPS_API porta_status_t porta_ops_tuning_shape(const char* family, const char* bucket,
                                                    int64_t dims[3]) {
  return Guard("porta_ops_tuning_shape", [&]() -> porta_status_t {
    Family parsed_family = Family::kEw;
    PORTA_OPS_RETURN_IF_ERROR(ParseFamily(family, &parsed_family));
    PORTA_OPS_RETURN_IF_ERROR(CheckBucket(bucket));
    if (dims == nullptr) return Fail(PORTA_ERROR_INVALID_ARGUMENT, "dims is NULL");
    if (!porta::ops::TuningShape(parsed_family, bucket, dims)) {
      return Fail(PORTA_ERROR_NOT_FOUND, "%s has no tuning shape for the %s bucket", family,
                  bucket);
    }
    return PORTA_OK;
  });
}

}  // extern "C"
