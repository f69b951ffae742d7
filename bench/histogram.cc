// Copyright (c) Lightning authors. MIT License.
#include "histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace lightning::bench {

void Histogram::clear() {
  buckets_.fill(0);
  count_ = 0;
  min_ = std::numeric_limits<uint64_t>::max();
  max_ = 0;
  sum_ = 0;
  sum_squares_ = 0;
}

void Histogram::merge(const Histogram& other) {
  for (int b = 0; b < kBuckets; ++b) buckets_[b] += other.buckets_[b];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
  sum_squares_ += other.sum_squares_;
}

uint64_t Histogram::bucket_lower(int b) {
  if (b < kSubCount) return static_cast<uint64_t>(b);
  const int octave = (b - kSubCount) / kHalf;
  const uint64_t sub = static_cast<uint64_t>((b - kSubCount) % kHalf + kHalf);
  return sub << (octave + 1);
}

uint64_t Histogram::bucket_width(int b) {
  if (b < kSubCount) return 1;
  return uint64_t{1} << ((b - kSubCount) / kHalf + 1);
}

double Histogram::average() const { return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_); }

double Histogram::standard_deviation() const {
  if (count_ == 0) return 0.0;
  const double n = static_cast<double>(count_);
  const double variance = (sum_squares_ * n - sum_ * sum_) / (n * n);
  return variance <= 0 ? 0.0 : std::sqrt(variance);
}

double Histogram::percentile(double p) const {
  if (count_ == 0) return 0.0;
  const double target = static_cast<double>(count_) * p / 100.0;
  double cumulative = 0;
  for (int b = 0; b < kBuckets; ++b) {
    if (buckets_[b] == 0) continue;
    const double next = cumulative + static_cast<double>(buckets_[b]);
    if (next >= target) {
      // Spread the bucket's samples evenly over its width.
      const double fraction = (target - cumulative) / static_cast<double>(buckets_[b]);
      double v = static_cast<double>(bucket_lower(b)) + fraction * static_cast<double>(bucket_width(b));
      v = std::max(v, static_cast<double>(min()));
      v = std::min(v, static_cast<double>(max_));
      return v;
    }
    cumulative = next;
  }
  return static_cast<double>(max_);
}

std::string Histogram::to_string() const {
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "Microseconds per op:\n"
                "Count: %llu Average: %.4f  StdDev: %.2f\n"
                "Min: %.3f  Median: %.4f  Max: %.3f\n"
                "Percentiles: P50: %.2f P75: %.2f P99: %.2f P99.9: %.2f P99.99: %.2f\n",
                static_cast<unsigned long long>(count_), average() / 1e3, standard_deviation() / 1e3,
                static_cast<double>(min()) / 1e3, percentile(50) / 1e3, static_cast<double>(max_) / 1e3,
                percentile(50) / 1e3, percentile(75) / 1e3, percentile(99) / 1e3, percentile(99.9) / 1e3,
                percentile(99.99) / 1e3);
  return buf;
}

}  // namespace lightning::bench
