// Copyright (c) Lightning authors. MIT License.
//
// Data blocks: BlockBuilder -> (compression, trailer, file) -> ReadBlock ->
// Block iterator, checked against a std::map model; and malformed blocks,
// which must give Corruption, never an out-of-bounds read.
#include "sst/block.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "db/dbformat.h"
#include "lightning/env.h"
#include "sst/block_builder.h"
#include "sst/format.h"
#include "util/coding.h"
#include "util/hash.h"
#include "util/internal_key_test_util.h"
#include "util/random.h"

namespace lightning {
namespace {

using test::IKey;
using test::Icmp;
using test::Model;
using test::ModelLess;

// User keys with binary bytes and NULs, drawn so that many share prefixes.
std::string RandomUserKey(test::Random* rnd) {
  static const char* const kPrefixes[] = {"", "a", "ab", "abc", "\x00", "\x00\x00", "\xff", "user"};
  const char* prefix = kPrefixes[rnd->uniform(8)];
  std::string k(prefix, prefix[0] == '\0' ? (rnd->one_in(2) ? 1 : 0) : std::strlen(prefix));
  k += rnd->random_bytes(rnd->uniform(10));
  return k;
}

std::string RandomIKey(test::Random* rnd) { return test::RandomIKey(rnd, RandomUserKey); }

// Checks full scans both ways, and seeks / seek_for_prevs followed by a few
// steps, against the model.
void CheckIterator(InternalIterator* it, const Model& model, test::Random* rnd) {
  ASSERT_NO_FATAL_FAILURE(test::CheckScansAgainstModel(it, model));

  // Targets: present keys, their neighbours in tag order, and random keys.
  std::vector<std::string> targets;
  for (const auto& [k, v] : model) {
    if (targets.size() > 300) break;
    if (rnd->one_in(3)) targets.push_back(k);
  }
  for (int i = 0; i < 300; i++) targets.push_back(RandomIKey(rnd));
  for (const auto& [k, v] : model) {
    if (!rnd->one_in(10)) continue;
    const ParsedInternalKey p{ExtractUserKey(k), ExtractTag(k) >> 8, kTypeValue};
    targets.push_back(IKey(p.user_key.ToString(), p.sequence + 1, kTypeValue));
    if (p.sequence > 0) targets.push_back(IKey(p.user_key.ToString(), p.sequence - 1, kTypeValue));
  }

  test::CheckSeeksAgainstModel(it, model, targets);
}

// Parameters: compression, target block bytes, restart interval.
using BlockParam = std::tuple<CompressionType, size_t, int>;

class BlockTest : public ::testing::TestWithParam<BlockParam> {
 protected:
  // Builds a block from model, stores it through the on-disk block format
  // in a memory file, reads it back.
  std::unique_ptr<Block> RoundTrip(const Model& model) {
    const auto [compression, block_bytes, restart_interval] = GetParam();
    BlockBuilder builder(restart_interval);
    for (const auto& [k, v] : model) builder.add(k, v);
    const Slice raw = builder.finish();
    EXPECT_EQ(raw.size(), builder.current_size_estimate());

    std::unique_ptr<Env> env = NewMemoryEnv();
    std::unique_ptr<WritableFile> wf;
    EXPECT_TRUE(env->new_writable_file("/block", &wf).ok());
    EXPECT_TRUE(wf->append("prefix").ok());  // a non-zero offset
    std::string scratch;
    CompressionType type;
    const Slice stored = MaybeCompressBlock(raw, compression, &scratch, &type);
    uint64_t offset = 6;
    BlockHandle handle;
    EXPECT_TRUE(WriteStoredBlock(wf.get(), stored, type, &offset, &handle).ok());
    EXPECT_EQ(handle.offset, 6u);
    EXPECT_EQ(offset, 6 + stored.size() + kBlockTrailerSize);

    std::unique_ptr<RandomAccessFile> rf;
    EXPECT_TRUE(env->new_random_access_file("/block", &rf).ok());
    BlockContents contents;
    Status s = ReadBlock(rf.get(), handle, true, &contents, "/block");
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(contents.data == raw.ToString());
    auto block = std::make_unique<Block>(std::move(contents.data));
    EXPECT_TRUE(block->status().ok());
    return block;
  }
};

// Random internal keys with mostly short values, about block_bytes in all.
Model RandomModel(test::Random* rnd, size_t block_bytes) {
  Model model(ModelLess{Icmp()});
  size_t bytes = 0;
  while (bytes < block_bytes) {
    std::string k = RandomIKey(rnd);
    std::string v = rnd->random_bytes(rnd->uniform(rnd->one_in(8) ? 200 : 20));
    bytes += k.size() + v.size() + 3;
    model[std::move(k)] = std::move(v);
  }
  return model;
}

TEST_P(BlockTest, RandomKeysMatchModel) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  const Model model = RandomModel(&rnd, std::get<1>(GetParam()));
  std::unique_ptr<Block> block = RoundTrip(model);
  std::unique_ptr<InternalIterator> it = block->new_iterator(Icmp());
  CheckIterator(it.get(), model, &rnd);
}

// prev() decodes a restart interval once and steps back through it; next()
// after prev() steps forward through the same decoded entries: random walks
// with frequent turns (by next()/prev() and by next_entry()/prev_entry()),
// from random seeks, checked at every step against the model.
TEST_P(BlockTest, RandomWalksWithTurnsMatchModel) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  const Model model = RandomModel(&rnd, std::get<1>(GetParam()));
  std::unique_ptr<Block> block = RoundTrip(model);
  std::unique_ptr<InternalIterator> it = block->new_iterator(Icmp());
  std::vector<std::pair<std::string, std::string>> entries(model.begin(), model.end());
  for (int walk = 0; walk < 100; ++walk) {
    size_t pos = rnd.uniform(entries.size());
    it->seek(entries[pos].first);
    for (int step = 0; step < 200; ++step) {
      const std::string at = "walk " + std::to_string(walk) + " step " + std::to_string(step);
      ASSERT_TRUE(it->status().ok()) << at << ": " << it->status().ToString();
      ASSERT_EQ(it->valid(), pos < entries.size()) << at;
      if (pos >= entries.size()) break;
      ASSERT_EQ(it->key().ToString(), entries[pos].first) << at;
      ASSERT_EQ(it->value().ToString(), entries[pos].second) << at;
      // Runs of one direction (mostly back on odd walks), with turns.
      const bool forward = (walk % 2 == 0) ? !rnd.one_in(3) : rnd.one_in(3);
      if (rnd.one_in(2)) {
        Slice key, value;
        const bool got = forward ? it->next_entry(&key, &value) : it->prev_entry(&key, &value);
        ASSERT_EQ(got, it->valid()) << at;
        if (got) {
          ASSERT_EQ(key.ToString(), it->key().ToString()) << at;
          ASSERT_EQ(value.ToString(), it->value().ToString()) << at;
        }
      } else if (forward) {
        it->next();
      } else {
        it->prev();
      }
      pos = forward ? pos + 1 : (pos == 0 ? entries.size() : pos - 1);
    }
  }
}

