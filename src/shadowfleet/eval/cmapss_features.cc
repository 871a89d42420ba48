#include "shadowfleet/eval/cmapss_features.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace shadowfleet {
namespace {

// Regime search: k from 2 to kMaxConditions; a clustering is accepted when every setting's
// within-cluster spread is below kTightness of its overall spread. Discrete flight regimes
// give almost 0; noise around one regime never gets there.
constexpr int kMaxConditions = 8;
constexpr double kTightness = 0.05;
constexpr int kKMeansIterations = 50;

// Sensors whose |Pearson correlation| with capped remaining life is below this carry no
// usable degradation signal and only add noise to the trees.
constexpr double kMinAbsCorrelation = 0.2;
// Ridge penalty of the health index, per training row.
constexpr double kHealthIndexRidge = 1e-3;

// Per-engine state: smoothing constants, slope windows and the baseline length were chosen by
// cross-validation on training engines in the research prototype.
constexpr double kSensorAlpha = 0.1;
constexpr std::array<double, 3> kHealthAlphas = {0.05, 0.1, 0.3};
constexpr std::array<int, 3> kHealthSlopeWindows = {10, 20, 50};
constexpr int kBaselineCycles = 20;

using Points = std::vector<std::vector<double>>;

double SquaredDistance(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d += (a[i] - b[i]) * (a[i] - b[i]);
  }
  return d;
}

int Nearest(const std::vector<double>& x, const Points& centroids) {
  int best = 0;
  double best_d = std::numeric_limits<double>::infinity();
  for (size_t j = 0; j < centroids.size(); ++j) {
    double d = SquaredDistance(x, centroids[j]);
    if (d < best_d) {
      best_d = d;
      best = static_cast<int>(j);
    }
  }
  return best;
}

bool AllClose(const Points& a, const Points& b) {
  for (size_t j = 0; j < a.size(); ++j) {
    for (size_t d = 0; d < a[j].size(); ++d) {
      if (std::fabs(a[j][d] - b[j][d]) > 1e-8 + 1e-5 * std::fabs(b[j][d])) {
        return false;
      }
    }
  }
  return true;
}

// Deterministic k-means: farthest-point initialisation from the first point, then Lloyd.
Points KMeans(const Points& x, int k) {
  Points c = {x[0]};
  std::vector<double> nearest(x.size(), std::numeric_limits<double>::infinity());
  while (static_cast<int>(c.size()) < k) {
    size_t far = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      nearest[i] = std::min(nearest[i], SquaredDistance(x[i], c.back()));
      if (nearest[i] > nearest[far]) {
        far = i;
      }
    }
    c.push_back(x[far]);
  }
  const size_t dims = x[0].size();
  for (int iteration = 0; iteration < kKMeansIterations; ++iteration) {
    Points sum(k, std::vector<double>(dims, 0.0));
    std::vector<double> count(k, 0.0);
    for (const auto& point : x) {
      int j = Nearest(point, c);
      count[j] += 1;
      for (size_t d = 0; d < dims; ++d) {
        sum[j][d] += point[d];
      }
    }
    Points next = c;
    for (int j = 0; j < k; ++j) {
      if (count[j] > 0) {
        for (size_t d = 0; d < dims; ++d) {
          next[j][d] = sum[j][d] / count[j];
        }
      }
    }
    if (AllClose(next, c)) {
      break;
    }
    c = std::move(next);
  }
  return c;
}

// Solves a x = b for a small symmetric positive-definite system (Gaussian elimination with
// partial pivoting; a and b are overwritten).
std::vector<double> Solve(std::vector<std::vector<double>> a, std::vector<double> b) {
  const size_t n = b.size();
  for (size_t col = 0; col < n; ++col) {
    size_t pivot = col;
    for (size_t r = col + 1; r < n; ++r) {
      if (std::fabs(a[r][col]) > std::fabs(a[pivot][col])) {
        pivot = r;
      }
    }
    std::swap(a[col], a[pivot]);
    std::swap(b[col], b[pivot]);
    for (size_t r = col + 1; r < n; ++r) {
      double f = a[r][col] / a[col][col];
      for (size_t c = col; c < n; ++c) {
        a[r][c] -= f * a[col][c];
      }
      b[r] -= f * b[col];
    }
  }
  std::vector<double> x(n);
  for (size_t i = n; i-- > 0;) {
    double s = b[i];
    for (size_t c = i + 1; c < n; ++c) {
      s -= a[i][c] * x[c];
    }
    x[i] = s / a[i][i];
  }
  return x;
}

double Pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  double r = sab / std::sqrt(saa * sbb);
  return std::isfinite(r) ? r : 0.0;
}

// The per-engine feature state: counters, EWMAs, a ring buffer of the health index over the
// longest slope window, a baseline sum, and running least-squares sums over the whole
// history. Bounded whatever the engine's life.
class UnitState {
 public:
  explicit UnitState(const CmapssPreprocessor& prep)
      : prep_(prep),
        sensors_(prep.kept()),
        z_(sensors_),
        sensor_ewma_(sensors_),
        sum_v_(sensors_ + 1),
        sum_tv_(sensors_ + 1) {}

  // Feeds one cycle's standardised sensors (already in z()) and appends its features.
  void Update(std::vector<float>& out);
  double* z() { return z_.data(); }

 private:
  double HealthSlope(int window) const;

  static constexpr int kRing =
      *std::max_element(kHealthSlopeWindows.begin(), kHealthSlopeWindows.end());

  const CmapssPreprocessor& prep_;
  const size_t sensors_;
  std::vector<double> z_;
  int64_t n_ = 0;
  std::vector<double> sensor_ewma_;  // Smoothing constant kSensorAlpha.
  std::array<double, kHealthAlphas.size()> health_ewma_{};
  std::array<double, kRing> ring_{};
  double baseline_sum_ = 0;
  double sum_t_ = 0, sum_tt_ = 0;
  std::vector<double> sum_v_, sum_tv_;
};

double UnitState::HealthSlope(int window) const {
  int64_t m = std::min<int64_t>(n_, window);
  if (m < 3) {
    return 0.0;
  }
  // Least-squares slope per cycle of the last m values, x centred on their middle.
  double num = 0;
  for (int64_t i = 0; i < m; ++i) {
    double x = static_cast<double>(i) - static_cast<double>(m - 1) / 2.0;
    num += x * ring_[(n_ - m + i) % kRing];
  }
  double md = static_cast<double>(m);
  return num / (md * (md * md - 1) / 12.0);
}

void UnitState::Update(std::vector<float>& out) {
  const double hi = prep_.HealthIndex(z_.data());
  ring_[n_ % kRing] = hi;
  ++n_;
  const bool first = n_ == 1;
  for (size_t i = 0; i < sensors_; ++i) {
    sensor_ewma_[i] = first ? z_[i] : sensor_ewma_[i] + kSensorAlpha * (z_[i] - sensor_ewma_[i]);
  }
  for (size_t a = 0; a < kHealthAlphas.size(); ++a) {
    health_ewma_[a] = first ? hi : health_ewma_[a] + kHealthAlphas[a] * (hi - health_ewma_[a]);
  }
  if (n_ <= kBaselineCycles) {
    baseline_sum_ += hi;
  }
  const double baseline =
      baseline_sum_ / static_cast<double>(std::min<int64_t>(n_, kBaselineCycles));

  // Whole-history least-squares slope from running sums, t = 1 .. n.
  const double t = static_cast<double>(n_);
  sum_t_ += t;
  sum_tt_ += t * t;
  for (size_t i = 0; i <= sensors_; ++i) {
    double v = i < sensors_ ? z_[i] : hi;
    sum_v_[i] += v;
    sum_tv_[i] += t * v;
  }
  const double den = t * sum_tt_ - sum_t_ * sum_t_;
  auto cumulative_slope = [&](size_t i) {
    return n_ >= 3 ? (t * sum_tv_[i] - sum_t_ * sum_v_[i]) / den : 0.0;
  };

  out.push_back(static_cast<float>(t));
  for (size_t i = 0; i < sensors_; ++i) {
    out.push_back(static_cast<float>(sensor_ewma_[i]));
  }
  for (size_t i = 0; i < sensors_; ++i) {
    out.push_back(static_cast<float>(cumulative_slope(i)));
  }
  out.push_back(static_cast<float>(hi));
  for (double e : health_ewma_) {
    out.push_back(static_cast<float>(e));
  }
  for (int window : kHealthSlopeWindows) {
    out.push_back(static_cast<float>(HealthSlope(window)));
  }
  out.push_back(static_cast<float>(health_ewma_[0] - baseline));
  out.push_back(static_cast<float>(cumulative_slope(sensors_)));
}

}  // namespace

