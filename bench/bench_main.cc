// Copyright (c) Lightning authors. MIT License.
//
// lightning_bench: a db_bench-style comparison of Lightning with RocksDB,
// LevelDB and LMDB. See bench/README.md.
//
// Each engine runs in its own forked child process: engines then cannot
// share caches, allocator state or leftover threads, and getrusage() in the
// child gives that engine's own peak RSS. The child prints its db_bench lines
// to the shared stdout and sends its results back over a pipe; the parent
// decides whose turn it is (interleaved runs), prints the summary tables and
// writes --markdown / --json.
#include <fcntl.h>
#include <sys/prctl.h>
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

// One engine's child process, seen from the parent.
struct Child {
  const EngineInfo* info = nullptr;
  pid_t pid = -1;
  int result_fd = -1;   // read end of the child's result records
  int command_fd = -1;  // write end of its turn signals (interleaved runs), or -1
  std::string pending;  // received bytes not yet a whole line
  bool ended = false;   // no more steps: engine record received, pipe closed or child gone
  bool eof = false;     // its result pipe is at end of file
  bool got_engine_record = false;
  bool reaped = false;  // waitpid() returned its exit
  int status = 0;
  EngineResult result;
};

void close_fd(int* fd) {
  if (*fd >= 0) ::close(*fd);
  *fd = -1;
}

// Forks the child for `c`. In the child, closes every other child's pipe ends
// (a later child holding an earlier one's command pipe would keep it from
// seeing the end of the run) and dies with the parent.
bool start_child(const Flags& flags, const std::string& dir, bool interleaved, std::vector<Child>* all, Child* c) {
  c->result.name = c->info->name;
  int results[2];
  int commands[2] = {-1, -1};
  if (::pipe(results) != 0 || (interleaved && ::pipe(commands) != 0)) {
    c->result.error = std::string("pipe: ") + std::strerror(errno);
    c->ended = true;
    return false;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    c->result.error = std::string("fork: ") + std::strerror(errno);
    c->ended = true;
    for (int fd : {results[0], results[1], commands[0], commands[1]}) {
      if (fd >= 0) ::close(fd);
    }
    return false;
  }
  if (pid == 0) {
    // A stopped child would otherwise outlive a killed parent.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) std::_Exit(3);
    for (Child& other : *all) {
      close_fd(&other.result_fd);
      close_fd(&other.command_fd);
    }
    ::close(results[0]);
    if (commands[1] >= 0) ::close(commands[1]);
    const int code = run_engine(flags, *c->info, dir, results[1], commands[0]);
    ::close(results[1]);
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(code);  // no atexit handlers or static destructors of the parent's state
  }
  ::close(results[1]);
  if (commands[0] >= 0) ::close(commands[0]);
  c->pid = pid;
  c->result_fd = results[0];
  c->command_fd = commands[1];
  return true;
}

// Reads the child's records until one workload's result arrived (true) or
// the child has no more steps: its engine record came or its pipe closed.
// Records received after the one returned on stay in c->pending.
bool read_step(Child* c) {
  char buf[4096];
  for (;;) {
    size_t nl;
    while ((nl = c->pending.find('\n')) != std::string::npos) {
      const std::string line = c->pending.substr(0, nl);
      c->pending.erase(0, nl + 1);
      if (!decode_line(line, &c->result)) c->result.error = "malformed result record from the child";
      if (line.rfind("E\t", 0) == 0) {
        c->got_engine_record = true;
        c->ended = true;
        return false;
      }
      if (line.rfind("W\t", 0) == 0) return true;
    }
    const ssize_t n = ::read(c->result_fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      c->ended = true;
      c->eof = true;
      return false;
    }
    c->pending.append(buf, static_cast<size_t>(n));
  }
}

// Waits until the child is stopped (true) or has exited (false, reaped).
bool wait_stopped_or_exited(Child* c) {
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(c->pid, &status, WUNTRACED);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {  // cannot happen for our own child; treat as gone
      c->reaped = true;
      return false;
    }
    if (WIFSTOPPED(status)) return true;
    c->reaped = true;
    c->status = status;
    return false;
  }
}

