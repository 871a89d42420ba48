// Gradient-boosted trees for the risk models, through XGBoost's C API: training from a dense
// matrix (NaN marks a missing value), prediction, per-feature contributions (SHAP values) and
// saving to bytes. Every XGBoost failure becomes an absl::Status carrying XGBoost's own message,
// and the thread count is always explicit, never "all cores".
//
// Example:
//   DenseMatrix x(2);
//   x.AddRow({0.1f, 3.0f});
//   ...
//   absl::StatusOr<Gbm> gbm = Gbm::Train(x, labels, {.objective = "binary:logistic"});
//   absl::StatusOr<std::vector<float>> p = gbm->Predict(x);
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace shadowfleet {

// A row-major matrix of floats with a fixed number of columns. NaN is a missing value.
class DenseMatrix {
 public:
  explicit DenseMatrix(size_t cols = 0) : cols_(cols) {}
  DenseMatrix(size_t rows, size_t cols, float fill = 0.0f)
      : cols_(cols), values_(rows * cols, fill) {}

  // Appends a row; it must have cols() values.
  void AddRow(absl::Span<const float> row);
  void Reserve(size_t rows) { values_.reserve(rows * cols_); }

  size_t rows() const { return cols_ == 0 ? 0 : values_.size() / cols_; }
  size_t cols() const { return cols_; }
  float at(size_t row, size_t col) const { return values_[row * cols_ + col]; }
  float& at(size_t row, size_t col) { return values_[row * cols_ + col]; }
  absl::Span<const float> row(size_t r) const { return {values_.data() + r * cols_, cols_}; }
  const float* data() const { return values_.data(); }

  // The rows whose indices are listed, in that order.
  DenseMatrix Select(absl::Span<const size_t> rows) const;

 private:
  size_t cols_;
  std::vector<float> values_;
};

// Training settings. The defaults suit a small binary classifier; every field maps to the
// XGBoost parameter of the same name.
struct GbmParams {
  std::string objective = "binary:logistic";  // Or "reg:squarederror".
  int rounds = 300;
  double eta = 0.03;
  int max_depth = 3;
  double min_child_weight = 2;
  double subsample = 0.8;
  double colsample_bytree = 0.5;
  double lambda = 1.0;
  int max_bin = 256;
  uint64_t seed = 0;
  int nthread = 1;  // Threads XGBoost may use for training and prediction.
};

// A trained ensemble. Thread-safe: Predict() and Contributions() may be called concurrently
// (XGBoost's prediction buffers are per booster, so calls are serialised internally).
// Movable, not copyable.
class Gbm {
 public:
  Gbm(Gbm&&) noexcept;
  Gbm& operator=(Gbm&&) noexcept;
  ~Gbm();

  // Trains on the rows of `x` with one label per row; `weights` is empty or one per row.
  // INVALID_ARGUMENT for mismatched sizes or an empty matrix; INTERNAL with XGBoost's message
  // if it refuses the data or the parameters.
  static absl::StatusOr<Gbm> Train(const DenseMatrix& x, absl::Span<const float> labels,
                                   const GbmParams& params, absl::Span<const float> weights = {});

  // Reads a model written by Save(). DATA_LOSS if XGBoost cannot parse it.
  static absl::StatusOr<Gbm> Load(std::string_view bytes, int nthread = 1);

  // One prediction per row, on the objective's scale (a probability for binary:logistic).
  absl::StatusOr<std::vector<float>> Predict(const DenseMatrix& x) const;

  // Per-row SHAP contributions on the margin scale (log-odds for binary:logistic): a matrix of
  // rows x (features + 1) whose last column is the bias; each row sums to the raw margin.
  absl::StatusOr<DenseMatrix> Contributions(const DenseMatrix& x) const;

  // The model in XGBoost's JSON format.
  absl::StatusOr<std::string> Save() const;

  size_t num_features() const { return num_features_; }

 private:
  struct Handle;
  Gbm(std::unique_ptr<Handle> handle, size_t num_features);
  absl::StatusOr<std::vector<float>> PredictType(const DenseMatrix& x, int type,
                                                 std::vector<uint64_t>* shape) const;

  std::unique_ptr<Handle> handle_;
  size_t num_features_ = 0;
};

}  // namespace shadowfleet