OperatingConditions OperatingConditions::Fit(const std::vector<double>& settings) {
  OperatingConditions out;
  const size_t rows = settings.size() / kCmapssSettings;
  for (int d = 0; d < kCmapssSettings; ++d) {
    double mean = 0, var = 0;
    for (size_t r = 0; r < rows; ++r) {
      mean += settings[r * kCmapssSettings + d];
    }
    mean /= static_cast<double>(rows);
    for (size_t r = 0; r < rows; ++r) {
      double v = settings[r * kCmapssSettings + d] - mean;
      var += v * v;
    }
    double sd = std::sqrt(var / static_cast<double>(rows));
    if (sd > 1e-12) {
      out.dims_.push_back(d);
      out.scale_.push_back(sd);
    }
  }
  Points x(rows, std::vector<double>(out.dims_.size()));
  std::vector<double> mean(out.dims_.size(), 0.0);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t i = 0; i < out.dims_.size(); ++i) {
      x[r][i] = settings[r * kCmapssSettings + out.dims_[i]] / out.scale_[i];
      mean[i] += x[r][i] / static_cast<double>(rows);
    }
  }
  out.centroids_ = {mean};
  if (out.dims_.empty() || rows == 0) {
    return out;
  }
  for (int k = 2; k <= kMaxConditions && static_cast<size_t>(k) <= rows; ++k) {
    Points c = KMeans(x, k);
    std::vector<double> within(out.dims_.size(), 0.0);
    for (const auto& point : x) {
      const auto& centre = c[Nearest(point, c)];
      for (size_t i = 0; i < point.size(); ++i) {
        within[i] += (point[i] - centre[i]) * (point[i] - centre[i]);
      }
    }
    bool tight = std::all_of(within.begin(), within.end(), [&](double w) {
      return std::sqrt(w / static_cast<double>(rows)) < kTightness;
    });
    if (tight) {
      out.centroids_ = std::move(c);
      break;
    }
  }
  return out;
}

int OperatingConditions::Assign(const double* setting) const {
  if (centroids_.size() == 1) {
    return 0;
  }
  std::vector<double> x(dims_.size());
  for (size_t i = 0; i < dims_.size(); ++i) {
    x[i] = setting[dims_[i]] / scale_[i];
  }
  return Nearest(x, centroids_);
}

