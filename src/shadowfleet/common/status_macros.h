// Early-return helpers for absl::Status and absl::StatusOr<T>, so that fallible steps read as
// a straight sequence instead of a ladder of if-statements.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SF_STATUS_CONCAT_INNER(a, b) a##b
#define SF_STATUS_CONCAT(a, b) SF_STATUS_CONCAT_INNER(a, b)

// Returns from the calling function if `expr` yields a non-OK status.
#define SF_RETURN_IF_ERROR(expr)                            \
  do {                                                      \
    if (absl::Status sf_status = (expr); !sf_status.ok()) { \
      return sf_status;                                     \
    }                                                       \
  } while (false)

// Evaluates `expr` (a StatusOr<T>); on error returns its status, otherwise moves the value
// into `lhs`, which may be a declaration such as `auto x` or an existing variable.
#define SF_ASSIGN_OR_RETURN(lhs, expr) \
  SF_ASSIGN_OR_RETURN_IMPL(SF_STATUS_CONCAT(sf_statusor_, __LINE__), lhs, expr)

#define SF_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                             \
  if (!statusor.ok()) {                               \
    return std::move(statusor).status();              \
  }                                                   \
  lhs = std::move(statusor).value()
