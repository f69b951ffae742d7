// Copyright (c) Lightning authors. MIT License.
//
// WalWriter / WalReader: round trips, and the classification of damage into
// torn tails (dropped) and corruption (reported).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lightning/env.h"
#include "util/coding.h"
#include "util/hash.h"
#include "util/random.h"
#include "util/wal_test_util.h"
#include "wal/wal_format.h"
#include "wal/wal_reader.h"
#include "wal/wal_writer.h"

namespace lightning::wal {
namespace {

class WalTest : public test::LogFileTest {
 protected:

  // Writes records with sequence numbers 1, 2, ...; returns each record's end offset.
  std::vector<uint64_t> write_log(const std::vector<std::string>& payloads) {
    std::unique_ptr<WalWriter> writer;
    EXPECT_TRUE(WalWriter::create(env_.get(), kName, 7, &writer).ok());
    std::vector<uint64_t> ends;
    for (size_t i = 0; i < payloads.size(); i++) {
      EXPECT_TRUE(writer->add_record(i + 1, payloads[i]).ok());
      ends.push_back(writer->size());
    }
    EXPECT_TRUE(writer->close().ok());
    return ends;
  }

  struct ReadResult {
    std::vector<std::string> payloads;
    std::vector<uint64_t> sequences;
    WalReader::End end;
    uint64_t valid_end;
    uint64_t damage_offset;
  };

