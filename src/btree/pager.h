// Copyright (c) Lightning authors. MIT License.
//
// BTreePager: the page file under the B+Tree. It reads verified extents
// (through a read-only mmap of the file where the Env offers one, else with
// pread) via the shared ARC cache, and writes copy-on-write transactions
// that commit by flipping between the two meta pages, as LMDB does:
//
//   1. begin(): the new epoch is the committed one + 1.
//   2. The writer allocates extents (free extents first, else at the end of
//      the file) and writes them; it frees the extents the new tree no longer
//      uses. Nothing a committed meta page refers to is overwritten.
//   3. commit(): writes the free list as of the new epoch, fdatasyncs the
//      file, writes the meta page into slot epoch % 2, fdatasyncs again.
//
// A crash before the second sync leaves the other slot (the previous commit)
// intact, and everything it refers to intact, so reopening at that epoch
// gives the previous tree; a crash after it gives the new one. Which of the
// two the database uses is decided by the MANIFEST (open(epoch)), so that
// the tree and the SSTables it absorbed change together.
//
// When may a freed extent be reused? An extent freed by commit E is still
// reachable from meta E-1 and from any reader's TreeVersion older than E.
// It is reused only by a commit after E (so meta E, which no longer refers to
// it, is durable before it is overwritten) and only once no TreeVersion older
// than E is alive (TreeVersion pins its epoch in the pager).
//
// Thread-safety: read paths (read, pin/unpin) may run concurrently with each
// other and with one writer transaction; transactions are serialized by the
// caller (one Transaction at a time).
#ifndef LIGHTNING_BTREE_PAGER_H_
#define LIGHTNING_BTREE_PAGER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "btree/page.h"
#include "cache/cache.h"
#include "lightning/env.h"
#include "lightning/status.h"
#include "port/mutex.h"
#include "port/thread_annotations.h"

namespace lightning {
namespace btree {

struct PagerOptions {
  Env* env = nullptr;
  std::string fname;
  // For a new file; an existing file keeps the page size it was made with.
  uint32_t page_size = 4096;
  CompressionType compression = CompressionType::kNone;
  Cache* cache = nullptr;  // may be null: every read verifies again
  // Initial length of the read-only mapping; it is replaced by one twice as
  // large when the file outgrows it. 0: no mmap, reads use pread.
  uint64_t mmap_size = uint64_t{1} << 30;
};

// A verified extent's payload (decompressed), pinned while the handle lives.
class PageHandle {
 public:
  PageHandle() = default;
  ~PageHandle() { reset(); }
  PageHandle(PageHandle&& o) noexcept { *this = std::move(o); }
  PageHandle& operator=(PageHandle&& o) noexcept;
  PageHandle(const PageHandle&) = delete;
  PageHandle& operator=(const PageHandle&) = delete;

  const Slice& payload() const { return payload_; }
  // The payload lies in place in the mapping (an uncompressed extent read
  // through it), not in a cache entry: it stays readable, unchanged, for as
  // long as the mapping does (a TreeVersion keeps its mapping, and keeps
  // its pages from being reused), even after the handle is reset.
  bool in_mapping() const { return handle_ == nullptr && payload_.data() != nullptr; }
  uint32_t page_count() const { return page_count_; }
  void reset();

 private:
  friend class BTreePager;
  Cache* cache_ = nullptr;
  Cache::Handle* handle_ = nullptr;
  Slice payload_;
  uint32_t page_count_ = 0;
};

class BTreePager {
 public:
  // Opens fname at the commit `epoch` (0 with no file: a new, empty tree;
  // the file is created on the first commit). Corruption if neither meta
  // page holds that epoch.
  static Status Open(const PagerOptions& options, uint64_t epoch, std::unique_ptr<BTreePager>* result);
  ~BTreePager();
  // Opens fname at a commit described by meta instead of by a meta page
  // (which a later commit of a live tree may already have overwritten; the
  // commit's other pages stay intact while a TreeVersion of it is alive),
  // and checks meta's free list. For verifying a live tree's commit with
  // reads of its own (no mmap unless options say so). The result must not
  // begin() transactions. Corruption if the file is shorter than the commit.
  static Status OpenCommit(const PagerOptions& options, const TreeMeta& meta, std::unique_ptr<BTreePager>* result);

  uint32_t page_size() const { return page_size_; }
  CompressionType compression() const { return options_.compression; }
  TreeMeta committed() const EXCLUDES(mu_);

  // The mapping to read the current commit through (null without mmap).
  std::shared_ptr<const MappedRegion> mapping() const EXCLUDES(mu_);
  // Reads and verifies the extent at ref, expecting type; decompresses.
  Status read(const std::shared_ptr<const MappedRegion>& map, PageRef ref, PageType type, PageHandle* out) const;

  // Readers of a tree version keep its pages from being reused.
  void pin(uint64_t epoch) EXCLUDES(mu_);
  void unpin(uint64_t epoch) EXCLUDES(mu_);

  // Reads served in place through the verified-page table (no cache lookup).
  uint64_t in_place_reads() const;
  // First reads of mapped extents, verified in place (checksummed, no cache
  // lookup): misses, in the cache's terms.
  uint64_t in_place_verifications() const { return in_place_verifications_.load(std::memory_order_relaxed); }

