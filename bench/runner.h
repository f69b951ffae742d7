// Copyright (c) Lightning authors. MIT License.
//
// Runs every workload of --benchmarks against one engine. Called in a forked
// child process (one per engine, see bench_main.cc) so that each engine gets
// its own address space and peak-RSS figure.
#ifndef LIGHTNING_BENCH_RUNNER_H_
#define LIGHTNING_BENCH_RUNNER_H_

#include <string>

#include "engine.h"
#include "flags.h"

namespace lightning::bench {

// Prints db_bench-style lines to stdout and sends one encoded result record
// per workload (then the engine record) to result_fd. With command_fd >= 0
// (interleaved runs) each workload, the first one with the open, waits for
// one byte from command_fd: the parent runs the engines' steps in turn. With
// command_fd < 0 the workloads run back to back. Returns the process exit
// status: 0 on success, non-zero if the engine failed or returned wrong data.
int run_engine(const Flags& flags, const EngineInfo& info, const std::string& dir, int result_fd, int command_fd);

}  // namespace lightning::bench

#endif  // LIGHTNING_BENCH_RUNNER_H_
