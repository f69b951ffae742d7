// Copyright (c) Lightning authors. MIT License.
//
// lightning_bench: a db_bench-style comparison of Lightning with RocksDB,
// LevelDB and LMDB. See bench/README.md.
//
// Each engine runs in its own forked child process: engines then cannot
// share caches, allocator state or leftover threads, and getrusage() in the
// child gives that engine's own peak RSS. The child prints its db_bench lines
// to the shared stdout and sends its results back over a pipe; the parent
// prints the summary tables and writes --markdown / --json.
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine.h"
#include "flags.h"
#include "report.h"
#include "runner.h"

namespace lightning::bench {
namespace {

std::string read_first_line_with(const char* path, const char* prefix) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) {
      const size_t colon = line.find(':');
      if (colon == std::string::npos) return line;
      size_t start = colon + 1;
      while (start < line.size() && line[start] == ' ') ++start;
      return line.substr(start);
    }
  }
  return "unknown";
}

RunInfo machine_info(int argc, char** argv, const std::string& db_dir) {
  RunInfo info;
  for (int i = 0; i < argc; ++i) info.command_line += (i ? " " : "") + std::string(argv[i]);
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %Z", std::localtime(&now));
  info.date = date;
  info.cpu = read_first_line_with("/proc/cpuinfo", "model name");
  info.cpus = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  struct utsname u;
  if (::uname(&u) == 0) info.kernel = std::string(u.sysname) + " " + u.release;
  std::ifstream load("/proc/loadavg");
  std::string a, b, c;
  if (load >> a >> b >> c) info.load_average = a + " " + b + " " + c;
  info.db_dir = db_dir;
  return info;
}

void print_header(const Flags& flags, const RunInfo& info) {
  const double raw_mb = static_cast<double>(flags.num) * static_cast<double>(flags.key_size + flags.value_size) /
                        1048576.0;
  std::printf("lightning_bench\n");
  std::printf("Date:       %s\n", info.date.c_str());
  std::printf("CPU:        %d * %s\n", info.cpus, info.cpu.c_str());
  std::printf("Kernel:     %s\n", info.kernel.c_str());
  std::printf("Load avg:   %s (numbers from a loaded machine are noisy)\n", info.load_average.c_str());
  std::printf("Keys:       %zu bytes each (zero-padded decimal)\n", flags.key_size);
  std::printf("Values:     %zu bytes each (about half compressible)\n", flags.value_size);
  std::printf("Entries:    %llu\n", static_cast<unsigned long long>(flags.num));
  std::printf("Reads:      %llu\n", static_cast<unsigned long long>(flags.effective_reads()));
  std::printf("RawSize:    %.1f MB (estimated)\n", raw_mb);
  std::printf("Threads:    %d\n", flags.threads);
  std::printf("Compression:%s  Cache: %zu bytes  Bloom bits: %d  Sync: %d  Seed: %llu\n",
              compression_name(flags.compression), flags.cache_size, flags.bloom_bits, flags.sync ? 1 : 0,
              static_cast<unsigned long long>(flags.seed));
  std::printf("DB:         %s\n", info.db_dir.c_str());
#ifndef NDEBUG
  std::printf("WARNING: lightning_bench was built without NDEBUG (assertions on): numbers are not representative\n");
#endif
  std::printf("------------------------------------------------\n");
  std::fflush(stdout);
}

