#include "governance/budget_ledger.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "common/log.hpp"

namespace sallyport::governance {

namespace {

constexpr std::string_view kHeader = "sallyport-budget-journal v1";
constexpr std::int64_t kUnlimited = INT64_MAX;
// Bounds the journal within one busy day (each compaction is a ~tens of ms stall).
constexpr std::uint64_t kCompactEveryRecords = 100'000;

std::string sanitize_file_part(std::string_view name) {
  std::string out;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    out.push_back(ok ? c : '_');
  }
  if (out.empty() || out.front() == '.') out.insert(out.begin(), '_');
  return out;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

std::int64_t sat_add(std::int64_t a, std::int64_t b) {
  if (b > 0 && a > kUnlimited - b) return kUnlimited;
  return a + b;
}

// One parsed journal line: op day [a [b]].
struct JournalRecord {
  char op = 0;
  std::string day;
  std::uint64_t a = 0;
  std::int64_t b = 0;
};

std::optional<JournalRecord> parse_record(const std::string& line) {
  std::istringstream in(line);
  std::string op;
  JournalRecord record;
  if (!(in >> op >> record.day) || op.size() != 1) return std::nullopt;
  record.op = op[0];
  switch (record.op) {
    case 'R':
    case 'S':
      if (!(in >> record.a >> record.b) || record.b < 0) return std::nullopt;
      break;
    case 'X':
      if (!(in >> record.a)) return std::nullopt;
      break;
    case 'P':
    case 'C':
      if (!(in >> record.b) || record.b < 0) return std::nullopt;
      break;
    case 'Z':
      break;
    default:
      return std::nullopt;
  }
  std::string extra;
  if (in >> extra) return std::nullopt;
  return record;
}

}  // namespace

std::string utc_day_string(std::int64_t day) {
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{day}}};
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return text;
}

std::optional<OverMaxTokens> parse_over_max_tokens(std::string_view text) {
  if (text == "reject") return OverMaxTokens::reject;
  if (text == "clamp") return OverMaxTokens::clamp;
  return std::nullopt;
}

BudgetLedger::BudgetLedger(BudgetLedgerOptions options) : options_(std::move(options)) {
  if (!options_.clock) options_.clock = [] { return std::chrono::system_clock::now(); };
}

BudgetLedger::~BudgetLedger() { close(); }

void BudgetLedger::stop_flusher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  flush_wanted_.notify_one();
  if (flusher_.joinable()) flusher_.join();
}

// Group commit: fdatasync outside the lock on a dup of the journal fd, so reserve/settle never
// wait for the disk; whatever was appended during one sync is covered by the next.
void BudgetLedger::flush_loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    flush_wanted_.wait(lock, [this] { return dirty_ || stopping_; });
    if (!dirty_) return;  // stopping and nothing pending
    dirty_ = false;
    const int fd = fd_ >= 0 ? ::dup(fd_) : -1;
    lock.unlock();
    const bool ok = fd >= 0 && ::fdatasync(fd) == 0;
    const int saved_errno = errno;
    if (fd >= 0) ::close(fd);
    lock.lock();
    if (!ok && fd_ >= 0) {
      ++journal_errors_;
      log::error("budget", "budget journal fdatasync failed",
                 {{"path", journal_path_}, {"error", std::strerror(saved_errno)}});
    }
  }
}

BudgetLedgerOpenResult BudgetLedger::open(BudgetLedgerOptions options) {
  BudgetLedgerOpenResult result;
  std::unique_ptr<BudgetLedger> ledger(new BudgetLedger(std::move(options)));
  std::lock_guard lock(ledger->mutex_);
  ledger->day_ = ledger->today_locked();
  if (ledger->options_.state_dir.empty()) {
    result.ledger = std::move(ledger);
    return result;
  }
  ledger->journal_path_ = ledger->options_.state_dir + "/budget-" +
                          sanitize_file_part(ledger->options_.sandbox) + ".journal";
  std::ifstream in(ledger->journal_path_, std::ios::binary);
  if (in) {
    std::stringstream whole;
    whole << in.rdbuf();
    ledger->replay_locked(whole.str());
  } else if (::access(ledger->journal_path_.c_str(), F_OK) == 0) {
    // Exists but unreadable: compacting now would erase today's spend.
    result.error = "budget journal " + ledger->journal_path_ +
                   ": exists but cannot be read: " + std::strerror(errno);
    return result;
  }
  if (!ledger->compact_locked()) {
    result.error = "budget journal " + ledger->journal_path_ +
                   ": cannot write (state_dir must exist and be writable by sallyport): " +
                   std::strerror(errno);
    return result;
  }
  if (ledger->options_.durability == Durability::group_fsync) {
    ledger->flusher_ = std::thread([raw = ledger.get()] { raw->flush_loop(); });
  }
  result.ledger = std::move(ledger);
  return result;
}

