// Copyright (c) Lightning authors. MIT License.
#include "btree/btree.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "btree/node.h"
#include "lightning/comparator.h"
#include "util/coding.h"
#include "util/small_bytes.h"

namespace lightning {
namespace btree {

namespace {

// Payload bytes of a one-page extent.
inline size_t PageCapacity(uint32_t page_size) { return page_size - kPageHeaderSize; }

bool SameUserKey(const InternalKeyComparator& icmp, const Slice& a, const Slice& b) {
  return icmp.user_comparator()->compare(ExtractUserKey(a), ExtractUserKey(b)) == 0;
}

// Asks the CPU to start loading the lines of the page at ref that reading
// and searching the node touches, so that their cache misses overlap
// instead of following one another through the dependent loads of a binary
// search. A leaf is requested whole: after the search a lookup or a scan
// goes on to read its entries (measured faster than a spread subset on
// random seeks); an internal node, searched only, gets one line in eight
// plus the offsets at its end. Only a hint: nothing is read from the page
// here (prefetches never fault).
// A point lookup (whole_leaf false) searches a leaf and reads one entry: it
// gets the internal-node pattern for leaves too, since 64 prefetches of a
// whole page cost more than the misses they save for a single entry.
void PrefetchNode(const TreeVersion& v, PageRef ref, bool leaf, bool whole_leaf = true) {
  const MappedRegion* map = v.mapping().get();
  if (map == nullptr) return;
  const uint32_t page_size = v.pager()->page_size();
  if (ref.page >= map->size() / page_size) return;
  const char* p = map->data() + ref.page * page_size;
  if (leaf && whole_leaf) {
    // Four lines per iteration (page sizes are multiples of 4 KiB).
    for (uint32_t off = 0; off < page_size; off += 256) {
      __builtin_prefetch(p + off);
      __builtin_prefetch(p + off + 64);
      __builtin_prefetch(p + off + 128);
      __builtin_prefetch(p + off + 192);
    }
  } else {
    for (uint32_t off = 0; off < page_size; off += page_size / 8) __builtin_prefetch(p + off);
    __builtin_prefetch(p + page_size - 64);
  }
}

// The node searches, comparing keys in place under the bytewise order (the
// common case), else through the comparator with assembled keys.
uint32_t FindChild(const NodeReader& node, const InternalKeyComparator& icmp, const Slice& target,
                   std::string* scratch) {
  if (icmp.user_comparator() == BytewiseComparator() && target.size() >= 8) return node.find_child_bytewise(target);
  return node.find_child(icmp, target, scratch);
}

uint32_t LowerBound(const NodeReader& node, const InternalKeyComparator& icmp, const Slice& target,
                    std::string* scratch) {
  if (icmp.user_comparator() == BytewiseComparator() && target.size() >= 8) return node.lower_bound_bytewise(target);
  return node.lower_bound(icmp, target, scratch);
}

// Reads a node and parses it.
Status ReadNode(const TreeVersion& v, PageRef ref, bool leaf, PageHandle* page, NodeReader* node,
                bool prefetch_whole_leaf = true) {
  PrefetchNode(v, ref, leaf, prefetch_whole_leaf);
  Status s = v.pager()->read(v.mapping(), ref, leaf ? PageType::kLeaf : PageType::kInternal, page);
  if (s.ok()) s = node->init(page->payload(), leaf);
  if (!s.ok() && s.IsCorruption()) {
    return Status::Corruption("tree page " + std::to_string(ref.page), s.ToString());
  }
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------
// TreeVersion

TreeVersion::TreeVersion(BTreePager* pager, const InternalKeyComparator* icmp, const TreeMeta& meta,
                         std::shared_ptr<const MappedRegion> map)
    : pager_(pager), icmp_(icmp), meta_(meta), map_(std::move(map)) {
  pager_->pin(meta_.epoch);
}

TreeVersion::~TreeVersion() { pager_->unpin(meta_.epoch); }

Status TreeVersion::get(const Slice& ikey, const std::function<void(const Slice&, const Slice&)>& fn) const {
  if (empty()) return Status::OK();
  std::string scratch, upper;
  PageRef ref = meta_.root;
  PageHandle page;
  NodeReader node;
  for (uint32_t h = meta_.height; h > 1; --h) {
    Status s = ReadNode(*this, ref, false, &page, &node);
    if (!s.ok()) return s;
    const uint32_t i = FindChild(node, *icmp_, ikey, &scratch);
    if (i + 1 < node.count()) upper = node.key(i + 1, &scratch).ToString();
    s = node.child(i, &ref);
    if (!s.ok()) return s;
  }
  Status s = ReadNode(*this, ref, true, &page, &node, /*prefetch_whole_leaf=*/false);
  if (!s.ok()) return s;
  const uint32_t i = LowerBound(node, *icmp_, ikey, &scratch);
  if (i == node.count()) {
    // The answer is the next leaf's first entry. It can only have ikey's
    // user key if the separator before that leaf does.
    if (upper.empty() || !SameUserKey(*icmp_, upper, ikey)) return Status::OK();
    page.reset();
    std::shared_ptr<const TreeVersion> self(std::shared_ptr<const TreeVersion>(), this);  // non-owning
    std::unique_ptr<InternalIterator> it = NewTreeIterator(self);
    it->seek(ikey);
    if (it->valid() && SameUserKey(*icmp_, it->key(), ikey)) fn(it->key(), it->value());
    return it->status();
  }
  const Slice key = node.key(i, &scratch);
  if (!SameUserKey(*icmp_, key, ikey)) return Status::OK();
  Slice value;
  BlobRef blob;
  bool is_blob = false;
  s = node.leaf_value(i, &value, &blob, &is_blob);
  if (!s.ok()) return s;
  if (!is_blob) {
    fn(key, value);
    return Status::OK();
  }
  PageHandle blob_page;
  s = pager_->read(map_, blob.ref, PageType::kBlob, &blob_page);
  if (!s.ok()) return s;
  if (blob_page.payload().size() != blob.size) {
    return Status::Corruption("tree page " + std::to_string(blob.ref.page), "blob size differs from its reference");
  }
  fn(key, blob_page.payload());
  return Status::OK();
}

// ---------------------------------------------------------------------------
// TreeIterator

namespace {

// The iterator's current key: inline up to a size that covers common keys,
// so that an iterator made for one seek allocates nothing for it.
class KeyBuffer {
 public:
  KeyBuffer() = default;
  KeyBuffer(const KeyBuffer&) = delete;
  KeyBuffer& operator=(const KeyBuffer&) = delete;
  char* data() { return data_; }
  const char* data() const { return data_; }
  // Makes room for n bytes, keeping the first `keep`.
  void reserve(size_t n, size_t keep) {
    if (n <= capacity_) return;
    std::string grown(std::max(n, 2 * capacity_), '\0');
    if (keep > 0) std::memcpy(&grown[0], data_, keep);
    heap_.swap(grown);
    data_ = &heap_[0];
    capacity_ = heap_.size();
  }

 private:
  char inline_[64];
  std::string heap_;
  char* data_ = inline_;
  size_t capacity_ = sizeof(inline_);
};

class TreeIterator final : public InlineEntryIterator<TreeIterator> {
 public:
  explicit TreeIterator(std::shared_ptr<const TreeVersion> v) : v_(std::move(v)), icmp_(v_->comparator()) {
    if (const MappedRegion* map = v_->mapping().get()) {
      map_data_ = map->data();
      map_size_ = map->size();
    }
    path_.reserve(v_->meta().height);
  }

  bool valid() const override { return valid_; }
  Status status() const override { return status_; }
  Slice key() const override { return Slice(key_.data(), key_size_); }
  Slice value() const override { return value_; }
  // An inline value in a leaf read in place through the mapping, which v_
  // keeps (see PageHandle::in_mapping()).
  bool value_pinned() const override { return value_in_mapping_; }

  void seek_to_first() override { position(Mode::kFirst, Slice()); }
  void seek_to_last() override { position(Mode::kLast, Slice()); }
  void seek(const Slice& target) override { position(Mode::kSeek, target); }
  void seek_for_prev(const Slice& target) override {
    seek(target);
    if (valid_) {
      if (icmp_->compare(key(), target) > 0) prev();
    } else if (status_.ok()) {
      seek_to_last();
    }
  }
  void next() override {
    Level& leaf = path_.back();
    if (++leaf.index < leaf.node.count()) {
      load();
    } else {
      step_leaf(true);
    }
  }
  void prev() override {
    Level& leaf = path_.back();
    if (leaf.index > 0) {
      --leaf.index;
      load();
    } else {
      step_leaf(false);
    }
  }

 private:
  friend class InlineEntryIterator<TreeIterator>;  // next_entry()/prev_entry() call entry()
  enum class Mode { kFirst, kLast, kSeek };
  struct Level {
    PageHandle page;
    NodeReader node;
    uint32_t index = 0;
  };

  bool entry(Slice* key, Slice* value) const {
    if (!valid_) return false;
    *key = Slice(key_.data(), key_size_);
    *value = value_;
    return true;
  }

  void fail(const Status& s) {
    status_ = s;
    valid_ = false;
    path_.clear();
  }

  // Descends from ref (at height h) to a leaf, choosing by mode.
  bool descend(PageRef ref, uint32_t h, Mode mode, const Slice& target) {
    for (;; --h) {
      path_.emplace_back();
      Level& l = path_.back();
      Status s = ReadNode(*v_, ref, h == 1, &l.page, &l.node);
      if (!s.ok()) {
        fail(s);
        return false;
      }
      if (h == 1) {
        l.index = mode == Mode::kFirst  ? 0
                  : mode == Mode::kLast ? l.node.count() - 1
                                        : LowerBound(l.node, *icmp_, target, &scratch_);
        set_leaf_prefix(l.node.prefix());
        return true;
      }
      l.index = mode == Mode::kFirst  ? 0
                : mode == Mode::kLast ? l.node.count() - 1
                                      : FindChild(l.node, *icmp_, target, &scratch_);
      s = l.node.child(l.index, &ref);
      if (!s.ok()) {
        fail(s);
        return false;
      }
    }
  }

  void position(Mode mode, const Slice& target) {
    path_.clear();
    status_ = Status::OK();
    valid_ = false;
    if (v_->empty()) return;
    if (!descend(v_->meta().root, v_->meta().height, mode, target)) return;
    if (path_.back().index < path_.back().node.count()) {
      load();
    } else {
      step_leaf(true);  // target is past this leaf's last key
    }
  }

  // Moves to the first entry of the next leaf (forward) or the last entry of
  // the previous one.
  void step_leaf(bool forward) {
    path_.pop_back();
    const uint32_t leaf_height = 1;
    while (!path_.empty()) {
      Level& l = path_.back();
      const bool can = forward ? l.index + 1 < l.node.count() : l.index > 0;
      if (can) {
        l.index = forward ? l.index + 1 : l.index - 1;
        PageRef child;
        Status s = l.node.child(l.index, &child);
        if (!s.ok()) return fail(s);
        const uint32_t h = v_->meta().height - static_cast<uint32_t>(path_.size());
        if (!descend(child, std::max(h, leaf_height), forward ? Mode::kFirst : Mode::kLast, Slice())) return;
        prefetch_neighbor(forward);
        return load();
      }
      path_.pop_back();
    }
    valid_ = false;
  }

  // A scan reaching a leaf will soon want the next one (previous one going
  // backwards): ask the CPU to start loading that page through the mapping
  // now, so that stepping onto it does not stall on a cold page (the
  // hardware prefetchers stop at page boundaries). Only a hint: the page is
  // still read and verified through the pager when the scan gets there.
  void prefetch_neighbor(bool forward) {
    if (map_data_ == nullptr || path_.size() < 2) return;
    const Level& parent = path_[path_.size() - 2];
    if (forward ? parent.index + 1 >= parent.node.count() : parent.index == 0) return;
    PageRef ref;
    if (!parent.node.child(forward ? parent.index + 1 : parent.index - 1, &ref).ok()) return;
    const uint32_t page_size = v_->pager()->page_size();
    if (ref.page >= map_size_ / page_size) return;
    const char* p = map_data_ + ref.page * page_size;
    if (forward) {
      // The header and the first entries; the hardware prefetcher follows
      // the ascending accesses within the page from there. (Prefetching the
      // whole page measured no faster, and slower on a first scan, whose
      // pages are not mapped yet.)
      for (uint32_t off = 0; off < 256; off += 64) __builtin_prefetch(p + off);
      __builtin_prefetch(p + page_size - 64);  // the entry count and offsets
    } else {
      // Backwards the entries are read from the end of the payload down:
      // measured fastest with the whole page requested.
      for (uint32_t off = 0; off < page_size; off += 64) __builtin_prefetch(p + off);
    }
  }

  // The key is rebuilt in key_[0, key_size_): the leaf's prefix is copied
  // there once per leaf, each entry writes only its suffix after it.
  void set_leaf_prefix(const Slice& prefix) {
    key_.reserve(prefix.size(), 0);
    if (!prefix.empty()) std::memcpy(key_.data(), prefix.data(), prefix.size());
    prefix_size_ = prefix.size();
    key_size_ = prefix.size();
  }

  void set_suffix(const Slice& suffix) {
    key_size_ = prefix_size_ + suffix.size();
    key_.reserve(key_size_, prefix_size_);
    MoveSmallBytes(key_.data() + prefix_size_, suffix.data(), suffix.size());
  }

  LIGHTNING_ALWAYS_INLINE void load() {
    Level& leaf = path_.back();
    Slice suffix;
    // The common case, an intact entry with an inline value, in one pass.
    if (leaf.node.inline_leaf_entry(leaf.index, &suffix, &value_)) {
      set_suffix(suffix);
      value_in_mapping_ = leaf.page.in_mapping();
      valid_ = true;
      return;
    }
    load_slow(leaf);
  }

  // A blob, or a damaged entry (Corruption).
  void load_slow(Level& leaf) {
    Slice suffix;
    BlobRef blob;
    bool is_blob = false;
    Status s = leaf.node.leaf_entry(leaf.index, &suffix, &value_, &blob, &is_blob);
    if (s.ok()) set_suffix(suffix);
    value_in_mapping_ = s.ok() && !is_blob && leaf.page.in_mapping();
    if (s.ok() && is_blob) {
      s = v_->pager()->read(v_->mapping(), blob.ref, PageType::kBlob, &blob_);
      if (s.ok() && blob_.payload().size() != blob.size) {
        s = Status::Corruption("tree page " + std::to_string(blob.ref.page), "blob size differs from its reference");
      }
      if (s.ok()) value_ = blob_.payload();
      value_in_mapping_ = blob_.in_mapping();
    }
    if (!s.ok()) return fail(s);
    valid_ = true;
  }

  const std::shared_ptr<const TreeVersion> v_;
  const InternalKeyComparator* const icmp_;
  const char* map_data_ = nullptr;  // the version's mapping (prefetch hints only)
  size_t map_size_ = 0;
  std::vector<Level> path_;  // root first
  KeyBuffer key_;            // key() is its first key_size_ bytes
  size_t key_size_ = 0;
  size_t prefix_size_ = 0;  // of the current leaf, at the start of key_
  std::string scratch_;
  Slice value_;
  bool value_in_mapping_ = false;  // value_pinned()
  PageHandle blob_;
  Status status_;
  bool valid_ = false;
};

}  // namespace

std::unique_ptr<InternalIterator> NewTreeIterator(std::shared_ptr<const TreeVersion> version) {
  return std::unique_ptr<InternalIterator>(new TreeIterator(std::move(version)));
}

// ---------------------------------------------------------------------------
// Merge

namespace {

// A node of the new tree, as its parent will refer to it. sep is the lowest
// key it may hold (empty: unbounded, only ever for a leftmost node).
struct Child {
  std::string sep;
  PageRef ref;
};

class TreeMerger;

// Turns a sorted stream of leaf entries into full leaves. The last two are
// written only at finish(), so that a short last leaf can be balanced with
// the one before it.
class LeafPacker {
 public:
  LeafPacker(TreeMerger* m, std::string first_sep, std::vector<Child>* out);
  Status add_inline(const Slice& key, const Slice& value);
  Status add_blob(const Slice& key, const BlobRef& blob);
  Status finish();
  // True when the leaf being filled holds less than half a leaf.
  bool tail_is_short() const;

 private:
  struct Entry {
    std::string key;
    std::string value;
    BlobRef blob;
    bool is_blob = false;
    size_t size = 0;  // encoded bytes, roughly
  };
  Status add(Entry e);
  // Writes entries [begin, end) as one leaf (or more, if compression
  // disappoints).
  Status write_leaf(size_t begin, size_t end);

  TreeMerger* const m_;
  std::string next_sep_;
  std::vector<Child>* const out_;
  std::vector<Entry> entries_;  // held leaf first, then the open one
  size_t held_ = 0;             // entries_[0, held_) form a complete leaf
  size_t open_bytes_ = 0;
  size_t written_ = 0;
  std::string last_key_;  // of the last leaf written
  NodeBuilder builder_{true};
};

class TreeMerger {
 public:
  TreeMerger(const std::shared_ptr<const TreeVersion>& base, InternalIterator* input, const MergeSpec& spec,
             MergeStats* stats)
      : base_(base),
        pager_(base->pager()),
        icmp_(*base->comparator()),
        input_(input),
        spec_(spec),
        stats_(stats),
        page_size_(pager_->page_size()),
        capacity_(PageCapacity(page_size_)),
        leaf_limit_(capacity_) {
    if (pager_->compression() != CompressionType::kNone) leaf_limit_ = capacity_ * 2;
  }

  Status run(std::shared_ptr<const TreeVersion>* result) {
    txn_ = pager_->begin();
    meta_ = base_->meta();
    const uint64_t bytes_before = pager_->bytes_written();
    input_->seek_to_first();
    Status s = input_->status();
    if (!s.ok()) return s;
    if (!input_->valid()) return Status::InvalidArgument("MergeIntoTree", "empty input");
    std::vector<Child> level;
    uint32_t height;
    if (meta_.height <= 1) {
      // An empty tree, or a root leaf: both handled as the children of an
      // imaginary root.
      std::vector<Child> children;
      if (meta_.height == 1) children.push_back(Child{std::string(), meta_.root});
      s = rewrite_children(children, 2, nullptr, &level);
      height = 2;
    } else {
      s = rewrite(meta_.root, meta_.height, std::string(), nullptr, &level);
      height = meta_.height;
    }
    while (s.ok() && level.size() > 1) {
      std::vector<Child> up;
      s = pack_internal(level, &up);
      level.swap(up);
      ++height;
    }
    if (!s.ok()) return s;
    if (input_->valid() || !input_->status().ok()) {
      return input_->status().ok() ? Status::Corruption("MergeIntoTree", "input not consumed (unsorted input?)")
                                   : input_->status();
    }
    // Drop roots with a single child.
    PageRef root = level.empty() ? PageRef() : level[0].ref;
    while (!root.null() && height >= 2) {
      PageHandle page;
      NodeReader node;
      // The root was written by this transaction; read it back through the
      // pager (it verifies what we wrote).
      TreeVersion probe(pager_, &icmp_, meta_, pager_->mapping());
      s = ReadNode(probe, root, false, &page, &node);
      if (!s.ok()) return s;
      if (node.count() > 1) break;
      PageRef only;
      s = node.child(0, &only);
      if (!s.ok()) return s;
      free_node(root, page.page_count(), PageType::kInternal);
      root = only;
      --height;
    }
    if (root.null()) height = 0;
    meta_.root = root;
    meta_.height = height;
    s = txn_->commit(meta_);
    if (!s.ok()) return s;
    stats_->pages_written += txn_->pages_written();
    stats_->bytes_written += pager_->bytes_written() - bytes_before;
    const TreeMeta committed = pager_->committed();
    result->reset(new TreeVersion(pager_, &icmp_, committed, pager_->mapping()));
    return Status::OK();
  }

 private:
  friend class LeafPacker;

  bool input_below(const std::string* upper) const {
    return input_->valid() && (upper == nullptr || icmp_.compare(input_->key(), *upper) < 0);
  }

  void free_node(PageRef ref, uint32_t pages, PageType type) {
    txn_->free(ref.page, pages);
    if (type == PageType::kLeaf) meta_.leaf_pages -= pages;
    if (type == PageType::kInternal) meta_.internal_pages -= pages;
    if (type == PageType::kBlob) meta_.blob_pages -= pages;
  }

  Status rewrite(PageRef ref, uint32_t h, const std::string& lower, const std::string* upper,
                 std::vector<Child>* out) {
    PageHandle page;
    NodeReader node;
    Status s = ReadNode(*base_, ref, false, &page, &node);
    if (!s.ok()) return s;
    std::vector<Child> children(node.count());
    std::string scratch;
    for (uint32_t i = 0; i < node.count(); ++i) {
      children[i].sep = i == 0 ? lower : node.key(i, &scratch).ToString();
      s = node.child(i, &children[i].ref);
      if (!s.ok()) return s;
    }
    free_node(ref, page.page_count(), PageType::kInternal);
    return rewrite_children(children, h, upper, out);
  }

  // children (of a node of height h, in order) with the input below upper
  // merged in; appends the nodes of height h that replace them to out.
  Status rewrite_children(const std::vector<Child>& children, uint32_t h, const std::string* upper,
                          std::vector<Child>* out) {
    std::vector<Child> fresh;
    Status s;
    if (children.empty()) {
      LeafPacker packer(this, std::string(), &fresh);
      s = merge_leaf_range(nullptr, upper, &packer);
      if (s.ok()) s = finish_run(&packer, upper);
    }
    const size_t n = children.size();
    size_t i = 0;
    while (s.ok() && i < n) {
      const std::string* up = i + 1 < n ? &children[i + 1].sep : upper;
      if (!input_below(up)) {
        fresh.push_back(children[i]);
        ++i;
        continue;
      }
      if (h > 2) {
        s = rewrite(children[i].ref, h - 1, children[i].sep, up, &fresh);
        ++i;
        continue;
      }
      // A run of consecutive leaves that receive input, repacked together.
      LeafPacker packer(this, children[i].sep, &fresh);
      while (s.ok() && i < n) {
        up = i + 1 < n ? &children[i + 1].sep : upper;
        // A run also takes in the next leaf when its own last leaf would be
        // short: merging with the neighbour, as a B+Tree merges underfull
        // siblings, keeps repeated merges from leaving a trail of half-empty
        // leaves.
        if (!input_below(up) && !packer.tail_is_short()) break;
        s = merge_leaf_range(&children[i].ref, up, &packer);
        ++i;
      }
      if (s.ok()) s = finish_run(&packer, i < n ? &children[i].sep : upper);
      if (s.ok() && spec_.cancel != nullptr && spec_.cancel->load(std::memory_order_relaxed)) {
        s = Status::Aborted("merge into the tree", "cancelled");
      }
    }
    if (!s.ok()) return s;
    return pack_internal(fresh, out);
  }

  // Merges one leaf (null: none) with the input below upper into packer.
  Status merge_leaf_range(const PageRef* leaf_ref, const std::string* upper, LeafPacker* packer) {
    PageHandle page;
    NodeReader node;
    uint32_t count = 0;
    if (leaf_ref != nullptr) {
      Status s = ReadNode(*base_, *leaf_ref, true, &page, &node);
      if (!s.ok()) return s;
      count = node.count();
      ++stats_->leaves_read;
      meta_.entries -= count;
    }
    std::string scratch;
    uint32_t i = 0;
    for (;;) {
      const bool have_input = input_below(upper);
      if (i == count && !have_input) break;
      Slice tkey;
      if (i < count) tkey = node.key(i, &scratch);
      int c = !have_input ? 1 : i == count ? -1 : icmp_.compare(input_->key(), tkey);
      Status s;
      if (c <= 0) {
        // Input first; an identical key in the tree is the same entry.
        ++stats_->input_entries;
        s = offer(input_->key(), false, input_->value(), nullptr, packer);
        input_->next();
        if (s.ok()) s = input_->status();
        if (c == 0 && s.ok()) s = drop_tree_entry(node, i++);
      } else {
        Slice value;
        BlobRef blob;
        bool is_blob = false;
        s = node.leaf_value(i, &value, &blob, &is_blob);
        if (s.ok()) s = offer(tkey, true, value, is_blob ? &blob : nullptr, packer);
        ++i;
      }
      if (!s.ok()) return s;
    }
    if (leaf_ref != nullptr) free_node(*leaf_ref, page.page_count(), PageType::kLeaf);
    return Status::OK();
  }

  Status drop_tree_entry(const NodeReader& node, uint32_t i) {
    Slice value;
    BlobRef blob;
    bool is_blob = false;
    Status s = node.leaf_value(i, &value, &blob, &is_blob);
    if (s.ok() && is_blob) free_node(blob.ref, blob.pages, PageType::kBlob);
    return s;
  }

  // The bottom-level drop rules; a kept entry goes to the packer.
  Status offer(const Slice& ikey, bool from_tree, const Slice& value, const BlobRef* blob, LeafPacker* packer) {
    ParsedInternalKey k;
    if (!ParseInternalKey(ikey, &k)) return Status::Corruption("merge into the tree", "malformed internal key");
    if (!has_user_key_ || icmp_.user_comparator()->compare(k.user_key, user_key_) != 0) {
      user_key_.assign(k.user_key.data(), k.user_key.size());
      has_user_key_ = true;
      last_sequence_ = kMaxSequenceNumber + 1;
      pending_tombstone_.clear();
    }
    bool drop = false;
    if (last_sequence_ <= spec_.smallest_snapshot) {
      drop = true;  // hidden by a newer version every reader sees
    } else if (k.type == kTypeDeletion && k.sequence <= spec_.smallest_snapshot) {
      // Nothing below the tree for it to hide. Held back in case older
      // versions of the key continue past this run (see finish_run).
      drop = true;
      pending_tombstone_.assign(ikey.data(), ikey.size());
    }
    last_sequence_ = k.sequence;
    if (drop) {
      ++stats_->entries_dropped;
      if (from_tree && blob != nullptr) free_node(blob->ref, blob->pages, PageType::kBlob);
      return Status::OK();
    }
    if (blob != nullptr) return packer->add_blob(ikey, *blob);
    if (!from_tree && ikey.size() + value.size() > capacity_ / 4) {
      BlobRef b;
      Status s = write_blob(value, &b);
      if (!s.ok()) return s;
      return packer->add_blob(ikey, b);
    }
    return packer->add_inline(ikey, value);
  }

  // A run ends before `boundary` (null: the end of the tree). If versions of
  // the run's last user key continue beyond it, a tombstone dropped for that
  // key is kept after all: the versions it hides were not seen here.
  Status finish_run(LeafPacker* packer, const std::string* boundary) {
    if (!pending_tombstone_.empty() && boundary != nullptr && !boundary->empty() &&
        SameUserKey(icmp_, *boundary, pending_tombstone_)) {
      --stats_->entries_dropped;
      Status s = packer->add_inline(pending_tombstone_, Slice());
      if (!s.ok()) return s;
    }
    pending_tombstone_.clear();
    has_user_key_ = false;
    return packer->finish();
  }

  Status write_blob(const Slice& value, BlobRef* b) {
    uint32_t pages = 0;
    Status s = txn_->write(PageType::kBlob, value, CompressionType::kNone, &b->ref, &pages);
    if (!s.ok()) return s;
    b->size = value.size();
    b->pages = pages;
    meta_.blob_pages += pages;
    return Status::OK();
  }

  Status write_node(PageType type, const std::string& raw, PageRef* ref) {
    Slice stored = raw;
    CompressionType compression = CompressionType::kNone;
    std::string compressed;
    if (type == PageType::kLeaf && pager_->compression() != CompressionType::kNone &&
        CompressBlock(pager_->compression(), raw, &compressed) && compressed.size() < raw.size() - raw.size() / 8) {
      stored = compressed;
      compression = pager_->compression();
    }
    uint32_t pages = 0;
    Status s = txn_->write(type, stored, compression, ref, &pages);
    if (!s.ok()) return s;
    if (type == PageType::kLeaf) {
      meta_.leaf_pages += pages;
      // Learn how much raw data fits a page after compression.
      if (compression != CompressionType::kNone && pages == 1) {
        const double ratio = static_cast<double>(raw.size()) / static_cast<double>(stored.size());
        const double limit = static_cast<double>(capacity_) * ratio * 0.9;
        leaf_limit_ = static_cast<size_t>(std::min(std::max(limit, static_cast<double>(capacity_)),
                                                   static_cast<double>(capacity_) * 8));
      } else if (compression == CompressionType::kNone && pager_->compression() != CompressionType::kNone) {
        leaf_limit_ = capacity_;
      }
    } else {
      meta_.internal_pages += pages;
    }
    return Status::OK();
  }

  // Separator between two adjacent nodes: a short key s with last < s <=
  // first, as an internal key that sorts before every version of its user
  // key. Versions of one user key split across nodes use the first key
  // itself.
  std::string separator(const std::string& last, const std::string& first) const {
    if (SameUserKey(icmp_, last, first)) return first;
    std::string user = ExtractUserKey(last).ToString();
    const Slice first_user = ExtractUserKey(first);
    icmp_.user_comparator()->find_shortest_separator(&user, first_user);
    if (icmp_.user_comparator()->compare(user, ExtractUserKey(last)) <= 0 ||
        icmp_.user_comparator()->compare(user, first_user) > 0) {
      user = first_user.ToString();
    }
    std::string sep = user;
    PutFixed64(&sep, PackSequenceAndType(kMaxSequenceNumber, kValueTypeForSeek));
    return sep;
  }

  // Packs children (nodes of height h-1) into nodes of height h.
  Status pack_internal(const std::vector<Child>& children, std::vector<Child>* out) {
    if (children.empty()) return Status::OK();
    size_t total = 0;
    for (const Child& c : children) total += c.sep.size() + 24;
    const size_t nodes = std::max<size_t>(1, (total + capacity_ - 1) / capacity_);
    const size_t target = total / nodes;
    NodeBuilder b(false);
    std::string first_sep;
    for (size_t i = 0; i < children.size(); ++i) {
      const Child& c = children[i];
      const size_t left = children.size() - i;
      if (b.count() >= 2 && left >= 2 &&
          (b.encoded_size_with(c.sep, 24) > capacity_ || b.encoded_size() >= target)) {
        Status s = emit_internal(&b, first_sep, out);
        if (!s.ok()) return s;
      }
      if (b.count() == 0) first_sep = c.sep;
      b.add_child(c.sep, c.ref);
    }
    return emit_internal(&b, first_sep, out);
  }

  Status emit_internal(NodeBuilder* b, const std::string& first_sep, std::vector<Child>* out) {
    Child c;
    c.sep = first_sep;
    Status s = write_node(PageType::kInternal, b->finish(), &c.ref);
    if (s.ok()) out->push_back(std::move(c));
    b->clear();
    return s;
  }

  const std::shared_ptr<const TreeVersion>& base_;
  BTreePager* const pager_;
  const InternalKeyComparator& icmp_;
  InternalIterator* const input_;
  const MergeSpec spec_;
  MergeStats* const stats_;
  const uint32_t page_size_;
  const size_t capacity_;
  size_t leaf_limit_;
  std::unique_ptr<BTreePager::Transaction> txn_;
  TreeMeta meta_;
  // Drop-rule state: the user key being merged and its last sequence.
  std::string user_key_;
  bool has_user_key_ = false;
  SequenceNumber last_sequence_ = 0;
  std::string pending_tombstone_;
};

LeafPacker::LeafPacker(TreeMerger* m, std::string first_sep, std::vector<Child>* out)
    : m_(m), next_sep_(std::move(first_sep)), out_(out) {}

Status LeafPacker::add_inline(const Slice& key, const Slice& value) {
  Entry e;
  e.key.assign(key.data(), key.size());
  e.value.assign(value.data(), value.size());
  e.size = key.size() + value.size() + 2 + VarintLength(value.size()) + VarintLength(key.size()) + 4;
  return add(std::move(e));
}

Status LeafPacker::add_blob(const Slice& key, const BlobRef& blob) {
  Entry e;
  e.key.assign(key.data(), key.size());
  e.blob = blob;
  e.is_blob = true;
  e.size = key.size() + 32 + VarintLength(key.size()) + 4;
  return add(std::move(e));
}

Status LeafPacker::add(Entry e) {
  if (entries_.size() > held_ && open_bytes_ + e.size > m_->leaf_limit_) {
    // The open leaf is full: write the held one, hold this one.
    if (held_ > 0) {
      Status s = write_leaf(0, held_);
      if (!s.ok()) return s;
      entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(held_));
    }
    held_ = entries_.size();
    open_bytes_ = 0;
  }
  open_bytes_ += e.size;
  entries_.push_back(std::move(e));
  return Status::OK();
}

bool LeafPacker::tail_is_short() const { return open_bytes_ < m_->leaf_limit_ / 2; }

Status LeafPacker::finish() {
  const size_t n = entries_.size();
  if (n == 0) return Status::OK();
  size_t split = held_;
  if (held_ > 0 && open_bytes_ < m_->leaf_limit_ / 2) {
    // Balance a short last leaf with the held one, by bytes.
    size_t total = 0;
    for (const Entry& e : entries_) total += e.size;
    size_t acc = 0;
    split = 0;
    while (split < n - 1 && acc + entries_[split].size <= total / 2) acc += entries_[split++].size;
    split = std::max<size_t>(split, 1);
  }
  Status s;
  if (split > 0) s = write_leaf(0, split);
  if (s.ok() && split < n) s = write_leaf(split, n);
  entries_.clear();
  held_ = 0;
  open_bytes_ = 0;
  return s;
}

Status LeafPacker::write_leaf(size_t begin, size_t end) {
  builder_.clear();
  for (size_t i = begin; i < end; ++i) {
    const Entry& e = entries_[i];
    if (e.is_blob) {
      builder_.add_blob(e.key, e.blob);
    } else {
      builder_.add_inline(e.key, e.value);
    }
  }
  const std::string raw = builder_.finish();
  const size_t one_page = PageCapacity(m_->page_size_);
  if (end - begin > 1 && raw.size() > one_page && m_->pager_->compression() != CompressionType::kNone) {
    // Check that the compressed leaf fits a page; halve it if not.
    std::string compressed;
    const bool ok = CompressBlock(m_->pager_->compression(), raw, &compressed);
    if (!ok || compressed.size() > one_page || compressed.size() >= raw.size() - raw.size() / 8) {
      m_->leaf_limit_ = std::max(one_page, m_->leaf_limit_ * 3 / 4);
      const size_t mid = begin + (end - begin) / 2;
      Status s = write_leaf(begin, mid);
      if (s.ok()) s = write_leaf(mid, end);
      return s;
    }
  }
  Child c;
  c.sep = written_ == 0 ? next_sep_ : m_->separator(last_key_, entries_[begin].key);
  Status s = m_->write_node(PageType::kLeaf, raw, &c.ref);
  if (!s.ok()) return s;
  m_->meta_.entries += end - begin;
  last_key_ = entries_[end - 1].key;
  ++written_;
  out_->push_back(std::move(c));
  return Status::OK();
}

}  // namespace

Status MergeIntoTree(const std::shared_ptr<const TreeVersion>& base, InternalIterator* input,
                     const MergeSpec& spec, std::shared_ptr<const TreeVersion>* result, MergeStats* stats) {
  TreeMerger merger(base, input, spec, stats);
  return merger.run(result);
}

// ---------------------------------------------------------------------------
// CheckTree

namespace {

class TreeChecker {
 public:
  explicit TreeChecker(const TreeVersion& v) : v_(v), icmp_(*v.comparator()) {}

