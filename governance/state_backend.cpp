#include "governance/state_backend.hpp"

#include <atomic>

namespace sallyport::governance {

std::optional<OnUnavailable> parse_on_unavailable(std::string_view text) {
  if (text == "fail_closed") return OnUnavailable::fail_closed;
  if (text == "fail_open") return OnUnavailable::fail_open;
  return std::nullopt;
}

std::int64_t utc_day_number(std::chrono::system_clock::time_point t) {
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  return secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
}

void LocalStateBackend::admit(const AdmitRequest& request, AdmitDone done) {
  AdmitResult result;
  AdmitTicket ticket;
  if (rate_limiter_) {
    auto rate = rate_limiter_->check(request.rate_tokens);
    if (!rate.decision.allowed()) {
      result.decision = std::move(rate.decision);
      result.retry_after_seconds = rate.retry_after_seconds;
      done(std::move(result));
      return;
    }
    ticket.rate_tokens = request.rate_tokens;
  }
  if (ledger_) {
    const ReserveRequest reserve =
        request.ledger_request.value_or(ReserveRequest{request.reserve_tokens, 0});
    auto reserved = ledger_->reserve(reserve);
    if (!reserved.decision.allowed()) {
      if (rate_limiter_ && ticket.rate_tokens) rate_limiter_->adjust_tokens(-ticket.rate_tokens);
      result.decision = std::move(reserved.decision);
      done(std::move(result));
      return;
    }
    ticket.ledger = reserved.reservation;
    if (reserved.reservation) ticket.reserved_tokens = reserved.reservation->reserved_tokens;
  }
  static std::atomic<std::uint64_t> next_id{1};
  ticket.id = "local:" + std::to_string(next_id.fetch_add(1));
  ticket.reserve_day = utc_day_number(std::chrono::system_clock::now());
  result.decision = Decision::allow("state:ok", "local");
  result.ticket = std::move(ticket);
  done(std::move(result));
}

void LocalStateBackend::settle(const AdmitTicket& ticket, std::int64_t actual_tokens) {
  if (ledger_ && ticket.ledger) ledger_->settle(ticket.ledger->id, actual_tokens);
  if (rate_limiter_ && ticket.rate_tokens) rate_limiter_->adjust_tokens(actual_tokens - ticket.rate_tokens);
}

void LocalStateBackend::release(const AdmitTicket& ticket) {
  if (ledger_ && ticket.ledger) ledger_->release(ticket.ledger->id);
  if (rate_limiter_ && ticket.rate_tokens) rate_limiter_->adjust_tokens(-ticket.rate_tokens);
}

StateBackendHealth LocalStateBackend::health() const {
  StateBackendHealth h;
  h.kind = "local";
  if (ledger_) {
    const auto snap = ledger_->snapshot();
    h.errors = snap.journal_errors;
  }
  return h;
}

}  // namespace sallyport::governance
