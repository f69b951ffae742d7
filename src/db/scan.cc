// Copyright (c) Lightning authors. MIT License.
#include "lightning/scan.h"

#include <utility>

#include "db/scan_options.h"
#include "lightning/comparator.h"

namespace lightning {

namespace {

// The smallest byte string greater than every string that begins with
// prefix (bytewise), or false if there is none (prefix is all 0xff).
bool PrefixSuccessor(const std::string& prefix, std::string* out) {
  *out = prefix;
  while (!out->empty()) {
    auto& last = reinterpret_cast<unsigned char&>(out->back());
    if (last != 0xff) {
      last++;
      return true;
    }
    out->pop_back();
  }
  return false;
}

}  // namespace

ScanOptions RangeScanOptions(const std::optional<Slice>& start, const std::optional<Slice>& end, size_t limit,
                             bool reverse) {
  ScanOptions o;
  if (start) o.start = start->ToString();
  if (end) o.end = end->ToString();
  o.limit = limit;
  o.reverse = reverse;
  return o;
}

ScanOptions PrefixScanOptions(const Slice& prefix, size_t limit) {
  ScanOptions o;
  o.prefix = prefix.ToString();
  o.limit = limit;
  return o;
}

Scan::Scan(std::unique_ptr<Iterator> it, const Comparator* cmp, ScanOptions options)
    : it_(std::move(it)),
      cmp_(cmp),
      options_(std::move(options)),
      // Only in bytewise order are the keys of a prefix one contiguous run.
      prefix_is_range_(!options_.prefix.empty() && cmp == BytewiseComparator()) {}
Scan::~Scan() = default;
Scan::Scan(Scan&&) noexcept = default;
Scan& Scan::operator=(Scan&&) noexcept = default;

Scan::iterator Scan::begin() {
  if (!started_) position();
  return valid_ ? iterator(this) : iterator();
}

bool Scan::next(Entry* entry) {
  if (!started_) {
    position();
  } else {
    advance();
  }
  if (valid_ && entry != nullptr) *entry = entry_;
  return valid_;
}

Status Scan::status() const { return it_ == nullptr ? Status::OK() : it_->status(); }

void Scan::position() {
  started_ = true;
  if (it_ == nullptr) return;
  // The prefix narrows the bounds only when its keys form a range.
  const std::string prefix = prefix_is_range_ ? options_.prefix : std::string();
  if (!options_.reverse) {
    // The larger of start and prefix: every key below either is excluded.
    const std::string* target = options_.start ? &*options_.start : nullptr;
    if (!prefix.empty() && (target == nullptr || cmp_->compare(prefix, *target) > 0)) target = &prefix;
    if (target != nullptr) {
      it_->seek(*target);
    } else {
      it_->seek_to_first();
    }
  } else {
    // The smaller of end and the prefix's successor is the exclusive upper
    // bound; the walk starts at the last key below it.
    std::string successor;
    const std::string* bound = options_.end ? &*options_.end : nullptr;
    if (!prefix.empty() && PrefixSuccessor(prefix, &successor) &&
        (bound == nullptr || cmp_->compare(successor, *bound) < 0)) {
      bound = &successor;
    }
    if (bound != nullptr) {
      it_->seek_for_prev(*bound);
      if (it_->valid() && cmp_->compare(it_->key(), *bound) >= 0) it_->prev();
    } else {
      it_->seek_to_last();
    }
  }
  settle();
}

void Scan::advance() {
  if (!valid_) return;
  if (options_.reverse) {
    it_->prev();
  } else {
    it_->next();
  }
  settle();
}

void Scan::settle() {
  valid_ = false;
  if (options_.limit != 0 && count_ >= options_.limit) return;
  for (;; options_.reverse ? it_->prev() : it_->next()) {
    if (!it_->valid()) return;
    const Slice key = it_->key();
    if (options_.reverse) {
      if (options_.start && cmp_->compare(key, *options_.start) < 0) return;
    } else {
      if (options_.end && cmp_->compare(key, *options_.end) >= 0) return;
    }
    if (options_.prefix.empty() || key.starts_with(options_.prefix)) break;
    // Outside the prefix: the end of its run, or (in another order) a key
    // between two of its keys.
    if (prefix_is_range_) return;
  }
  const Slice key = it_->key();
  count_++;
  entry_.key = key;
  entry_.value = it_->value();
  valid_ = true;
}

}  // namespace lightning
