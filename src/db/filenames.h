// Copyright (c) Lightning authors. MIT License.
//
// The names of the files in a database directory:
//   MANIFEST        the database's metadata, replaced atomically
//   MANIFEST.tmp    a manifest being written (removed at open)
//   TREE            the B+Tree page file (the bottom level)
//   LOCK            held with flock() by the process that has the database open
//   NNNNNN.log      write-ahead log number NNNNNN
//   NNNNNN.sst      sorted table number NNNNNN
//   lost/           damaged log data set aside by lenient recovery
#ifndef LIGHTNING_DB_FILENAMES_H_
#define LIGHTNING_DB_FILENAMES_H_

#include <cstdint>
#include <string>

namespace lightning {

enum class FileType { kLog, kTable, kManifest, kTempManifest, kLock, kTree, kUnknown };

std::string LogFileName(const std::string& dbname, uint64_t number);
std::string TableFileName(const std::string& dbname, uint64_t number);
std::string ManifestFileName(const std::string& dbname);
std::string TempManifestFileName(const std::string& dbname);
std::string LockFileName(const std::string& dbname);
std::string TreeFileName(const std::string& dbname);
std::string LostDirName(const std::string& dbname);

// Classifies a directory entry name; *number is set for logs and tables.
FileType ParseFileName(const std::string& name, uint64_t* number);

}  // namespace lightning

#endif  // LIGHTNING_DB_FILENAMES_H_
