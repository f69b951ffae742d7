// Copyright (c) Lightning authors. MIT License.
#include "btree/pager.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <new>
#include <thread>

#include "util/coding.h"

namespace lightning {
namespace btree {

namespace {

// One verified extent in the cache. Uncompressed extents read through the
// mapping are not copied: the entry only records that the bytes were
// verified, and keeps the mapping alive.
struct CachedExtent {
  std::shared_ptr<const MappedRegion> map;
  std::string owned;
  Slice payload;
  uint32_t page_count = 0;
};

void DeleteCachedExtent(const Slice& /*key*/, void* value) { delete static_cast<CachedExtent*>(value); }

// Bytes a cached view into the mapping costs the process (entry, key, node).
constexpr size_t kMappedViewCharge = 160;

}  // namespace

PageHandle& PageHandle::operator=(PageHandle&& o) noexcept {
  if (this != &o) {
    reset();
    cache_ = o.cache_;
    handle_ = o.handle_;
    payload_ = o.payload_;
    page_count_ = o.page_count_;
    o.cache_ = nullptr;
    o.handle_ = nullptr;
    o.payload_ = Slice();
  }
  return *this;
}

void PageHandle::reset() {
  if (handle_ != nullptr) cache_->release(handle_);
  handle_ = nullptr;
  cache_ = nullptr;
  payload_ = Slice();
}

BTreePager::BTreePager(const PagerOptions& options)
    : options_(options), verified_(new std::atomic<std::atomic<uint64_t>*>[kVerifiedChunks]()) {}

BTreePager::~BTreePager() {
  if (file_ != nullptr) (void)file_->close();
  for (size_t i = 0; i < kVerifiedChunks; i++) delete[] verified_[i].load(std::memory_order_relaxed);
}

uint64_t BTreePager::in_place_reads() const {
  uint64_t sum = 0;
  for (const Stripe& s : in_place_) sum += s.n.load(std::memory_order_relaxed);
  return sum;
}

// Verified pages. A raw extent read through the mapping skips its checksum
// when its slot holds its epoch + 1, which is recorded once its bytes are
// known intact in this process:
//   - a reader checksummed it through the mapping (read()), or
//   - this pager wrote it, from a buffer EncodeExtent checksummed, and the
//     commit that wrote it succeeded (both syncs): the page cache then holds
//     exactly those bytes, which is all a checksum through the mapping would
//     have established.
// Either way the trust is per process: the table starts empty at open, so
// after a reopen (or a crash) every page is checksummed on its first read.
// Like any verify-once cache it does not re-detect bytes changed afterwards
// under the mapping (another process writing the file, or the device
// returning different bytes after the page cache dropped them). A slot is
// keyed by the extent's first page and its epoch, and the header (type,
// epoch, compression, page count) is still decoded on every read, so a page
// reused by a later commit is verified afresh; a rolled-back transaction
// clears the slots of the extents it wrote.
std::atomic<uint64_t>* BTreePager::verified_slot(uint64_t page, bool create) const {
  const uint64_t chunk = page >> kVerifiedChunkBits;
  if (chunk >= kVerifiedChunks) return nullptr;
  std::atomic<uint64_t>* slots = verified_[chunk].load(std::memory_order_acquire);
  if (slots == nullptr) {
    if (!create) return nullptr;
    // No exception: a commit records its extents after its meta page is
    // durable, where it must not fail; without a slot, reads verify again.
    auto* fresh = new (std::nothrow) std::atomic<uint64_t>[size_t{1} << kVerifiedChunkBits]();
    if (fresh == nullptr) return nullptr;
    if (verified_[chunk].compare_exchange_strong(slots, fresh, std::memory_order_acq_rel)) {
      slots = fresh;
    } else {
      delete[] fresh;  // another reader installed one first
    }
  }
  return &slots[page & ((uint64_t{1} << kVerifiedChunkBits) - 1)];
}

Status BTreePager::Open(const PagerOptions& options, uint64_t epoch, std::unique_ptr<BTreePager>* result) {
  result->reset();
  if (options.cache == nullptr) return Status::InvalidArgument("BTreePager", "needs a cache (capacity 0 is fine)");
  std::unique_ptr<BTreePager> pager(new BTreePager(options));
  Status s = pager->load(epoch);
  if (s.ok()) *result = std::move(pager);
  return s;
}

Status BTreePager::OpenCommit(const PagerOptions& options, const TreeMeta& meta,
                              std::unique_ptr<BTreePager>* result) {
  result->reset();
  if (options.cache == nullptr) return Status::InvalidArgument("BTreePager", "needs a cache (capacity 0 is fine)");
  if (meta.page_size < kMinPageSize || meta.page_size > kMaxPageSize || (meta.page_size & (meta.page_size - 1)) != 0) {
    return Status::InvalidArgument(options.fname, "bad page size " + std::to_string(meta.page_size));
  }
  std::unique_ptr<BTreePager> pager(new BTreePager(options));
  pager->page_size_ = meta.page_size;
  pager->cache_id_ = options.cache->new_id();
  Status s = options.env->new_random_rw_file(options.fname, &pager->file_);
  uint64_t size = 0;
  if (s.ok()) s = options.env->get_file_size(options.fname, &size);
  if (!s.ok()) return s;
  if (size < meta.num_pages * meta.page_size) {
    return Status::Corruption(options.fname, "has " + std::to_string(size) + " bytes; tree commit " +
                                                 std::to_string(meta.epoch) + " uses " +
                                                 std::to_string(meta.num_pages * meta.page_size));
  }
  pager->file_size_.store(size, std::memory_order_release);
  {
    port::MutexLock l(&pager->mu_);
    pager->committed_ = meta;
    s = pager->remap_if_needed(meta.num_pages);
    if (s.ok() && !meta.free_list.null()) s = pager->load_free_list(meta);
  }
  if (s.ok()) *result = std::move(pager);
  return s;
}

Status BTreePager::read_raw(uint64_t offset, size_t n, std::string* buf) const {
  buf->resize(n);
  Slice got;
  Status s = file_->read(offset, n, &got, &(*buf)[0]);
  if (!s.ok()) return s;
  if (got.size() != n) {
    return Status::Corruption(options_.fname, "truncated: " + std::to_string(n) + " bytes at offset " +
                                                  std::to_string(offset) + " are past the end");
  }
  if (got.data() != buf->data()) std::memcpy(&(*buf)[0], got.data(), n);
  return Status::OK();
}

Status BTreePager::load(uint64_t epoch) {
  page_size_ = options_.page_size;
  cache_id_ = options_.cache->new_id();
  bool file_exists = options_.env->file_exists(options_.fname);
  TreeMeta chosen;
  chosen.page_size = page_size_;
  if (!file_exists) {
    if (epoch != 0) {
      return Status::Corruption(options_.fname, "missing, but the MANIFEST records tree commit " +
                                                    std::to_string(epoch));
    }
  } else {
    Status s = options_.env->new_random_rw_file(options_.fname, &file_);
    uint64_t size = 0;
    if (s.ok()) s = options_.env->get_file_size(options_.fname, &size);
    if (!s.ok()) return s;
    file_size_.store(size, std::memory_order_release);
    // Slot 0 tells the page size; if it is damaged, try slot 1 at every
    // possible page size.
    std::string buf;
    TreeMeta metas[2];
    Status meta_status[2];
    meta_status[0] = read_raw(0, kMinPageSize, &buf);
    if (meta_status[0].ok()) meta_status[0] = DecodeMetaPage(buf.data(), buf.size(), 0, &metas[0]);
    std::vector<uint32_t> sizes;
    if (meta_status[0].ok()) {
      sizes.push_back(metas[0].page_size);
    } else {
      for (uint32_t ps = kMinPageSize; ps <= kMaxPageSize; ps *= 2) sizes.push_back(ps);
    }
    meta_status[1] = Status::Corruption(options_.fname, "no valid meta page in slot 1");
    for (uint32_t ps : sizes) {
      Status r = read_raw(ps, kMinPageSize, &buf);
      if (r.ok()) r = DecodeMetaPage(buf.data(), buf.size(), 1, &metas[1]);
      if (r.ok() && metas[1].page_size == ps) {
        meta_status[1] = r;
        break;
      }
    }
    bool found = false;
    for (int slot = 0; slot < 2; ++slot) {
      if (meta_status[slot].ok() && metas[slot].epoch == epoch) {
        chosen = metas[slot];
        found = true;
      }
    }
    // Commit 1 may be whole (its meta page in slot 1) without the MANIFEST
    // having recorded it; then, as after any commit, the previous one -- the
    // empty tree -- must still open. A commit after 1 means the file is not
    // the one the MANIFEST describes.
    const bool past_first = (meta_status[0].ok() && metas[0].epoch > 1) || (meta_status[1].ok() && metas[1].epoch > 1);
    if (!found) {
      if (epoch == 0 && !past_first) {
        // Created, but the first commit never completed (or was never
        // recorded): start afresh, at that commit's page size if it has one,
        // so that the next commit 1 overwrites its meta page.
        if (meta_status[1].ok()) page_size_ = metas[1].page_size;
        chosen.page_size = page_size_;
        file_exists = false;
        file_.reset();
      } else {
        std::string why = "no meta page holds tree commit " + std::to_string(epoch) + " (slot 0: " +
                          (meta_status[0].ok() ? "commit " + std::to_string(metas[0].epoch)
                                               : meta_status[0].ToString()) +
                          "; slot 1: " +
                          (meta_status[1].ok() ? "commit " + std::to_string(metas[1].epoch)
                                               : meta_status[1].ToString()) +
                          ")";
        return Status::Corruption(options_.fname, why);
      }
    } else {
      page_size_ = chosen.page_size;
    }
  }
  chosen.epoch = epoch;
  port::MutexLock l(&mu_);
  committed_ = chosen;
  if (file_exists) {
    Status s = load_free_list(chosen);
    if (!s.ok()) return s;
    return remap_if_needed(chosen.num_pages);
  }
  return Status::OK();
}

Status BTreePager::load_free_list(const TreeMeta& meta) {
  mu_.assert_held();
  reusable_.clear();
  if (meta.free_list.null()) return Status::OK();
  PageHandle h;
  Status s = read(nullptr, meta.free_list, PageType::kFreeList, &h);
  if (!s.ok()) return s;
  Slice in = h.payload();
  uint64_t n = 0, prev_end = 2, total = 0;
  bool ok = GetVarint64(&in, &n);
  for (uint64_t i = 0; ok && i < n; ++i) {
    uint64_t gap = 0, count = 0;
    ok = GetVarint64(&in, &gap) && GetVarint64(&in, &count) && count > 0;
    const uint64_t start = prev_end + gap;
    ok = ok && start + count <= meta.num_pages && start >= prev_end;
    if (ok) {
      add_extent(&reusable_, start, count);
      prev_end = start + count;
      total += count;
    }
  }
  if (!ok || total != meta.free_pages) {
    return Status::Corruption(options_.fname, "free list of tree commit " + std::to_string(meta.epoch) +
                                                  " is malformed");
  }
  return Status::OK();
}

void BTreePager::add_extent(std::map<uint64_t, uint64_t>* set, uint64_t page, uint64_t count) {
  auto next = set->lower_bound(page);
  // Merge with the extent that ends where this one starts, and the one that
  // starts where it ends.
  if (next != set->begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == page) {
      page = prev->first;
      count += prev->second;
      set->erase(prev);
    }
  }
  if (next != set->end() && page + count == next->first) {
    count += next->second;
    set->erase(next);
  }
  (*set)[page] = count;
}

TreeMeta BTreePager::committed() const {
  port::MutexLock l(&mu_);
  return committed_;
}

std::shared_ptr<const MappedRegion> BTreePager::mapping() const {
  port::MutexLock l(&mu_);
  return map_;
}

Status BTreePager::remap_if_needed(uint64_t num_pages) {
  if (options_.mmap_size == 0 || file_ == nullptr) return Status::OK();
  const uint64_t need = num_pages * page_size_;
  if (map_ != nullptr && map_->size() >= need) return Status::OK();
  uint64_t len = std::max<uint64_t>(options_.mmap_size, map_ != nullptr ? map_->size() * 2 : 0);
  while (len < need) len *= 2;
  std::unique_ptr<MappedRegion> region;
  Status s = options_.env->map_file(options_.fname, len, &region);
  if (s.IsNotSupported()) return Status::OK();  // read with pread instead
  if (!s.ok()) return s;
  // Readers holding the old mapping keep it alive until they finish.
  map_ = std::shared_ptr<const MappedRegion>(std::move(region));
  return Status::OK();
}

void BTreePager::pin(uint64_t epoch) {
  port::MutexLock l(&mu_);
  ++pinned_[epoch];
}

void BTreePager::unpin(uint64_t epoch) {
  port::MutexLock l(&mu_);
  auto it = pinned_.find(epoch);
  if (it != pinned_.end() && --it->second == 0) pinned_.erase(it);
}

void BTreePager::cache_key(PageRef ref, char (&key)[24]) const {
  EncodeFixed64(key, cache_id_);
  EncodeFixed64(key + 8, ref.page);
  EncodeFixed64(key + 16, ref.epoch);
}

void BTreePager::extend_file_size(uint64_t end) {
  if (end > file_size_.load(std::memory_order_relaxed)) file_size_.store(end, std::memory_order_release);
}

Status BTreePager::read(const std::shared_ptr<const MappedRegion>& map, PageRef ref, PageType type, PageHandle* out) const {
  out->reset();
  // An uncompressed extent in the mapping is used in place, without the
  // cache or any lock: if it was verified at this epoch before, only its
  // header is decoded; otherwise (a first read: a full scan after a
  // compaction reads every leaf this way once) it is verified now and
  // recorded. (The caller holds the mapping, through its TreeVersion, while
  // it uses the page.)
  if (map != nullptr && ref.page >= 2) {
    const uint64_t offset = ref.page * page_size_;
    const uint64_t mapped = std::min<uint64_t>(map->size(), file_size_.load(std::memory_order_acquire));
    PageHeader header;
    if (offset + page_size_ <= mapped && DecodePageHeader(map->data() + offset, page_size_, ref.page, &header).ok() &&
        header.epoch == ref.epoch && header.type == type && header.compression == CompressionType::kNone &&
        offset + uint64_t{header.page_count} * page_size_ <= mapped) {
      std::atomic<uint64_t>* slot = verified_slot(ref.page, true);
      bool verified = false;
      if (slot != nullptr && slot->load(std::memory_order_acquire) == ref.epoch + 1) {
        static thread_local const size_t stripe = std::hash<std::thread::id>()(std::this_thread::get_id()) % kStripes;
        in_place_[stripe].n.fetch_add(1, std::memory_order_relaxed);
        verified = true;
      } else if (slot != nullptr && VerifyExtent(map->data() + offset, header, page_size_).ok()) {
        slot->store(ref.epoch + 1, std::memory_order_release);
        in_place_verifications_.fetch_add(1, std::memory_order_relaxed);
        verified = true;
      }
      if (verified) {
        out->payload_ = Slice(map->data() + offset + kPageHeaderSize, header.payload_size);
        out->page_count_ = header.page_count;
        return Status::OK();
      }
      // No slot (out of memory), or damage: the path below reports it.
    }
  }
  char key[24];
  cache_key(ref, key);
  Cache* cache = options_.cache;
  Cache::Handle* h = cache->lookup(Slice(key, sizeof(key)));
  if (h == nullptr) {
    const std::string where = "tree page " + std::to_string(ref.page);
    if (ref.page < 2) return Status::Corruption(where, "a node refers to a meta page");
    std::unique_ptr<CachedExtent> e(new CachedExtent);
    const uint64_t offset = ref.page * page_size_;
    // The mapping may extend past the end of the file, where reading faults.
    const uint64_t file_size = file_size_.load(std::memory_order_acquire);
    const uint64_t mapped = map != nullptr ? std::min<uint64_t>(map->size(), file_size) : 0;
    const char* data = nullptr;
    PageHeader header;
    Status s;
    if (offset + page_size_ <= mapped) {
      s = DecodePageHeader(map->data() + offset, page_size_, ref.page, &header);
      if (s.ok() && offset + uint64_t{header.page_count} * page_size_ <= mapped) {
        data = map->data() + offset;
      }
    }
    if (data == nullptr) {
      s = read_raw(offset, page_size_, &e->owned);
      if (s.ok()) s = DecodePageHeader(e->owned.data(), page_size_, ref.page, &header);
      // The page count is not verified yet: check it against the file
      // before making room for that many pages.
      if (s.ok() && offset + uint64_t{header.page_count} * page_size_ > file_size) {
        s = Status::Corruption(where, "extent of " + std::to_string(header.page_count) +
                                          " pages runs past the end of the file");
      }
      if (s.ok() && header.page_count > 1) s = read_raw(offset, size_t{header.page_count} * page_size_, &e->owned);
      data = e->owned.data();
    }
    if (!s.ok()) return s;
    s = VerifyExtent(data, header, page_size_);
    if (!s.ok()) return s;
    if (header.epoch != ref.epoch) {
      return Status::Corruption(where, "written by tree commit " + std::to_string(header.epoch) +
                                           ", but its parent expects commit " + std::to_string(ref.epoch) +
                                           " (a lost or misdirected write)");
    }
    if (header.type != type) {
      return Status::Corruption(where, std::string("is a ") + PageTypeName(header.type) + " page, expected " +
                                           PageTypeName(type));
    }
    const Slice stored(data + kPageHeaderSize, header.payload_size);
    size_t charge;
    if (header.compression != CompressionType::kNone) {
      std::string raw;
      s = UncompressBlock(header.compression, stored, &raw);
      if (!s.ok()) return Status::Corruption(where, "payload does not decompress: " + s.ToString());
      e->owned.swap(raw);
      e->owned.shrink_to_fit();
      e->payload = Slice(e->owned);
      charge = e->owned.size() + sizeof(CachedExtent);
    } else if (data == e->owned.data()) {
      e->payload = stored;
      charge = e->owned.size() + sizeof(CachedExtent);
    } else {
      // Mapped and verified, but the in-place path above had no slot to
      // record it in (out of memory): cache a view of the mapping instead.
      e->map = map;
      e->payload = stored;
      charge = kMappedViewCharge;
    }
    e->page_count = header.page_count;
    h = cache->insert(Slice(key, sizeof(key)), e.release(), charge, &DeleteCachedExtent);
  }
  auto* e = static_cast<CachedExtent*>(cache->value(h));
  out->cache_ = cache;
  out->handle_ = h;
  out->payload_ = e->payload;
  out->page_count_ = e->page_count;
  return Status::OK();
}

std::unique_ptr<BTreePager::Transaction> BTreePager::begin() {
  std::unique_ptr<Transaction> t(new Transaction(this));
  port::MutexLock l(&mu_);
  t->meta_ = committed_;
  t->meta_.epoch = committed_.epoch + 1;
  // Extents freed by commit E become reusable once no reader older than E is
  // left (the commit being begun is > E by construction).
  const uint64_t oldest_reader = pinned_.empty() ? UINT64_MAX : pinned_.begin()->first;
  auto keep = pending_.begin();
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (it->epoch <= oldest_reader) {
      add_extent(&reusable_, it->page, it->count);
    } else {
      *keep++ = *it;
    }
  }
  pending_.erase(keep, pending_.end());
  t->reusable_ = reusable_;
  return t;
}

