// Copyright (c) Lightning authors. MIT License.
//
// lightning_micro: Google Benchmark micro-benchmarks of the engine's hot
// components, driven through their internal interfaces (src/): memtable
// insert and lookup, WAL append, bloom probe, block decode and seek, ARC
// cache hit, B+Tree point lookup and leaf scan. Keys are 16-byte zero-padded
// decimal indexes and values 100 bytes, as in lightning_bench's standard
// suite. Every benchmark checks what it reads (a miss where a hit is due
// stops it with an error), so a broken component cannot post a fast number.
//
//   lightning_micro                                  # everything
//   lightning_micro --benchmark_filter=BM_Bloom      # one component
//
// Files (WAL, B+Tree) go to a fresh directory under $TMPDIR (or /tmp),
// removed at exit.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "btree/btree.h"
#include "btree/pager.h"
#include "cache/arc_cache.h"
#include "cache/cache.h"
#include "db/dbformat.h"
#include "lightning/comparator.h"
#include "lightning/env.h"
#include "lightning/slice.h"
#include "lightning/status.h"
#include "memtable/memtable.h"
#include "sst/block.h"
#include "sst/block_builder.h"
#include "sst/bloom.h"
#include "wal/wal_writer.h"

namespace lightning::micro {
namespace {

constexpr size_t kKeySize = 16;
constexpr size_t kValueSize = 100;

std::string user_key(uint64_t index) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%016" PRIu64, index);
  return std::string(buf, kKeySize);
}

std::string internal_key(uint64_t index, SequenceNumber seq) {
  std::string out;
  ParsedInternalKey parsed;
  const std::string user = user_key(index);
  parsed.user_key = Slice(user);
  parsed.sequence = seq;
  parsed.type = kTypeValue;
  AppendInternalKey(&out, parsed);
  return out;
}

std::string value_for(uint64_t index) {
  std::string v(kValueSize, '\0');
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<char>('a' + (index + i * 7) % 26);
  return v;
}

const InternalKeyComparator* icmp() {
  static const InternalKeyComparator cmp(BytewiseComparator());
  return &cmp;
}

// A shuffled order of [0, n), fixed per n (same sequence every run).
std::vector<uint64_t> shuffled(uint64_t n, uint64_t seed) {
  std::vector<uint64_t> order(n);
  for (uint64_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rnd(seed);
  for (uint64_t i = n; i > 1; --i) std::swap(order[i - 1], order[rnd() % i]);
  return order;
}

// A scratch directory for the benchmarks that write files, removed at exit.
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/lightning_micro.XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  // Empty if the directory could not be made.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

ScratchDir& scratch() {
  static ScratchDir dir;
  return dir;
}

// ---- memtable -------------------------------------------------------------

// Inserts in random key order (a fillrandom's memtable work, without the
// WAL). The memtable is replaced every kEntries inserts, untimed, so the
// figure is that of a memtable of up to ~kEntries entries.
void BM_MemTableInsert(benchmark::State& state) {
  constexpr uint64_t kEntries = 1 << 18;
  const std::vector<uint64_t> order = shuffled(kEntries, 1);
  std::vector<std::string> keys(kEntries);
  for (uint64_t i = 0; i < kEntries; ++i) keys[i] = user_key(order[i]);
  const std::string value = value_for(0);
  auto mem = std::make_shared<MemTable>(*icmp());
  uint64_t i = 0;
  SequenceNumber seq = 1;
  for (auto _ : state) {
    if (i == kEntries) {
      state.PauseTiming();
      mem = std::make_shared<MemTable>(*icmp());
      i = 0;
      state.ResumeTiming();
    }
    mem->add(seq++, kTypeValue, Slice(keys[i]), Slice(value));
    ++i;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * (kKeySize + kValueSize)));
}
BENCHMARK(BM_MemTableInsert);

// Point lookups of present keys in a memtable of state.range(0) entries.
void BM_MemTableGet(benchmark::State& state) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  auto mem = std::make_shared<MemTable>(*icmp());
  const std::vector<uint64_t> order = shuffled(n, 2);
  for (uint64_t i = 0; i < n; ++i) mem->add(i + 1, kTypeValue, Slice(user_key(order[i])), Slice(value_for(order[i])));
  const std::vector<uint64_t> probes = shuffled(n, 3);
  std::vector<std::string> keys(n);
  for (uint64_t i = 0; i < n; ++i) keys[i] = user_key(probes[i]);
  std::string value;
  uint64_t i = 0;
  for (auto _ : state) {
    const LookupKey lookup(Slice(keys[i]), kMaxSequenceNumber);
    Status s;
    if (!mem->get(lookup, &value, &s) || !s.ok() || value.size() != kValueSize) {
      state.SkipWithError("memtable lookup missed a key it holds");
      break;
    }
    if (++i == n) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_MemTableGet)->Arg(1 << 12)->Arg(1 << 18);

// ---- WAL --------------------------------------------------------------------

// One record per commit handed to the OS (add_record + flush: what a commit
// under WalSyncMode::kNormal costs the log), payload of state.range(0)
// bytes. The file is rotated every 64 MiB, untimed.
void BM_WalAppend(benchmark::State& state) {
  if (scratch().path().empty()) {
    state.SkipWithError("cannot create a scratch directory");
    return;
  }
  Env* env = Env::Default();
  const std::string fname = scratch().path() + "/micro.log";
  const std::string payload(static_cast<size_t>(state.range(0)), 'w');
  std::unique_ptr<wal::WalWriter> writer;
  uint64_t log_number = 1;
  if (!wal::WalWriter::create(env, fname, log_number, &writer).ok()) {
    state.SkipWithError("cannot create the log");
    return;
  }
  SequenceNumber seq = 1;
  for (auto _ : state) {
    if (writer->size() >= (uint64_t{64} << 20)) {
      state.PauseTiming();
      const bool rotated = writer->close().ok() && wal::WalWriter::create(env, fname, ++log_number, &writer).ok();
      state.ResumeTiming();
      if (!rotated) {
        state.SkipWithError("cannot rotate the log");
        break;
      }
    }
    if (!writer->add_record(seq++, Slice(payload)).ok() || !writer->flush().ok()) {
      state.SkipWithError("log append failed");
      break;
    }
  }
  // Best effort: the scratch directory is removed at exit anyway.
  if (writer != nullptr) (void)writer->close();
  (void)env->remove_file(fname);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_WalAppend)->Arg(kKeySize + kValueSize)->Arg(4096);

// ---- bloom filter -----------------------------------------------------------

// Probes of a 10 bits/key filter over 64Ki keys: state.range(0) == 1 probes
// keys that were added (must match), 0 keys that were not (mostly rejected).
void BM_BloomProbe(benchmark::State& state) {
  constexpr uint64_t kKeys = 1 << 16;
  const bool present = state.range(0) == 1;
  BloomFilterBuilder builder(kDefaultBloomBitsPerKey);
  for (uint64_t i = 0; i < kKeys; ++i) builder.add_key(Slice(user_key(2 * i)));
  const std::string filter = builder.finish();
  std::vector<std::string> probes(kKeys);
  const std::vector<uint64_t> order = shuffled(kKeys, 4);
  for (uint64_t i = 0; i < kKeys; ++i) probes[i] = user_key(2 * order[i] + (present ? 0 : 1));
  uint64_t i = 0, matches = 0;
  for (auto _ : state) {
    const bool match = BloomFilterMayMatch(Slice(filter), Slice(probes[i]));
    if (present && !match) {
      state.SkipWithError("bloom filter rejected a key it holds");
      break;
    }
    matches += match ? 1 : 0;
    if (++i == kKeys) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["match_rate"] =
      state.iterations() > 0 ? static_cast<double>(matches) / static_cast<double>(state.iterations()) : 0;
}
BENCHMARK(BM_BloomProbe)->ArgName("present")->Arg(1)->Arg(0);

// ---- blocks -----------------------------------------------------------------

// One 4 KiB data block as the table builder writes it (internal keys,
// restart interval 16) holding keys 0..*entries-1.
std::string build_block(uint64_t* entries) {
  BlockBuilder builder(16);
  uint64_t n = 0;
  while (builder.current_size_estimate() < 4096) {
    builder.add(Slice(internal_key(n, 100 + n)), Slice(value_for(n)));
    ++n;
  }
  *entries = n;
  return builder.finish().ToString();
}

// Decoding a block: construct it from its bytes (restart array validated)
// and read every entry, as a scan or a compaction does per block.
void BM_BlockDecode(benchmark::State& state) {
  uint64_t entries = 0;
  const std::string contents = build_block(&entries);
  for (auto _ : state) {
    Block block{std::string(contents)};
    std::unique_ptr<InternalIterator> it = block.new_iterator(icmp());
    uint64_t n = 0;
    for (it->seek_to_first(); it->valid(); it->next()) {
      benchmark::DoNotOptimize(it->value().data());
      ++n;
    }
    if (n != entries || !it->status().ok()) {
      state.SkipWithError("block decode lost entries");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * entries));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * contents.size()));
}
BENCHMARK(BM_BlockDecode);

