// Copyright (c) Lightning authors. MIT License.
//
// Slice: a non-owning view of a byte range (pointer + length). Keys and values
// are arbitrary bytes; embedded NULs are fine.
//
// Lifetime: a Slice never owns its bytes. The caller keeps the referenced
// storage alive for as long as the Slice is used.
// Thread-safety: a Slice is a value; const methods may be called concurrently.
#ifndef LIGHTNING_SLICE_H_
#define LIGHTNING_SLICE_H_

#include <cassert>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace lightning {

class Slice {
 public:
  constexpr Slice() noexcept : data_(""), size_(0) {}
  constexpr Slice(const char* d, size_t n) noexcept : data_(d), size_(n) {}
  Slice(const std::string& s) noexcept : data_(s.data()), size_(s.size()) {}  // NOLINT
  constexpr Slice(std::string_view s) noexcept : data_(s.data()), size_(s.size()) {}  // NOLINT
  Slice(const char* s) noexcept : data_(s), size_(std::strlen(s)) {}  // NOLINT

  const char* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  char operator[](size_t n) const noexcept {
    assert(n < size_);
    return data_[n];
  }

  void clear() noexcept {
    data_ = "";
    size_ = 0;
  }
  void remove_prefix(size_t n) noexcept {
    assert(n <= size_);
    data_ += n;
    size_ -= n;
  }
  void remove_suffix(size_t n) noexcept {
    assert(n <= size_);
    size_ -= n;
  }

  std::string ToString() const { return std::string(data_, size_); }
  std::string_view view() const noexcept { return std::string_view(data_, size_); }

  // Three-way bytewise comparison: <0, 0, >0.
  int compare(const Slice& b) const noexcept {
    const size_t min_len = size_ < b.size_ ? size_ : b.size_;
    int r = min_len == 0 ? 0 : std::memcmp(data_, b.data_, min_len);
    if (r == 0) {
      if (size_ < b.size_) r = -1;
      else if (size_ > b.size_) r = +1;
    }
    return r;
  }

  bool starts_with(const Slice& x) const noexcept {
    return size_ >= x.size_ && (x.size_ == 0 || std::memcmp(data_, x.data_, x.size_) == 0);
  }

 private:
  const char* data_;
  size_t size_;
};

inline bool operator==(const Slice& a, const Slice& b) noexcept {
  return a.size() == b.size() && (a.size() == 0 || std::memcmp(a.data(), b.data(), a.size()) == 0);
}
inline bool operator!=(const Slice& a, const Slice& b) noexcept { return !(a == b); }

}  // namespace lightning

#endif  // LIGHTNING_SLICE_H_
