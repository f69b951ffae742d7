// Copyright (c) Lightning authors. MIT License.
#include "util/concatenating_iterator.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace lightning {
namespace {

class ConcatenatingIterator final : public InternalIterator {
 public:
  ConcatenatingIterator(const Comparator* cmp, std::vector<FileRange> files, FileIteratorFactory open_file)
      : cmp_(cmp), files_(std::move(files)), open_file_(std::move(open_file)) {
#ifndef NDEBUG
    for (size_t i = 0; i < files_.size(); i++) {
      assert(cmp_->compare(files_[i].smallest, files_[i].largest) <= 0);
      if (i > 0) assert(cmp_->compare(files_[i - 1].largest, files_[i].smallest) < 0);
    }
#endif
  }

  bool valid() const override { return status_.ok() && file_iter_ != nullptr && file_iter_->valid(); }
  Slice key() const override {
    assert(valid());
    return file_iter_->key();
  }
  Slice value() const override {
    assert(valid());
    return file_iter_->value();
  }

  Status status() const override {
    if (!status_.ok()) return status_;
    if (file_iter_ != nullptr) return file_iter_->status();
    return Status::OK();
  }

  void seek_to_first() override {
    status_ = Status::OK();
    if (!open(0)) return;
    file_iter_->seek_to_first();
    skip_empty_forward();
  }

  void seek_to_last() override {
    status_ = Status::OK();
    if (files_.empty() || !open(files_.size() - 1)) return;
    file_iter_->seek_to_last();
    skip_empty_backward();
  }

  void seek(const Slice& target) override {
    status_ = Status::OK();
    // Files before the first one whose largest key is >= target hold only
    // smaller keys; if that file has nothing >= target after all (it is
    // empty, or its range is wider than its contents), the answer is the
    // next non-empty file's first entry.
    const auto it = std::lower_bound(files_.begin(), files_.end(), target, [this](const FileRange& f, const Slice& t) {
      return cmp_->compare(f.largest, t) < 0;
    });
    if (!open(static_cast<size_t>(it - files_.begin()))) return;
    file_iter_->seek(target);
    skip_empty_forward();
  }

  void seek_for_prev(const Slice& target) override {
    status_ = Status::OK();
    // The mirror image of seek(): the last file whose smallest key is <= target.
    const auto it = std::upper_bound(files_.begin(), files_.end(), target, [this](const Slice& t, const FileRange& f) {
      return cmp_->compare(t, f.smallest) < 0;
    });
    if (it == files_.begin()) {
      close();
      return;
    }
    if (!open(static_cast<size_t>(it - files_.begin()) - 1)) return;
    file_iter_->seek_for_prev(target);
    skip_empty_backward();
  }

  void next() override {
    assert(valid());
    file_iter_->next();
    skip_empty_forward();
  }

  void prev() override {
    assert(valid());
    file_iter_->prev();
    skip_empty_backward();
  }

  // Within a file, one call into it; at a file's end, next() / prev()'s
  // move to the neighbouring file.
  bool next_entry(Slice* key, Slice* value) override {
    assert(valid());
    if (file_iter_->next_entry(key, value)) return true;
    skip_empty_forward();
    return current_entry(key, value);
  }
  bool prev_entry(Slice* key, Slice* value) override {
    assert(valid());
    if (file_iter_->prev_entry(key, value)) return true;
    skip_empty_backward();
    return current_entry(key, value);
  }

 private:
  void close() { file_iter_.reset(); }

  void fail(const Status& s) {
    if (status_.ok()) status_ = s;
    close();
  }

  // Makes file_iter_ an (unpositioned) iterator over file i, reusing the one
  // already open. Returns false if there is no file i (the iteration ran off
  // an end) or it could not be opened (after fail()).
  bool open(size_t i) {
    if (file_iter_ != nullptr && file_index_ == i) return true;
    close();  // before opening the next: one open file at most
    if (i >= files_.size()) return false;
    std::unique_ptr<InternalIterator> it = open_file_(i);
    assert(it != nullptr);
    if (it == nullptr) {
      fail(Status::InvalidArgument("concatenating iterator: open_file returned no iterator for file",
                                   std::to_string(i)));
      return false;
    }
    if (!it->status().ok()) {
      fail(it->status());
      return false;
    }
    file_iter_ = std::move(it);
    file_index_ = i;
    return true;
  }

  // Returns true if the current file stopped on an error (after fail()).
  bool file_failed() {
    if (file_iter_->status().ok()) return false;
    fail(file_iter_->status());
    return true;
  }

  void skip_empty_forward() {
    while (file_iter_ != nullptr && !file_iter_->valid()) {
      if (file_failed()) return;
      if (!open(file_index_ + 1)) return;
      file_iter_->seek_to_first();
    }
  }

  void skip_empty_backward() {
    while (file_iter_ != nullptr && !file_iter_->valid()) {
      if (file_failed()) return;
      if (file_index_ == 0) {
        close();
        return;
      }
      if (!open(file_index_ - 1)) return;
      file_iter_->seek_to_last();
    }
  }

  const Comparator* const cmp_;
  const std::vector<FileRange> files_;
  const FileIteratorFactory open_file_;
  std::unique_ptr<InternalIterator> file_iter_;  // null: no file open
  size_t file_index_ = 0;                        // the file file_iter_ reads
  Status status_;
};

}  // namespace

std::unique_ptr<InternalIterator> NewConcatenatingIterator(const Comparator* cmp, std::vector<FileRange> files,
                                                           FileIteratorFactory open_file) {
  assert(cmp != nullptr);
  assert(open_file != nullptr);
  return std::make_unique<ConcatenatingIterator>(cmp, std::move(files), std::move(open_file));
}

}  // namespace lightning