  Status run(uint64_t* entries) {
    const TreeMeta& m = v_.meta();
    if (m.height > 0) {
      Status s = check(m.root, m.height, std::string(), nullptr);
      if (!s.ok()) return s;
    }
    if (entries_ != m.entries || leaf_pages_ != m.leaf_pages || internal_pages_ != m.internal_pages ||
        blob_pages_ != m.blob_pages) {
      return Status::Corruption("tree commit " + std::to_string(m.epoch),
                                "counters disagree with the pages: entries " + std::to_string(entries_) + " vs " +
                                    std::to_string(m.entries) + ", leaf pages " + std::to_string(leaf_pages_) +
                                    " vs " + std::to_string(m.leaf_pages) + ", internal pages " +
                                    std::to_string(internal_pages_) + " vs " + std::to_string(m.internal_pages) +
                                    ", blob pages " + std::to_string(blob_pages_) + " vs " +
                                    std::to_string(m.blob_pages));
    }
    if (entries != nullptr) *entries = entries_;
    return Status::OK();
  }

 private:
  Status bad(PageRef ref, const std::string& what) {
    return Status::Corruption("tree page " + std::to_string(ref.page), what);
  }

  Status check(PageRef ref, uint32_t h, const std::string& lower, const std::string* upper) {
    PageHandle page;
    NodeReader node;
    Status s = ReadNode(v_, ref, h == 1, &page, &node);
    if (!s.ok()) return s;
    std::string key, prev;
    if (h == 1) {
      leaf_pages_ += page.page_count();
      for (uint32_t i = 0; i < node.count(); ++i) {
        node.key(i, &key);
        if ((i > 0 || have_last_) && icmp_.compare(i > 0 ? prev : last_key_, key) >= 0) {
          return bad(ref, "keys out of order");
        }
        if ((!lower.empty() && icmp_.compare(key, lower) < 0) || (upper != nullptr && icmp_.compare(key, *upper) >= 0)) {
          return bad(ref, "key outside the range its parent gives it");
        }
        Slice value;
        BlobRef blob;
        bool is_blob = false;
        s = node.leaf_value(i, &value, &blob, &is_blob);
        if (!s.ok()) return s;
        if (is_blob) {
          PageHandle b;
          s = v_.pager()->read(v_.mapping(), blob.ref, PageType::kBlob, &b);
          if (!s.ok()) return s;
          if (b.payload().size() != blob.size || b.page_count() != blob.pages) return bad(blob.ref, "blob size");
          blob_pages_ += b.page_count();
        }
        prev = key;
        ++entries_;
      }
      last_key_ = prev;
      have_last_ = true;
      return Status::OK();
    }
    internal_pages_ += page.page_count();
    std::vector<std::string> seps(node.count());
    for (uint32_t i = 1; i < node.count(); ++i) {
      seps[i] = node.key(i, &key).ToString();
      if (i > 1 && icmp_.compare(seps[i - 1], seps[i]) >= 0) return bad(ref, "separators out of order");
      if (!lower.empty() && icmp_.compare(seps[i], lower) < 0) return bad(ref, "separator below the node's range");
    }
    seps[0] = lower;
    for (uint32_t i = 0; i < node.count(); ++i) {
      PageRef child;
      s = node.child(i, &child);
      if (!s.ok()) return s;
      s = check(child, h - 1, seps[i], i + 1 < node.count() ? &seps[i + 1] : upper);
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

  const TreeVersion& v_;
  const InternalKeyComparator& icmp_;
  std::string last_key_;
  bool have_last_ = false;
  uint64_t entries_ = 0, leaf_pages_ = 0, internal_pages_ = 0, blob_pages_ = 0;
};

}  // namespace

Status CheckTree(const TreeVersion& version, uint64_t* entries) {
  TreeChecker checker(version);
  return checker.run(entries);
}

}  // namespace btree
}  // namespace lightning