TEST_P(BlockTest, EmptySingleAndHuge) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  Model model(ModelLess{Icmp()});
  {
    std::unique_ptr<Block> block = RoundTrip(model);
    CheckIterator(block->new_iterator(Icmp()).get(), model, &rnd);
  }
  model[IKey(std::string("\0k", 2), 5, kTypeValue)] = std::string("v\0", 2);
  {
    std::unique_ptr<Block> block = RoundTrip(model);
    CheckIterator(block->new_iterator(Icmp()).get(), model, &rnd);
  }
  model[IKey("big", 7, kTypeValue)] = rnd.random_bytes(1 << 20);
  model[IKey("big", 6, kTypeValue)] = std::string(1 << 20, 'x');
  {
    std::unique_ptr<Block> block = RoundTrip(model);
    CheckIterator(block->new_iterator(Icmp()).get(), model, &rnd);
  }
}

std::string ParamName(const ::testing::TestParamInfo<BlockParam>& p) {
  static const char* const kNames[] = {"none", "zstd", "lz4", "snappy"};
  return std::string(kNames[static_cast<int>(std::get<0>(p.param))]) + "_" + std::to_string(std::get<1>(p.param)) +
         "B_restart" + std::to_string(std::get<2>(p.param));
}

INSTANTIATE_TEST_SUITE_P(Options, BlockTest,
                         ::testing::Combine(::testing::Values(CompressionType::kNone, CompressionType::kZstd,
                                                              CompressionType::kLz4, CompressionType::kSnappy),
                                            ::testing::Values(size_t{256}, size_t{4096}, size_t{65536}),
                                            ::testing::Values(1, 16)),
                         ParamName);

