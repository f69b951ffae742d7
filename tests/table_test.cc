// Copyright (c) Lightning authors. MIT License.
//
// SSTables end to end: TableBuilder -> file -> Table, checked against a
// std::map model under every compression x block size x restart interval,
// plus corruption (every single-bit flip is detected or harmless), truncation,
// version checks, the block cache, and the POSIX Env.
#include "sst/table.h"

#include <gtest/gtest.h>

#include <map>
#include <thread>
#include <vector>
#include <string>
#include <tuple>

#include "cache/arc_cache.h"
#include "db/dbformat.h"
#include "lightning/env.h"
#include "sst/format.h"
#include "sst/table_builder.h"
#include "util/coding.h"
#include "util/hash.h"
#include "util/internal_key_test_util.h"
#include "util/random.h"
#include "util/temp_dir.h"

namespace lightning {
namespace {

using test::Hex;
using test::IKey;
using test::Icmp;
using test::Model;
using test::NewModel;

std::string RandomUserKey(test::Random* rnd) {
  static const char* const kPrefixes[] = {"", "a", "ab", "abc", "\xff\xff", "user"};
  std::string k = kPrefixes[rnd->uniform(6)];
  if (rnd->one_in(3)) k.push_back('\0');
  k += rnd->random_bytes(rnd->uniform(12));
  return k;
}

std::string RandomIKey(test::Random* rnd) { return test::RandomIKey(rnd, RandomUserKey); }

Status BuildTable(Env* env, const std::string& fname, const TableOptions& options, const Model& model,
                  uint64_t* file_size) {
  std::unique_ptr<WritableFile> file;
  Status s = env->new_writable_file(fname, &file);
  if (!s.ok()) return s;
  TableBuilder builder(options, file.get());
  for (const auto& [k, v] : model) builder.add(k, v);
  s = builder.finish();
  if (!s.ok()) return s;
  EXPECT_EQ(builder.num_entries(), model.size());
  *file_size = builder.file_size();
  s = file->sync();
  if (s.ok()) s = file->close();
  return s;
}

// A "memory map" of a copy of a file's bytes, so that the mapped-read path
// of Table can be tested on the memory Env (which cannot map).
class StringMappedRegion final : public MappedRegion {
 public:
  explicit StringMappedRegion(std::string bytes) : bytes_(std::move(bytes)) {}
  const char* data() const override { return bytes_.data(); }
  size_t size() const override { return bytes_.size(); }

