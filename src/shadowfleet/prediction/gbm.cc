#include "shadowfleet/prediction/gbm.h"

#include <xgboost/c_api.h>

#include <algorithm>
#include <limits>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace shadowfleet {
namespace {

// XGBoost reports failure as -1 and keeps the message in a thread-local buffer.
absl::Status XgbError(int rc, std::string call, absl::StatusCode code) {
  if (rc == 0) {
    return absl::OkStatus();
  }
  // `call` is the stringified call expression; its function name is enough for the message.
  call = call.substr(0, call.find('('));
  return absl::Status(code, absl::StrCat("xgboost ", call, ": ", XGBGetLastError()));
}

// Returns the XGBoost error of `call`, if any, as a status with `code`.
#define SF_XGB(call, code)                                                             \
  do {                                                                                 \
    if (absl::Status xgb_status = XgbError((call), #call, (code)); !xgb_status.ok()) { \
      return xgb_status;                                                               \
    }                                                                                  \
  } while (false)

// Owns a DMatrix for the duration of one call.
class DMatrix {
 public:
  ~DMatrix() {
    if (handle_ != nullptr) {
      XGDMatrixFree(handle_);
    }
  }
  absl::Status Create(const DenseMatrix& x, int nthread) {
    SF_XGB(XGDMatrixCreateFromMat_omp(x.data(), x.rows(), x.cols(),
                                      std::numeric_limits<float>::quiet_NaN(), &handle_, nthread),
           absl::StatusCode::kInternal);
    return absl::OkStatus();
  }
  DMatrixHandle get() const { return handle_; }

 private:
  DMatrixHandle handle_ = nullptr;
};

std::string Number(double v) {
  return absl::StrCat(v);
}

}  // namespace

void DenseMatrix::AddRow(absl::Span<const float> row) {
  values_.insert(values_.end(), row.begin(), row.end());
}

DenseMatrix DenseMatrix::Select(absl::Span<const size_t> rows) const {
  DenseMatrix out(cols_);
  out.Reserve(rows.size());
  for (size_t r : rows) {
    out.AddRow(row(r));
  }
  return out;
}

struct Gbm::Handle {
  ~Handle() {
    if (booster != nullptr) {
      XGBoosterFree(booster);
    }
  }
  BoosterHandle booster = nullptr;
  int nthread = 1;
  // XGBoost keeps prediction results in buffers owned by the booster, valid until its next
  // call: one caller at a time.
  absl::Mutex mu;
};

Gbm::Gbm(std::unique_ptr<Handle> handle, size_t num_features)
    : handle_(std::move(handle)), num_features_(num_features) {}

Gbm::Gbm(Gbm&&) noexcept = default;
Gbm& Gbm::operator=(Gbm&&) noexcept = default;
Gbm::~Gbm() = default;

absl::StatusOr<Gbm> Gbm::Train(const DenseMatrix& x, absl::Span<const float> labels,
                               const GbmParams& params, absl::Span<const float> weights) {
  if (x.rows() == 0 || x.cols() == 0) {
    return absl::InvalidArgumentError("gbm: no training rows or no features");
  }
  if (labels.size() != x.rows() || (!weights.empty() && weights.size() != x.rows())) {
    return absl::InvalidArgumentError(absl::StrCat("gbm: ", x.rows(), " rows but ", labels.size(),
                                                   " labels and ", weights.size(), " weights"));
  }
  const int nthread = std::max(1, params.nthread);
  DMatrix train;
  if (absl::Status s = train.Create(x, nthread); !s.ok()) {
    return s;
  }
  SF_XGB(XGDMatrixSetFloatInfo(train.get(), "label", labels.data(), labels.size()),
         absl::StatusCode::kInternal);
  if (!weights.empty()) {
    SF_XGB(XGDMatrixSetFloatInfo(train.get(), "weight", weights.data(), weights.size()),
           absl::StatusCode::kInternal);
  }

  auto handle = std::make_unique<Handle>();
  handle->nthread = nthread;
  DMatrixHandle matrices[] = {train.get()};
  SF_XGB(XGBoosterCreate(matrices, 1, &handle->booster), absl::StatusCode::kInternal);
  const std::pair<const char*, std::string> settings[] = {
      {"objective", params.objective},
      {"eta", Number(params.eta)},
      {"max_depth", Number(params.max_depth)},
      {"min_child_weight", Number(params.min_child_weight)},
      {"subsample", Number(params.subsample)},
      {"colsample_bytree", Number(params.colsample_bytree)},
      {"lambda", Number(params.lambda)},
      {"max_bin", Number(params.max_bin)},
      {"tree_method", "hist"},
      {"seed", Number(params.seed)},
      {"nthread", Number(nthread)},
      {"verbosity", "0"},
  };
  for (const auto& [name, value] : settings) {
    SF_XGB(XGBoosterSetParam(handle->booster, name, value.c_str()),
           absl::StatusCode::kInvalidArgument);
  }
  for (int round = 0; round < params.rounds; ++round) {
    SF_XGB(XGBoosterUpdateOneIter(handle->booster, round, train.get()),
           absl::StatusCode::kInternal);
  }
  return Gbm(std::move(handle), x.cols());
}

absl::StatusOr<Gbm> Gbm::Load(std::string_view bytes, int nthread) {
  auto handle = std::make_unique<Handle>();
  handle->nthread = std::max(1, nthread);
  SF_XGB(XGBoosterCreate(nullptr, 0, &handle->booster), absl::StatusCode::kInternal);
  SF_XGB(XGBoosterLoadModelFromBuffer(handle->booster, bytes.data(), bytes.size()),
         absl::StatusCode::kDataLoss);
  const std::string threads = Number(handle->nthread);
  SF_XGB(XGBoosterSetParam(handle->booster, "nthread", threads.c_str()),
         absl::StatusCode::kInternal);
  bst_ulong features = 0;
  SF_XGB(XGBoosterGetNumFeature(handle->booster, &features), absl::StatusCode::kDataLoss);
  return Gbm(std::move(handle), features);
}

absl::StatusOr<std::vector<float>> Gbm::PredictType(const DenseMatrix& x, int type,
                                                    std::vector<uint64_t>* shape) const {
  if (x.cols() != num_features_) {
    return absl::InvalidArgumentError(
        absl::StrCat("gbm: model has ", num_features_, " features, matrix has ", x.cols()));
  }
  if (x.rows() == 0) {
    return std::vector<float>();
  }
  DMatrix matrix;
  if (absl::Status s = matrix.Create(x, handle_->nthread); !s.ok()) {
    return s;
  }
  const std::string config =
      absl::StrCat(R"({"type": )", type, R"(, "training": false, "iteration_begin": 0, )",
                   R"("iteration_end": 0, "strict_shape": false})");
  absl::MutexLock lock(&handle_->mu);
  const bst_ulong* out_shape = nullptr;
  bst_ulong out_dim = 0;
  const float* out = nullptr;
  SF_XGB(XGBoosterPredictFromDMatrix(handle_->booster, matrix.get(), config.c_str(), &out_shape,
                                     &out_dim, &out),
         absl::StatusCode::kInternal);
  size_t total = 1;
  shape->clear();
  for (bst_ulong d = 0; d < out_dim; ++d) {
    shape->push_back(out_shape[d]);
    total *= out_shape[d];
  }
  return std::vector<float>(out, out + total);
}

absl::StatusOr<std::vector<float>> Gbm::Predict(const DenseMatrix& x) const {
  std::vector<uint64_t> shape;
  return PredictType(x, /*type=normal*/ 0, &shape);
}

absl::StatusOr<DenseMatrix> Gbm::Contributions(const DenseMatrix& x) const {
  std::vector<uint64_t> shape;
  absl::StatusOr<std::vector<float>> values = PredictType(x, /*type=contribution*/ 2, &shape);
  if (!values.ok()) {
    return values.status();
  }
  const size_t cols = num_features_ + 1;
  if (values->size() != x.rows() * cols) {
    return absl::InternalError(absl::StrCat("gbm: expected ", x.rows() * cols,
                                            " contributions, xgboost returned ", values->size()));
  }
  DenseMatrix out(cols);
  out.Reserve(x.rows());
  for (size_t r = 0; r < x.rows(); ++r) {
    out.AddRow(absl::MakeConstSpan(values->data() + r * cols, cols));
  }
  return out;
}

absl::StatusOr<std::string> Gbm::Save() const {
  absl::MutexLock lock(&handle_->mu);
  bst_ulong length = 0;
  const char* bytes = nullptr;
  SF_XGB(XGBoosterSaveModelToBuffer(handle_->booster, R"({"format": "json"})", &length, &bytes),
         absl::StatusCode::kInternal);
  return std::string(bytes, length);
}

#undef SF_XGB

}  // namespace shadowfleet
