// Copyright (c) Lightning authors. MIT License.
#include "db/file_util.h"

#include <algorithm>
#include <cstring>

#include "util/hash.h"

namespace lightning {
namespace {

constexpr size_t kCopyChunk = 1 << 20;

// Ends a copy into dst: syncs and closes it when the copy went well (s), and
// removes it otherwise, so a failed copy never leaves a file that looks whole.
Status FinishCopy(Env* env, const std::string& dst, WritableFile* out, Status s, uint64_t total,
                  const Hasher64& hasher, uint64_t* size, uint64_t* hash) {
  if (s.ok()) s = out->sync();
  Status cs = out->close();
  if (s.ok()) s = cs;
  if (!s.ok()) {
    (void)env->remove_file(dst);
    return s;
  }
  if (size != nullptr) *size = total;
  if (hash != nullptr) *hash = hasher.digest();
  return Status::OK();
}

}  // namespace

Status HashFile(Env* env, const std::string& fname, uint64_t* size, uint64_t* hash) {
  std::unique_ptr<SequentialFile> file;
  Status s = env->new_sequential_file(fname, &file);
  if (!s.ok()) return s;
  std::unique_ptr<char[]> buf(new char[kCopyChunk]);
  Hasher64 hasher;
  uint64_t total = 0;
  for (;;) {
    Slice got;
    s = file->read(kCopyChunk, &got, buf.get());
    if (!s.ok()) return s;
    if (got.empty()) break;
    hasher.update(got);
    total += got.size();
  }
  *size = total;
  *hash = hasher.digest();
  return Status::OK();
}

Status CopyFile(Env* env, const std::string& src, const std::string& dst, uint64_t expected_size, uint64_t* size,
                uint64_t* hash) {
  std::unique_ptr<SequentialFile> in;
  Status s = env->new_sequential_file(src, &in);
  if (!s.ok()) return s;
  std::unique_ptr<WritableFile> out;
  s = env->new_writable_file(dst, &out);
  if (!s.ok()) return s;
  std::unique_ptr<char[]> buf(new char[kCopyChunk]);
  Hasher64 hasher;
  uint64_t total = 0;
  for (;;) {
    Slice got;
    s = in->read(kCopyChunk, &got, buf.get());
    if (!s.ok() || got.empty()) break;
    hasher.update(got);
    total += got.size();
    s = out->append(got);
    if (!s.ok()) break;
  }
  if (s.ok() && expected_size != UINT64_MAX && total != expected_size) {
    s = Status::Corruption(src, "has " + std::to_string(total) + " bytes; expected " + std::to_string(expected_size));
  }
  return FinishCopy(env, dst, out.get(), s, total, hasher, size, hash);
}

Status CopyTreeCommit(Env* env, const std::string& src, const btree::TreeMeta& meta, const std::string& dst,
                      uint64_t* size, uint64_t* hash) {
  const uint64_t page_size = meta.page_size;
  if (page_size < btree::kMinPageSize || page_size > btree::kMaxPageSize || meta.num_pages < 2) {
    return Status::InvalidArgument(src, "not a valid tree commit to copy");
  }
  std::unique_ptr<RandomAccessFile> in;
  Status s = env->new_random_access_file(src, &in);
  if (!s.ok()) return s;
  std::unique_ptr<WritableFile> out;
  s = env->new_writable_file(dst, &out);
  if (!s.ok()) return s;
  Hasher64 hasher;
  uint64_t total = 0;
  auto emit = [&](const Slice& data) {
    hasher.update(data);
    total += data.size();
    return out->append(data);
  };
  // The two meta slots: this commit's page in its own slot, zeros in the
  // other, so the copy opens at exactly this commit.
  std::string meta_page;
  btree::EncodeMetaPage(meta, meta.epoch % 2, &meta_page);
  meta_page.resize(page_size, '\0');
  const std::string zeros(page_size, '\0');
  s = emit(meta.epoch % 2 == 0 ? Slice(meta_page) : Slice(zeros));
  if (s.ok()) s = emit(meta.epoch % 2 == 1 ? Slice(meta_page) : Slice(zeros));
  std::unique_ptr<char[]> buf(new char[kCopyChunk]);
  const uint64_t end = meta.num_pages * page_size;
  for (uint64_t offset = 2 * page_size; s.ok() && offset < end;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kCopyChunk, end - offset));
    Slice got;
    s = in->read(offset, n, &got, buf.get());
    if (s.ok() && got.size() != n) {
      s = Status::Corruption(src, "ends before tree commit " + std::to_string(meta.epoch) + "'s last page (offset " +
                                      std::to_string(offset + got.size()) + ")");
    }
    if (s.ok()) s = emit(got);
    offset += n;
  }
  return FinishCopy(env, dst, out.get(), s, total, hasher, size, hash);
}

Status RemoveDirAndFiles(Env* env, const std::string& dir) {
  std::vector<std::string> children;
  Status s = env->get_children(dir, &children);
  if (s.IsNotFound()) return Status::OK();
  if (!s.ok()) return s;
  Status first;
  for (const auto& name : children) {
    const std::string path = dir + "/" + name;
    bool is_dir = false;
    Status r = env->is_directory(path, &is_dir);
    if (r.ok()) r = is_dir ? env->remove_dir(path) : env->remove_file(path);
    if (!r.ok() && first.ok()) first = r;
  }
  Status r = env->remove_dir(dir);
  if (!r.ok() && first.ok()) first = r;
  return first;
}

Status IsEmptyOrMissingDir(Env* env, const std::string& path, bool* empty) {
  bool is_dir = false;
  Status s = env->is_directory(path, &is_dir);
  if (s.IsNotFound()) {
    *empty = true;
    return Status::OK();
  }
  if (!s.ok()) return s;
  if (!is_dir) return Status::InvalidArgument(path, "exists and is not a directory");
  std::vector<std::string> children;
  s = env->get_children(path, &children);
  if (!s.ok()) return s;
  *empty = children.empty();
  return Status::OK();
}

}  // namespace lightning