BTreePager::Transaction::Transaction(BTreePager* pager) : pager_(pager) {}

BTreePager::Transaction::~Transaction() {
  if (!done_) {
    // Rolled back. The merge may have read some of its extents (its root)
    // through the cache; the next transaction writes other content under the
    // same (page, epoch) keys.
    char key[24];
    for (const Written& w : written_) {
      const PageRef& ref = w.ref;
      pager_->cache_key(ref, key);
      pager_->options_.cache->erase(Slice(key, sizeof(key)));
      if (std::atomic<uint64_t>* slot = pager_->verified_slot(ref.page, false)) {
        uint64_t verified = ref.epoch + 1;
        slot->compare_exchange_strong(verified, 0, std::memory_order_acq_rel);
      }
    }
  }
}

uint64_t BTreePager::Transaction::allocate(uint32_t pages) {
  // First fit among the free extents; the file grows only when none fits.
  for (auto it = reusable_.begin(); it != reusable_.end(); ++it) {
    if (it->second >= pages) {
      const uint64_t page = it->first, count = it->second;
      reusable_.erase(it);
      if (count > pages) reusable_[page + pages] = count - pages;
      return page;
    }
  }
  const uint64_t page = meta_.num_pages;
  meta_.num_pages += pages;
  return page;
}