 private:
  const std::string bytes_;
};

// How OpenTable reads data blocks: pread, or through a map of the file.
enum class ReadMode { kPread, kMapped };

Status OpenTable(Env* env, const std::string& fname, const TableOptions& options, Cache* cache,
                 std::unique_ptr<Table>* table, uint64_t size_override = ~uint64_t{0},
                 ReadMode mode = ReadMode::kPread) {
  uint64_t size = 0;
  Status s = env->get_file_size(fname, &size);
  if (!s.ok()) return s;
  if (size_override != ~uint64_t{0}) size = size_override;
  std::unique_ptr<RandomAccessFile> file;
  s = env->new_random_access_file(fname, &file);
  if (!s.ok()) return s;
  std::unique_ptr<MappedRegion> mapped;
  if (mode == ReadMode::kMapped) {
    std::string bytes;
    s = ReadFileToString(env, fname, &bytes);
    if (!s.ok()) return s;
    mapped = std::make_unique<StringMappedRegion>(std::move(bytes));
  }
  s = Table::open(options, std::move(file), size, cache, table, std::move(mapped));
  if (s.ok() && mode == ReadMode::kMapped && size > 0) {
    EXPECT_TRUE((*table)->mapped());
  }
  return s;
}

// The first entry >= target, or nullptr.
const std::pair<const std::string, std::string>* LowerBound(const Model& model, const std::string& target) {
  auto it = model.lower_bound(target);
  return it == model.end() ? nullptr : &*it;
}

// Full verification of a table against its model.
void CheckTable(const Table& table, const Model& model, test::Random* rnd, bool verify_checksums = true,
                int random_targets = 300) {
  std::unique_ptr<InternalIterator> it = table.new_iterator(verify_checksums);
  ASSERT_NO_FATAL_FAILURE(test::CheckScansAgainstModel(it.get(), model));

  std::vector<std::string> targets;
  for (const auto& [k, v] : model) {
    if (model.size() < 300 || rnd->one_in(model.size() / 150)) {
      targets.push_back(k);
      const uint64_t seq = ExtractTag(k) >> 8;
      const std::string uk = ExtractUserKey(k).ToString();
      targets.push_back(IKey(uk, seq + 1, kTypeValue));
      if (seq > 0) targets.push_back(IKey(uk, seq - 1, kTypeValue));
      targets.push_back(IKey(uk + std::string(1, '\0'), kMaxSequenceNumber, kTypeValue));
    }
  }
  for (int i = 0; i < random_targets; i++) targets.push_back(RandomIKey(rnd));

  ASSERT_NO_FATAL_FAILURE(test::CheckSeeksAgainstModel(it.get(), model, targets, [&](const std::string& target) {
    // get(): if an entry with the target's user key is the first >= target,
    // it must be reported; whatever is reported must be that first entry.
    bool called = false;
    std::string got_key, got_value;
    Status s = table.get(target, [&](const Slice& k, const Slice& v) {
      called = true;
      got_key = k.ToString();
      got_value = v.ToString();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
    const auto* expected = LowerBound(model, target);
    if (called) {
      ASSERT_NE(expected, nullptr);
      ASSERT_EQ(Hex(got_key), Hex(expected->first));
      ASSERT_TRUE(got_value == expected->second);
    } else if (expected != nullptr) {
      ASSERT_NE(Hex(ExtractUserKey(expected->first)), Hex(ExtractUserKey(target))) << "get missed a present key";
    }
  }));
  for (const auto& [k, v] : model) ASSERT_TRUE(table.key_may_match(ExtractUserKey(k)));
}

using TableParam = std::tuple<CompressionType, size_t, int>;

class TableTest : public ::testing::TestWithParam<TableParam> {
 protected:
  TableOptions Options() const {
    TableOptions o;
    o.comparator = Icmp();
    o.compression = std::get<0>(GetParam());
    o.block_size = std::get<1>(GetParam());
    o.restart_interval = std::get<2>(GetParam());
    o.file_name = "/table.sst";
    return o;
  }

  // Builds, opens (with and without a block cache) and checks.
  void RoundTrip(const Model& model, test::Random* rnd, int random_targets = 300) {
    const TableOptions options = Options();
    uint64_t size = 0;
    ASSERT_TRUE(BuildTable(env_.get(), "/table.sst", options, model, &size).ok());
    uint64_t actual = 0;
    ASSERT_TRUE(env_->get_file_size("/table.sst", &actual).ok());
    ASSERT_EQ(size, actual);

    std::unique_ptr<Table> table;
    Status s = OpenTable(env_.get(), "/table.sst", options, nullptr, &table);
    ASSERT_TRUE(s.ok()) << s.ToString();
    CheckTable(*table, model, rnd, true, random_targets);
    CheckTable(*table, model, rnd, /*verify_checksums=*/false, random_targets);

    const TableProperties& p = table->properties();
    EXPECT_EQ(p.num_entries, model.size());
    uint64_t raw_keys = 0, raw_values = 0;
    for (const auto& [k, v] : model) {
      raw_keys += k.size();
      raw_values += v.size();
    }
    EXPECT_EQ(p.raw_key_size, raw_keys);
    EXPECT_EQ(p.raw_value_size, raw_values);
    EXPECT_EQ(p.smallest_key, model.empty() ? std::string() : model.begin()->first);
    EXPECT_EQ(p.largest_key, model.empty() ? std::string() : model.rbegin()->first);
    EXPECT_EQ(p.compression, static_cast<uint64_t>(options.compression));
    EXPECT_LE(p.data_size, size);

    // approximate_offset_of is monotonic and within the file.
    uint64_t last = 0;
    for (const auto& [k, v] : model) {
      const uint64_t off = table->approximate_offset_of(k);
      EXPECT_GE(off, last);
      EXPECT_LE(off, size);
      last = off;
    }

    std::unique_ptr<Cache> cache = NewArcCache(8 << 20);
    s = OpenTable(env_.get(), "/table.sst", options, cache.get(), &table);
    ASSERT_TRUE(s.ok()) << s.ToString();
    CheckTable(*table, model, rnd, true, random_targets);
    CheckTable(*table, model, rnd, true, random_targets);  // now from the cache
    if (!model.empty()) {
      EXPECT_GT(cache->stats().hits, 0u);
    }

    // Mapped reads give the same answers: uncompressed blocks in place
    // (verified on first use, then remembered), compressed ones through the
    // cache; without a cache; and with checksums off.
    std::unique_ptr<Cache> mapped_cache = NewArcCache(8 << 20);
    s = OpenTable(env_.get(), "/table.sst", options, mapped_cache.get(), &table, ~uint64_t{0}, ReadMode::kMapped);
    ASSERT_TRUE(s.ok()) << s.ToString();
    CheckTable(*table, model, rnd, true, random_targets);
    CheckTable(*table, model, rnd, true, random_targets);
    if (!model.empty() && options.compression == CompressionType::kNone) {
      // Uncompressed blocks in place: the block cache is not used for them.
      EXPECT_EQ(mapped_cache->stats().hits, 0u);
      EXPECT_EQ(mapped_cache->total_charge(), 0u);
    }
    s = OpenTable(env_.get(), "/table.sst", options, nullptr, &table, ~uint64_t{0}, ReadMode::kMapped);
    ASSERT_TRUE(s.ok()) << s.ToString();
    CheckTable(*table, model, rnd, /*verify_checksums=*/false, random_targets);
    CheckTable(*table, model, rnd, true, random_targets);
  }

  std::unique_ptr<Env> env_ = NewMemoryEnv();
};

TEST_P(TableTest, RandomKeysMatchModel) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  Model model = NewModel();
  for (int i = 0; i < 3000; i++) {
    std::string v = rnd.one_in(2) ? rnd.random_bytes(rnd.uniform(100)) : std::string(rnd.uniform(300), 'v');
    model[RandomIKey(&rnd)] = std::move(v);
  }
  // Several versions of some user keys (adjacent in the table).
  for (int i = 0; i < 50; i++) model[IKey("multi", static_cast<SequenceNumber>(i), kTypeValue)] = std::to_string(i);
  RoundTrip(model, &rnd);
}

TEST_P(TableTest, ValuesLargerThanABlock) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  Model model = NewModel();
  for (int i = 0; i < 20; i++) model[RandomIKey(&rnd)] = rnd.random_bytes(rnd.uniform(50));
  model[IKey("big1", 1, kTypeValue)] = rnd.random_bytes(1 << 20);
  model[IKey("big2", 1, kTypeValue)] = std::string(1 << 20, 'b');
  model[IKey("big3", 1, kTypeValue)] = rnd.random_bytes(std::get<1>(GetParam()) + 1);
  RoundTrip(model, &rnd, /*random_targets=*/20);  // each probe of a big block reads 1 MiB
}

TEST_P(TableTest, EmptyTable) {
  test::Random rnd(1);
  RoundTrip(NewModel(), &rnd);
}

TEST_P(TableTest, SingleEntry) {
  test::Random rnd(2);
  Model model = NewModel();
  model[IKey(std::string("\0", 1), 0, kTypeDeletion)] = "";
  RoundTrip(model, &rnd);
}

std::string ParamName(const ::testing::TestParamInfo<TableParam>& p) {
  static const char* const kNames[] = {"none", "zstd", "lz4", "snappy"};
  return std::string(kNames[static_cast<int>(std::get<0>(p.param))]) + "_" + std::to_string(std::get<1>(p.param)) +
         "B_restart" + std::to_string(std::get<2>(p.param));
}

INSTANTIATE_TEST_SUITE_P(Options, TableTest,
                         ::testing::Combine(::testing::Values(CompressionType::kNone, CompressionType::kZstd,
                                                              CompressionType::kLz4, CompressionType::kSnappy),
                                            ::testing::Values(size_t{256}, size_t{4096}, size_t{65536}),
                                            ::testing::Values(1, 16)),
                         ParamName);

// ---------------------------------------------------------------------------
// Damage.

TableOptions SmallBlockOptions(CompressionType compression) {
  TableOptions o;
  o.comparator = Icmp();
  o.block_size = 128;
  o.restart_interval = 4;
  o.compression = compression;
  o.file_name = "/t.sst";
  return o;
}

// Opens and reads the whole table every way; each step must either fail with
// Corruption / NotSupported or return exactly the model's data. Returns true
// if damage was detected somewhere.
bool ReadsCorrectOrFails(Env* env, const TableOptions& options, const Model& model,
                         ReadMode mode = ReadMode::kPread) {
  std::unique_ptr<Table> table;
  Status s = OpenTable(env, "/t.sst", options, nullptr, &table, ~uint64_t{0}, mode);
  if (!s.ok()) {
    EXPECT_TRUE(s.IsCorruption() || s.IsNotSupported()) << s.ToString();
    return true;
  }
  bool detected = false;
  std::unique_ptr<InternalIterator> it = table->new_iterator();
  auto m = model.begin();
  for (it->seek_to_first(); it->valid(); it->next(), ++m) {
    if (m == model.end() || it->key() != Slice(m->first) || it->value() != Slice(m->second)) {
      ADD_FAILURE() << "wrong data returned by forward scan";
      return true;
    }
  }
  if (!it->status().ok()) {
    EXPECT_TRUE(it->status().IsCorruption()) << it->status().ToString();
    detected = true;
  } else if (m != model.end()) {
    ADD_FAILURE() << "forward scan ended early without an error";
  }
  auto r = model.rbegin();
  for (it->seek_to_last(); it->valid(); it->prev(), ++r) {
    if (r == model.rend() || it->key() != Slice(r->first) || it->value() != Slice(r->second)) {
      ADD_FAILURE() << "wrong data returned by backward scan";
      return true;
    }
  }
  if (!it->status().ok()) {
    EXPECT_TRUE(it->status().IsCorruption()) << it->status().ToString();
    detected = true;
  } else if (r != model.rend()) {
    ADD_FAILURE() << "backward scan ended early without an error";
  }
  // Twice: a damaged block must fail again (mapped reads remember only the
  // blocks that passed).
  for (int round = 0; round < 2; round++) {
    for (const auto& entry : model) {
      const std::string& k = entry.first;
      const std::string& v = entry.second;
      bool called = false;
      s = table->get(k, [&](const Slice& gk, const Slice& gv) {
        called = true;
        EXPECT_TRUE(gk == Slice(k) && gv == Slice(v)) << "get returned wrong data";
      });
      if (!s.ok()) {
        EXPECT_TRUE(s.IsCorruption()) << s.ToString();
        detected = true;
      } else {
        EXPECT_TRUE(called) << "get lost a key without an error";
      }
    }
  }
  return detected;
}

std::string CodecName(const ::testing::TestParamInfo<CompressionType>& p) {
  static const char* const kNames[] = {"none", "zstd", "lz4", "snappy"};
  return kNames[static_cast<int>(p.param)];
}

class TableCorruptionTest : public ::testing::TestWithParam<CompressionType> {};

TEST_P(TableCorruptionTest, EveryBitFlipIsDetectedOrHarmless) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  std::unique_ptr<Env> env = NewMemoryEnv();
  const TableOptions options = SmallBlockOptions(GetParam());
  Model model = NewModel();
  for (int i = 0; i < 40; i++) model[RandomIKey(&rnd)] = std::string(rnd.uniform(20), 'a') + rnd.random_bytes(4);
  uint64_t size = 0;
  ASSERT_TRUE(BuildTable(env.get(), "/t.sst", options, model, &size).ok());
  std::string good;
  ASSERT_TRUE(ReadFileToString(env.get(), "/t.sst", &good).ok());
  ASSERT_TRUE(!ReadsCorrectOrFails(env.get(), options, model));  // undamaged: all good, nothing detected
  ASSERT_TRUE(!ReadsCorrectOrFails(env.get(), options, model, ReadMode::kMapped));

