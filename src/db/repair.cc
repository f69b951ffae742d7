// Copyright (c) Lightning authors. MIT License.
//
// RepairDatabase: salvages what is intact in a damaged database directory
// (docs/ARCHITECTURE.md, "Repair"). Every file is checked with the same
// Verifier as VerifyDatabase; what fails is salvaged at the granularity its
// checksums allow (SSTable data blocks, tree leaves, log records), written
// into new files with the original internal keys, and the damaged original
// is copied into lost/. Crash safety (ARCHITECTURE, "Repair"): originals are
// copied to lost/ durably before anything replaces them; new files are built
// under temporary names (or new numbers) and switched in by rename; the new
// MANIFEST is the commit point, and originals are removed only after it.
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "btree/btree.h"
#include "btree/node.h"
#include "cache/arc_cache.h"
#include "db/filenames.h"
#include "db/manifest.h"
#include "db/sorted_run_builder.h"
#include "db/verify_internal.h"
#include "db/write_batch_internal.h"
#include "lightning/maintenance.h"
#include "sst/table.h"
#include "util/merging_iterator.h"
#include "util/no_throw.h"
#include "wal/wal_reader.h"
#include "wal/wal_writer.h"

namespace lightning {
namespace {

using Entry = std::pair<std::string, std::string>;  // internal key, value

// Flushes salvaged tree entries into the new tree in batches of this size,
// so that the memory a repair needs does not grow with the tree.
constexpr size_t kTreeBatchBytes = 8 << 20;

// An iterator over sorted, distinct entries it owns.
class EntryIterator final : public InternalIterator {
 public:
  EntryIterator(const Comparator* cmp, std::vector<Entry> entries) : cmp_(cmp), entries_(std::move(entries)) {}
  bool valid() const override { return pos_ < entries_.size(); }
  void seek_to_first() override { pos_ = 0; }
  void seek_to_last() override { pos_ = entries_.empty() ? 0 : entries_.size() - 1; }
  void seek(const Slice& target) override {
    pos_ = static_cast<size_t>(
        std::lower_bound(entries_.begin(), entries_.end(), target,
                         [&](const Entry& e, const Slice& t) { return cmp_->compare(Slice(e.first), t) < 0; }) -
        entries_.begin());
  }
  void seek_for_prev(const Slice& target) override {
    seek(target);
    if (valid() && cmp_->compare(Slice(entries_[pos_].first), target) == 0) return;
    pos_ = pos_ == 0 ? entries_.size() : pos_ - 1;
  }
  void next() override { ++pos_; }
  void prev() override { pos_ = pos_ == 0 ? entries_.size() : pos_ - 1; }
  Slice key() const override { return entries_[pos_].first; }
  Slice value() const override { return entries_[pos_].second; }
  Status status() const override { return Status::OK(); }

 private:
  const Comparator* const cmp_;
  const std::vector<Entry> entries_;
  size_t pos_ = 0;
};

// Hides repeats of an internal key: a table merged into the tree may hold
// entries the tree (or another table) already has, as after a crash between
// a tree commit and the deletion of the tables it absorbed. An identical
// internal key is the same entry.
class DistinctIterator final : public InternalIterator {
 public:
  DistinctIterator(const Comparator* cmp, std::unique_ptr<InternalIterator> input)
      : cmp_(cmp), input_(std::move(input)) {}
  bool valid() const override { return input_->valid(); }
  void seek_to_first() override { input_->seek_to_first(); }
  void seek_to_last() override { input_->seek_to_last(); }
  void seek(const Slice& target) override { input_->seek(target); }
  void seek_for_prev(const Slice& target) override { input_->seek_for_prev(target); }
  void next() override {
    const std::string current = input_->key().ToString();
    do {
      input_->next();
    } while (input_->valid() && cmp_->compare(input_->key(), current) == 0);
  }
  void prev() override {
    const std::string current = input_->key().ToString();
    do {
      input_->prev();
    } while (input_->valid() && cmp_->compare(input_->key(), current) == 0);
  }
  Slice key() const override { return input_->key(); }
  Slice value() const override { return input_->value(); }
  Status status() const override { return input_->status(); }