  // Bytes written to the file since open (extents, free lists, meta pages).
  uint64_t bytes_written() const { return bytes_written_.load(std::memory_order_relaxed); }

  class Transaction {
   public:
    ~Transaction();  // rolls back unless committed
    uint64_t epoch() const { return meta_.epoch; }
    // Allocates an extent for the payload (already compressed with
    // `compression`, or raw) and writes it. Sets *ref and *pages_used.
    Status write(PageType type, const Slice& payload, CompressionType compression, PageRef* ref,
                 uint32_t* pages_used);
    // Frees an extent of the base tree (or of this transaction).
    void free(uint64_t page, uint32_t page_count);
    // The new tree: root, height, counters. Writes the free list and the meta
    // page with the syncs described above.
    Status commit(const TreeMeta& fields);
    // Pages the new tree will have free (reusable or pending).
    uint64_t pages_written() const { return pages_written_; }

   private:
    friend class BTreePager;
    explicit Transaction(BTreePager* pager);
    uint64_t allocate(uint32_t pages);
    // After the commit: maps the extents written into the process (a hint).
    void populate(const MappedRegion& map) const;
    // Writes header + payload at h.page (allocated) and accounts for it.
    Status write_extent(const PageHeader& h, const Slice& payload);

    BTreePager* const pager_;
    TreeMeta meta_;  // epoch and num_pages of the new commit
    std::map<uint64_t, uint64_t> reusable_;  // copy of the pager's, consumed here
    std::vector<std::pair<uint64_t, uint64_t>> freed_;  // (page, count) freed now
    struct Written {
      PageRef ref;
      uint32_t pages;
      bool raw;  // stored uncompressed (readable in place through the mapping)
    };
    // Extents written: a rollback drops them from the cache (the next
    // transaction reuses this epoch and these pages for other content); a
    // commit records its raw ones as verified.
    std::vector<Written> written_;
    uint64_t pages_written_ = 0;
    bool done_ = false;
  };
  // REQUIRES: no other transaction is open.
  std::unique_ptr<Transaction> begin() EXCLUDES(mu_);

 private:
  struct Pending {
    uint64_t epoch;  // freed by this commit
    uint64_t page, count;
  };

  explicit BTreePager(const PagerOptions& options);
  Status load(uint64_t epoch);
  Status load_free_list(const TreeMeta& meta);
  Status read_raw(uint64_t offset, size_t n, std::string* buf) const;
  Status remap_if_needed(uint64_t num_pages) REQUIRES(mu_);
  static void add_extent(std::map<uint64_t, uint64_t>* set, uint64_t page, uint64_t count);
  // The cache key of the extent at ref.
  void cache_key(PageRef ref, char (&key)[24]) const;
  // The "verified at epoch" slot of page: epoch + 1 once the uncompressed
  // extent of that epoch starting there is known intact in this process
  // (see "Verified pages" in pager.cc), 0 if not; null for a page beyond
  // kVerifiedChunks chunks, or when the chunk is not allocated yet and
  // either create is false or the allocation failed. Lock-free.
  std::atomic<uint64_t>* verified_slot(uint64_t page, bool create) const;
  // A write ended at byte `end` of the file (called by the one writer).
  void extend_file_size(uint64_t end);

  const PagerOptions options_;
  uint32_t page_size_ = 0;
  std::unique_ptr<RandomRWFile> file_;
  uint64_t cache_id_ = 0;
  std::atomic<uint64_t> bytes_written_{0};
  // The file's length as of open plus what this pager wrote since: reads
  // never go past it, so a damaged page count or a truncated file gives
  // Corruption instead of a fault in the mapping or a huge read buffer.
  std::atomic<uint64_t> file_size_{0};
  // Pages whose extents were verified through the mapping, in chunks of
  // 2^16 slots allocated on first use: reads of them skip the checksum and
  // the cache (mapped, uncompressed pages need no copy). 8 bytes per page.
  static constexpr int kVerifiedChunkBits = 16;
  static constexpr size_t kVerifiedChunks = 4096;  // 2^28 pages
  mutable std::unique_ptr<std::atomic<std::atomic<uint64_t>*>[]> verified_;
  // in_place_reads(), striped over cache lines so that reader threads do not
  // contend on one counter.
  struct alignas(64) Stripe {
    std::atomic<uint64_t> n{0};
  };
  static constexpr size_t kStripes = 16;
  mutable Stripe in_place_[kStripes];
  mutable std::atomic<uint64_t> in_place_verifications_{0};

  mutable port::Mutex mu_;
  TreeMeta committed_ GUARDED_BY(mu_);
  std::shared_ptr<const MappedRegion> map_ GUARDED_BY(mu_);
  // Free extents (first page -> page count) any later commit may reuse.
  std::map<uint64_t, uint64_t> reusable_ GUARDED_BY(mu_);
  // Extents freed by a commit, waiting for older readers to go.
  std::vector<Pending> pending_ GUARDED_BY(mu_);
  std::map<uint64_t, int> pinned_ GUARDED_BY(mu_);  // epoch -> readers
};

}  // namespace btree
}  // namespace lightning

#endif  // LIGHTNING_BTREE_PAGER_H_
