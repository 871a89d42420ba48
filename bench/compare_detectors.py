#!/usr/bin/python3
"""Compare shadowfleet's anomaly detector with two standard baselines on a NAB-layout corpus.

    /usr/bin/python3 bench/compare_detectors.py CORPUS [--shadowfleet BIN] [--work DIR]

Every detector scores each file causally (a row's score uses only that row and the rows
before it) and writes its scores in the corpus layout; all three are then scored by the same
`shadowfleet eval nab --scores`, so they compete under exactly the same rules:

  novel-bin       shadowfleet's detector, through `shadowfleet detect`, one process per file.
  holt-winters    statsmodels ExponentialSmoothing (additive trend and season, the season
                  being one day of samples when the file holds at least two days). Refitted on
                  the last --hw-window rows every --hw-refit rows; between refits the fitted
                  smoothing constants update level, trend and season row by row. A row's score
                  is |z| / (1 + |z|), z = one-step forecast residual / residual standard
                  deviation of the last fit.
  isolation-forest  scikit-learn IsolationForest on (value, change from the previous value),
                  refitted on the last --if-window rows every --if-refit rows; the score is
                  the forest's anomaly score (-score_samples), in (0, 1].

Both baselines score 0 until their first fit. The refit intervals are what keeps the whole
run to a few minutes on one core; shorter intervals cost time roughly in proportion.
Needs python3-numpy, python3-statsmodels and python3-sklearn (Debian packages).
"""
import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time
import warnings

import numpy as np

DEFAULT_BINARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build",
                              "default", "src", "shadowfleet", "shadowfleet")


def read_corpus(root):
    """The corpus files named by the labels, each as (name, timestamps, values)."""
    with open(os.path.join(root, "labels", "combined_windows.json")) as fh:
        names = sorted(json.load(fh))
    files = []
    for name in names:
        with open(os.path.join(root, "data", name), newline="") as fh:
            reader = csv.DictReader(fh)
            stamps, values = [], []
            for row in reader:
                stamps.append(row["timestamp"])
                text = row["value"].strip()
                values.append(float(text) if text and text.lower() != "nan" else math.nan)
        files.append((name, stamps, np.asarray(values, dtype=float)))
    return files


def epoch_seconds(stamps):
    out = np.empty(len(stamps))
    for i, s in enumerate(stamps):
        s = s.strip().replace("T", " ").rstrip("Z")
        try:
            out[i] = float(s)
        except ValueError:
            out[i] = np.datetime64(s.split(".")[0], "s").astype("int64")
    return out


