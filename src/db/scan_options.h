// Copyright (c) Lightning authors. MIT License.
//
// The ScanOptions behind the scan conveniences that Database and Transaction
// both offer (scan, scan_reverse, scan_prefix).
#ifndef LIGHTNING_DB_SCAN_OPTIONS_H_
#define LIGHTNING_DB_SCAN_OPTIONS_H_

#include <cstddef>
#include <optional>

#include "lightning/scan.h"
#include "lightning/slice.h"

namespace lightning {

ScanOptions RangeScanOptions(const std::optional<Slice>& start, const std::optional<Slice>& end, size_t limit,
                             bool reverse);
ScanOptions PrefixScanOptions(const Slice& prefix, size_t limit);

}  // namespace lightning

#endif  // LIGHTNING_DB_SCAN_OPTIONS_H_
