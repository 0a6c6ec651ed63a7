// ukrun-bench-boot: exec-to-exit wall time of ukrun booting a kernel, against the KVM floor and /bin/true.
#include <fcntl.h>
#include <spawn.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>

extern char** environ;

namespace {

struct Options {
  int rounds = 200;
  int warmup = 5;
  std::string ukrun;
  std::string kernel;
  std::vector<std::string> ukrun_args;
  std::vector<std::string> guest_args;
  std::string floor;
  std::string true_path = "/bin/true";
  std::string order = "random";
  std::uint64_t seed = 0;
  std::string json_path;
  bool trace = false;
};

struct Command {
  std::string name;
  std::vector<std::string> argv;
};

struct Summary {
  double min_us = 0;
  double p50_us = 0;
  double p90_us = 0;
  double p99_us = 0;
  double max_us = 0;
  double mean_us = 0;
};

struct Result {
  Command command;
  std::vector<double> samples_us;
  Summary summary;
};

struct CapturedRun {
  int status = 0;
  std::string output;
};

// Index of the commands in the results, fixed so the ratios can name them.
enum CommandIndex : std::size_t { ukrun_index = 0, floor_index = 1, true_index = 2, command_count = 3 };

std::int64_t monotonic_ns() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return fmt::format("ended with wait status {:#x}", status);
}