Status BTreePager::Transaction::write(PageType type, const Slice& payload, CompressionType compression,
                                      PageRef* ref, uint32_t* pages_used) {
  BTreePager* p = pager_;
  if (p->file_ == nullptr) {
    Status s = p->options_.env->new_random_rw_file(p->options_.fname, &p->file_);
    if (!s.ok()) return s;
  }
  PageHeader h;
  h.type = type;
  h.compression = compression;
  const Slice& stored = payload;
  h.page_count = PagesForPayload(stored.size(), p->page_size_);
  h.epoch = meta_.epoch;
  h.page = allocate(h.page_count);
  Status s = write_extent(h, stored);
  if (!s.ok()) return s;
  ref->page = h.page;
  ref->epoch = h.epoch;
  *pages_used = h.page_count;
  return Status::OK();
}

Status BTreePager::Transaction::write_extent(const PageHeader& h, const Slice& payload) {
  BTreePager* p = pager_;
  std::string extent;
  EncodeExtent(h, payload, p->page_size_, &extent);
  written_.push_back(Written{PageRef{h.page, h.epoch}, h.page_count, h.compression == CompressionType::kNone});
  Status s = p->file_->write(h.page * p->page_size_, extent);
  if (!s.ok()) return s;
  p->extend_file_size(h.page * p->page_size_ + extent.size());
  p->bytes_written_.fetch_add(extent.size(), std::memory_order_relaxed);
  pages_written_ += h.page_count;
  return Status::OK();
}

