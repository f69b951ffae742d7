// Copyright (c) Lightning authors. MIT License.
//
// Histogram: a latency histogram with log-linear buckets (the HdrHistogram
// layout): exact below 128 ns, then 64 buckets per power of two, so any
// recorded value is off by at most 1/64 (1.6 %) and recording costs a few
// instructions with no allocation. Percentiles interpolate inside a bucket.
//
// Thread-safety: none; each worker thread owns one and they are merged after
// the threads are joined.
#ifndef LIGHTNING_BENCH_HISTOGRAM_H_
#define LIGHTNING_BENCH_HISTOGRAM_H_

#include <array>
#include <cstdint>
#include <string>

namespace lightning::bench {

class Histogram {
 public:
  Histogram() { clear(); }

  void clear();

  // Records one value in nanoseconds.
  void add(uint64_t nanos) {
    ++buckets_[bucket_of(nanos)];
    ++count_;
    if (nanos < min_) min_ = nanos;
    if (nanos > max_) max_ = nanos;
    const double d = static_cast<double>(nanos);
    sum_ += d;
    sum_squares_ += d * d;
  }

  void merge(const Histogram& other);

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double average() const;
  double standard_deviation() const;
  // p in [0, 100]; nanoseconds.
  double percentile(double p) const;

  // db_bench's "Microseconds per op" block: count/average/stddev,
  // min/median/max and the percentile line, in microseconds.
  std::string to_string() const;

 private:
  static constexpr int kSubBits = 7;                            // 128 exact values
  static constexpr int kSubCount = 1 << kSubBits;
  static constexpr int kHalf = kSubCount / 2;                   // buckets per octave
  static constexpr int kBuckets = kSubCount + (63 - kSubBits + 1) * kHalf;

  static int bucket_of(uint64_t v) {
    if (v < static_cast<uint64_t>(kSubCount)) return static_cast<int>(v);
    const int msb = 63 - __builtin_clzll(v);
    const int shift = msb - (kSubBits - 1);
    return kSubCount + (msb - kSubBits) * kHalf + static_cast<int>(v >> shift) - kHalf;
  }
  static uint64_t bucket_lower(int b);
  static uint64_t bucket_width(int b);

  std::array<uint64_t, kBuckets> buckets_;
  uint64_t count_;
  uint64_t min_;
  uint64_t max_;
  double sum_;
  double sum_squares_;
};

}  // namespace lightning::bench

#endif  // LIGHTNING_BENCH_HISTOGRAM_H_