TEST(BlockFormat, PrefixCompressionSavesSpace) {
  BlockBuilder shared(16), unshared(1);
  for (int i = 0; i < 100; i++) {
    char k[32];
    std::snprintf(k, sizeof(k), "a_long_common_prefix_%05d", i);
    shared.add(k, "v");
    unshared.add(k, "v");
  }
  EXPECT_LT(shared.finish().size() * 2, unshared.finish().size());
}

TEST(BlockFormat, MaybeCompressRequiresOneEighthSaving) {
  test::Random rnd(42);
  std::string scratch;
  CompressionType type;
  const std::string random = rnd.random_bytes(4096);
  EXPECT_TRUE(MaybeCompressBlock(random, CompressionType::kZstd, &scratch, &type) == Slice(random));
  EXPECT_EQ(type, CompressionType::kNone);
  const std::string runs(4096, 'a');
  const Slice stored = MaybeCompressBlock(runs, CompressionType::kZstd, &scratch, &type);
  EXPECT_EQ(type, CompressionType::kZstd);
  EXPECT_LT(stored.size(), 4096u / 8 * 7);
}

TEST(BlockFormat, ChecksumMismatchIsCorruptionNamingFileAndOffset) {
  std::unique_ptr<Env> env = NewMemoryEnv();
  std::unique_ptr<WritableFile> wf;
  ASSERT_TRUE(env->new_writable_file("/f", &wf).ok());
  BlockBuilder b(16);
  b.add(IKey("a", 1, kTypeValue), "1");
  uint64_t offset = 0;
  BlockHandle h;
  ASSERT_TRUE(WriteStoredBlock(wf.get(), b.finish(), CompressionType::kNone, &offset, &h).ok());
  std::string data;
  ASSERT_TRUE(ReadFileToString(env.get(), "/f", &data).ok());
  for (size_t i = 0; i < data.size(); i++) {
    std::string bad = data;
    bad[i] ^= 0x10;
    ASSERT_TRUE(WriteStringToFile(env.get(), bad, "/g", false).ok());
    std::unique_ptr<RandomAccessFile> rf;
    ASSERT_TRUE(env->new_random_access_file("/g", &rf).ok());
    BlockContents c;
    Status s = ReadBlock(rf.get(), h, true, &c, "/g");
    ASSERT_TRUE(s.IsCorruption()) << i;
    EXPECT_NE(s.message().find("/g at offset 0"), std::string::npos) << s.ToString();
    EXPECT_TRUE(c.data.empty());
  }
  // Reading past the end: truncated.
  std::unique_ptr<RandomAccessFile> rf;
  ASSERT_TRUE(env->new_random_access_file("/f", &rf).ok());
  BlockContents c;
  BlockHandle past{h.offset, h.size + 1};
  EXPECT_TRUE(ReadBlock(rf.get(), past, true, &c).IsCorruption());
  BlockHandle huge{0, uint64_t{1} << 40};
  EXPECT_TRUE(ReadBlock(rf.get(), huge, true, &c).IsCorruption());
}

TEST(BlockFormat, HandleAndFooterRoundTrip) {
  BlockHandle h{uint64_t{1} << 40, 12345};
  std::string enc;
  h.encode_to(&enc);
  Slice in(enc);
  BlockHandle d;
  ASSERT_TRUE(d.decode_from(&in).ok());
  EXPECT_EQ(d.offset, h.offset);
  EXPECT_EQ(d.size, h.size);
  EXPECT_TRUE(in.empty());
  Slice bad(enc.data(), 3);
  EXPECT_TRUE(d.decode_from(&bad).IsCorruption());

  Footer f;
  f.metaindex_handle = {100, 20};
  f.index_handle = {~uint64_t{0}, ~uint64_t{0}};  // the largest handles fit
  std::string fe;
  f.encode_to(&fe);
  ASSERT_EQ(fe.size(), Footer::kEncodedLength);
  Footer g;
  ASSERT_TRUE(g.decode_from(fe).ok());
  EXPECT_EQ(g.metaindex_handle.offset, 100u);
  EXPECT_EQ(g.index_handle.size, ~uint64_t{0});
  // A future version with a valid checksum: NotSupported.
  std::string v2 = fe;
  EncodeFixed32(v2.data() + Footer::kHandleAreaLength, 2);
  EncodeFixed32(v2.data() + Footer::kHandleAreaLength + 4, Checksum32(v2.data(), Footer::kHandleAreaLength + 4));
  EXPECT_TRUE(g.decode_from(v2).IsNotSupported());
  // Any single bit flip: Corruption (magic or checksum catch it).
  for (size_t i = 0; i < fe.size() * 8; i++) {
    std::string bad_footer = fe;
    bad_footer[i / 8] ^= static_cast<char>(1 << (i % 8));
    EXPECT_TRUE(g.decode_from(bad_footer).IsCorruption()) << "bit " << i;
  }
}