// Runs one engine in a child process; fills *result from its records.
void run_child(const Flags& flags, const EngineInfo& info, const std::string& dir, EngineResult* result) {
  result->name = info.name;
  int fds[2];
  if (::pipe(fds) != 0) {
    result->error = std::string("pipe: ") + std::strerror(errno);
    return;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    result->error = std::string("fork: ") + std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    return;
  }
  if (pid == 0) {
    ::close(fds[0]);
    const int code = run_engine(flags, info, dir, fds[1]);
    ::close(fds[1]);
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(code);  // no atexit handlers or static destructors of the parent's state
  }
  ::close(fds[1]);
  std::string pending;
  char buf[4096];
  bool got_engine_record = false;
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      const std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (line.rfind("E\t", 0) == 0) got_engine_record = true;
      if (!decode_line(line, result)) result->error = "malformed result record from the child";
    }
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    result->ok = false;
    result->error = std::string("child killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                    strsignal(WTERMSIG(status)) + ")";
    std::fprintf(stderr, "ERROR: %s: %s\n", info.name, result->error.c_str());
  } else if (!got_engine_record) {
    result->ok = false;
    if (result->error.empty()) result->error = "child exited without reporting";
  } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    result->ok = false;
  }
  result->name = info.name;
  finish_summary(flags, result);
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    std::fprintf(stderr, "ERROR: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

int real_main(int argc, char** argv) {
  Flags flags;
  bool help = false;
  std::string error;
  if (!parse_flags(argc, argv, &flags, &help, &error)) {
    std::fprintf(stderr, "lightning_bench: %s\n\n%s", error.c_str(), usage().c_str());
    return 1;
  }
  if (help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }

  std::vector<const EngineInfo*> engines;
  if (flags.engines.empty()) {
    for (const EngineInfo& e : compiled_engines()) {
      if (e.in_default_set) engines.push_back(&e);
    }
  } else {
    for (const std::string& name : flags.engines) {
      for (const EngineInfo& e : compiled_engines()) {
        if (name == e.name) engines.push_back(&e);
      }
    }
  }
  if (engines.empty()) {
    std::fprintf(stderr, "lightning_bench: no engine to run\n");
    return 1;
  }

  // A fresh directory unless one is given; removed at the end if ours.
  bool own_dir = false;
  std::string db = flags.db;
  if (db.empty()) {
    if (flags.use_existing_db) {
      std::fprintf(stderr, "lightning_bench: --use_existing_db=1 needs --db\n");
      return 1;
    }
    char tmpl[] = "/tmp/lightning_bench.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      std::fprintf(stderr, "lightning_bench: mkdtemp: %s\n", std::strerror(errno));
      return 1;
    }
    db = tmpl;
    own_dir = true;
  } else {
    std::error_code ec;
    std::filesystem::create_directories(db, ec);
    if (ec) {
      std::fprintf(stderr, "lightning_bench: cannot create %s: %s\n", db.c_str(), ec.message().c_str());
      return 1;
    }
  }

  const RunInfo info = machine_info(argc, argv, db);
  print_header(flags, info);

  std::vector<EngineResult> results;
  bool all_ok = true;
  for (const EngineInfo* e : engines) {
    EngineResult result;
    run_child(flags, *e, db + "/" + e->name, &result);
    if (!result.ok) all_ok = false;
    results.push_back(std::move(result));
    std::printf("\n");
    std::fflush(stdout);
  }

  for (const EngineResult& r : results) {
    std::string line = r.name + ":";
    if (r.disk_after_fill >= 0) {
      char buf[160];
      std::snprintf(buf, sizeof(buf), " disk after %s %.1f MiB (space amp %.2f),", r.fill_workload.c_str(),
                    static_cast<double>(r.disk_after_fill) / 1048576.0, r.space_amp);
      line += buf;
    }
    if (r.peak_rss_kb >= 0) line += " peak RSS " + std::to_string(r.peak_rss_kb / 1024) + " MiB,";
    if (r.max_write_stall_micros > 0) {
      line += " longest write " + std::to_string(static_cast<long long>(r.max_write_stall_micros)) + " us";
    }
    if (!r.ok) line += "  [FAILED]";
    std::printf("%s\n", line.c_str());
  }
  std::printf("\n");
  const std::string md = markdown_report(flags, info, results);
  std::fputs(md.c_str(), stdout);
  std::fflush(stdout);
  if (!flags.markdown.empty() && !write_file(flags.markdown, md)) all_ok = false;
  if (!flags.json.empty() && !write_file(flags.json, json_report(flags, info, results))) all_ok = false;

  if (own_dir) {
    std::error_code ec;
    std::filesystem::remove_all(db, ec);
  }
  for (const EngineResult& r : results) {
    if (!r.ok) std::fprintf(stderr, "lightning_bench: %s FAILED: %s\n", r.name.c_str(), r.error.c_str());
  }
  return all_ok ? 0 : 2;
}

}  // namespace
}  // namespace lightning::bench

int main(int argc, char** argv) { return lightning::bench::real_main(argc, argv); }