// Applies today's records; lines from other days are dropped with their day.
void BudgetLedger::replay_locked(const std::string& text) {
  const std::string today = utc_day_string(day_);
  std::unordered_map<std::uint64_t, std::int64_t> pending;
  std::size_t start = 0;
  bool first = true;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string::npos) break;  // torn last line: the write never completed
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    const bool is_header = first && line == kHeader;
    first = false;
    if (is_header) continue;
    const auto record = parse_record(line);
    if (!record) {
      ++corrupt_lines_;
      continue;
    }
    if (record->day != today) continue;
    switch (record->op) {
      case 'P': spent_ = record->b; break;
      case 'C': raised_cap_ = record->b; break;
      case 'R': pending[record->a] = record->b; break;
      case 'S':
        pending.erase(record->a);
        spent_ = sat_add(spent_, record->b);
        break;
      case 'X': pending.erase(record->a); break;
      case 'Z': spent_ = 0; break;
      default: break;
    }
  }
  // Reservations the previous process never settled: count them, once (safe side).
  for (const auto& [id, tokens] : pending) {
    spent_ = sat_add(spent_, tokens);
    charged_at_recovery_ = sat_add(charged_at_recovery_, tokens);
  }
  if (corrupt_lines_ > 0) {
    log::warn("budget", "skipped corrupt budget journal lines",
              {{"path", journal_path_}, {"lines", corrupt_lines_}});
  }
}