  ReadResult read_log(bool skip_damage = false) {
    ReadResult result;
    std::unique_ptr<WalReader> reader;
    Status s = WalReader::open(env_.get(), kName, 7, &reader);
    EXPECT_TRUE(s.ok()) << s.ToString();
    Slice payload;
    uint64_t seq;
    for (;;) {
      while (reader->read_record(&payload, &seq)) {
        result.payloads.push_back(payload.ToString());
        result.sequences.push_back(seq);
      }
      if (skip_damage && reader->end() == WalReader::End::kCorruption) {
        result.damage_offset = reader->damage_offset();
        reader->skip_damage();
        continue;
      }
      break;
    }
    result.end = reader->end();
    result.valid_end = reader->valid_end();
    if (!skip_damage) result.damage_offset = reader->damage_offset();
    return result;
  }

};

std::vector<std::string> SamplePayloads() {
  test::Random rnd(42);
  std::vector<std::string> p;
  p.push_back("");
  p.push_back(std::string("\0\0\0", 3));
  for (int i = 0; i < 20; i++) p.push_back(rnd.random_bytes(rnd.uniform(300)));
  p.push_back(rnd.random_bytes(200000));  // larger than the Env's write buffer
  p.push_back("last");
  return p;
}

TEST_F(WalTest, RoundTrip) {
  const auto payloads = SamplePayloads();
  write_log(payloads);
  ReadResult r = read_log();
  EXPECT_EQ(WalReader::End::kClean, r.end);
  ASSERT_EQ(payloads, r.payloads);
  for (size_t i = 0; i < r.sequences.size(); i++) EXPECT_EQ(i + 1, r.sequences[i]);
}

TEST_F(WalTest, EmptyLogAndHeaderOnly) {
  write_log({});
  ReadResult r = read_log();
  EXPECT_EQ(WalReader::End::kClean, r.end);
  EXPECT_TRUE(r.payloads.empty());
  set_contents("");
  r = read_log();
  EXPECT_EQ(WalReader::End::kTornTail, r.end);
  EXPECT_EQ(0u, r.valid_end);
}

// Every possible crash point of the last append: the intact prefix is read
// and the rest is a torn tail, never corruption and never a damaged record.
TEST_F(WalTest, TruncationAtEveryOffsetOfTheLastRecordsYieldsThePrefix) {
  const std::vector<std::string> payloads = {"alpha", "beta", std::string(100, 'g'), "delta-final"};
  const auto ends = write_log(payloads);
  const std::string full = contents();
  for (uint64_t cut = 0; cut < full.size(); cut++) {
    set_contents(full.substr(0, cut));
    ReadResult r = read_log();
    size_t expected = 0;
    while (expected < ends.size() && ends[expected] <= cut) expected++;
    ASSERT_EQ(expected, r.payloads.size()) << "cut at " << cut;
    for (size_t i = 0; i < expected; i++) ASSERT_EQ(payloads[i], r.payloads[i]);
    const bool at_boundary = cut == kFileHeaderSize || (expected > 0 && ends[expected - 1] == cut);
    ASSERT_EQ(at_boundary ? WalReader::End::kClean : WalReader::End::kTornTail, r.end) << "cut at " << cut;
    ASSERT_EQ(expected > 0 ? ends[expected - 1] : (cut >= kFileHeaderSize ? kFileHeaderSize : 0), r.valid_end)
        << "cut at " << cut;
  }
}

// A flipped bit anywhere: never returned as data. Damage before an intact
// record is corruption; damage in the last record is a torn tail.
TEST_F(WalTest, FlippedBitIsNeverReturnedAsData) {
  const std::vector<std::string> payloads = {"first record", "second record", "third record", "fourth"};
  const auto ends = write_log(payloads);
  const std::string full = contents();
  for (uint64_t pos = 0; pos < full.size(); pos++) {
    for (int bit : {0, 5}) {
      std::string damaged = full;
      damaged[pos] = static_cast<char>(damaged[pos] ^ (1 << bit));
      set_contents(damaged);
      ReadResult r = read_log();
      size_t record = 0;  // the record holding pos, or -1 for the file header
      while (record < ends.size() && ends[record] <= pos) record++;
      if (pos < kFileHeaderSize) {
        EXPECT_TRUE(r.payloads.empty());
        EXPECT_TRUE(r.end == WalReader::End::kCorruption) << pos;
        continue;
      }
      ASSERT_EQ(record, r.payloads.size()) << "pos " << pos;
      for (size_t i = 0; i < record; i++) ASSERT_EQ(payloads[i], r.payloads[i]);
      const bool last = record + 1 == ends.size();
      ASSERT_EQ(last ? WalReader::End::kTornTail : WalReader::End::kCorruption, r.end) << "pos " << pos;
      ASSERT_EQ(record == 0 ? kFileHeaderSize : ends[record - 1], r.damage_offset) << "pos " << pos;
    }
  }
}

TEST_F(WalTest, SkipDamageResumesAtTheNextIntactRecord) {
  const std::vector<std::string> payloads = {"one", "two", "three", "four", "five"};
  const auto ends = write_log(payloads);
  std::string damaged = contents();
  damaged[ends[1] + 4] ^= 0x10;  // the length field of record "three"
  set_contents(damaged);
  ReadResult r = read_log(/*skip_damage=*/true);
  EXPECT_EQ((std::vector<std::string>{"one", "two", "four", "five"}), r.payloads);
  EXPECT_EQ((std::vector<uint64_t>{1, 2, 4, 5}), r.sequences);
  EXPECT_EQ(ends[1], r.damage_offset);
  EXPECT_EQ(WalReader::End::kClean, r.end);
}

TEST_F(WalTest, WrongLogNumberIsCorruption) {
  write_log({"x"});
  std::unique_ptr<WalReader> reader;
  ASSERT_TRUE(WalReader::open(env_.get(), kName, 8, &reader).ok());
  Slice payload;
  uint64_t seq;
  EXPECT_FALSE(reader->read_record(&payload, &seq));
  EXPECT_EQ(WalReader::End::kCorruption, reader->end());
}

TEST_F(WalTest, NewerFormatVersionIsNotSupported) {
  write_log({"x"});
  std::string data = contents();
  EncodeFixed32(&data[8], kWalFormatVersion + 1);
  EncodeFixed32(&data[20], static_cast<uint32_t>(Hash64(data.data(), 20)));
  set_contents(data);
  std::unique_ptr<WalReader> reader;
  Status s = WalReader::open(env_.get(), kName, 7, &reader);
  EXPECT_TRUE(s.IsNotSupported()) << s.ToString();
}

TEST_F(WalTest, GarbageFileIsNeverReadAsRecords) {
  test::Random rnd(7);
  for (int i = 0; i < 200; i++) {
    set_contents(rnd.random_bytes(rnd.uniform(2000)));
    ReadResult r = read_log();
    EXPECT_TRUE(r.payloads.empty());
    EXPECT_NE(WalReader::End::kClean, r.end);
  }
}

}  // namespace
}  // namespace lightning::wal