// Runs every iterator operation; the only requirement is not to crash or
// read out of bounds, and to end in a non-valid or valid state consistently.
void Exercise(const Block& block, test::Random* rnd) {
  std::unique_ptr<InternalIterator> it = block.new_iterator(Icmp());
  int steps = 0;
  for (it->seek_to_first(); it->valid() && steps < 1000; it->next(), steps++) {
    (void)it->key();
    (void)it->value();
  }
  steps = 0;
  for (it->seek_to_last(); it->valid() && steps < 1000; it->prev(), steps++) (void)it->key();
  for (int i = 0; i < 5; i++) {
    const std::string t = RandomIKey(rnd);
    it->seek(t);
    if (it->valid()) it->prev();
    it->seek_for_prev(t);
    if (it->valid()) it->next();
  }
  if (!it->status().ok()) {
    EXPECT_TRUE(it->status().IsCorruption());
  }
}

TEST(BlockFuzz, MalformedBlocksNeverCrash) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  BlockBuilder b(4);
  Model model(ModelLess{Icmp()});
  for (int i = 0; i < 60; i++) model[RandomIKey(&rnd)] = rnd.random_bytes(rnd.uniform(30));
  for (const auto& [k, v] : model) b.add(k, v);
  const std::string good = b.finish().ToString();

  int corrupt = 0;
  for (int i = 0; i < 3000; i++) {
    std::string bad = good;
    const int mutations = 1 + static_cast<int>(rnd.uniform(3));
    for (int j = 0; j < mutations; j++) {
      switch (rnd.uniform(4)) {
        case 0: bad[rnd.uniform(bad.size())] ^= static_cast<char>(1 << rnd.uniform(8)); break;
        case 1: bad[rnd.uniform(bad.size())] = static_cast<char>(rnd.next()); break;
        case 2:  // damage the restart area specifically
          bad[bad.size() - 1 - rnd.uniform(std::min<size_t>(bad.size(), 40))] = static_cast<char>(rnd.next());
          break;
        default: bad.resize(rnd.uniform(bad.size() + 1)); break;
      }
      if (bad.empty()) break;
    }
    Block block(bad);
    if (!block.status().ok()) corrupt++;
    Exercise(block, &rnd);
  }
  for (int i = 0; i < 1000; i++) {
    Block block(rnd.random_bytes(rnd.uniform(64)));
    Exercise(block, &rnd);
  }
  EXPECT_GT(corrupt, 0);  // the restart validation does reject things
}

TEST(BlockFuzz, SpecificMalformations) {
  std::string s;
  EXPECT_TRUE(Block(s).status().IsCorruption());  // too short
  PutFixed32(&s, 0);
  EXPECT_TRUE(Block(s).status().IsCorruption());  // zero restarts
  s.clear();
  PutFixed32(&s, 0);
  PutFixed32(&s, 1);
  EXPECT_TRUE(Block(s).status().ok());  // the canonical empty block
  s.clear();
  PutFixed32(&s, 1000);  // restart count larger than the block
  EXPECT_TRUE(Block(s).status().IsCorruption());
  // An entry claiming a 100-byte key in a 3-byte area.
  s.clear();
  s.push_back(0);
  s.push_back(100);
  s.push_back(0);
  PutFixed32(&s, 0);
  PutFixed32(&s, 1);
  Block b(s);
  ASSERT_TRUE(b.status().ok());
  auto it = b.new_iterator(Icmp());
  it->seek_to_first();
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().IsCorruption());
  // A restart entry that claims to share bytes with a previous key.
  s.clear();
  s.push_back(3);
  s.push_back(0);
  s.push_back(0);
  PutFixed32(&s, 0);
  PutFixed32(&s, 1);
  Block b2(s);
  auto it2 = b2.new_iterator(Icmp());
  it2->seek_to_first();
  EXPECT_FALSE(it2->valid());
  EXPECT_TRUE(it2->status().IsCorruption());
}

}  // namespace
}  // namespace lightning
