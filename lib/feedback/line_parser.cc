// The line parser (feedback.h, LineParser): Postfix log lines to the items
// FeedbackEngine::Apply reads, each with its time, the queue ids' hashes and
// the bounce rules' classification. Keeps no state but a timestamp cache.
// TimeOf and QueuedAs run for every line and sit in the same file as their
// caller, ParseLines, so that it can inline them.
#include "senderguard/feedback/feedback.h"

#include <cctype>

namespace senderguard {
namespace {

// "... queued as 4jZV3G6kF3z1bkqs)" -> the id, if the reply names one.
std::string_view QueuedAs(std::string_view reply) {
  const size_t at = reply.rfind("queued as ");
  if (at == std::string_view::npos) return {};
  std::string_view id = reply.substr(at + 10);
  size_t n = 0;
  while (n < id.size() && n < 32 && (std::isalnum(static_cast<unsigned char>(id[n])) != 0)) ++n;
  id = id.substr(0, n);
  return IsPostfixQueueId(id) ? id : std::string_view();
}

}  // namespace

LineParser::LineParser(const BounceRules* rules, cctz::time_zone tz)
    : rules_(rules), tz_(std::move(tz)) {}

void LineParser::Parse(const std::vector<RawLine>& lines, int64_t now, ParsedChunk* out) {
  ParseLines(lines, now, out);
  Classify(out);
}

void LineParser::Classify(ParsedChunk* chunk) const {
  for (ParsedChunk::Item& it : chunk->items) {
    const PostfixLine& p = it.p;
    if (p.kind == PostfixEvent::kDelivery && p.delivery != DeliveryStatus::kDeliverable &&
        p.delivery != DeliveryStatus::kUndeliverable && p.delivery != DeliveryStatus::kOther) {
      if (p.delivery == DeliveryStatus::kDeferred && !categorize_deferrals_) {
        it.cl = Classification{OutcomeClass::kDeferred, BounceCategory::kNone, -1,
                               ClassifiedBy::kStatus};
      } else {
        it.cl = rules_->Classify(p.delivery, p.dsn, p.reply);
      }
    }
  }
}

int64_t LineParser::TimeOf(std::string_view ts, int64_t now) {
  // "Mmm dd hh:mm:ss": one conversion per minute of log rather than per
  // second. Within a minute the time is its second 0 plus the seconds, when
  // (checked once per minute) second 59 converts to second 0 plus 59 (no
  // UTC offset change inside the minute, the same year chosen), and the
  // minute is less than 362 days old (so no later year can be chosen for
  // any second of it). Else every line takes ParseSyslogTime itself.
  const auto two_digits = [](char a, char b) {
    return a >= '0' && a <= '9' && b >= '0' && b <= '9' ? (a - '0') * 10 + (b - '0') : -1;
  };
  // (A fraction, "Nov 25 18:27:32.123456" from journalctl -o short-precise,
  // is dropped: the parser checked its digits.)
  const int sec = (ts.size() == 15 || (ts.size() > 15 && ts[15] == '.')) && ts[12] == ':'
                      ? two_digits(ts[13], ts[14])
                      : -1;
  if (sec < 0 && ts.size() >= 20 && (ts[10] == 'T' || ts[10] == 't') && ts[16] == ':') {
    // ISO 8601 ("2026-11-25T18:27:32.123456+00:00", rsyslog's default on
    // Debian 12): the offset is written, so within a minute the time is its
    // second 0 plus the seconds; one conversion per minute and offset,
    // although every line's text differs (microseconds).
    const int iso_sec = two_digits(ts[17], ts[18]);
    size_t z = 19;
    if (ts[z] == '.') {
      ++z;
      while (z < ts.size() && ts[z] >= '0' && ts[z] <= '9') ++z;
    }
    const std::string_view head = ts.substr(0, 17), zone = ts.substr(z);
    if (iso_sec >= 0 && iso_sec <= 59) {
      const std::string_view key(iso_key_);
      if (key.empty() || key.substr(0, 17) != head || key.substr(17) != zone) {
        iso_key_.assign(head);
        iso_key_.append(zone);
        std::string probe(head);
        probe += "00";
        probe.append(zone);
        const auto base = ParseSyslogTime(probe, now, tz_);
        iso_ok_ = base.has_value();
        iso_base_ = base.value_or(0);
      }
      if (iso_ok_) return iso_base_ + iso_sec;
    }
  }
  if (sec < 0 || sec > 59) {
    // ISO timestamps (and anything else): the last text converted is kept.
    if (ts != std::string_view(last_ts_) || now != last_ts_now_ || last_ts_.empty()) {
      auto parsed = ParseSyslogTime(ts, now, tz_);
      last_ts_.assign(ts);
      last_ts_now_ = now;
      last_ts_value_ = parsed ? *parsed : now;
    }
    return last_ts_value_;
  }
  const std::string_view minute = ts.substr(0, 12);
  if (now != minute_now_ || minute != std::string_view(minute_key_)) {
    minute_key_.assign(minute);
    minute_now_ = now;
    std::string probe(minute);
    probe += ":00";
    const auto first = ParseSyslogTime(probe, now, tz_);
    probe.replace(12, 3, ":59");
    const auto last = ParseSyslogTime(probe, now, tz_);
    constexpr int64_t kYear = 362 * 86400;
    minute_ok_ = first && last && *last == *first + 59 && *first > now - kYear;
    minute_base_ = first.value_or(0);
  }
  if (minute_ok_) return minute_base_ + sec;
  auto parsed = ParseSyslogTime(ts, now, tz_);
  return parsed ? *parsed : now;
}

void LineParser::ParseLines(const std::vector<RawLine>& lines, int64_t now, ParsedChunk* out) {
  out->prefetched = false;
  out->prefetch_hashes.clear();
  out->prefetch_ids.clear();
  out->prefetch_entries.clear();
  out->items.clear();
  out->items.reserve(lines.size());
  out->now = now;
  out->counts = EngineStats{};
  EngineStats& n = out->counts;
  for (const RawLine& raw : lines) {
    ++n.lines;
    // Parsed in place: a line not read gives its slot back.
    ParsedChunk::Item& it = out->items.emplace_back();
    const PostfixLine& p = it.p;
    if (raw.program.empty()) {
      ParsePostfixLine(raw.text, &it.p);
    } else {
      ParsePostfixMessage(raw.program, raw.text, &it.p);
    }
    if (p.kind == PostfixEvent::kNone) {
      if (p.skip == PostfixSkip::kMalformed) ++n.malformed;
      if (p.skip == PostfixSkip::kBadBytes) ++n.bad_bytes;
      if (p.skip == PostfixSkip::kTooLong) ++n.too_long;
      out->items.pop_back();
      continue;
    }
    if (p.kind == PostfixEvent::kQueueActive) {
      // Only a null sender matters (FeedbackEngine::Apply).
      if (p.sender.empty() && p.queue_id.size() <= 100) {
        it.queue_id_hash = detail::QueueIdHash(p.queue_id);
      } else {
        out->items.pop_back();
      }
      continue;
    }
    ++n.used;
    if (p.cut) ++n.cut;
    int64_t t = raw.time;
    if (t == 0) t = TimeOf(p.timestamp, now);
    it.time = t;
    if (p.kind == PostfixEvent::kDelivery && p.delivery == DeliveryStatus::kSent) {
      it.queued_as = QueuedAs(p.reply);
    }
    it.queue_id_hash = detail::QueueIdHash(p.queue_id);
    if (!p.new_queue_id.empty()) it.new_queue_id_hash = detail::QueueIdHash(p.new_queue_id);
    if (!it.queued_as.empty()) it.queued_as_hash = detail::QueueIdHash(it.queued_as);
  }
}

}  // namespace senderguard