def write_scores(directory, name, stamps, values, scores):
    path = os.path.join(directory, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write("timestamp,value,anomaly_score\n")
        for t, v, s in zip(stamps, values, scores):
            fh.write("%s,%r,%r\n" % (t, float(v), float(s)))


def forward_fill(values):
    out = values.copy()
    last = 0.0
    for i, v in enumerate(out):
        if math.isnan(v):
            out[i] = last
        else:
            last = v
    return out


# ---- Holt-Winters -------------------------------------------------------------------------

class OnlineHoltWinters:
    """Additive Holt-Winters state carried forward with fixed smoothing constants, in the
    same recursions as statsmodels uses to fit them."""

    def __init__(self, fit, period):
        params = fit.params
        self.alpha = params["smoothing_level"]
        self.beta = params["smoothing_trend"]
        self.gamma = params["smoothing_seasonal"] if period else 0.0
        self.level = fit.level[-1]
        self.trend = fit.trend[-1]
        self.period = period
        self.season = list(fit.season[-period:]) if period else []
        self.phase = 0
        resid = np.asarray(fit.resid)
        resid = resid[np.isfinite(resid)]
        spread = float(np.std(resid)) if len(resid) else 0.0
        self.scale = max(spread, 1e-9 * (1.0 + abs(self.level)))

    def step(self, x):
        """Returns the standardised residual of x, then learns from it."""
        s = self.season[self.phase] if self.period else 0.0
        z = (x - (self.level + self.trend + s)) / self.scale
        level = self.alpha * (x - s) + (1 - self.alpha) * (self.level + self.trend)
        if self.period:
            self.season[self.phase] = (self.gamma * (x - self.level - self.trend) +
                                       (1 - self.gamma) * s)
            self.phase = (self.phase + 1) % self.period
        self.trend = self.beta * (level - self.level) + (1 - self.beta) * self.trend
        self.level = level
        return z


def daily_period(times):
    """Samples per day when sampling is regular enough, else 0."""
    steps = np.diff(times)
    steps = steps[steps > 0]
    if not len(steps):
        return 0
    period = int(round(86400.0 / float(np.median(steps))))
    return period if 2 <= period <= 1000 else 0


def holt_winters_scores(values, times, refit, window):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing
    n = len(values)
    period = daily_period(times)
    filled = forward_fill(values)
    scores = np.zeros(n)
    model = None
    first_fit = max(2 * period + 10, 300)
    next_fit = first_fit
    for i in range(n):
        if i == next_fit:
            history = filled[max(0, i - max(window, 2 * period + 10)):i]
            seasonal = period if period and len(history) >= 2 * period + 10 else 0
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # Convergence chatter on hard files.
                    fit = ExponentialSmoothing(
                        history, trend="add", seasonal="add" if seasonal else None,
                        seasonal_periods=seasonal or None,
                        initialization_method="estimated").fit()
                if np.isfinite(fit.params["smoothing_level"]):
                    model = OnlineHoltWinters(fit, seasonal)
            except (ValueError, np.linalg.LinAlgError):
                pass  # Keep the previous model (or none) until the next refit.
            next_fit += refit
        if model is None or math.isnan(values[i]):
            continue
        z = abs(model.step(values[i]))
        scores[i] = z / (1.0 + z) if math.isfinite(z) else 1.0
    return scores


# ---- Isolation forest ----------------------------------------------------------------------

def isolation_forest_scores(values, refit, window, first_fit=500):
    from sklearn.ensemble import IsolationForest
    filled = forward_fill(values)
    change = np.diff(filled, prepend=filled[0])
    features = np.column_stack([filled, change])
    n = len(values)
    scores = np.zeros(n)
    start = first_fit
    while start < n:
        forest = IsolationForest(n_estimators=100, random_state=0)
        forest.fit(features[max(0, start - window):start])
        end = min(n, start + refit)
        scores[start:end] = -forest.score_samples(features[start:end])
        start = end
    scores[np.isnan(values)] = 0.0
    return scores


# ---- running and scoring -------------------------------------------------------------------

def run_ours(binary, root, files, out_dir):
    start = time.perf_counter()
    for name, _, _ in files:
        target = os.path.join(out_dir, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        subprocess.run([binary, "detect", "--input", os.path.join(root, "data", name),
                        "--output", target], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def run_baseline(score_file, files, out_dir):
    cpu = 0.0
    for name, stamps, values in files:
        start = time.process_time()
        scores = score_file(values, epoch_seconds(stamps))
        cpu += time.process_time() - start
        write_scores(out_dir, name, stamps, values, scores)
    return cpu


def nab_scores(binary, root, scores_dir=None):
    command = [binary, "eval", "nab", "--data", root, "-o", "json"]
    if scores_dir:
        command += ["--scores", scores_dir]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", help="NAB-layout corpus root")
    parser.add_argument("--shadowfleet", default=DEFAULT_BINARY, help="shadowfleet binary")
    parser.add_argument("--work", default="/tmp/shadowfleet-compare", help="score files go here")
    parser.add_argument("--hw-refit", type=int, default=1000)
    parser.add_argument("--hw-window", type=int, default=2000)
    parser.add_argument("--if-refit", type=int, default=1000)
    parser.add_argument("--if-window", type=int, default=4000)
    args = parser.parse_args()

    files = read_corpus(args.corpus)
    points = sum(len(v) for _, _, v in files)
    print("%s: %d files, %d points" % (args.corpus, len(files), points), file=sys.stderr)

    rows = []
    ours_dir = os.path.join(args.work, "novel-bin")
    wall = run_ours(args.shadowfleet, args.corpus, files, ours_dir)
    in_process = nab_scores(args.shadowfleet, args.corpus)["detector"]["seconds"]
    rows.append(("novel-bin (shadowfleet)", nab_scores(args.shadowfleet, args.corpus, ours_dir),
                 in_process / points,
                 "in-process; %.1f us/point through `shadowfleet detect` incl. process start "
                 "and CSV I/O" % (wall / points * 1e6)))
    print("novel-bin done", file=sys.stderr)

    hw_dir = os.path.join(args.work, "holt-winters")
    cpu = run_baseline(lambda v, t: holt_winters_scores(v, t, args.hw_refit, args.hw_window),
                       files, hw_dir)
    rows.append(("Holt-Winters (statsmodels)", nab_scores(args.shadowfleet, args.corpus, hw_dir),
                 cpu / points, "refit every %d rows on the last %d" % (args.hw_refit,
                                                                       args.hw_window)))
    print("holt-winters done", file=sys.stderr)

    if_dir = os.path.join(args.work, "isolation-forest")
    cpu = run_baseline(lambda v, t: isolation_forest_scores(v, args.if_refit, args.if_window),
                       files, if_dir)
    rows.append(("IsolationForest (sklearn)", nab_scores(args.shadowfleet, args.corpus, if_dir),
                 cpu / points, "refit every %d rows on the last %d" % (args.if_refit,
                                                                       args.if_window)))

    print("| detector | standard | reward low FP | reward low FN | time per point | notes |")
    print("|---|---|---|---|---|---|")
    for name, result, seconds, note in rows:
        print("| %s | %.1f | %.1f | %.1f | %.2f us | %s |" % (
            name, result["standard"], result["reward_low_FP_rate"], result["reward_low_FN_rate"],
            seconds * 1e6, note))
    print("\nthresholds (standard / low FP / low FN):")
    for name, result, _, _ in rows:
        print("  %-28s %s" % (name, " / ".join(
            "%.6g" % (result["profiles"][p]["threshold"] or float("inf"))
            for p in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"))))


if __name__ == "__main__":
    main()