// Lets the child finish (close its database, send its engine record), reaps
// it and fills in the outcome.
void finish_child(const Flags& flags, Child* c) {
  if (c->pid > 0 && !c->reaped) ::kill(c->pid, SIGCONT);
  close_fd(&c->command_fd);  // a child still waiting for a turn ends its run
  // Every record, even when the child had already exited during the run.
  while (c->result_fd >= 0 && !c->eof) read_step(c);
  close_fd(&c->result_fd);
  while (c->pid > 0 && !c->reaped) {
    int status = 0;
    const pid_t r = ::waitpid(c->pid, &status, 0);
    if (r < 0 && errno == EINTR) continue;
    c->reaped = true;
    c->status = r < 0 ? 0 : status;
  }
  EngineResult* result = &c->result;
  if (c->pid > 0 && WIFSIGNALED(c->status)) {
    result->ok = false;
    result->error = std::string("child killed by signal ") + std::to_string(WTERMSIG(c->status)) + " (" +
                    strsignal(WTERMSIG(c->status)) + ")";
    std::fprintf(stderr, "ERROR: %s: %s\n", c->info->name, result->error.c_str());
  } else if (!c->got_engine_record) {
    result->ok = false;
    if (result->error.empty()) result->error = "child exited without reporting";
  } else if (WIFEXITED(c->status) && WEXITSTATUS(c->status) != 0) {
    result->ok = false;
  }
  result->name = c->info->name;
  finish_summary(flags, result);
}

// Interleaved: every engine's child is started, then the workloads run step
// by step, each engine in turn. Only the engine whose turn it is runs: the
// others are stopped (SIGSTOP) with their background flushes and compactions,
// and the file system is synced after every turn (untimed), so no engine is
// measured while another one's threads or dirty pages use the machine.
void run_interleaved(const Flags& flags, const std::string& db, std::vector<Child>* children) {
  // A started child waits for its first turn before it opens its database.
  for (Child& c : *children) start_child(flags, db + "/" + c.info->name, /*interleaved=*/true, children, &c);
  const int dir_fd = ::open(db.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  for (size_t step = 0; step < flags.benchmarks.size(); ++step) {
    for (Child& c : *children) {
      if (c.ended) continue;
      ::kill(c.pid, SIGCONT);
      const char go = 'g';
      if (::write(c.command_fd, &go, 1) != 1) {  // the child is gone; finish_child says why
        c.ended = true;
        continue;
      }
      read_step(&c);
      if (children->size() > 1 && !c.ended) {
        ::kill(c.pid, SIGSTOP);
        if (!wait_stopped_or_exited(&c)) c.ended = true;
      }
      if (dir_fd >= 0) ::syncfs(dir_fd);
      std::printf("\n");
      std::fflush(stdout);
    }
  }
  if (dir_fd >= 0) ::close(dir_fd);
  for (Child& c : *children) finish_child(flags, &c);
}

// Sequential: each engine's child runs the whole list, one after another.
void run_sequential(const Flags& flags, const std::string& db, std::vector<Child>* children) {
  for (Child& c : *children) {
    start_child(flags, db + "/" + c.info->name, /*interleaved=*/false, children, &c);
    finish_child(flags, &c);
    std::printf("\n");
    std::fflush(stdout);
  }
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

  std::signal(SIGPIPE, SIG_IGN);  // a dead child's command pipe: write() fails instead
  std::vector<Child> children(engines.size());
  for (size_t i = 0; i < engines.size(); ++i) children[i].info = engines[i];
  if (flags.interleave) {
    run_interleaved(flags, db, &children);
  } else {
    run_sequential(flags, db, &children);
  }
  std::vector<EngineResult> results;
  bool all_ok = true;
  for (Child& c : children) {
    if (!c.result.ok) all_ok = false;
    results.push_back(std::move(c.result));
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