// A point lookup inside a decoded block: binary search over the restart
// points, then a linear walk (what Table::get does once the index picked
// the block). The block and its iterator are reused, as from the cache.
void BM_BlockSeek(benchmark::State& state) {
  uint64_t entries = 0;
  const Block block(build_block(&entries));
  std::unique_ptr<InternalIterator> it = block.new_iterator(icmp());
  const std::vector<uint64_t> order = shuffled(entries, 5);
  std::vector<std::string> targets(entries);
  for (uint64_t i = 0; i < entries; ++i) targets[i] = internal_key(order[i], kMaxSequenceNumber);
  uint64_t i = 0;
  for (auto _ : state) {
    it->seek(Slice(targets[i]));
    if (!it->valid() || ExtractUserKey(it->key()) != ExtractUserKey(Slice(targets[i]))) {
      state.SkipWithError("block seek missed a key it holds");
      break;
    }
    if (++i == entries) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_BlockSeek);

// ---- ARC cache --------------------------------------------------------------

void delete_string(const Slice& /*key*/, void* value) { delete static_cast<std::string*>(value); }

// Lookup + release of resident entries (a block cache hit): 4Ki entries of
// 4 KiB in a 64 MiB cache, so every lookup hits. Run on 1 and 2 threads
// (the cache is sharded; both threads probe the same keys).
void BM_ArcCacheHit(benchmark::State& state) {
  constexpr uint64_t kEntries = 4096;
  static std::unique_ptr<Cache> cache;
  static std::vector<std::string> keys;
  if (state.thread_index() == 0) {
    cache = NewArcCache(size_t{64} << 20);
    keys.assign(kEntries, std::string());
    for (uint64_t i = 0; i < kEntries; ++i) {
      keys[i] = user_key(i);
      cache->release(cache->insert(Slice(keys[i]), new std::string(4096, 'c'), 4096, &delete_string));
    }
  }
  // Google Benchmark starts the timed loop of every thread together, after
  // thread 0's setup above.
  const std::vector<uint64_t> order = shuffled(kEntries, 6 + static_cast<uint64_t>(state.thread_index()));
  uint64_t i = 0;
  for (auto _ : state) {
    Cache::Handle* h = cache->lookup(Slice(keys[order[i]]));
    if (h == nullptr) {
      state.SkipWithError("cache missed a resident entry");
      break;
    }
    benchmark::DoNotOptimize(cache->value(h));
    cache->release(h);
    if (++i == kEntries) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ArcCacheHit)->Threads(1)->Threads(2);

// ---- B+Tree -----------------------------------------------------------------

// A B+Tree of kTreeEntries keys (0..n-1, one version each, 100-byte values)
// built once through the real merge path (memtable -> MergeIntoTree) in the
// scratch directory, read through mmap with a 64 MiB ARC cache.
constexpr uint64_t kTreeEntries = 1 << 18;

struct Tree {
  std::unique_ptr<Cache> cache;
  std::unique_ptr<btree::BTreePager> pager;
  std::shared_ptr<const btree::TreeVersion> version;
  std::string error;  // non-empty when the tree could not be built
};

const Tree& tree() {
  static const Tree* built = [] {
    auto* t = new Tree;
    if (scratch().path().empty()) {
      t->error = "cannot create a scratch directory";
      return t;
    }
    t->cache = NewArcCache(size_t{64} << 20);
    btree::PagerOptions options;
    options.env = Env::Default();
    options.fname = scratch().path() + "/TREE";
    options.cache = t->cache.get();
    Status s = btree::BTreePager::Open(options, 0, &t->pager);
    if (!s.ok()) {
      t->error = "pager: " + s.ToString();
      return t;
    }
    auto base = std::make_shared<btree::TreeVersion>(t->pager.get(), icmp(), t->pager->committed(),
                                                      t->pager->mapping());
    auto mem = std::make_shared<MemTable>(*icmp());
    for (uint64_t i = 0; i < kTreeEntries; ++i) mem->add(i + 1, kTypeValue, Slice(user_key(i)), Slice(value_for(i)));
    std::unique_ptr<InternalIterator> input = mem->new_iterator();
    btree::MergeStats stats;
    s = btree::MergeIntoTree(base, input.get(), btree::MergeSpec(), &t->version, &stats);
    if (!s.ok()) t->error = "merge: " + s.ToString();
    return t;
  }();
  return *built;
}

// TreeVersion::get of present keys in random order (what a read that falls
// through to the base tier does).
void BM_BTreeGet(benchmark::State& state) {
  const Tree& t = tree();
  if (!t.error.empty()) {
    state.SkipWithError(t.error.c_str());
    return;
  }
  const std::vector<uint64_t> order = shuffled(kTreeEntries, 7);
  std::vector<std::string> targets(kTreeEntries);
  for (uint64_t i = 0; i < kTreeEntries; ++i) targets[i] = internal_key(order[i], kMaxSequenceNumber);
  uint64_t i = 0;
  size_t value_size = 0;
  for (auto _ : state) {
    const Slice target(targets[i]);
    bool found = false;
    const Status s = t.version->get(target, [&](const Slice& key, const Slice& value) {
      found = ExtractUserKey(key) == ExtractUserKey(target);
      value_size = value.size();
    });
    if (!s.ok() || !found || value_size != kValueSize) {
      state.SkipWithError("B+Tree lookup missed a key it holds");
      break;
    }
    if (++i == kTreeEntries) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["height"] = static_cast<double>(t.version->meta().height);
}
BENCHMARK(BM_BTreeGet);

// Leaf scan: the tree iterator's next() over consecutive entries (leaf after
// leaf), from a random starting key, state.range(0) entries per seek.
void BM_BTreeScan(benchmark::State& state) {
  const Tree& t = tree();
  if (!t.error.empty()) {
    state.SkipWithError(t.error.c_str());
    return;
  }
  const uint64_t run = static_cast<uint64_t>(state.range(0));
  std::unique_ptr<InternalIterator> it = btree::NewTreeIterator(t.version);
  const std::vector<uint64_t> order = shuffled(kTreeEntries, 8);
  uint64_t i = 0, entries = 0;
  for (auto _ : state) {
    const uint64_t start = order[i] % (kTreeEntries - run);
    it->seek(Slice(internal_key(start, kMaxSequenceNumber)));
    for (uint64_t k = 0; k < run; ++k) {
      if (!it->valid()) break;
      benchmark::DoNotOptimize(it->value().data());
      it->next();
      ++entries;
    }
    if (!it->status().ok() || entries % run != 0) {
      state.SkipWithError("B+Tree scan ended early");
      break;
    }
    if (++i == kTreeEntries) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(entries));
}
BENCHMARK(BM_BTreeScan)->Arg(100)->Arg(10000);

}  // namespace
}  // namespace lightning::micro

BENCHMARK_MAIN();
