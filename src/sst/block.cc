// Copyright (c) Lightning authors. MIT License.
#include "sst/block.h"

#include <algorithm>
#include <vector>

#include "util/coding.h"
#include "util/small_bytes.h"

namespace lightning {

Block::Block(std::string contents)
    : contents_(std::move(contents)), data_(contents_.data()), size_(contents_.size()) {
  init();
}

Block::Block(const char* data, size_t size) : data_(data), size_(size) { init(); }

void Block::init() {
  const size_t n = size_;
  if (n < sizeof(uint32_t)) {
    status_ = Status::Corruption("block too short");
    return;
  }
  if (n > UINT32_MAX) {  // offsets inside a block are 32-bit
    status_ = Status::Corruption("block too large");
    return;
  }
  num_restarts_ = DecodeFixed32(data_ + n - sizeof(uint32_t));
  const size_t max_restarts = (n - sizeof(uint32_t)) / sizeof(uint32_t);
  if (num_restarts_ == 0 || num_restarts_ > max_restarts) {
    status_ = Status::Corruption("bad restart count in block");
    num_restarts_ = 0;
    return;
  }
  data_size_ = n - (1 + static_cast<size_t>(num_restarts_)) * sizeof(uint32_t);
  // Validating the whole restart array once lets iterators binary search it
  // without further checks: restart[0] == 0, strictly increasing, and each
  // inside the entry area (an empty block has the single restart 0).
  const char* restarts = data_ + data_size_;
  uint32_t prev = 0;
  for (uint32_t i = 0; i < num_restarts_; i++) {
    const uint32_t r = DecodeFixed32(restarts + i * sizeof(uint32_t));
    const bool ok = i == 0 ? (r == 0 && (data_size_ > 0 || num_restarts_ == 1)) : (r > prev && r < data_size_);
    if (!ok) {
      status_ = Status::Corruption("bad restart array in block");
      num_restarts_ = 0;
      data_size_ = 0;
      return;
    }
    prev = r;
  }
}

class Block::Iter final : public InlineEntryIterator<Block::Iter> {
 public:
  Iter(const Block* block, const Comparator* cmp)
      : cmp_(cmp),
        data_(block->data_),
        data_size_(static_cast<uint32_t>(block->data_size_)),
        restarts_(block->data_ + block->data_size_),
        num_restarts_(block->num_restarts_),
        current_(data_size_),
        next_(data_size_),
        restart_index_(num_restarts_) {}

  bool valid() const override { return current_ < data_size_; }
  Status status() const override { return status_; }
  Slice key() const override { return key_; }
  Slice value() const override { return value_; }

  void seek_to_first() override {
    if (!status_.ok()) return;
    in_cache_ = false;
    seek_to_restart(0);
    parse_next();
  }

  void seek_to_last() override {
    if (!status_.ok()) return;
    in_cache_ = false;
    seek_to_restart(num_restarts_ - 1);
    while (parse_next() && next_ < data_size_) {
    }
  }

  void seek(const Slice& target) override {
    if (!status_.ok()) return;
    in_cache_ = false;
    // Find the last restart whose key is < target; the answer lies at or
    // after it (and before the next restart, or is the next restart itself).
    uint32_t left = 0;
    uint32_t right = num_restarts_ - 1;
    while (left < right) {
      const uint32_t mid = left + (right - left + 1) / 2;
      Slice mid_key;
      if (!restart_key(mid, &mid_key)) return;
      if (cmp_->compare(mid_key, target) < 0) {
        left = mid;
      } else {
        right = mid - 1;
      }
    }
    seek_to_restart(left);
    while (parse_next()) {
      if (cmp_->compare(key_, target) >= 0) return;
    }
  }

  void seek_for_prev(const Slice& target) override {
    if (!status_.ok()) return;
    seek(target);
    if (!status_.ok()) return;
    if (!valid()) {
      seek_to_last();
    } else if (cmp_->compare(key_, target) > 0) {
      prev();
    }
  }

  void next() override {
    if (!valid()) return;
    if (in_cache_) {
      // After prev(): the interval's entries are decoded already.
      if (cache_pos_ + 1 < cache_.size()) return use_cached(cache_pos_ + 1);
      // The last one decoded: parse_next() goes on from its key.
      set_key_buffer(key_);
      in_cache_ = false;
    }
    parse_next();
  }

  void prev() override {
    if (!valid()) return;
    if (in_cache_ && cache_pos_ > 0) return use_cached(cache_pos_ - 1);
    // Entries only chain forwards: back up to the restart point before the
    // current entry and decode up to the entry that ends where it begins,
    // keeping every entry of the way (the interval), so that the prev()
    // calls that follow step back through them without decoding again.
    const uint32_t original = current_;
    while (restart_point(restart_index_) >= original) {
      if (restart_index_ == 0) {
        invalidate();  // no entry before the first
        return;
      }
      restart_index_--;
    }
    seek_to_restart(restart_index_);
    cache_.clear();
    cache_keys_.clear();
    while (true) {
      if (!parse_next()) {
        corrupt("entries do not chain in block");  // keeps an earlier, more precise status
        return;
      }
      cache_.push_back(CachedEntry{current_, next_, cache_keys_.size(), value_});
      cache_keys_.append(key_.data(), key_.size());
      if (next_ == original) break;
      if (next_ > original) {
        corrupt("entries do not chain in block");
        return;
      }
    }
    use_cached(cache_.size() - 1);
  }

 private:
  friend class InlineEntryIterator<Iter>;  // next_entry()/prev_entry() call entry()
  uint32_t restart_point(uint32_t i) const { return DecodeFixed32(restarts_ + i * sizeof(uint32_t)); }

