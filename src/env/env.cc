// Copyright (c) Lightning authors. MIT License.
#include "lightning/env.h"

namespace lightning {

SequentialFile::~SequentialFile() = default;
RandomAccessFile::~RandomAccessFile() = default;
WritableFile::~WritableFile() = default;
Status WritableFile::sync_flushed() { return Status::NotSupported("sync_flushed"); }
Status WritableFile::prefill_zeros(uint64_t /*size*/) { return Status::NotSupported("prefill_zeros"); }
RandomRWFile::~RandomRWFile() = default;
MappedRegion::~MappedRegion() = default;

void MappedRegion::populate(size_t /*offset*/, size_t /*length*/) const {}
FileLock::~FileLock() = default;
Env::~Env() = default;
Status Env::map_file(const std::string& fname, size_t /*length*/, std::unique_ptr<MappedRegion>* result) {
  result->reset();
  return Status::NotSupported("map " + fname, "this Env has no memory maps");
}

Status Env::link_file(const std::string& src, const std::string& target) {
  return Status::NotSupported("link " + src + " to " + target, "this Env has no hard links");
}

Status WriteStringToFile(Env* env, const Slice& data, const std::string& fname, bool sync) {
  std::unique_ptr<WritableFile> file;
  Status s = env->new_writable_file(fname, &file);
  if (!s.ok()) return s;
  s = file->append(data);
  if (s.ok() && sync) s = file->sync();
  if (s.ok()) s = file->close();
  if (!s.ok()) (void)env->remove_file(fname);
  return s;
}

Status ReadFileToString(Env* env, const std::string& fname, std::string* data) {
  data->clear();
  std::unique_ptr<SequentialFile> file;
  Status s = env->new_sequential_file(fname, &file);
  if (!s.ok()) return s;
  static constexpr size_t kBufferSize = 64 * 1024;
  std::unique_ptr<char[]> space(new char[kBufferSize]);
  for (;;) {
    Slice fragment;
    s = file->read(kBufferSize, &fragment, space.get());
    if (!s.ok() || fragment.empty()) break;
    data->append(fragment.data(), fragment.size());
  }
  return s;
}

}  // namespace lightning