bool succeeded(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

// posix_spawn wants a mutable, null-terminated argv that outlives the call.
std::vector<char*> make_argv(const Command& command) {
  std::vector<char*> argv;
  argv.reserve(command.argv.size() + 1);
  for (const auto& arg : command.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  return argv;
}

// Redirections prepared once so each spawn pays only dup2 in the child, not an open of /dev/null.
class SpawnActions {
 public:
  SpawnActions(int stdout_fd, int stderr_fd, int stdin_fd) {
    posix_spawn_file_actions_init(&actions_);
    posix_spawn_file_actions_adddup2(&actions_, stdin_fd, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions_, stdout_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions_, stderr_fd, STDERR_FILENO);
  }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
  ~SpawnActions() { posix_spawn_file_actions_destroy(&actions_); }
  const posix_spawn_file_actions_t* get() const { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_{};
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

pid_t spawn(const Command& command, const SpawnActions& actions) {
  auto argv = make_argv(command);
  pid_t pid = 0;
  int error = posix_spawnp(&pid, argv[0], actions.get(), nullptr, argv.data(), environ);
  if (error != 0) {
    throw std::runtime_error(fmt::format("cannot start {} ({}): {}", command.name, argv[0], std::strerror(error)));
  }
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error(fmt::format("waitpid: {}", std::strerror(errno)));
  }
  return status;
}

// One timed run, output discarded; a failure aborts the whole benchmark. Rounds below 1 are warm-up.
double timed_run(const Command& command, const SpawnActions& discard, int round) {
  std::int64_t start = monotonic_ns();
  pid_t pid = spawn(command, discard);
  int status = wait_for(pid);
  std::int64_t end = monotonic_ns();
  if (!succeeded(status)) {
    std::string when = round >= 1 ? fmt::format("round {}", round) : fmt::format("warm-up round {}", 1 - round);
    throw std::runtime_error(fmt::format("{} {} in {}; run it by hand to see why: {}", command.name,
                                         describe_status(status), when, fmt::join(command.argv, " ")));
  }
  return static_cast<double>(end - start) / 1000.0;
}

// Runs a command with stdout and stderr (or only stderr) collected, for --trace.
CapturedRun captured_run(const Command& command, int null_fd, bool include_stdout) {
  std::array<int, 2> pipe_fds{};
  if (pipe2(pipe_fds.data(), O_CLOEXEC) < 0) throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
  Fd read_end{pipe_fds[0]};
  Fd write_end{pipe_fds[1]};
  SpawnActions actions{include_stdout ? write_end.get() : null_fd, write_end.get(), null_fd};
  pid_t pid = spawn(command, actions);
  write_end.reset();
  CapturedRun run;
  std::array<char, 4096> buffer{};
  for (;;) {
    ssize_t got = read(read_end.get(), buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    run.output.append(buffer.data(), static_cast<std::size_t>(got));
  }
  run.status = wait_for(pid);
  return run;
}

// Nearest-rank percentile of sorted samples.
double percentile(const std::vector<double>& sorted, double fraction) {
  auto rank = static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

Summary summarize(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  Summary summary;
  summary.min_us = samples.front();
  summary.p50_us = percentile(samples, 0.50);
  summary.p90_us = percentile(samples, 0.90);
  summary.p99_us = percentile(samples, 0.99);
  summary.max_us = samples.back();
  double total = 0;
  for (double sample : samples) total += sample;
  summary.mean_us = total / static_cast<double>(samples.size());
  return summary;
}

std::string utc_timestamp() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::array<char, 32> text{};
  std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text.data();
}

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

std::string host_description() {
  utsname host{};
  if (uname(&host) < 0) return "unknown";
  return fmt::format("{} {} {}", host.sysname, host.release, host.machine);
}

std::string json_string(const std::string& text) {
  std::string quoted = "\"";
  for (char c : text) {
    switch (c) {
      case '"': quoted += "\\\""; break;
      case '\\': quoted += "\\\\"; break;
      case '\n': quoted += "\\n"; break;
      case '\t': quoted += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          quoted += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          quoted += c;
        }
    }
  }
  return quoted + "\"";
}

std::string json_string_array(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  quoted.reserve(items.size());
  for (const auto& item : items) quoted.push_back(json_string(item));
  return fmt::format("[{}]", fmt::join(quoted, ", "));
}

double ratio(double numerator, double denominator) { return denominator > 0 ? numerator / denominator : 0.0; }

void print_table(std::FILE* out, const Options& options, const std::vector<Result>& results) {
  fmt::print(out, "{} rounds ({} order), {} warm-up, exec-to-exit wall time in microseconds\n", options.rounds,
             options.order, options.warmup);
  fmt::print(out, "{:<10} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "command", "min", "p50", "p90", "p99", "max");
  for (const auto& result : results) {
    const auto& s = result.summary;
    fmt::print(out, "{:<10} {:>9.1f} {:>9.1f} {:>9.1f} {:>9.1f} {:>9.1f}\n", result.command.name, s.min_us,
               s.p50_us, s.p90_us, s.p99_us, s.max_us);
  }
  const auto& ukrun = results[ukrun_index].summary;
  const auto& floor = results[floor_index].summary;
  const auto& truth = results[true_index].summary;
  fmt::print(out, "\n{:<12} {:>7} {:>7}\n", "ratio", "p50", "min");
  fmt::print(out, "{:<12} {:>7.2f} {:>7.2f}\n", "ukrun/floor", ratio(ukrun.p50_us, floor.p50_us),
             ratio(ukrun.min_us, floor.min_us));
  fmt::print(out, "{:<12} {:>7.2f} {:>7.2f}\n", "floor/true", ratio(floor.p50_us, truth.p50_us),
             ratio(floor.min_us, truth.min_us));
}

std::string to_json(const Options& options, const std::vector<Result>& results, const std::string& date) {
  std::string json = "{\n";
  json += fmt::format("  \"date\": {},\n", json_string(date));
  json += "  \"environment\": {\n";
  json += fmt::format("    \"host\": {},\n", json_string(host_description()));
  json += fmt::format("    \"cpu\": {},\n", json_string(cpu_model()));
  json += fmt::format("    \"online_cpus\": {},\n", sysconf(_SC_NPROCESSORS_ONLN));
  json += fmt::format("    \"rounds\": {},\n", options.rounds);
  json += fmt::format("    \"warmup\": {},\n", options.warmup);
  json += fmt::format("    \"order\": {},\n", json_string(options.order));
  json += fmt::format("    \"seed\": {},\n", options.seed);
  json += fmt::format("    \"kernel\": {}\n", json_string(options.kernel));
  json += "  },\n  \"commands\": {\n";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& result = results[i];
    const auto& s = result.summary;
    std::vector<std::string> samples;
    samples.reserve(result.samples_us.size());
    for (double sample : result.samples_us) samples.push_back(fmt::format("{:.1f}", sample));
    json += fmt::format("    {}: {{\n", json_string(result.command.name));
    json += fmt::format("      \"argv\": {},\n", json_string_array(result.command.argv));
    json += fmt::format(
        "      \"min_us\": {:.1f}, \"p50_us\": {:.1f}, \"p90_us\": {:.1f}, \"p99_us\": {:.1f}, \"max_us\": {:.1f}, "
        "\"mean_us\": {:.1f},\n",
        s.min_us, s.p50_us, s.p90_us, s.p99_us, s.max_us, s.mean_us);
    json += fmt::format("      \"samples_us\": [{}]\n", fmt::join(samples, ", "));
    json += fmt::format("    }}{}\n", i + 1 < results.size() ? "," : "");
  }
  const auto& ukrun = results[ukrun_index].summary;
  const auto& floor = results[floor_index].summary;
  const auto& truth = results[true_index].summary;
  json += "  },\n  \"ratios\": {\n";
  json += fmt::format("    \"ukrun_over_floor\": {{\"p50\": {:.3f}, \"min\": {:.3f}}},\n",
                      ratio(ukrun.p50_us, floor.p50_us), ratio(ukrun.min_us, floor.min_us));
  json += fmt::format("    \"floor_over_true\": {{\"p50\": {:.3f}, \"min\": {:.3f}}}\n",
                      ratio(floor.p50_us, truth.p50_us), ratio(floor.min_us, truth.min_us));
  json += "  }\n}\n";
  return json;
}

void write_json(const std::string& path, const std::string& json) {
  if (path == "-") {
    fmt::print(stdout, "{}", json);
    return;
  }
  std::ofstream file(path);
  file << json;
  file.close();
  if (!file) throw std::runtime_error(fmt::format("cannot write {}", path));
}

// Prints ukrun's own phase timings, if this ukrun has --trace-boot.
void print_trace(const Command& ukrun, const Options& options, int null_fd) {
  Command help{"ukrun", {options.ukrun, "--help"}};
  if (captured_run(help, null_fd, true).output.find("--trace-boot") == std::string::npos) {
    fmt::print(stderr, "\n--trace: {} has no --trace-boot option; skipped\n", options.ukrun);
    return;
  }
  Command traced = ukrun;
  traced.argv.insert(traced.argv.begin() + 1, "--trace-boot");
  CapturedRun run = captured_run(traced, null_fd, false);
  fmt::print(stderr, "\n--trace: {}\n{}", fmt::join(traced.argv, " "), run.output);
  if (!succeeded(run.status)) fmt::print(stderr, "--trace: ukrun {}\n", describe_status(run.status));
}

std::vector<Command> make_commands(const Options& options) {
  Command ukrun{"ukrun", {options.ukrun}};
  ukrun.argv.insert(ukrun.argv.end(), options.ukrun_args.begin(), options.ukrun_args.end());
  ukrun.argv.push_back(options.kernel);
  ukrun.argv.insert(ukrun.argv.end(), options.guest_args.begin(), options.guest_args.end());
  return {ukrun, Command{"kvm-floor", {options.floor}}, Command{"true", {options.true_path}}};
}

void run_benchmark(const Options& options) {
  std::vector<Command> commands = make_commands(options);
  Fd null_fd{open("/dev/null", O_RDWR | O_CLOEXEC)};
  if (null_fd.get() < 0) throw std::runtime_error(fmt::format("open /dev/null: {}", std::strerror(errno)));
  SpawnActions discard{null_fd.get(), null_fd.get(), null_fd.get()};

  for (int round = 0; round < options.warmup; ++round) {
    for (const auto& command : commands) timed_run(command, discard, -round);
  }

  std::vector<Result> results;
  for (const auto& command : commands) {
    results.push_back(Result{command, {}, {}});
    results.back().samples_us.reserve(static_cast<std::size_t>(options.rounds));
  }
  std::mt19937_64 random{options.seed};
  std::array<std::size_t, command_count> order{ukrun_index, floor_index, true_index};
  for (int round = 0; round < options.rounds; ++round) {
    if (options.order == "random") {
      std::shuffle(order.begin(), order.end(), random);
    } else {
      std::rotate(order.begin(), order.begin() + 1, order.end());
    }
    for (std::size_t index : order) {
      results[index].samples_us.push_back(timed_run(commands[index], discard, round + 1));
    }
  }
  std::string date = utc_timestamp();
  for (auto& result : results) result.summary = summarize(result.samples_us);

  // Keep stdout pure JSON when the JSON goes there.
  bool json_to_stdout = options.json_path == "-";
  print_table(json_to_stdout ? stderr : stdout, options, results);
  std::fflush(stdout);
  if (!options.json_path.empty()) write_json(options.json_path, to_json(options, results, date));
  if (options.trace) print_trace(commands[ukrun_index], options, null_fd.get());
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"Times ukrun booting a kernel, exec to exit, interleaved with kvm-floor (the least any KVM "
               "monitor does) and /bin/true (the cost of a process)."};
  app.name("ukrun-bench-boot");
  // Last value wins, so a wrapper's defaults can be overridden by arguments passed after them.
  auto last = CLI::MultiOptionPolicy::TakeLast;
  app.add_option("-n,--rounds", options.rounds, "Timed rounds; each runs every command once")
      ->capture_default_str()->check(CLI::PositiveNumber)->multi_option_policy(last);
  app.add_option("--warmup", options.warmup, "Untimed rounds first")
      ->capture_default_str()->check(CLI::NonNegativeNumber)->multi_option_policy(last);
  app.add_option("--ukrun", options.ukrun, "The ukrun binary (or any stand-in taking the kernel as argument)")
      ->required()->multi_option_policy(last);
  app.add_option("--kernel", options.kernel, "The unikernel ukrun boots")->required()->multi_option_policy(last);
  app.add_option("--ukrun-arg", options.ukrun_args, "Extra ukrun option, before the kernel (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--floor", options.floor, "The kvm-floor binary")->required()->multi_option_policy(last);
  app.add_option("--true", options.true_path, "The do-nothing process")->capture_default_str()->multi_option_policy(last);
  app.add_option("--order", options.order, "Order of the commands within a round")
      ->capture_default_str()->check(CLI::IsMember({"random", "rotate"}))->multi_option_policy(last);
  auto* seed = app.add_option("--seed", options.seed, "Seed for --order random (default: random)")
                   ->multi_option_policy(last);
  app.add_option("--json", options.json_path, "Also write the figures as JSON to FILE ('-' for stdout)")
      ->option_text("FILE")->multi_option_policy(last);
  app.add_flag("--trace", options.trace, "Afterwards run ukrun once with --trace-boot and print its stderr");
  app.add_option("guest-args", options.guest_args, "Arguments for the kernel, after --");
  CLI11_PARSE(app, argc, argv);
  if (seed->count() == 0) options.seed = std::random_device{}();

  try {
    run_benchmark(options);
    return 0;
  } catch (const std::exception& error) {
    fmt::print(stderr, "ukrun-bench-boot: {}\n", error.what());
    return 1;
  }
}
