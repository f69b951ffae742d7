// Copyright (c) Lightning authors. MIT License.
#include "db/manifest.h"

#include "db/filenames.h"
#include "util/coding.h"
#include "util/hash.h"

namespace lightning {
namespace {

constexpr uint64_t kManifestMagic = 0x4E414D4E54474C00ull;  // "\0LGTNMAN" little-endian
constexpr uint32_t kManifestFormatVersion = 3;
constexpr uint32_t kOldestReadableVersion = 1;
constexpr size_t kPrefixSize = 16;

enum Tag : uint32_t {
  kComparatorName = 1,
  kNextFileNumber = 2,
  kLogNumber = 3,
  kLastSequence = 4,
  kTable = 5,
  kTreeEpoch = 6,
};

}  // namespace

Status WriteManifest(Env* env, const std::string& dbname, const ManifestState& state) {
  std::string body;
  PutVarint32(&body, kComparatorName);
  PutLengthPrefixedSlice(&body, state.comparator_name);
  PutVarint32(&body, kNextFileNumber);
  PutVarint64(&body, state.next_file_number);
  PutVarint32(&body, kLogNumber);
  PutVarint64(&body, state.log_number);
  PutVarint32(&body, kLastSequence);
  PutVarint64(&body, state.last_sequence);
  PutVarint32(&body, kTreeEpoch);
  PutVarint64(&body, state.tree_epoch);
  for (const auto& t : state.tables) {
    PutVarint32(&body, kTable);
    PutVarint32(&body, static_cast<uint32_t>(t.level));
    PutVarint64(&body, t.meta.number);
    PutVarint64(&body, t.meta.file_size);
    PutVarint64(&body, t.meta.num_entries);
    PutVarint64(&body, t.meta.largest_sequence);
    PutLengthPrefixedSlice(&body, t.meta.smallest);
    PutLengthPrefixedSlice(&body, t.meta.largest);
  }

  std::string file;
  PutFixed64(&file, kManifestMagic);
  PutFixed32(&file, kManifestFormatVersion);
  PutFixed32(&file, static_cast<uint32_t>(body.size()));
  file.append(body);
  PutFixed64(&file, Hash64(file));

  const std::string tmp = TempManifestFileName(dbname);
  Status s = WriteStringToFile(env, file, tmp, /*sync=*/true);
  if (s.ok()) s = env->rename_file(tmp, ManifestFileName(dbname));
  if (s.ok()) s = env->sync_dir(dbname);
  return s;
}

Status ReadManifest(Env* env, const std::string& dbname, ManifestState* state) {
  const std::string fname = ManifestFileName(dbname);
  std::string file;
  Status s = ReadFileToString(env, fname, &file);
  if (!s.ok()) return s;
  if (file.size() < kPrefixSize + 8 || DecodeFixed64(file.data()) != kManifestMagic) {
    return Status::Corruption(fname, "not a Lightning manifest (bad magic or too short)");
  }
  const uint64_t stored = DecodeFixed64(file.data() + file.size() - 8);
  if (stored != Hash64(file.data(), file.size() - 8)) return Status::Corruption(fname, "checksum mismatch");
  const uint32_t version = DecodeFixed32(file.data() + 8);
  if (version < kOldestReadableVersion || version > kManifestFormatVersion) {
    return Status::NotSupported(fname, "manifest format version " + std::to_string(version) +
                                           " is not supported by this library");
  }
  const uint32_t body_length = DecodeFixed32(file.data() + 12);
  if (kPrefixSize + body_length + 8 != file.size()) return Status::Corruption(fname, "body length mismatch");

  Slice body(file.data() + kPrefixSize, body_length);
  ManifestState result;
  bool have_comparator = false, have_next = false, have_log = false;
  while (!body.empty()) {
    uint32_t tag;
    if (!GetVarint32(&body, &tag)) return Status::Corruption(fname, "bad field tag");
    bool ok = false;
    switch (tag) {
      case kComparatorName: {
        Slice name;
        ok = GetLengthPrefixedSlice(&body, &name);
        result.comparator_name = name.ToString();
        have_comparator = ok;
        break;
      }
      case kNextFileNumber:
        ok = have_next = GetVarint64(&body, &result.next_file_number);
        break;
      case kLogNumber:
        ok = have_log = GetVarint64(&body, &result.log_number);
        break;
      case kLastSequence:
        ok = GetVarint64(&body, &result.last_sequence);
        break;
      case kTreeEpoch:
        ok = GetVarint64(&body, &result.tree_epoch);
        break;
      case kTable: {
        ManifestState::Table t;
        uint32_t level = 0;
        Slice smallest, largest;
        ok = GetVarint32(&body, &level) && level < static_cast<uint32_t>(kNumLevels) &&
             GetVarint64(&body, &t.meta.number) && GetVarint64(&body, &t.meta.file_size) &&
             GetVarint64(&body, &t.meta.num_entries) && GetVarint64(&body, &t.meta.largest_sequence) &&
             GetLengthPrefixedSlice(&body, &smallest) &&
             GetLengthPrefixedSlice(&body, &largest) && smallest.size() >= 8 && largest.size() >= 8;
        t.level = static_cast<int>(level);
        t.meta.smallest = smallest.ToString();
        t.meta.largest = largest.ToString();
        if (ok) result.tables.push_back(std::move(t));
        break;
      }
      default:
        return Status::Corruption(fname, "unknown field tag " + std::to_string(tag));
    }
    if (!ok) return Status::Corruption(fname, "malformed field " + std::to_string(tag));
  }
  if (!have_comparator || !have_next || !have_log) return Status::Corruption(fname, "missing required fields");
  *state = std::move(result);
  return Status::OK();
}

}  // namespace lightning