void BudgetLedger::close() {
  stop_flusher();
  std::lock_guard lock(mutex_);
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

std::int64_t BudgetLedger::today_locked() {
  const auto now = options_.clock();
  return std::chrono::floor<std::chrono::days>(now).time_since_epoch().count();
}

// Rewrites the journal as: header, today's carried spend, today's raised cap, in-flight
// reservations. tmp + fsync + rename + fsync(dir) so a crash leaves the old or the new file.
bool BudgetLedger::compact_locked() {
  if (journal_path_.empty()) return true;
  const std::string today = utc_day_string(day_);
  std::string content(kHeader);
  content += "\nP " + today + " " + std::to_string(spent_) + "\n";
  if (raised_cap_) content += "C " + today + " " + std::to_string(*raised_cap_) + "\n";
  for (const auto& [id, tokens] : in_flight_) {
    content += "R " + today + " " + std::to_string(id) + " " + std::to_string(tokens) + "\n";
  }
  const std::string tmp = journal_path_ + ".tmp";
  const int tmp_fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (tmp_fd < 0) return false;
  const bool written = write_all(tmp_fd, content) && ::fsync(tmp_fd) == 0;
  ::close(tmp_fd);
  if (!written || ::rename(tmp.c_str(), journal_path_.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  fsync_dir(options_.state_dir);
  appended_since_compaction_ = 0;
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(journal_path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  return fd_ >= 0;
}

bool BudgetLedger::append_locked(const std::string& line) {
  if (journal_path_.empty()) return true;
  bool ok = fd_ >= 0 && write_all(fd_, line);
  if (ok && options_.durability == Durability::fsync_each_record) ok = ::fdatasync(fd_) == 0;
  if (ok && options_.durability == Durability::group_fsync) {
    dirty_ = true;
    flush_wanted_.notify_one();
  }
  if (ok && ++appended_since_compaction_ >= kCompactEveryRecords && !compact_locked()) {
    ++journal_errors_;
  }
  if (!ok) {
    ++journal_errors_;
    log::error("budget", "budget journal write failed",
               {{"path", journal_path_}, {"error", std::strerror(errno)}});
  }
  return ok;
}

void BudgetLedger::roll_day_locked() {
  const std::int64_t today = today_locked();
  if (today == day_) return;
  // New UTC day: spend and raise belong to the old day; in-flight reservations carry over.
  day_ = today;
  spent_ = 0;
  raised_cap_.reset();
  if (!compact_locked()) ++journal_errors_;
}

std::int64_t BudgetLedger::remaining_locked() const {
  const std::int64_t cap = raised_cap_.value_or(options_.limits.daily_tokens);
  if (cap <= 0) return kUnlimited;
  return std::max<std::int64_t>(0, cap - sat_add(spent_, reserved_));
}

ReserveResult BudgetLedger::decide_locked(const ReserveRequest& request) {
  const BudgetLimits& limits = options_.limits;
  const bool clamp = limits.over_max_tokens == OverMaxTokens::clamp;
  const std::int64_t prompt = std::max<std::int64_t>(0, request.prompt_estimate);
  std::optional<std::int64_t> asked = request.max_output_tokens;
  if (asked && *asked < 0) asked = 0;
  std::int64_t output = asked.value_or(limits.default_max_output_tokens);

  if (limits.per_request_tokens > 0) {
    const std::int64_t room = limits.per_request_tokens - prompt;
    const std::string rule = "per_request_tokens=" + std::to_string(limits.per_request_tokens);
    if (room <= 0 || (asked && *asked > room && !clamp)) {
      return {Decision::deny("budget:request", rule,
                             "prompt estimate " + std::to_string(prompt) + " + max output " +
                                 std::to_string(asked.value_or(0)) + " exceeds the cap"),
              std::nullopt};
    }
    if (!asked || output > room) output = room;
  }
  const std::int64_t daily_room = remaining_locked();
  if (daily_room != kUnlimited && sat_add(prompt, output) > daily_room) {
    const std::int64_t room = daily_room - prompt;
    const std::int64_t cap = raised_cap_.value_or(limits.daily_tokens);
    if (room < 1 || (asked && !clamp)) {
      return {Decision::deny("budget:daily", "daily_tokens=" + std::to_string(cap),
                             "remaining today " + std::to_string(daily_room) + ", needed " +
                                 std::to_string(sat_add(prompt, output))),
              std::nullopt};
    }
    output = room;
  }
  Reservation reservation;
  reservation.reserved_tokens = sat_add(prompt, output);
  if (!asked || *asked != output) reservation.max_output_tokens = output;
  return {Decision::allow("budget:ok"), reservation};
}

ReserveResult BudgetLedger::reserve(const ReserveRequest& request) {
  std::lock_guard lock(mutex_);
  roll_day_locked();
  ReserveResult result = decide_locked(request);
  if (!result.reservation) return result;
  Reservation& reservation = *result.reservation;
  reservation.id = next_id_++;
  // Memory before journal, everywhere: a compaction triggered by this append must see it.
  in_flight_.emplace(reservation.id, reservation.reserved_tokens);
  reserved_ = sat_add(reserved_, reservation.reserved_tokens);
  if (!append_locked("R " + utc_day_string(day_) + " " + std::to_string(reservation.id) + " " +
                     std::to_string(reservation.reserved_tokens) + "\n")) {
    in_flight_.erase(reservation.id);
    reserved_ -= reservation.reserved_tokens;
    return {Decision::deny("budget:unavailable", "journal",
                           "the budget journal cannot be written; failing closed"),
            std::nullopt};
  }
  return result;
}

SettleOutcome BudgetLedger::settle(std::uint64_t reservation_id, std::int64_t actual_tokens) {
  std::lock_guard lock(mutex_);
  roll_day_locked();
  const auto it = in_flight_.find(reservation_id);
  if (it == in_flight_.end()) return SettleOutcome::unknown_reservation;
  const std::int64_t actual = std::max<std::int64_t>(0, actual_tokens);
  // Memory first: a failed journal write must not leave a reservation counted forever.
  reserved_ -= it->second;
  in_flight_.erase(it);
  spent_ = sat_add(spent_, actual);
  append_locked("S " + utc_day_string(day_) + " " + std::to_string(reservation_id) + " " +
                std::to_string(actual) + "\n");
  return SettleOutcome::settled;
}

SettleOutcome BudgetLedger::release(std::uint64_t reservation_id) {
  std::lock_guard lock(mutex_);
  roll_day_locked();
  const auto it = in_flight_.find(reservation_id);
  if (it == in_flight_.end()) return SettleOutcome::unknown_reservation;
  reserved_ -= it->second;
  in_flight_.erase(it);
  append_locked("X " + utc_day_string(day_) + " " + std::to_string(reservation_id) + "\n");
  return SettleOutcome::settled;
}

void BudgetLedger::reset() {
  std::lock_guard lock(mutex_);
  roll_day_locked();
  spent_ = 0;
  append_locked("Z " + utc_day_string(day_) + "\n");
}

void BudgetLedger::raise(std::int64_t new_daily_cap) {
  std::lock_guard lock(mutex_);
  roll_day_locked();
  raised_cap_ = std::max<std::int64_t>(0, new_daily_cap);
  append_locked("C " + utc_day_string(day_) + " " + std::to_string(*raised_cap_) + "\n");
}

BudgetSnapshot BudgetLedger::snapshot() {
  std::lock_guard lock(mutex_);
  roll_day_locked();
  BudgetSnapshot snap;
  snap.day = utc_day_string(day_);
  snap.daily_cap = raised_cap_.value_or(options_.limits.daily_tokens);
  snap.per_request_cap = options_.limits.per_request_tokens;
  snap.spent_today = spent_;
  snap.reserved_in_flight = reserved_;
  snap.in_flight_requests = static_cast<std::int64_t>(in_flight_.size());
  snap.remaining_today = remaining_locked();
  snap.journal_errors = journal_errors_;
  snap.corrupt_journal_lines = corrupt_lines_;
  snap.charged_at_recovery = charged_at_recovery_;
  return snap;
}

std::int64_t BudgetLedger::remaining_today() {
  std::lock_guard lock(mutex_);
  roll_day_locked();
  return remaining_locked();
}

}  // namespace sallyport::governance