void BTreePager::Transaction::free(uint64_t page, uint32_t page_count) { freed_.emplace_back(page, page_count); }

Status BTreePager::Transaction::commit(const TreeMeta& fields) {
  BTreePager* p = pager_;
  TreeMeta m = fields;
  m.epoch = meta_.epoch;
  m.page_size = p->page_size_;
  std::vector<Pending> pending;
  {
    port::MutexLock l(&p->mu_);
    pending = p->pending_;
    if (!p->committed_.free_list.null()) {
      // The old free list is itself freed by this commit. Its page count is
      // recorded in its header; read it.
      PageHandle old;
      Status s = p->read(p->map_, p->committed_.free_list, PageType::kFreeList, &old);
      if (!s.ok()) return s;
      freed_.emplace_back(p->committed_.free_list.page, old.page_count());
    }
  }
  // Everything free as of the new commit: still-reusable extents, pending
  // ones, and the ones freed now. Encoding the list needs an extent of its
  // own, taken from the reusable ones (which shrinks the list) or the end.
  auto encode = [&](std::string* out, uint64_t* total) {
    std::map<uint64_t, uint64_t> all = reusable_;
    for (const Pending& e : pending) add_extent(&all, e.page, e.count);
    for (const auto& e : freed_) add_extent(&all, e.first, e.second);
    out->clear();
    PutVarint64(out, all.size());
    uint64_t prev_end = 2;
    *total = 0;
    for (const auto& e : all) {
      PutVarint64(out, e.first - prev_end);
      PutVarint64(out, e.second);
      prev_end = e.first + e.second;
      *total += e.second;
    }
  };
  std::string list;
  uint64_t total = 0;
  encode(&list, &total);
  PageRef list_ref;
  if (total > 0) {
    // The list's own extent comes from the reusable extents (or the end),
    // which changes the list a little: reserve room, then encode for real.
    if (p->file_ == nullptr) {
      Status s = p->options_.env->new_random_rw_file(p->options_.fname, &p->file_);
      if (!s.ok()) return s;
    }
    PageHeader h;
    h.type = PageType::kFreeList;
    h.page_count = PagesForPayload(list.size() + 64, p->page_size_);
    h.epoch = meta_.epoch;
    h.page = allocate(h.page_count);
    encode(&list, &total);
    if (PagesForPayload(list.size(), p->page_size_) > h.page_count) {
      return Status::Corruption(p->options_.fname, "free list outgrew its reserved extent (a bug)");
    }
    Status s = write_extent(h, list);
    if (!s.ok()) return s;
    list_ref = PageRef{h.page, h.epoch};
  }
  m.free_list = list_ref;
  m.free_pages = total;
  m.num_pages = meta_.num_pages;
  if (p->file_ == nullptr) {
    Status s = p->options_.env->new_random_rw_file(p->options_.fname, &p->file_);
    if (!s.ok()) return s;
  }
  Status s = p->file_->sync();
  std::string meta_page;
  if (s.ok()) {
    EncodeMetaPage(m, m.epoch % 2, &meta_page);
    s = p->file_->write((m.epoch % 2) * p->page_size_, meta_page);
    if (s.ok()) p->extend_file_size((m.epoch % 2) * p->page_size_ + meta_page.size());
  }
  if (s.ok()) s = p->file_->sync();
  if (!s.ok()) return s;
  p->bytes_written_.fetch_add(meta_page.size(), std::memory_order_relaxed);

  // The commit is durable. Its raw extents were checksummed from the very
  // bytes written (EncodeExtent), and those writes and both syncs succeeded:
  // they are as known-good as extents verified through the mapping, so
  // readers of the new version need not checksum them again (a full scan
  // after a compaction would otherwise hash every leaf it rewrote). Recorded
  // before the version is published, so that no reader checksums them.
  for (const Written& w : written_) {
    if (!w.raw) continue;
    if (std::atomic<uint64_t>* slot = p->verified_slot(w.ref.page, true)) {
      slot->store(w.ref.epoch + 1, std::memory_order_release);
    }
  }

  std::shared_ptr<const MappedRegion> map;
  {
    port::MutexLock l(&p->mu_);
    p->committed_ = m;
    p->reusable_ = reusable_;
    for (const auto& e : freed_) p->pending_.push_back(Pending{m.epoch, e.first, e.second});
    done_ = true;
    s = p->remap_if_needed(m.num_pages);
    map = p->map_;
  }
  if (s.ok() && map != nullptr) populate(*map);
  return s;
}

void BTreePager::Transaction::populate(const MappedRegion& map) const {
  // Readers of the new version will soon read what this commit wrote (a
  // compaction's merge is typically followed by scans and lookups of the
  // leaves it rewrote), and those pages are in the page cache, just
  // written: map them now, on the writer's (background) thread, in a few
  // calls over contiguous runs, rather than in a page fault per few pages
  // on each reader's first touch.
  std::vector<std::pair<uint64_t, uint64_t>> runs;  // (first page, pages)
  runs.reserve(written_.size());
  for (const Written& w : written_) runs.emplace_back(w.ref.page, w.pages);
  std::sort(runs.begin(), runs.end());
  const uint64_t page_size = pager_->page_size_;
  size_t i = 0;
  while (i < runs.size()) {
    const uint64_t first = runs[i].first;
    uint64_t end = first + runs[i].second;
    for (++i; i < runs.size() && runs[i].first <= end; ++i) end = std::max(end, runs[i].first + runs[i].second);
    map.populate(first * page_size, (end - first) * page_size);
  }
}

}  // namespace btree
}  // namespace lightning