  size_t detected = 0, detected_mapped = 0;
  for (size_t pos = 0; pos < good.size(); pos++) {
    SCOPED_TRACE("flipped byte " + std::to_string(pos) + " of " + std::to_string(good.size()));
    std::string bad = good;
    bad[pos] = static_cast<char>(bad[pos] ^ (1 << rnd.uniform(8)));
    ASSERT_TRUE(WriteStringToFile(env.get(), bad, "/t.sst", false).ok());
    if (ReadsCorrectOrFails(env.get(), options, model)) detected++;
    if (ReadsCorrectOrFails(env.get(), options, model, ReadMode::kMapped)) detected_mapped++;
    if (HasFailure()) return;
  }
  // Every byte of the file is covered by a checksum, so every flip is
  // noticed (barring a 2^-32 checksum collision), whichever way it is read.
  EXPECT_EQ(detected, good.size());
  EXPECT_EQ(detected_mapped, good.size());
}

TEST_P(TableCorruptionTest, SampledBitFlipsInALargerTable) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  std::unique_ptr<Env> env = NewMemoryEnv();
  TableOptions options = SmallBlockOptions(GetParam());
  options.block_size = 4096;
  options.restart_interval = 16;
  Model model = NewModel();
  for (int i = 0; i < 3000; i++) model[RandomIKey(&rnd)] = rnd.random_bytes(rnd.uniform(40));
  uint64_t size = 0;
  ASSERT_TRUE(BuildTable(env.get(), "/t.sst", options, model, &size).ok());
  std::string good;
  ASSERT_TRUE(ReadFileToString(env.get(), "/t.sst", &good).ok());
  for (int i = 0; i < 300; i++) {
    // Bias half the samples to the metadata at the end of the file.
    const size_t pos = rnd.one_in(2) ? rnd.uniform(good.size()) : good.size() - 1 - rnd.uniform(std::min<size_t>(good.size(), 600));
    SCOPED_TRACE("flipped byte " + std::to_string(pos));
    std::string bad = good;
    bad[pos] = static_cast<char>(bad[pos] ^ (1 << rnd.uniform(8)));
    ASSERT_TRUE(WriteStringToFile(env.get(), bad, "/t.sst", false).ok());
    EXPECT_TRUE(ReadsCorrectOrFails(env.get(), options, model));
    EXPECT_TRUE(ReadsCorrectOrFails(env.get(), options, model, ReadMode::kMapped));
    if (HasFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, TableCorruptionTest,
                         ::testing::Values(CompressionType::kNone, CompressionType::kZstd, CompressionType::kLz4,
                                           CompressionType::kSnappy),
                         CodecName);

TEST(TableDamage, TruncatedFileIsCorruption) {
  std::unique_ptr<Env> env = NewMemoryEnv();
  const TableOptions options = SmallBlockOptions(CompressionType::kNone);
  Model model = NewModel();
  for (int i = 0; i < 100; i++) model[IKey("key" + std::to_string(i), 1, kTypeValue)] = "value";
  uint64_t size = 0;
  ASSERT_TRUE(BuildTable(env.get(), "/t.sst", options, model, &size).ok());
  std::string good;
  ASSERT_TRUE(ReadFileToString(env.get(), "/t.sst", &good).ok());
  for (uint64_t len : {uint64_t{0}, uint64_t{1}, uint64_t{55}, uint64_t{56}, size / 2, size - 1}) {
    ASSERT_TRUE(WriteStringToFile(env.get(), Slice(good.data(), len), "/t.sst", false).ok());
    std::unique_ptr<Table> table;
    Status s = OpenTable(env.get(), "/t.sst", options, nullptr, &table);
    EXPECT_TRUE(s.IsCorruption()) << len << ": " << s.ToString();
    EXPECT_NE(s.message().find("/t.sst"), std::string::npos) << s.ToString();
  }
  // A caller that believes the file is longer than it is.
  ASSERT_TRUE(WriteStringToFile(env.get(), good, "/t.sst", false).ok());
  std::unique_ptr<Table> table;
  EXPECT_TRUE(OpenTable(env.get(), "/t.sst", options, nullptr, &table, size + 100).IsCorruption());
}

TEST(TableDamage, UnknownFormatVersionIsNotSupported) {
  std::unique_ptr<Env> env = NewMemoryEnv();
  const TableOptions options = SmallBlockOptions(CompressionType::kNone);
  Model model = NewModel();
  model[IKey("k", 1, kTypeValue)] = "v";
  uint64_t size = 0;
  ASSERT_TRUE(BuildTable(env.get(), "/t.sst", options, model, &size).ok());
  std::string data;
  ASSERT_TRUE(ReadFileToString(env.get(), "/t.sst", &data).ok());
  char* footer = data.data() + data.size() - Footer::kEncodedLength;
  EncodeFixed32(footer + Footer::kHandleAreaLength, kTableFormatVersion + 1);
  EncodeFixed32(footer + Footer::kHandleAreaLength + 4, Checksum32(footer, Footer::kHandleAreaLength + 4));
  ASSERT_TRUE(WriteStringToFile(env.get(), data, "/t.sst", false).ok());
  std::unique_ptr<Table> table;
  Status s = OpenTable(env.get(), "/t.sst", options, nullptr, &table);
  EXPECT_TRUE(s.IsNotSupported()) << s.ToString();
  // Not a table at all.
  ASSERT_TRUE(WriteStringToFile(env.get(), std::string(1000, 'x'), "/t.sst", false).ok());
  EXPECT_TRUE(OpenTable(env.get(), "/t.sst", options, nullptr, &table).IsCorruption());
}

// ---------------------------------------------------------------------------
// Builder contract, cache sharing, bloom, POSIX.

TEST(TableBuilderContract, RejectsOutOfOrderAndShortKeys) {
  std::unique_ptr<Env> env = NewMemoryEnv();
  std::unique_ptr<WritableFile> file;
  ASSERT_TRUE(env->new_writable_file("/t", &file).ok());
  TableOptions options = SmallBlockOptions(CompressionType::kNone);
  {
    TableBuilder b(options, file.get());
    b.add(IKey("b", 1, kTypeValue), "1");
    b.add(IKey("a", 1, kTypeValue), "2");
    EXPECT_TRUE(b.status().IsInvalidArgument());
    EXPECT_TRUE(b.finish().IsInvalidArgument());
  }
  {
    TableBuilder b(options, file.get());
    b.add(IKey("a", 1, kTypeValue), "1");
    b.add(IKey("a", 1, kTypeValue), "1");  // equal is not ascending
    EXPECT_TRUE(b.status().IsInvalidArgument());
    b.abandon();
  }
  {
    TableBuilder b(options, file.get());
    b.add("short", "1");
    EXPECT_TRUE(b.status().IsInvalidArgument());
    b.abandon();
  }
}

TEST(TableBloom, AbsentKeysAreMostlyFilteredAndFilterCanBeDisabled) {
  std::unique_ptr<Env> env = NewMemoryEnv();
  TableOptions options = SmallBlockOptions(CompressionType::kNone);
  Model model = NewModel();
  for (int i = 0; i < 1000; i++) model[IKey("present" + std::to_string(i), 5, kTypeValue)] = "v";
  for (int bits : {10, 0}) {
    options.bloom_bits_per_key = bits;
    uint64_t size = 0;
    ASSERT_TRUE(BuildTable(env.get(), "/t.sst", options, model, &size).ok());
    std::unique_ptr<Table> table;
    ASSERT_TRUE(OpenTable(env.get(), "/t.sst", options, nullptr, &table).ok());
    int may_match = 0;
    for (int i = 0; i < 10000; i++) may_match += table->key_may_match("absent" + std::to_string(i)) ? 1 : 0;
    if (bits == 10) {
      EXPECT_LT(may_match, 300);  // ~1% expected
      EXPECT_GT(table->properties().filter_size, 1000u);
    } else {
      EXPECT_EQ(may_match, 10000);
      EXPECT_EQ(table->properties().filter_size, 0u);
    }
    for (const auto& [k, v] : model) EXPECT_TRUE(table->key_may_match(ExtractUserKey(k)));
  }
}

TEST(TableCache, TwoTablesShareOneCache) {
  std::unique_ptr<Env> env = NewMemoryEnv();
  TableOptions options = SmallBlockOptions(CompressionType::kLz4);
  Model a = NewModel(), b = NewModel();
  for (int i = 0; i < 500; i++) {
    a[IKey("k" + std::to_string(i), 1, kTypeValue)] = "table-a-" + std::to_string(i);
    b[IKey("k" + std::to_string(i), 1, kTypeValue)] = "table-b-" + std::to_string(i);
  }
  uint64_t size = 0;
  ASSERT_TRUE(BuildTable(env.get(), "/a.sst", options, a, &size).ok());
  ASSERT_TRUE(BuildTable(env.get(), "/b.sst", options, b, &size).ok());
  // Small enough to force evictions while iterators hold blocks pinned.
  std::unique_ptr<Cache> cache = NewArcCache(16 << 10);
  std::unique_ptr<Table> ta, tb;
  ASSERT_TRUE(OpenTable(env.get(), "/a.sst", options, cache.get(), &ta).ok());
  ASSERT_TRUE(OpenTable(env.get(), "/b.sst", options, cache.get(), &tb).ok());
  test::Random rnd(3);
  for (int round = 0; round < 2; round++) {
    CheckTable(*ta, a, &rnd);
    CheckTable(*tb, b, &rnd);
  }
  EXPECT_GT(cache->stats().hits, 0u);
  EXPECT_LE(cache->total_charge(), cache->capacity() + (4 << 10));
}

TEST(TablePosix, RoundTripThroughTheFileSystem) {
  test::TempDir dir("table_test");
  Env* env = Env::Default();
  TableOptions options;
  options.comparator = Icmp();
  options.compression = CompressionType::kZstd;
  options.file_name = dir.file("000001.sst");
  Model model = NewModel();
  test::Random rnd(4);
  for (int i = 0; i < 2000; i++) model[RandomIKey(&rnd)] = rnd.random_bytes(rnd.uniform(200));
  model[IKey("huge", 9, kTypeValue)] = rnd.random_bytes(1 << 20);
  uint64_t size = 0;
  ASSERT_TRUE(BuildTable(env, options.file_name, options, model, &size).ok());
  std::unique_ptr<Table> table;
  Status s = OpenTable(env, options.file_name, options, nullptr, &table);
  ASSERT_TRUE(s.ok()) << s.ToString();
  CheckTable(*table, model, &rnd);
}

// The real mmap(2) of Env::Default, as the TableCache uses it, uncompressed
// (in place) and compressed (decompressed from the map).
TEST(TablePosix, MappedReadsThroughTheFileSystem) {
  test::TempDir dir("table_test");
  Env* env = Env::Default();
  for (CompressionType compression : {CompressionType::kNone, CompressionType::kLz4}) {
    TableOptions options;
    options.comparator = Icmp();
    options.compression = compression;
    options.file_name = dir.file(compression == CompressionType::kNone ? "000001.sst" : "000002.sst");
    Model model = NewModel();
    test::Random rnd(5);
    for (int i = 0; i < 3000; i++) model[RandomIKey(&rnd)] = std::string(rnd.uniform(200), 'x');
    uint64_t size = 0;
    ASSERT_TRUE(BuildTable(env, options.file_name, options, model, &size).ok());
    std::unique_ptr<MappedRegion> mapped;
    ASSERT_TRUE(env->map_file(options.file_name, static_cast<size_t>(size), &mapped).ok());
    std::unique_ptr<RandomAccessFile> file;
    ASSERT_TRUE(env->new_random_access_file(options.file_name, &file).ok());
    std::unique_ptr<Cache> cache = NewArcCache(1 << 20);
    std::unique_ptr<Table> table;
    Status s = Table::open(options, std::move(file), size, cache.get(), &table, std::move(mapped));
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(table->mapped());
    CheckTable(*table, model, &rnd);
    CheckTable(*table, model, &rnd);
  }
}

// A map that does not cover the whole file is not used: pread instead.
TEST(TableMapped, ShortMapFallsBackToPread) {
  std::unique_ptr<Env> env = NewMemoryEnv();
  const TableOptions options = SmallBlockOptions(CompressionType::kNone);
  Model model = NewModel();
  test::Random rnd(6);
  for (int i = 0; i < 500; i++) model[RandomIKey(&rnd)] = rnd.random_bytes(rnd.uniform(30));
  uint64_t size = 0;
  ASSERT_TRUE(BuildTable(env.get(), "/t.sst", options, model, &size).ok());
  std::string bytes;
  ASSERT_TRUE(ReadFileToString(env.get(), "/t.sst", &bytes).ok());
  bytes.resize(bytes.size() - 1);
  std::unique_ptr<RandomAccessFile> file;
  ASSERT_TRUE(env->new_random_access_file("/t.sst", &file).ok());
  std::unique_ptr<Table> table;
  Status s = Table::open(options, std::move(file), size, nullptr, &table,
                         std::make_unique<StringMappedRegion>(std::move(bytes)));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(table->mapped());
  CheckTable(*table, model, &rnd);
}

// A block damaged after the table was opened (the map sees the file as it
// is now) is caught on its first read, and on every read after that; blocks
// verified before are unaffected.
TEST(TableMapped, DamageSeenThroughTheMapIsCorruptionEveryTime) {
  std::unique_ptr<Env> env = NewMemoryEnv();
  const TableOptions options = SmallBlockOptions(CompressionType::kNone);
  Model model = NewModel();
  for (int i = 0; i < 200; i++) model[IKey("key" + std::to_string(1000 + i), 1, kTypeValue)] = "value" + std::to_string(i);
  uint64_t size = 0;
  ASSERT_TRUE(BuildTable(env.get(), "/t.sst", options, model, &size).ok());
  std::string bytes;
  ASSERT_TRUE(ReadFileToString(env.get(), "/t.sst", &bytes).ok());
  auto region = std::make_unique<StringMappedRegion>(bytes);
  char* map = const_cast<char*>(region->data());  // the test plays the disk
  std::unique_ptr<RandomAccessFile> file;
  ASSERT_TRUE(env->new_random_access_file("/t.sst", &file).ok());
  std::unique_ptr<Table> table;
  ASSERT_TRUE(Table::open(options, std::move(file), size, nullptr, &table, std::move(region)).ok());
  ASSERT_TRUE(table->mapped());

  const std::string first = model.begin()->first, last = model.rbegin()->first;
  auto get = [&](const std::string& k, std::string* v) {
    return table->get(k, [&](const Slice& gk, const Slice& gv) {
      if (gk == Slice(k)) *v = gv.ToString();
    });
  };
  std::string v;
  ASSERT_TRUE(get(first, &v).ok());  // the first block: verified now
  EXPECT_EQ(v, model.begin()->second);
  // Damage the last data block (well past the first): one byte of its value.
  const uint64_t at = table->approximate_offset_of(last);
  ASSERT_GT(at, 0u);
  const size_t pos = bytes.find(model.rbegin()->second, at);
  ASSERT_NE(pos, std::string::npos);
  map[pos] ^= 0x01;
  for (int i = 0; i < 3; i++) {
    v.clear();
    Status s = get(last, &v);
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_TRUE(v.empty());
    std::unique_ptr<InternalIterator> it = table->new_iterator();
    it->seek(last);
    EXPECT_FALSE(it->valid());
    EXPECT_TRUE(it->status().IsCorruption()) << it->status().ToString();
  }
  v.clear();
  ASSERT_TRUE(get(first, &v).ok());
  EXPECT_EQ(v, model.begin()->second);
}

// A comparator with another name (and order) than the table's.
class ReverseComparator final : public Comparator {
 public:
  int compare(const Slice& a, const Slice& b) const override { return b.compare(a); }
  const char* name() const override { return "test.Reverse"; }
};

TEST(TableOpen, ComparatorMismatchIsRefused) {
  std::unique_ptr<Env> env = NewMemoryEnv();
  TableOptions options = SmallBlockOptions(CompressionType::kNone);
  Model model = NewModel();
  model[IKey("k", 1, kTypeValue)] = "v";
  uint64_t size = 0;
  ASSERT_TRUE(BuildTable(env.get(), "/t.sst", options, model, &size).ok());
  ReverseComparator reverse;
  options.comparator = &reverse;
  std::unique_ptr<Table> table;
  Status s = OpenTable(env.get(), "/t.sst", options, nullptr, &table);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(table, nullptr);
}

// Readers racing to verify the same mapped blocks (the per-block flags),
// uncompressed (in place) and compressed (through a small cache).
TEST(TableMapped, ConcurrentReadersOfAMappedTable) {
  for (CompressionType compression : {CompressionType::kNone, CompressionType::kSnappy}) {
    std::unique_ptr<Env> env = NewMemoryEnv();
    TableOptions options = SmallBlockOptions(compression);
    options.block_size = 512;
    Model model = NewModel();
    test::Random rnd(8);
    for (int i = 0; i < 2000; i++) model[RandomIKey(&rnd)] = rnd.random_bytes(rnd.uniform(60));
    uint64_t size = 0;
    ASSERT_TRUE(BuildTable(env.get(), "/t.sst", options, model, &size).ok());
    std::unique_ptr<Cache> cache = NewArcCache(32 << 10);
    std::unique_ptr<Table> table;
    ASSERT_TRUE(OpenTable(env.get(), "/t.sst", options, cache.get(), &table, ~uint64_t{0}, ReadMode::kMapped).ok());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++) {
      threads.emplace_back([&, t] {
        test::Random trnd(200 + t);
        CheckTable(*table, model, &trnd, /*verify_checksums=*/t % 2 == 0, 100);
      });
    }
    for (std::thread& th : threads) th.join();
  }
}

TEST(TableConcurrency, ParallelReadersShareTableAndCache) {
  std::unique_ptr<Env> env = NewMemoryEnv();
  TableOptions options = SmallBlockOptions(CompressionType::kSnappy);
  options.block_size = 512;
  Model model = NewModel();
  test::Random rnd(5);
  for (int i = 0; i < 2000; i++) model[RandomIKey(&rnd)] = rnd.random_bytes(rnd.uniform(60));
  uint64_t size = 0;
  ASSERT_TRUE(BuildTable(env.get(), "/t.sst", options, model, &size).ok());
  std::unique_ptr<Cache> cache = NewArcCache(32 << 10);  // small: constant eviction
  std::unique_ptr<Table> table;
  ASSERT_TRUE(OpenTable(env.get(), "/t.sst", options, cache.get(), &table).ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      test::Random trnd(100 + t);
      CheckTable(*table, model, &trnd, /*verify_checksums=*/t % 2 == 0, 100);
    });
  }
  for (std::thread& th : threads) th.join();
}

}  // namespace
}  // namespace lightning