 private:
  const Comparator* const cmp_;
  std::unique_ptr<InternalIterator> input_;
};

// A tree being rebuilt; renamed over TREE once complete.
std::string TreeRepairName(const std::string& dbname) { return dbname + "/TREE.repair"; }
// Present from just before a rebuilt tree replaces TREE until the MANIFEST
// naming it is durable: while it is, TREE is the rebuilt tree.
std::string TreeInstalledMarkerName(const std::string& dbname) { return dbname + "/TREE.repair-installed"; }
// A log being rewritten, renamed over the original once complete.
constexpr char kRepairSuffix[] = ".repair";
// A copy into lost/ under way; renamed to its final name once synced.
constexpr char kPartialCopySuffix[] = ".tmp";

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class Repairer {
 public:
  Repairer(Env* env, std::string dbname, const Options& options, RepairReport* report)
      : env_(env),
        dbname_(std::move(dbname)),
        options_(options),
        icmp_(options.comparator != nullptr ? options.comparator : BytewiseComparator()),
        report_(report) {
    table_options_.comparator = &icmp_;
    table_options_.block_size = options.block_size;
    table_options_.bloom_bits_per_key = options.bloom_bits_per_key;
    table_options_.compression = options.compression;
    table_options_.prefix_extractor = options.prefix_extractor;
  }

  ~Repairer() {
    // Versions pin their pager's pages: they go first.
    old_tree_version_.reset();
    old_tree_pager_.reset();
    out_tree_.reset();
    out_pager_.reset();
  }

  Status run();

 private:
  Status find_files();
  // Removes what an interrupted repair left behind (temporary files, partial
  // copies in lost/) and finds out whether it had already installed a
  // rebuilt tree (tree_installed_).
  Status clean_up_interrupted_repair();
  Status move_to_lost(const std::string& fname);
  // Copies fname into lost/ durably (file and directory synced) and leaves
  // the original in place; *copy (if set) gets the copy's name.
  Status copy_to_lost(const std::string& fname, std::string* copy = nullptr);
  // Switches the rebuilt tree in, writes the MANIFEST, then removes what it
  // replaced.
  Status commit();
  void drop(const std::string& what) { report_->dropped.push_back(what); }
  uint64_t new_file_number() { return next_file_number_++; }

  // The tree.
  Status read_tree_epoch_from_meta_pages(uint64_t* epoch);
  Status check_or_salvage_tree();
  Status salvage_tree(const btree::TreeMeta& damaged_meta);
  Status salvage_subtree(btree::PageRef ref, uint32_t height, std::vector<Entry>* batch, size_t* batch_bytes,
                         std::string* last_key, uint64_t* salvaged);
  Status open_output_tree(const std::string& fname, uint64_t epoch, uint32_t page_size);
  Status merge_into_output_tree(InternalIterator* input);
  Status flush_tree_batch(std::vector<Entry>* batch, size_t* batch_bytes);

  // The tables.
  Status open_table(uint64_t number, std::unique_ptr<Table>* table);
  // Reads the intact blocks of table `number` into *entries (sorted,
  // distinct, well-formed internal keys only); *damaged: something was
  // skipped (or the table could not be opened at all: *opened false).
  Status salvage_table(uint64_t number, std::vector<Entry>* entries, bool* damaged, bool* opened);
  Status repair_listed_tables();
  Status merge_found_tables_into_tree();
  // Writes input (sorted) as new tables at `level`, appended to *out.
  Status write_run(InternalIterator* input, int level, std::vector<ManifestState::Table>* out);

  Status repair_logs();

  Env* const env_;
  const std::string dbname_;
  const Options options_;
  const InternalKeyComparator icmp_;
  TableOptions table_options_;
  RepairReport* const report_;

  bool manifest_ok_ = false;
  bool changed_ = false;
  ManifestState state_;  // the MANIFEST read, or the one being rebuilt
  std::vector<uint64_t> found_tables_, found_logs_;
  // Tables whose entries were copied into new tables or the tree (damaged
  // ones also into lost/): removed once the new MANIFEST is durable.
  std::vector<uint64_t> obsolete_tables_;
  // The tree is rebuilt in TreeRepairName(), which replaces TREE at commit.
  bool tree_replaced_ = false;
  // An interrupted repair had already switched its rebuilt tree in: TREE's
  // newest commit is the one to keep, whatever an older MANIFEST names.
  bool tree_installed_ = false;
  uint64_t next_file_number_ = 1;
  SequenceNumber max_sequence_ = 0;

  std::unique_ptr<Cache> tree_cache_ = NewArcCache(0);  // every read verified
  std::unique_ptr<btree::BTreePager> old_tree_pager_;
  std::shared_ptr<const btree::TreeVersion> old_tree_version_;
  std::unique_ptr<btree::BTreePager> out_pager_;
  std::shared_ptr<const btree::TreeVersion> out_tree_;
  uint64_t tree_epoch_ = 0;  // the commit the repaired MANIFEST names
};

Status Repairer::find_files() {
  std::vector<std::string> children;
  Status s = env_->get_children(dbname_, &children);
  if (!s.ok()) return s;
  uint64_t max_number = 0;
  for (const auto& name : children) {
    uint64_t number = 0;
    const FileType type = ParseFileName(name, &number);
    if (type == FileType::kTable) found_tables_.push_back(number);
    if (type == FileType::kLog) found_logs_.push_back(number);
    if (type == FileType::kTable || type == FileType::kLog) max_number = std::max(max_number, number);
  }
  std::sort(found_tables_.begin(), found_tables_.end());
  std::sort(found_logs_.begin(), found_logs_.end());
  next_file_number_ = max_number + 1;
  return Status::OK();
}

Status Repairer::clean_up_interrupted_repair() {
  bool removed = false;
  const std::string marker = TreeInstalledMarkerName(dbname_);
  const std::string rebuilt = TreeRepairName(dbname_);
  if (env_->file_exists(marker)) {
    if (env_->file_exists(rebuilt)) {
      // Stopped before the rename: TREE is still the original. The marker
      // goes first (durably): alone, it would say TREE is the rebuilt tree.
      Status s = env_->remove_file(marker);
      if (s.ok()) s = env_->sync_dir(dbname_);
      if (s.ok()) s = env_->remove_file(rebuilt);
      if (!s.ok()) return s;
      removed = true;
    } else {
      tree_installed_ = true;  // the marker goes once the new MANIFEST is durable
    }
  }
  std::vector<std::string> children;
  Status s = env_->get_children(dbname_, &children);
  if (!s.ok()) return s;
  for (const auto& name : children) {
    // A tree or log rewrite that never got renamed into place.
    if (!EndsWith(name, kRepairSuffix)) continue;
    s = env_->remove_file(dbname_ + "/" + name);
    if (!s.ok()) return s;
    removed = true;
  }
  if (removed) {
    s = env_->sync_dir(dbname_);
    if (!s.ok()) return s;
  }
  const std::string lost = LostDirName(dbname_);
  bool is_dir = false;
  if (!env_->is_directory(lost, &is_dir).ok() || !is_dir) return Status::OK();
  children.clear();
  s = env_->get_children(lost, &children);
  if (!s.ok()) return s;
  for (const auto& name : children) {
    if (!EndsWith(name, kPartialCopySuffix)) continue;
    s = env_->remove_file(lost + "/" + name);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Status Repairer::copy_to_lost(const std::string& fname, std::string* copy) {
  const std::string dir = LostDirName(dbname_);
  Status s = env_->create_dir_if_missing(dir);
  if (s.ok()) s = env_->sync_dir(dbname_);
  if (!s.ok()) return s;
  const std::string base = fname.substr(fname.rfind('/') + 1);
  const std::string target = dir + "/" + base + "." + std::to_string(env_->now_micros()) + ".repair";
  const std::string partial = target + kPartialCopySuffix;
  std::unique_ptr<SequentialFile> in;
  s = env_->new_sequential_file(fname, &in);
  if (!s.ok()) return s;
  std::unique_ptr<WritableFile> out;
  s = env_->new_writable_file(partial, &out);
  if (!s.ok()) return s;
  std::string buf(1 << 20, '\0');
  for (;;) {
    Slice chunk;
    s = in->read(buf.size(), &chunk, &buf[0]);
    if (!s.ok() || chunk.empty()) break;
    s = out->append(chunk);
    if (!s.ok()) break;
  }
  if (s.ok()) s = out->sync();
  if (s.ok()) s = out->close();
  out.reset();
  if (s.ok()) s = env_->rename_file(partial, target);
  if (s.ok()) s = env_->sync_dir(dir);
  if (!s.ok()) return s;
  report_->files_moved_to_lost++;
  changed_ = true;
  if (copy != nullptr) *copy = target;
  return Status::OK();
}

Status Repairer::move_to_lost(const std::string& fname) {
  const std::string dir = LostDirName(dbname_);
  Status s = env_->create_dir_if_missing(dir);
  if (!s.ok()) return s;
  const std::string base = fname.substr(fname.rfind('/') + 1);
  const std::string target = dir + "/" + base + "." + std::to_string(env_->now_micros()) + ".repair";
  s = env_->rename_file(fname, target);
  if (s.ok()) s = env_->sync_dir(dir);
  if (s.ok()) s = env_->sync_dir(dbname_);
  if (s.ok()) report_->files_moved_to_lost++;
  changed_ = true;
  return s;
}

// ---------------------------------------------------------------- tree

// The newest commit either meta page holds intact (0: none), as the
// MANIFEST that would have named it is gone.
Status Repairer::read_tree_epoch_from_meta_pages(uint64_t* epoch) {
  *epoch = 0;
  const std::string fname = TreeFileName(dbname_);
  std::string data;
  Status s = ReadFileToString(env_, fname, &data);
  if (!s.ok()) return s;
  btree::TreeMeta meta;
  uint32_t slot0_page_size = 0;
  if (btree::DecodeMetaPage(data.data(), std::min<size_t>(data.size(), btree::kMinPageSize), 0, &meta).ok()) {
    *epoch = meta.epoch;
    slot0_page_size = meta.page_size;
  }
  for (uint32_t ps = btree::kMinPageSize; ps <= btree::kMaxPageSize; ps *= 2) {
    if (slot0_page_size != 0 && ps != slot0_page_size) continue;
    if (data.size() < ps + btree::kMinPageSize) break;
    if (btree::DecodeMetaPage(data.data() + ps, btree::kMinPageSize, 1, &meta).ok() && meta.page_size == ps) {
      *epoch = std::max(*epoch, meta.epoch);
      break;
    }
  }
  return Status::OK();
}

Status Repairer::open_output_tree(const std::string& fname, uint64_t epoch, uint32_t page_size) {
  btree::PagerOptions po;
  po.env = env_;
  po.fname = fname;
  po.page_size = page_size;
  po.compression = options_.compression;
  po.cache = tree_cache_.get();
  po.mmap_size = 0;
  Status s = btree::BTreePager::Open(po, epoch, &out_pager_);
  if (!s.ok()) return s;
  out_tree_ =
      std::make_shared<btree::TreeVersion>(out_pager_.get(), &icmp_, out_pager_->committed(), out_pager_->mapping());
  return Status::OK();
}

Status Repairer::merge_into_output_tree(InternalIterator* input) {
  input->seek_to_first();
  if (!input->valid()) return input->status();
  btree::MergeSpec spec;
  spec.smallest_snapshot = 0;  // every version is kept: no reader's view is decided here
  btree::MergeStats stats;
  std::shared_ptr<const btree::TreeVersion> result;
  Status s = btree::MergeIntoTree(out_tree_, input, spec, &result, &stats);
  if (!s.ok()) return s;
  out_tree_ = std::move(result);
  tree_epoch_ = out_tree_->meta().epoch;
  changed_ = true;
  return Status::OK();
}

Status Repairer::flush_tree_batch(std::vector<Entry>* batch, size_t* batch_bytes) {
  if (batch->empty()) return Status::OK();
  EntryIterator it(&icmp_, std::move(*batch));
  batch->clear();
  *batch_bytes = 0;
  return merge_into_output_tree(&it);
}

Status Repairer::check_or_salvage_tree() {
  const std::string fname = TreeFileName(dbname_);
  if (!env_->file_exists(fname)) {
    if (state_.tree_epoch != 0) {
      drop(fname + ": missing, but the MANIFEST names tree commit " + std::to_string(state_.tree_epoch) +
           "; the tree's entries are lost");
      state_.tree_epoch = 0;
      changed_ = true;
    }
    return Status::OK();
  }
  uint64_t epoch = state_.tree_epoch;
  if (tree_installed_) {
    // An interrupted repair switched its rebuilt tree in; a MANIFEST older
    // than that names a commit of the original, which is in lost/.
    changed_ = true;
  }
  if (!manifest_ok_ || tree_installed_) {
    Status s = read_tree_epoch_from_meta_pages(&epoch);
    if (!s.ok()) return s;
    if (epoch == 0) {
      drop(fname + ": no intact meta page; the tree's entries are lost");
      return move_to_lost(fname);
    }
  }
  if (epoch == 0) return Status::OK();  // an unrecorded first commit: the MANIFEST's empty tree is what opens
  VerifyReport scratch;
  Verifier verifier(env_, dbname_, &icmp_, table_options_, &scratch);
  btree::TreeMeta meta;
  meta.epoch = epoch;
  meta.page_size = options_.page_size;
  Status s =
      verifier.check_tree(meta, /*from_meta_page=*/true, [&](const std::shared_ptr<const btree::TreeVersion>& v) {
        meta = v->meta();
        if (manifest_ok_ && !tree_installed_) return Status::OK();
        // The MANIFEST's last sequence is gone: the tree's entries count too.
        auto it = btree::NewTreeIterator(v);
        for (it->seek_to_first(); it->valid(); it->next()) {
          ParsedInternalKey k;
          if (ParseInternalKey(it->key(), &k)) max_sequence_ = std::max(max_sequence_, k.sequence);
        }
        return it->status();
      });
  if (s.ok()) {
    report_->tree_kept = true;
    tree_epoch_ = epoch;
    return Status::OK();
  }
  if (!s.IsCorruption()) return s;
  return salvage_tree(meta);
}

Status Repairer::salvage_tree(const btree::TreeMeta& damaged_meta) {
  const std::string fname = TreeFileName(dbname_);
  drop(fname + ": tree commit " + std::to_string(damaged_meta.epoch) + " is damaged; salvaging its readable leaves");
  // The damaged file is copied aside first and read from that copy; the
  // fresh tree is built under a temporary name and replaces TREE at commit.
  std::string lost_name;
  Status s = copy_to_lost(fname, &lost_name);
  if (!s.ok()) return s;
  report_->tree_rebuilt = true;
  tree_replaced_ = true;
  tree_epoch_ = 0;

  btree::PagerOptions po;
  po.env = env_;
  po.fname = lost_name;
  po.page_size = damaged_meta.page_size != 0 ? damaged_meta.page_size : options_.page_size;
  po.cache = tree_cache_.get();
  po.mmap_size = 0;
  s = btree::BTreePager::Open(po, damaged_meta.epoch, &old_tree_pager_);
  if (s.IsCorruption()) {
    drop(fname + ": the meta page of commit " + std::to_string(damaged_meta.epoch) +
         " cannot be read; the tree's entries are lost (" + s.ToString() + ")");
    return Status::OK();
  }
  if (!s.ok()) return s;
  const btree::TreeMeta meta = old_tree_pager_->committed();
  old_tree_version_ = std::make_shared<btree::TreeVersion>(old_tree_pager_.get(), &icmp_, meta, nullptr);
  s = open_output_tree(TreeRepairName(dbname_), 0, old_tree_pager_->page_size());
  if (!s.ok()) return s;
  std::vector<Entry> batch;
  size_t batch_bytes = 0;
  std::string last_key;
  uint64_t salvaged = 0;
  if (meta.height > 0) s = salvage_subtree(meta.root, meta.height, &batch, &batch_bytes, &last_key, &salvaged);
  if (s.ok()) s = flush_tree_batch(&batch, &batch_bytes);
  if (!s.ok()) return s;
  report_->entries_salvaged += salvaged;
  if (meta.entries > salvaged) report_->entries_lost += meta.entries - salvaged;
  old_tree_version_.reset();
  old_tree_pager_.reset();
  return Status::OK();
}

// Walks the damaged commit from ref (a node of `height`; 1: a leaf) in key
// order. A page that fails its checks is skipped with everything under it;
// nothing from it is used.
Status Repairer::salvage_subtree(btree::PageRef ref, uint32_t height, std::vector<Entry>* batch, size_t* batch_bytes,
                                 std::string* last_key, uint64_t* salvaged) {
  const std::string fname = TreeFileName(dbname_);
  btree::BTreePager* pager = old_tree_pager_.get();
  btree::PageHandle page;
  btree::NodeReader node;
  const bool leaf = height == 1;
  Status s = pager->read(nullptr, ref, leaf ? btree::PageType::kLeaf : btree::PageType::kInternal, &page);
  if (s.ok()) s = node.init(page.payload(), leaf);
  if (!s.ok()) {
    if (!s.IsCorruption()) return s;
    drop(fname + ": tree page " + std::to_string(ref.page) +
         (leaf ? " (leaf)" : " (internal node) and the subtree under it") + ": " + s.ToString());
    return Status::OK();
  }
  std::string scratch;
  if (!leaf) {
    for (uint32_t i = 0; i < node.count(); i++) {
      btree::PageRef child;
      s = node.child(i, &child);
      if (s.ok()) {
        s = salvage_subtree(child, height - 1, batch, batch_bytes, last_key, salvaged);
        if (!s.ok()) return s;
      } else {
        drop(fname + ": tree page " + std::to_string(ref.page) + ", child " + std::to_string(i) + ": " + s.ToString());
      }
    }
    return Status::OK();
  }
  // A leaf's entries are used only if all of them decode (and their blobs
  // read): a page that checksums but does not parse is damaged as a whole.
  std::vector<Entry> entries;
  for (uint32_t i = 0; s.ok() && i < node.count(); i++) {
    const Slice key = node.key(i, &scratch);
    Slice value;
    btree::BlobRef blob;
    bool is_blob = false;
    s = node.leaf_value(i, &value, &blob, &is_blob);
    if (!s.ok()) break;
    ParsedInternalKey parsed;
    if (!ParseInternalKey(key, &parsed)) {
      s = Status::Corruption("malformed internal key");
      break;
    }
    if (!is_blob) {
      entries.emplace_back(key.ToString(), value.ToString());
      continue;
    }
    btree::PageHandle blob_page;
    Status bs = pager->read(nullptr, blob.ref, btree::PageType::kBlob, &blob_page);
    if (bs.ok() && blob_page.payload().size() != blob.size)
      bs = Status::Corruption("blob size differs from its reference");
    if (!bs.ok()) {
      if (!bs.IsCorruption()) return bs;
      // Only this entry's value is gone; the key's other versions stay.
      drop(fname + ": tree page " + std::to_string(blob.ref.page) + " (blob of an entry in leaf " +
           std::to_string(ref.page) + "): " + bs.ToString());
      continue;
    }
    entries.emplace_back(key.ToString(), blob_page.payload().ToString());
  }
  if (!s.ok()) {
    drop(fname + ": tree page " + std::to_string(ref.page) + " (leaf): " + s.ToString());
    return Status::OK();
  }
  for (auto& e : entries) {
    // Key order across leaves is what the damaged separators no longer
    // prove: an entry out of order is dropped, never merged.
    if (!last_key->empty() && icmp_.compare(Slice(e.first), Slice(*last_key)) <= 0) {
      drop(fname + ": tree page " + std::to_string(ref.page) + ": an entry out of key order");
      continue;
    }
    *last_key = e.first;
    *batch_bytes += e.first.size() + e.second.size();
    ParsedInternalKey parsed;
    if (ParseInternalKey(Slice(e.first), &parsed)) max_sequence_ = std::max(max_sequence_, parsed.sequence);
    batch->push_back(std::move(e));
    ++*salvaged;
  }
  if (*batch_bytes >= kTreeBatchBytes) return flush_tree_batch(batch, batch_bytes);
  return Status::OK();
}

// ---------------------------------------------------------------- tables

Status Repairer::open_table(uint64_t number, std::unique_ptr<Table>* table) {
  const std::string fname = TableFileName(dbname_, number);
  uint64_t size = 0;
  Status s = env_->get_file_size(fname, &size);
  if (!s.ok()) return s;
  std::unique_ptr<RandomAccessFile> file;
  s = env_->new_random_access_file(fname, &file);
  if (!s.ok()) return s;
  TableOptions options = table_options_;
  options.file_name = fname;
  return Table::open(options, std::move(file), size, nullptr, table);
}

Status Repairer::salvage_table(uint64_t number, std::vector<Entry>* entries, bool* damaged, bool* opened) {
  const std::string fname = TableFileName(dbname_, number);
  entries->clear();
  *damaged = false;
  *opened = false;
  std::unique_ptr<Table> table;
  Status s = open_table(number, &table);
  if (s.IsCorruption() || s.IsNotSupported() || s.IsInvalidArgument()) {
    drop(fname + ": cannot be opened, all of it is lost: " + s.ToString());
    *damaged = true;
    return Status::OK();
  }
  if (!s.ok()) return s;
  *opened = true;
  std::string last;
  s = table->salvage_blocks(
      [&](const Slice& ikey, const Slice& value) {
        ParsedInternalKey parsed;
        if (!ParseInternalKey(ikey, &parsed) || (!last.empty() && icmp_.compare(ikey, Slice(last)) <= 0)) {
          if (!*damaged) drop(fname + ": entries out of order or malformed, dropped");
          *damaged = true;
          return;
        }
        last = ikey.ToString();
        entries->emplace_back(last, value.ToString());
      },
      [&](uint64_t offset, const Status& why) {
        *damaged = true;
        drop(fname + ": data block at offset " + std::to_string(offset) + ": " + why.ToString());
      });
  return s;
}

Status Repairer::write_run(InternalIterator* input, int level, std::vector<ManifestState::Table>* out) {
  input->seek_to_first();
  if (!input->valid()) return input->status();
  SortedRunSpec spec;
  spec.env = env_;
  spec.dbname = dbname_;
  spec.table_options = table_options_;
  spec.smallest_snapshot = 0;  // every version is kept
  spec.new_file_number = [this] { return new_file_number(); };
  SortedRunResult result;
  Status s = WriteSortedRun(spec, input, &result);
  if (!s.ok()) return s;
  for (const auto& meta : result.outputs) out->push_back({level, meta});
  changed_ = true;
  return Status::OK();
}

Status Repairer::repair_listed_tables() {
  VerifyReport scratch;
  Verifier verifier(env_, dbname_, &icmp_, table_options_, &scratch);
  std::vector<ManifestState::Table> kept;
  std::vector<Entry> salvaged_l0;
  bool level0_damaged = false;
  for (const auto& t : state_.tables) {
    const std::string fname = TableFileName(dbname_, t.meta.number);
    Status s = verifier.check_table(t.meta);
    if (s.ok()) {
      kept.push_back(t);
      report_->tables_kept++;
      continue;
    }
    if (!s.IsCorruption() && !s.IsNotSupported()) return s;
    changed_ = true;
    if (!env_->file_exists(fname)) {
      drop(fname + ": listed in the MANIFEST but missing; its " + std::to_string(t.meta.num_entries) +
           " entries are lost");
      report_->tables_dropped++;
      report_->entries_lost += t.meta.num_entries;
      continue;
    }
    std::vector<Entry> entries;
    bool damaged = false, opened = false;
    s = salvage_table(t.meta.number, &entries, &damaged, &opened);
    if (!s.ok()) return s;
    if (!damaged) {
      // Every block reads, yet it disagrees with the MANIFEST (size, count,
      // first or last key): its entries are kept, in a table described anew.
      drop(fname + ": " + verifier.check_table(t.meta).ToString() + "; rewritten");
    }
    max_sequence_ = std::max(max_sequence_, t.meta.largest_sequence);
    report_->entries_salvaged += entries.size();
    if (t.meta.num_entries > entries.size()) report_->entries_lost += t.meta.num_entries - entries.size();
    if (entries.empty()) {
      report_->tables_dropped++;
    } else {
      report_->tables_salvaged++;
    }
    s = copy_to_lost(fname);
    if (!s.ok()) return s;
    obsolete_tables_.push_back(t.meta.number);
    if (t.level == 0) {
      level0_damaged = true;
      salvaged_l0.insert(salvaged_l0.end(), std::make_move_iterator(entries.begin()),
                         std::make_move_iterator(entries.end()));
      continue;
    }
    // Within the original's key range, so the level stays disjoint.
    EntryIterator it(&icmp_, std::move(entries));
    s = write_run(&it, t.level, &kept);
    if (!s.ok()) return s;
  }
  state_.tables = kept;
  if (!level0_damaged) return Status::OK();
  // Level 0 is read newest file first, so a salvaged table cannot simply
  // take a new (highest) number: every level-0 table, intact and salvaged,
  // is merged into one run, where sequence numbers order the versions.
  std::sort(salvaged_l0.begin(), salvaged_l0.end(),
            [&](const Entry& a, const Entry& b) { return icmp_.compare(Slice(a.first), Slice(b.first)) < 0; });
  salvaged_l0.erase(
      std::unique(salvaged_l0.begin(), salvaged_l0.end(),
                  [&](const Entry& a, const Entry& b) { return icmp_.compare(Slice(a.first), Slice(b.first)) == 0; }),
      salvaged_l0.end());
  std::vector<std::unique_ptr<Table>> tables;
  std::vector<std::unique_ptr<InternalIterator>> children;
  std::vector<ManifestState::Table> others;
  for (const auto& t : state_.tables) {
    if (t.level != 0) {
      others.push_back(t);
      continue;
    }
    std::unique_ptr<Table> table;
    Status s = open_table(t.meta.number, &table);
    if (!s.ok()) return s;
    children.push_back(table->new_iterator(/*verify_checksums=*/true));
    tables.push_back(std::move(table));
    obsolete_tables_.push_back(t.meta.number);
  }
  children.push_back(std::make_unique<EntryIterator>(&icmp_, std::move(salvaged_l0)));
  DistinctIterator input(&icmp_, NewMergingIterator(&icmp_, std::move(children)));
  Status s = write_run(&input, 0, &others);
  if (!s.ok()) return s;
  state_.tables = std::move(others);
  // The intact level-0 tables live on in the merged run: they are removed
  // once the new MANIFEST is durable.
  return Status::OK();
}

// The MANIFEST is gone, so which level a table was at (and whether it was
// still live) is unknown. Every table found is merged into the tree, where
// versions are ordered by sequence number alone: the newest version of
// every key wins wherever it came from.
Status Repairer::merge_found_tables_into_tree() {
  std::vector<std::unique_ptr<Table>> tables;
  std::vector<std::unique_ptr<InternalIterator>> children;
  for (uint64_t number : found_tables_) {
    const std::string fname = TableFileName(dbname_, number);
    std::vector<Entry> entries;
    bool damaged = false, opened = false;
    Status s = salvage_table(number, &entries, &damaged, &opened);
    if (!s.ok()) return s;
    for (const auto& e : entries) {
      ParsedInternalKey parsed;
      if (ParseInternalKey(Slice(e.first), &parsed)) max_sequence_ = std::max(max_sequence_, parsed.sequence);
    }
    if (!damaged) {
      // Intact: merged straight from the file.
      std::unique_ptr<Table> table;
      s = open_table(number, &table);
      if (!s.ok()) return s;
      children.push_back(table->new_iterator(/*verify_checksums=*/true));
      tables.push_back(std::move(table));
      obsolete_tables_.push_back(number);
      report_->tables_kept++;
      continue;
    }
    report_->entries_salvaged += entries.size();
    if (entries.empty()) {
      report_->tables_dropped++;
    } else {
      report_->tables_salvaged++;
      children.push_back(std::make_unique<EntryIterator>(&icmp_, std::move(entries)));
    }
    s = copy_to_lost(fname);
    if (!s.ok()) return s;
    obsolete_tables_.push_back(number);
  }
  if (!children.empty()) {
    if (out_tree_ == nullptr) {
      const uint32_t page_size = old_tree_pager_ != nullptr ? old_tree_pager_->page_size() : options_.page_size;
      // A tree being rebuilt takes the tables; an intact one takes them in
      // place, by copy-on-write commits of its own (a crash leaves its
      // previous commit, and the tables, intact).
      Status s = tree_replaced_ ? open_output_tree(TreeRepairName(dbname_), tree_epoch_, page_size)
                                : open_output_tree(TreeFileName(dbname_), tree_epoch_, page_size);
      if (!s.ok()) return s;
    }
    DistinctIterator input(&icmp_, NewMergingIterator(&icmp_, std::move(children)));
    Status s = merge_into_output_tree(&input);
    if (!s.ok()) return s;
  }
  // Their entries are in the tree now: the intact originals are removed
  // once the new MANIFEST is durable.
  return Status::OK();
}

// ---------------------------------------------------------------- logs

Status Repairer::repair_logs() {
  SequenceNumber last = max_sequence_;
  for (uint64_t number : found_logs_) {
    if (manifest_ok_ && number < state_.log_number) continue;
    const std::string fname = LogFileName(dbname_, number);
    std::unique_ptr<wal::WalReader> reader;
    Status s = wal::WalReader::open(env_, fname, number, &reader);
    if (s.IsNotSupported()) return s;
    if (!s.ok()) return s;
    std::vector<std::pair<uint64_t, std::string>> records;
    bool needs_rewrite = false;
    Slice payload;
    uint64_t sequence = 0;
    WriteBatch batch;
    for (;;) {
      while (reader->read_record(&payload, &sequence)) {
        if (sequence <= last || sequence > kMaxSequenceNumber) {
          // Already in a table (a log the lost MANIFEST had retired), or out
          // of order: either way not replayable after what precedes it.
          if (manifest_ok_) {
            report_->wal_records_dropped++;
            drop(fname + ": record with sequence " + std::to_string(sequence) + " does not follow " +
                 std::to_string(last));
          }
          needs_rewrite = true;
          continue;
        }
        if (!WriteBatchInternal::set_contents(&batch, payload).ok()) {
          report_->wal_records_dropped++;
          drop(fname + ": record with sequence " + std::to_string(sequence) + " is not a valid write batch");
          needs_rewrite = true;
          continue;
        }
        const uint32_t n = WriteBatchInternal::count(batch);
        if (n > 0) last = sequence + n - 1;
        records.emplace_back(sequence, payload.ToString());
      }
      if (reader->end() == wal::WalReader::End::kIOError) return reader->io_status();
      if (reader->end() != wal::WalReader::End::kCorruption) break;
      drop(fname + " at offset " + std::to_string(reader->damage_offset()) + ": " + reader->damage_reason());
      needs_rewrite = true;
      reader->skip_damage();
    }
    report_->wal_records_kept += records.size();
    reader.reset();
    if (!needs_rewrite) continue;  // a torn tail is left for open, which truncates it
    // The original is copied aside, the rewrite built under a temporary
    // name and renamed over it: at every instant the log's name holds one
    // of the two whole.
    s = copy_to_lost(fname);
    if (!s.ok()) return s;
    const std::string rewrite = fname + kRepairSuffix;
    std::unique_ptr<wal::WalWriter> writer;
    s = wal::WalWriter::create(env_, rewrite, number, &writer);
    for (size_t i = 0; s.ok() && i < records.size(); i++) s = writer->add_record(records[i].first, records[i].second);
    if (s.ok()) s = writer->sync();
    if (s.ok()) s = writer->close();
    writer.reset();
    if (s.ok()) s = env_->rename_file(rewrite, fname);
    if (s.ok()) s = env_->sync_dir(dbname_);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

// ---------------------------------------------------------------- driver

Status Repairer::commit() {
  const std::string tree = TreeFileName(dbname_);
  const std::string marker = TreeInstalledMarkerName(dbname_);
  Status s;
  if (tree_replaced_) {
    // The original is in lost/ already. The marker tells a repair run after
    // a crash from here on that TREE may be the rebuilt tree, which an older
    // MANIFEST does not name.
    s = WriteStringToFile(env_, Slice(), marker, /*sync=*/true);
    if (s.ok()) s = env_->sync_dir(dbname_);
    if (!s.ok()) return s;
    const std::string rebuilt = TreeRepairName(dbname_);
    if (env_->file_exists(rebuilt)) {
      s = env_->rename_file(rebuilt, tree);
    } else if (env_->file_exists(tree)) {
      s = env_->remove_file(tree);  // nothing of it was readable: the new MANIFEST names the empty tree
    }
    if (s.ok()) s = env_->sync_dir(dbname_);
    if (!s.ok()) return s;
  }
  state_.tree_epoch = tree_epoch_;
  state_.next_file_number = std::max(state_.next_file_number, next_file_number_);
  state_.last_sequence = max_sequence_;
  if (!manifest_ok_) state_.log_number = 0;  // every log found was checked (and rewritten) above
  s = WriteManifest(env_, dbname_, state_);  // the commit point
  if (!s.ok()) return s;
  bool removed = false;
  for (uint64_t number : obsolete_tables_) {
    const std::string fname = TableFileName(dbname_, number);
    if (!env_->file_exists(fname)) continue;
    s = env_->remove_file(fname);
    if (!s.ok()) return s;
    removed = true;
  }
  if (env_->file_exists(marker)) {
    s = env_->remove_file(marker);
    if (!s.ok()) return s;
    removed = true;
  }
  return removed ? env_->sync_dir(dbname_) : Status::OK();
}

Status Repairer::run() {
  Status s = clean_up_interrupted_repair();
  if (!s.ok()) return s;
  s = find_files();
  if (!s.ok()) return s;
  const std::string manifest = ManifestFileName(dbname_);
  s = ReadManifest(env_, dbname_, &state_);
  if (s.ok()) {
    if (state_.comparator_name != icmp_.user_comparator()->name()) {
      return Status::InvalidArgument(dbname_, "the database was created with comparator '" + state_.comparator_name +
                                                  "', not '" + icmp_.user_comparator()->name() + "'");
    }
    manifest_ok_ = true;
    next_file_number_ = std::max(next_file_number_, state_.next_file_number);
    max_sequence_ = state_.last_sequence;
    for (const auto& t : state_.tables) max_sequence_ = std::max(max_sequence_, t.meta.largest_sequence);
  } else if (s.IsNotSupported()) {
    return s;
  } else if (s.IsCorruption() || s.IsNotFound()) {
    report_->manifest_rebuilt = true;
    drop(manifest + (s.IsNotFound() ? ": missing" : ": " + s.ToString()) + "; rebuilt from the files found");
    if (env_->file_exists(manifest)) {
      s = move_to_lost(manifest);
      if (!s.ok()) return s;
    }
    state_ = ManifestState();
    state_.comparator_name = icmp_.user_comparator()->name();
    changed_ = true;
  } else {
    return s;
  }

  s = check_or_salvage_tree();
  if (!s.ok()) return s;
  if (manifest_ok_) {
    s = repair_listed_tables();
  } else {
    s = merge_found_tables_into_tree();
  }
  if (!s.ok()) return s;
  // Release the tree before the logs: nothing below reads it.
  out_tree_.reset();
  out_pager_.reset();
  s = repair_logs();
  if (!s.ok()) return s;
  if (!changed_) return Status::OK();
  return commit();
}

}  // namespace

Status RepairDatabase(const std::string& path, const Options& options, RepairReport* report) {
  RepairReport local;
  if (report == nullptr) report = &local;
  *report = RepairReport();
  return NoThrow([&]() -> Status {
    Env* env = options.env != nullptr ? options.env : Env::Default();
    bool is_dir = false;
    Status s = env->is_directory(path, &is_dir);
    if (s.IsNotFound()) return Status::NotFound(path, "no database here");
    if (!s.ok()) return s;
    if (!is_dir) return Status::InvalidArgument(path, "not a directory");
    std::vector<std::string> children;
    s = env->get_children(path, &children);
    if (!s.ok()) return s;
    bool any = false;
    for (const auto& name : children) {
      uint64_t number = 0;
      const FileType type = ParseFileName(name, &number);
      if (type == FileType::kManifest || type == FileType::kTable || type == FileType::kLog ||
          type == FileType::kTree) {
        any = true;
      }
    }
    if (!any) return Status::NotFound(path, "no database files here (no MANIFEST, tables, logs or tree)");
    std::unique_ptr<FileLock> lock;
    s = env->lock_file(LockFileName(path), &lock);
    if (!s.ok()) return s;
    {
      Repairer repairer(env, path, options, report);
      s = repairer.run();
    }
    Status us = env->unlock_file(std::move(lock));
    if (s.ok()) s = us;
    return s;
  });
}

}  // namespace lightning
