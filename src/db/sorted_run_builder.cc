// Copyright (c) Lightning authors. MIT License.
#include "db/sorted_run_builder.h"

#include <algorithm>
#include <memory>

#include "db/filenames.h"
#include "sst/table_builder.h"

namespace lightning {
namespace {

// One output table being written.
struct Output {
  FileMetaData meta;
  std::unique_ptr<WritableFile> file;
  std::unique_ptr<TableBuilder> builder;
};

Status FinishOutput(Output* out, SortedRunResult* result) {
  Status s = out->builder->finish();
  if (s.ok()) s = out->file->sync();
  if (s.ok()) s = out->file->close();
  if (s.ok()) {
    out->meta.file_size = out->builder->file_size();
    out->meta.num_entries = out->builder->num_entries();
    result->bytes_written += out->meta.file_size;
    result->outputs.push_back(out->meta);
  }
  out->builder.reset();
  out->file.reset();
  return s;
}

}  // namespace

Status WriteSortedRun(const SortedRunSpec& spec, InternalIterator* input, SortedRunResult* result) {
  const auto* icmp = static_cast<const InternalKeyComparator*>(spec.table_options.comparator);
  const Comparator* ucmp = icmp->user_comparator();
  *result = SortedRunResult();

  Output out;
  std::vector<uint64_t> created;  // every file we made, for cleanup on failure
  std::string current_user_key;
  bool has_current_user_key = false;
  // Sequence number of the previous (newer) entry of the current user key;
  // above every real one for a key's first entry.
  SequenceNumber last_sequence_for_key = kMaxSequenceNumber + 1;

  Status s;
  input->seek_to_first();
  for (; s.ok() && input->valid(); input->next()) {
    if (spec.cancel != nullptr && (result->entries_read & 1023) == 0 && spec.cancel->load(std::memory_order_relaxed)) {
      s = Status::Aborted("cancelled: the database is closing");
      break;
    }
    result->entries_read++;
    const Slice key = input->key();
    ParsedInternalKey ikey;
    if (!ParseInternalKey(key, &ikey)) {
      s = Status::Corruption("bad internal key in a flush or compaction input");
      break;
    }
    bool new_user_key = false;
    if (!has_current_user_key || ucmp->compare(ikey.user_key, current_user_key) != 0) {
      current_user_key.assign(ikey.user_key.data(), ikey.user_key.size());
      has_current_user_key = true;
      last_sequence_for_key = kMaxSequenceNumber + 1;
      new_user_key = true;
    }
    bool drop = false;
    if (last_sequence_for_key <= spec.smallest_snapshot) {
      drop = true;  // a newer version is visible to every reader
    } else if (ikey.type == kTypeDeletion && ikey.sequence <= spec.smallest_snapshot && spec.may_drop_tombstone &&
               spec.may_drop_tombstone(ikey.user_key)) {
      drop = true;  // hides nothing
    }
    last_sequence_for_key = ikey.sequence;
    if (drop) {
      result->entries_dropped++;
      continue;
    }

    if (out.builder != nullptr && new_user_key && out.builder->file_size() >= spec.max_output_size) {
      s = FinishOutput(&out, result);
      if (!s.ok()) break;
    }
    if (out.builder == nullptr) {
      out.meta = FileMetaData();
      out.meta.number = spec.new_file_number();
      created.push_back(out.meta.number);
      const std::string fname = TableFileName(spec.dbname, out.meta.number);
      s = spec.env->new_writable_file(fname, &out.file);
      if (!s.ok()) break;
      TableOptions options = spec.table_options;
      options.file_name = fname;
      out.builder = std::make_unique<TableBuilder>(options, out.file.get());
      out.meta.smallest.assign(key.data(), key.size());
    }
    out.meta.largest.assign(key.data(), key.size());
    out.meta.largest_sequence = std::max(out.meta.largest_sequence, ikey.sequence);
    out.builder->add(key, input->value());
    s = out.builder->status();
  }
  if (s.ok()) s = input->status();
  if (s.ok() && out.builder != nullptr) s = FinishOutput(&out, result);
  if (s.ok() && !created.empty()) s = spec.env->sync_dir(spec.dbname);

  if (!s.ok()) {
    if (out.builder != nullptr) out.builder->abandon();
    out.builder.reset();
    out.file.reset();
    for (uint64_t number : created) (void)spec.env->remove_file(TableFileName(spec.dbname, number));
    result->outputs.clear();
  }
  return s;
}

}  // namespace lightning