CmapssPreprocessor CmapssPreprocessor::Fit(const CmapssSet& train) {
  CmapssPreprocessor p;
  std::vector<double> settings;
  for (const CmapssUnit& unit : train.units) {
    settings.insert(settings.end(), unit.settings.begin(), unit.settings.end());
  }
  p.conditions_ = OperatingConditions::Fit(settings);
  p.sensors_ = train.sensor_names.size();
  const size_t k = static_cast<size_t>(p.conditions_.count());
  const size_t s = p.sensors_;

  // Per-regime mean and (population) standard deviation of every sensor.
  std::vector<int> regime;
  std::vector<double> count(k, 0.0), sum(k * s, 0.0), sum_sq(k * s, 0.0);
  for (const CmapssUnit& unit : train.units) {
    for (size_t r = 0; r < unit.rows(); ++r) {
      int c = p.conditions_.Assign(&unit.settings[r * kCmapssSettings]);
      regime.push_back(c);
      count[c] += 1;
      for (size_t i = 0; i < s; ++i) {
        sum[c * s + i] += unit.sensors[r * s + i];
      }
    }
  }
  p.mean_.assign(k * s, 0.0);
  p.stddev_.assign(k * s, 1.0);
  for (size_t c = 0; c < k; ++c) {
    for (size_t i = 0; i < s && count[c] > 0; ++i) {
      p.mean_[c * s + i] = sum[c * s + i] / count[c];
    }
  }
  size_t row = 0;
  for (const CmapssUnit& unit : train.units) {
    for (size_t r = 0; r < unit.rows(); ++r, ++row) {
      int c = regime[row];
      for (size_t i = 0; i < s; ++i) {
        double d = unit.sensors[r * s + i] - p.mean_[c * s + i];
        sum_sq[c * s + i] += d * d;
      }
    }
  }
  std::vector<bool> constant(s, true);
  for (size_t c = 0; c < k; ++c) {
    for (size_t i = 0; i < s; ++i) {
      double sd = count[c] > 0 ? std::sqrt(sum_sq[c * s + i] / count[c]) : 0.0;
      if (sd >= 1e-9) {
        constant[i] = false;
        p.stddev_[c * s + i] = sd;
      }
    }
  }

  // Standardised sensors and capped remaining life of every training row.
  std::vector<std::vector<double>> z(s);
  std::vector<double> target;
  row = 0;
  for (const CmapssUnit& unit : train.units) {
    const double last = unit.cycles.back();
    for (size_t r = 0; r < unit.rows(); ++r, ++row) {
      int c = regime[row];
      for (size_t i = 0; i < s; ++i) {
        z[i].push_back((unit.sensors[r * s + i] - p.mean_[c * s + i]) / p.stddev_[c * s + i]);
      }
      target.push_back(std::min(last - unit.cycles[r], kCmapssRulCap));
    }
  }
  for (size_t i = 0; i < s; ++i) {
    if (!constant[i] && std::fabs(Pearson(z[i], target)) >= kMinAbsCorrelation) {
      p.keep_.push_back(i);
      p.kept_names_.push_back(train.sensor_names[i]);
    }
  }

  // Health index: ridge regression of capped remaining life on the kept sensors (the
  // intercept is not penalised).
  const size_t d = p.keep_.size() + 1;
  std::vector<std::vector<double>> ata(d, std::vector<double>(d, 0.0));
  std::vector<double> aty(d, 0.0);
  std::vector<double> a(d);
  for (size_t n = 0; n < target.size(); ++n) {
    a[0] = 1.0;
    for (size_t j = 0; j < p.keep_.size(); ++j) {
      a[j + 1] = z[p.keep_[j]][n];
    }
    for (size_t i = 0; i < d; ++i) {
      aty[i] += a[i] * target[n];
      for (size_t j = 0; j < d; ++j) {
        ata[i][j] += a[i] * a[j];
      }
    }
  }
  for (size_t i = 1; i < d; ++i) {
    ata[i][i] += kHealthIndexRidge * static_cast<double>(target.size());
  }
  std::vector<double> w = Solve(ata, aty);
  p.hi_intercept_ = w[0];
  p.hi_weights_.assign(w.begin() + 1, w.end());
  return p;
}

void CmapssPreprocessor::Normalise(const CmapssUnit& unit, size_t row, double* z) const {
  const int c = conditions_.Assign(&unit.settings[row * kCmapssSettings]);
  for (size_t j = 0; j < keep_.size(); ++j) {
    size_t i = keep_[j];
    z[j] = (unit.sensors[row * sensors_ + i] - mean_[c * sensors_ + i]) / stddev_[c * sensors_ + i];
  }
}

double CmapssPreprocessor::HealthIndex(const double* z) const {
  double hi = hi_intercept_;
  for (size_t j = 0; j < hi_weights_.size(); ++j) {
    hi += hi_weights_[j] * z[j];
  }
  return hi;
}

std::vector<std::string> CmapssFeatureNames(const std::vector<std::string>& kept_sensors) {
  std::vector<std::string> names = {"age"};
  for (const std::string& s : kept_sensors) {
    names.push_back(absl::StrCat(s, "_ewm", kSensorAlpha));
  }
  for (const std::string& s : kept_sensors) {
    names.push_back(absl::StrCat(s, "_cumslope"));
  }
  names.push_back("HI");
  for (double a : kHealthAlphas) {
    names.push_back(absl::StrCat("HI_ewm", a));
  }
  for (int w : kHealthSlopeWindows) {
    names.push_back(absl::StrCat("HI_slope", w));
  }
  names.push_back("HI_dev");
  names.push_back("HI_cumslope");
  return names;
}

DenseMatrix CmapssFeatureMatrix(const CmapssSet& set, const CmapssPreprocessor& prep) {
  const size_t cols = CmapssFeatureNames(prep.kept_sensors()).size();
  DenseMatrix out(cols);
  out.Reserve(set.rows());
  std::vector<float> row;
  for (const CmapssUnit& unit : set.units) {
    UnitState state(prep);
    for (size_t r = 0; r < unit.rows(); ++r) {
      prep.Normalise(unit, r, state.z());
      row.clear();
      state.Update(row);
      out.AddRow(row);
    }
  }
  return out;
}

}  // namespace shadowfleet