  void invalidate() {
    current_ = data_size_;
    next_ = data_size_;
    restart_index_ = num_restarts_;
    key_size_ = 0;
    key_ = Slice();
    value_ = Slice();
    in_cache_ = false;
  }

  bool entry(Slice* key, Slice* value) const {
    if (!valid()) return false;
    *key = key_;
    *value = value_;
    return true;
  }

  // Makes cache_[i] (an entry of the interval at restart_index_) current.
  void use_cached(size_t i) {
    const CachedEntry& e = cache_[i];
    cache_pos_ = i;
    current_ = e.offset;
    next_ = e.next;
    const size_t end = i + 1 < cache_.size() ? cache_[i + 1].key_begin : cache_keys_.size();
    key_ = Slice(cache_keys_.data() + e.key_begin, end - e.key_begin);
    value_ = e.value;
    in_cache_ = true;
  }

  // Makes key_buffer_ hold key (which may not point into it).
  void set_key_buffer(const Slice& key) {
    if (key.size() > key_buffer_.size()) key_buffer_.resize(key.size());
    MoveSmallBytes(&key_buffer_[0], key.data(), key.size());
    key_size_ = key.size();
    key_ = Slice(key_buffer_.data(), key_size_);
  }

  void corrupt(const char* what) {
    invalidate();
    if (status_.ok()) status_ = Status::Corruption(what);
  }

  // Positions before the entry at restart i: parse_next() then decodes it.
  void seek_to_restart(uint32_t i) {
    key_size_ = 0;
    key_ = Slice();
    value_ = Slice();
    restart_index_ = i;
    current_ = data_size_;
    next_ = restart_point(i);
  }

  // Decodes the entry header at offset; false if it does not fit.
  bool decode_header(uint32_t offset, uint32_t* shared, uint32_t* non_shared, uint32_t* value_len,
                     const char** rest) const {
    const char* p = data_ + offset;
    const char* limit = data_ + data_size_;
    if ((p = GetVarint32Ptr(p, limit, shared)) == nullptr) return false;
    if ((p = GetVarint32Ptr(p, limit, non_shared)) == nullptr) return false;
    if ((p = GetVarint32Ptr(p, limit, value_len)) == nullptr) return false;
    const uint64_t remaining = static_cast<uint64_t>(limit - p);
    if (static_cast<uint64_t>(*non_shared) + *value_len > remaining) return false;
    *rest = p;
    return true;
  }

  // The full key stored at restart i (which must share nothing).
  bool restart_key(uint32_t i, Slice* key) {
    uint32_t shared, non_shared, value_len;
    const char* p;
    if (!decode_header(restart_point(i), &shared, &non_shared, &value_len, &p) || shared != 0) {
      corrupt("bad restart entry in block");
      return false;
    }
    *key = Slice(p, non_shared);
    return true;
  }

  // Advances to the entry at next_. False at the end or on corruption.
  bool parse_next() {
    if (next_ >= data_size_) {
      invalidate();
      return false;
    }
    const uint32_t offset = next_;
    uint32_t shared, non_shared, value_len;
    const char* p;
    if (!decode_header(offset, &shared, &non_shared, &value_len, &p)) {
      corrupt("bad entry in block");
      return false;
    }
    // Keep restart_index_ at the last restart <= offset (used by prev()).
    while (restart_index_ + 1 < num_restarts_ && restart_point(restart_index_ + 1) <= offset) restart_index_++;
    const bool at_restart = restart_point(restart_index_) == offset;
    if (shared > key_size_ || (at_restart && shared != 0)) {
      corrupt("bad key prefix in block");
      return false;
    }
    // The key is rebuilt in place: the shared bytes are already there.
    const size_t key_size = size_t{shared} + non_shared;
    if (key_size > key_buffer_.size()) key_buffer_.resize(std::max(key_size, 2 * key_buffer_.size()));
    MoveSmallBytes(&key_buffer_[0] + shared, p, non_shared);
    key_size_ = key_size;
    key_ = Slice(key_buffer_.data(), key_size_);
    value_ = Slice(p + non_shared, value_len);
    current_ = offset;
    next_ = static_cast<uint32_t>((p + non_shared + value_len) - data_);
    return true;
  }

  const Comparator* const cmp_;
  const char* const data_;
  const uint32_t data_size_;
  const char* const restarts_;
  const uint32_t num_restarts_;

  uint32_t current_;        // offset of the current entry; data_size_ if invalid
  uint32_t next_;           // offset of the entry after it
  uint32_t restart_index_;  // last restart point <= current_
  // key(): the first key_size_ bytes of key_buffer_ (which parse_next()
  // builds each key in, from the previous one), or an entry of cache_.
  Slice key_;
  std::string key_buffer_;  // its size() is its capacity
  size_t key_size_ = 0;     // of the key in key_buffer_ (the last one decoded)
  Slice value_;
  Status status_;

  // prev()'s decoded restart interval: its entries up to the one prev() was
  // called at (exclusive), keys concatenated in cache_keys_. While in_cache_
  // the current entry is cache_[cache_pos_].
  struct CachedEntry {
    uint32_t offset;
    uint32_t next;
    size_t key_begin;  // in cache_keys_; the key ends where the next one begins
    Slice value;
  };
  std::vector<CachedEntry> cache_;
  std::string cache_keys_;
  size_t cache_pos_ = 0;
  bool in_cache_ = false;
};

std::unique_ptr<InternalIterator> Block::new_iterator(const Comparator* cmp) const {
  if (!status_.ok()) return NewEmptyIterator(status_);
  return std::make_unique<Iter>(this, cmp);
}

}  // namespace lightning
