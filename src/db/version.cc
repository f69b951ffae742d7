// Copyright (c) Lightning authors. MIT License.
#include "db/version.h"

#include <algorithm>

#include "db/table_cache.h"

namespace lightning {

uint64_t Version::level_bytes(int level) const {
  uint64_t sum = 0;
  for (const auto& f : files_[level]) sum += f->file_size;
  return sum;
}

int Version::num_tables() const {
  int n = 0;
  for (const auto& level : files_) n += static_cast<int>(level.size());
  return n;
}

size_t Version::find_file(int level, const Slice& ikey) const {
  const FileList& files = files_[level];
  size_t lo = 0, hi = files.size();
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (icmp_->compare(files[mid]->largest, ikey) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

Status Version::get(TableCache* tables, const LookupKey& key, std::string* value, bool* found) const {
  const Comparator* ucmp = icmp_->user_comparator();
  const Slice user_key = key.user_key();
  const Slice ikey = key.internal_key();
  *found = false;
  Status result;
  // Returns true when the search is over (found, deleted or failed).
  auto probe = [&](const FileMetaData& f) {
    bool done = false;
    Status s = tables->get(f, ikey, [&](const Slice& k, const Slice& v) {
      ParsedInternalKey parsed;
      if (!ParseInternalKey(k, &parsed)) {
        result = Status::Corruption("table " + std::to_string(f.number), "bad internal key");
        done = true;
        return;
      }
      if (ucmp->compare(parsed.user_key, user_key) != 0) return;
      done = *found = true;
      if (parsed.type == kTypeValue) {
        value->assign(v.data(), v.size());
        result = Status::OK();
      } else {
        result = Status::NotFound(Slice());
      }
    });
    if (!s.ok()) {
      result = s;
      return true;
    }
    return done;
  };

  for (const auto& f : files_[0]) {
    if (ucmp->compare(user_key, ExtractUserKey(f->smallest)) < 0 ||
        ucmp->compare(user_key, ExtractUserKey(f->largest)) > 0) {
      continue;
    }
    if (probe(*f)) return result;
  }
  for (int level = 1; level < kNumLevels; level++) {
    const FileList& files = files_[level];
    if (files.empty()) continue;
    const size_t i = find_file(level, ikey);
    if (i == files.size()) continue;
    const FileMetaData& f = *files[i];
    if (ucmp->compare(user_key, ExtractUserKey(f.smallest)) < 0) continue;
    if (probe(f)) return result;
  }
  if (tree_ != nullptr && !tree_->empty()) {
    Status s = tree_->get(ikey, [&](const Slice& k, const Slice& v) {
      ParsedInternalKey parsed;
      if (!ParseInternalKey(k, &parsed)) {
        result = Status::Corruption("tree", "bad internal key");
        return;
      }
      *found = true;
      if (parsed.type == kTypeValue) {
        value->assign(v.data(), v.size());
      } else {
        result = Status::NotFound(Slice());
      }
    });
    if (!s.ok()) return s;
  }
  return result;
}

FileList Version::overlapping(int level, const Slice& begin, const Slice& end) const {
  const Comparator* ucmp = icmp_->user_comparator();
  FileList result;
  for (const auto& f : files_[level]) {
    if (!begin.empty() && ucmp->compare(ExtractUserKey(f->largest), begin) < 0) continue;
    if (!end.empty() && ucmp->compare(ExtractUserKey(f->smallest), end) > 0) continue;
    result.push_back(f);
  }
  return result;
}

bool Version::key_in_deeper_levels(int level, const Slice& user_key) const {
  if (tree_ != nullptr && !tree_->empty()) return true;
  const Comparator* ucmp = icmp_->user_comparator();
  for (int l = level + 1; l < kNumLevels; l++) {
    const FileList& files = files_[l];
    // Sorted levels: binary search on the largest user key.
    size_t lo = 0, hi = files.size();
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (ucmp->compare(ExtractUserKey(files[mid]->largest), user_key) < 0) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (lo < files.size() && ucmp->compare(user_key, ExtractUserKey(files[lo]->smallest)) >= 0) return true;
  }
  return false;
}

VersionBuilder::VersionBuilder(const InternalKeyComparator* icmp, const Version* base)
    : icmp_(icmp), v_(std::make_shared<Version>(icmp)) {
  if (base != nullptr) {
    v_->files_ = base->files_;
    v_->tree_ = base->tree_;
  }
}

void VersionBuilder::set_tree(std::shared_ptr<const btree::TreeVersion> tree) { v_->tree_ = std::move(tree); }

void VersionBuilder::remove(int level, uint64_t number) {
  FileList& files = v_->files_[level];
  files.erase(std::remove_if(files.begin(), files.end(), [&](const auto& f) { return f->number == number; }),
              files.end());
}

void VersionBuilder::add(int level, std::shared_ptr<FileMetaData> file) {
  v_->files_[level].push_back(std::move(file));
}

Status VersionBuilder::finish(std::shared_ptr<const Version>* result) {
  FileList& l0 = v_->files_[0];
  std::sort(l0.begin(), l0.end(), [](const auto& a, const auto& b) { return a->number > b->number; });
  const Comparator* ucmp = icmp_->user_comparator();
  for (int level = 1; level < kNumLevels; level++) {
    FileList& files = v_->files_[level];
    std::sort(files.begin(), files.end(),
              [&](const auto& a, const auto& b) { return icmp_->compare(a->smallest, b->smallest) < 0; });
    for (size_t i = 1; i < files.size(); i++) {
      // Strictly increasing user keys: a user key never spans two tables.
      if (ucmp->compare(ExtractUserKey(files[i - 1]->largest), ExtractUserKey(files[i]->smallest)) >= 0) {
        return Status::Corruption("level " + std::to_string(level) + " tables " +
                                  std::to_string(files[i - 1]->number) + " and " + std::to_string(files[i]->number) +
                                  " overlap");
      }
    }
  }
  *result = std::move(v_);
  return Status::OK();
}

void KeyRange(const InternalKeyComparator& icmp, const FileList& files, std::string* smallest,
              std::string* largest) {
  const Comparator* ucmp = icmp.user_comparator();
  smallest->clear();
  largest->clear();
  bool first = true;
  for (const auto& f : files) {
    const Slice s = ExtractUserKey(f->smallest), l = ExtractUserKey(f->largest);
    if (first || ucmp->compare(s, *smallest) < 0) smallest->assign(s.data(), s.size());
    if (first || ucmp->compare(l, *largest) > 0) largest->assign(l.data(), l.size());
    first = false;
  }
}

}  // namespace lightning
