// tail_gen: writes a generated Postfix log and the matching queue map, for
// bench/tail_bench.sh (senderguard-tail against pflogsumm over the same file).
//
// The log is what one Postfix 3.7 submission relay writes in a day, in the
// syslog form Debian's rsyslog writes (RFC 3164 "Nov  5 18:27:32 host
// prog[pid]: ", or with --format maillog Postfix's own maillog_file's
// zero-padded day, or --format iso rsyslog's RSYSLOG_FileFormat). Per message
// the lines Postfix logs: submission smtpd connect / TLS / client= (with the
// SASL login, which is the senderguard account) / disconnect, cleanup
// message-id=, qmgr from= (queue active), one smtp line per recipient (sent,
// deferred with a retry later, or bounced, with real receivers' reply texts),
// the bounce daemon's notification and the notice's own lifecycle, qmgr
// removed; and noise between messages (anvil and scache statistics, smtpd
// warnings and rejects, TLS lines, other daemons). Timestamps increase
// evenly over the day that starts at --start, and queue ids are unique
// (short, or long with --long-ids).
//
// The queue map: one QueueEntry per message written through
// OpenStore + Store::Commit (no quota charges), as senderguard-milter
// writes it at end of message, so the tailer attributes every outcome.
//
// Ground truth: on stdout one line of key=value totals (what the tailer must
// count: delivered, deferred, hard, soft, technical, per class of
// attributed outcome; and what pflogsumm counts: received, sent, deferred
// and bounced lines); with --truth FILE the same per account, one line each:
// "account delivered deferred hard soft technical".
//
// Deterministic: the same options give the same bytes (the RNG is
// std::mt19937_64, which the standard fixes, and no distribution of the
// standard library is used).
//
// SECURITY: a benchmark tool; it writes only the files it is given.
#include <getopt.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <queue>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "senderguard/store/open.h"

namespace sg = senderguard;

namespace {

// ------------------------------------------------------------ options

enum class Format { kRfc3164, kMaillog, kIso };

struct Options {
  uint64_t lines = 1000000;
  std::string log_path;
  std::string store_path;
  std::string truth_path;
  int accounts = 1000;
  uint64_t seed = 1;
  int64_t start = 0;  // Unix s of the first line; 0: the day before now
  bool long_ids = false;
  Format format = Format::kRfc3164;
  int threads = 4;  // committing the queue map
};

void Usage(FILE* f) {
  std::fprintf(f,
               "usage: tail_gen --log FILE [--store DIR] [--lines N] [--accounts N] [--seed S]\n"
               "                [--start UNIX_S] [--long-ids] [--format rfc3164|maillog|iso]\n"
               "                [--truth FILE] [--threads N]\n"
               "Writes a day of Postfix 3.7 log (N lines, default 1000000) to FILE and the\n"
               "queue map of its messages into the senderguard store DIR; prints the totals\n"
               "the tailer must count.\n");
}

// ------------------------------------------------------------ randomness

class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(seed) {}
  uint64_t Next() { return g_(); }
  // Uniform in [0, n) (n > 0); the modulo bias is immaterial here.
  uint64_t Below(uint64_t n) { return g_() % n; }
  uint64_t Range(uint64_t lo, uint64_t hi) { return lo + Below(hi - lo + 1); }
  // True with probability p/1000.
  bool PerMille(uint64_t p) { return Below(1000) < p; }
  double Unit() { return static_cast<double>(g_() >> 11) * 0x1.0p-53; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) { return v[Below(v.size())]; }

 private:
  std::mt19937_64 g_;
};

// ------------------------------------------------------------ receivers

// What the tailer must make of an outcome (bounce-rules.conf's classes).
enum class Cls { kDelivered, kDeferred, kHard, kSoft, kTechnical };
constexpr int kClasses = 5;

struct Reply {
  const char* dsn;
  Cls cls;
  // Text in the parentheses after the status word. %H is replaced by the
  // receiver's "host NAME[ADDR]", %R by the recipient, %I by our IP, %T by a
  // receiver's token (hex), %M by the relay host name.
  const char* text;
};

struct Receiver {
  std::vector<const char*> domains;
  std::vector<const char*> mx;  // host names; empty: "mx." + the recipient's domain
  const char* ip_prefix;        // first three octets
  int weight;                   // share of recipients
  std::vector<Reply> sent, deferred, hard, other;
};

const char* kOurIp = "203.0.113.25";

std::vector<Receiver> Receivers() {
  // Real receivers' texts (as Postfix 3.7 logs them: a multi-line reply
  // joined, "(in reply to ... command)" behind).
  std::vector<Receiver> r;
  r.push_back(Receiver{
      {"gmail.com", "googlemail.com"},
      {"gmail-smtp-in.l.google.com", "alt1.gmail-smtp-in.l.google.com"},
      "142.250.102",
      34,
      {{"2.0.0", Cls::kDelivered, "250 2.0.0 OK  %T %Tsi%T.%T - gsmtp"}},
      {{"4.2.1", Cls::kDeferred,
        "%H said: 450-4.2.1 The user you are trying to contact is receiving mail too quickly. "
        "Please resend 450-4.2.1 your message at a later time. If the user is able to receive "
        "mail at that 450-4.2.1 time, your message will be delivered. For more information, go "
        "to 450 4.2.1  https://support.google.com/mail/?p=ReceivingRate %Tsi%T.%T - gsmtp (in "
        "reply to RCPT TO command)"},
       {"4.7.28", Cls::kDeferred,
        "%H said: 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail. To protect "
        "421-4.7.28 our users from spam, mail has been temporarily rate limited. 421 4.7.28  "
        "https://support.google.com/mail/?p=UnsolicitedRateLimitError %Tsi%T.%T - gsmtp (in "
        "reply to end of DATA command)"}},
      {{"5.1.1", Cls::kHard,
        "%H said: 550-5.1.1 The email account that you tried to reach does not exist. Please try "
        "550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 "
        "unnecessary spaces. For more information, go to 550 5.1.1  "
        "https://support.google.com/mail/?p=NoSuchUser %Tsi%T.%T - gsmtp (in reply to RCPT TO "
        "command)"},
       {"5.2.1", Cls::kHard,
        "%H said: 550-5.2.1 The email account that you tried to reach is inactive. For more "
        "550-5.2.1 information, go to 550 5.2.1  https://support.google.com/mail/?p=DisabledUser "
        "%Tsi%T.%T - gsmtp (in reply to RCPT TO command)"}},
      {{"5.2.2", Cls::kSoft,
        "%H said: 552-5.2.2 The recipient's inbox is out of storage space. Please direct the "
        "552-5.2.2 recipient to 552 5.2.2  https://support.google.com/mail/?p=OverQuotaPerm "
        "%Tsi%T.%T - gsmtp (in reply to end of DATA command)"},
       {"5.7.1", Cls::kTechnical,
        "%H said: 550-5.7.1 [%I] Our system has detected that this message is 550-5.7.1 likely "
        "unsolicited mail. To reduce the amount of spam sent to Gmail, 550-5.7.1 this message "
        "has been blocked. For more information, go to 550 5.7.1  "
        "https://support.google.com/mail/?p=UnsolicitedMessageError %Tsi%T.%T - gsmtp (in reply "
        "to end of DATA command)"}}});
  r.push_back(Receiver{
      {"outlook.com", "hotmail.com", "live.com"},
      {"hotmail-com.olc.protection.outlook.com", "outlook-com.olc.protection.outlook.com"},
      "52.101.68",
      16,
      {{"2.6.0", Cls::kDelivered,
        "250 2.6.0 <%T@mail.example> [InternalId=%T, Hostname=AM7PR02MB6082.eurprd02.prod."
        "outlook.com] 48211 bytes in 0.215, 218.537 KB/sec Queued mail for delivery"}},
      {{"4.7.500", Cls::kDeferred,
        "%H said: 451 4.7.500 Server busy. Please try again later from [%I]. (S77714) "
        "[AM4PEPF00027A5F.eurprd04.prod.outlook.com 2026-03-11T10:12:43.123Z %T] (in reply to "
        "RCPT TO command)"},
       {"4.7.650", Cls::kDeferred,
        "%H said: 451 4.7.650 The mail server [%I] has been temporarily rate limited due to IP "
        "reputation. For e-mail delivery information, see https://postmaster.live.com (S775) "
        "[DB5PEPF00014B8F.eurprd02.prod.outlook.com 2026-03-11T10:12:43.123Z %T] (in reply to "
        "MAIL FROM command)"}},
      {{"5.5.0", Cls::kHard,
        "%H said: 550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). "
        "[AM4PEPF00027A5F.eurprd04.prod.outlook.com 2026-03-11T10:12:43.123Z %T] (in reply to "
        "RCPT TO command)"},
       {"5.1.10", Cls::kHard,
        "%H said: 550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient %R not found by SMTP "
        "address lookup (in reply to RCPT TO command)"}},
      {{"5.2.2", Cls::kSoft,
        "%H said: 552 5.2.2 STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded; "
        "Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot open mailbox. "
        "(in reply to end of DATA command)"},
       {"5.7.1", Cls::kTechnical,
        "%H said: 550 5.7.1 Unfortunately, messages from [%I] weren't sent. Please contact your "
        "Internet service provider since part of their network is on our block list (S3140). "
        "You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. "
        "[AM4PEPF00027A5F.eurprd04.prod.outlook.com 2026-03-11T10:12:43.123Z %T] (in reply to "
        "MAIL FROM command)"}}});
  r.push_back(Receiver{
      {"yahoo.com", "aol.com", "ymail.com"},
      {"mta5.am0.yahoodns.net", "mta6.am0.yahoodns.net", "mta7.am0.yahoodns.net"},
      "67.195.204",
      10,
      {{"2.0.0", Cls::kDelivered, "250 ok dirdel"}},
      {{"4.7.0", Cls::kDeferred,
        "%H said: 421 4.7.0 [TSS04] Messages from %I temporarily deferred due to unexpected "
        "volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes "
        "(in reply to MAIL FROM command)"}},
      {{"5.0.0", Cls::kHard,
        "%H said: 552 1 Requested mail action aborted, mailbox not found (in reply to end of "
        "DATA command)"},
       {"5.0.0", Cls::kHard, "%H said: 554 delivery error: dd Sorry your message to %R cannot be delivered. This mailbox is disabled (554.30). - mta4170.mail.gq1.yahoo.com (in reply to end of DATA command)"}},
      {{"5.7.9", Cls::kTechnical,
        "%H said: 554 5.7.9 Message not accepted for policy reasons.  See "
        "https://senders.yahooinc.com/error-codes (in reply to end of DATA command)"}}});
  r.push_back(Receiver{
      {"gmx.de", "web.de", "gmx.net"},
      {"mx00.emig.gmx.net", "mx01.emig.gmx.net"},
      "212.227.15",
      8,
      {{"2.0.0", Cls::kDelivered,
        "250 Requested mail action okay, completed: id=1M%T-1t%T"}},
      {{"4.0.0", Cls::kDeferred,
        "%H said: 421-gmx.net (mxgmx017) Nemesis ESMTP Service not available 421-Service "
        "unavailable 421-Reject due to policy restrictions. 421 For explanation visit "
        "https://postmaster.gmx.net/en/case?c=hi&i=ip&v=%I&r=%T (in reply to MAIL FROM "
        "command)"}},
      {{"5.0.0", Cls::kHard,
        "%H said: 550 Requested action not taken: mailbox unavailable (in reply to RCPT TO "
        "command)"}},
      {{"5.0.0", Cls::kSoft,
        "%H said: 552-Requested mail action aborted: exceeded storage allocation 552 "
        "Postfach voll / mailbox full (in reply to RCPT TO command)"},
       {"5.0.0", Cls::kTechnical,
        "%H said: 554-gmx.net (mxgmx116) Nemesis ESMTP Service not available 554-No SMTP service "
        "554-Bad DNS PTR resource record. 554 For explanation visit "
        "https://postmaster.gmx.net/en/case?c=r0601&i=ip&v=%I&r=%T (in reply to initial "
        "greeting)"}}});
  r.push_back(Receiver{
      {"orange.fr", "wanadoo.fr"},
      {"smtp-in.orange.fr"},
      "193.252.22",
      4,
      {{"2.0.0", Cls::kDelivered, "250 2.0.0 %T mail accepted for delivery"}},
      {{"4.0.0", Cls::kDeferred,
        "%H said: 421 mwinf5c30 ME Trop de connexions, veuillez verifier votre configuration. "
        "Too many connections, slow down. OFR004_104 [104] (in reply to end of DATA command)"}},
      {{"5.1.1", Cls::kHard,
        "%H said: 550 5.1.1 %R Adresse d au moins un destinataire invalide. Invalid recipient. "
        "OFR_416 [416] (in reply to RCPT TO command)"}},
      {{"5.0.0", Cls::kTechnical,
        "%H said: 550 mwinf5c10 ME Adresse IP source bloquee pour incident de spam. Client host "
        "blocked for spamming issues. OFR006_102 Ref http://csi.cloudmark.com (in reply to "
        "MAIL FROM command)"}}});
  r.push_back(Receiver{
      {"icloud.com", "me.com", "mac.com"},
      {"mx01.mail.icloud.com", "mx02.mail.icloud.com"},
      "17.57.155",
      5,
      {{"2.0.0", Cls::kDelivered, "250 2.0.0 Ok: queued as %Q"}},
      {{"4.7.1", Cls::kDeferred,
        "%H said: 421 4.7.1 Messages to %R deferred due to excessive volume. Try again later - "
        "https://support.apple.com/en-us/HT204137 (in reply to end of DATA command)"}},
      {{"5.1.1", Cls::kHard,
        "%H said: 550 5.1.1 <%R>: user does not exist (in reply to RCPT TO command)"}},
      {{"5.7.1", Cls::kTechnical,
        "%H said: 550 5.7.1 [CS01] Message rejected due to local policy. Please visit "
        "https://support.apple.com/en-us/HT204137 (in reply to end of DATA command)"}}});
  // Company domains behind their own Postfix (greylisting, Dovecot quota),
  // Exchange Online or Mimecast.
  r.push_back(Receiver{
      {"example-gmbh.de", "acme-corp.example", "stadtwerke.example", "uni-example.de",
       "kanzlei.example", "shop.example.org"},
      {},  // each domain its own MX: "mx." + domain
      "198.51.100",
      23,
      {{"2.0.0", Cls::kDelivered, "250 2.0.0 Ok: queued as %Q"},
       {"2.0.0", Cls::kDelivered, "250 2.0.0 Ok: queued as %Q"},
       {"2.6.0", Cls::kDelivered,
        "250 2.6.0 <%T@mail.example> [InternalId=%T, Hostname=FR3P281MB1234.DEUP281.PROD."
        "OUTLOOK.COM] 52311 bytes in 0.180, 283.281 KB/sec Queued mail for delivery -> 250 "
        "2.1.5"},
       {"2.0.0", Cls::kDelivered, "250 2.0.0 Ok %T-%T eu-smtp-inbound-1.mimecast.com"}},
      {{"4.2.0", Cls::kDeferred,
        "%H said: 450 4.2.0 <%R>: Recipient address rejected: Greylisted, see "
        "http://postgrey.schweikert.ch/help/%D.html (in reply to RCPT TO command)"},
       {"4.7.1", Cls::kDeferred,
        "%H said: 451 4.7.1 Please try again later (greylisting) (in reply to RCPT TO "
        "command)"},
       {"4.0.0", Cls::kDeferred,
        "%H said: 421 greylisted, please try again in 300 seconds (in reply to RCPT TO "
        "command)"},
       {"4.4.1", Cls::kDeferred, "connect to %M[%A]:25: Connection timed out"},
       {"4.4.2", Cls::kDeferred,
        "lost connection with %M[%A] while receiving the initial server greeting"}},
      {{"5.1.1", Cls::kHard,
        "%H said: 550 5.1.1 <%R>: Recipient address rejected: User unknown in virtual mailbox "
        "table (in reply to RCPT TO command)"},
       {"5.1.1", Cls::kHard,
        "%H said: 550 5.1.1 <%R>: Recipient address rejected: User unknown in local recipient "
        "table (in reply to RCPT TO command)"},
       {"5.4.4", Cls::kHard,
        "Host or domain name not found. Name service error for name=%D type=MX: Host not "
        "found"}},
      {{"5.2.2", Cls::kSoft,
        "%H said: 552 5.2.2 <%R>: Recipient address rejected: Mailbox is full (in reply to "
        "RCPT TO command)"},
       {"5.2.2", Cls::kSoft,
        "%H said: 452 4.2.2 <%R> Quota exceeded (mailbox for user is full) (in reply to end of "
        "DATA command)"},
       {"5.7.1", Cls::kTechnical,
        "%H said: 554 5.7.1 Service unavailable; Client host [%I] blocked using "
        "zen.spamhaus.org; https://www.spamhaus.org/query/ip/%I (in reply to RCPT TO "
        "command)"},
       {"5.3.4", Cls::kTechnical,
        "message size 31457280 exceeds size limit 26214400 of server %M[%A]"}}});
  return r;
}

// ------------------------------------------------------------ the log writer

const char* kMonthNames[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

class LogWriter {
 public:
  LogWriter(FILE* f, Format format, uint64_t max_lines)
      : f_(f), format_(format), max_lines_(max_lines) {
    buf_.reserve(kFlushAt + 70000);
  }
  ~LogWriter() { Flush(); }

  bool full() const { return lines_ >= max_lines_; }
  uint64_t lines() const { return lines_; }
  uint64_t bytes() const { return bytes_; }

  // Starts a line at time t (Unix s, usec for --format iso) from
  // "PROG[PID]: "; returns false (and writes nothing) when the log is full.
  bool Begin(int64_t t, uint32_t usec, std::string_view prog, uint32_t pid) {
    if (full()) return false;
    Stamp(t, usec);
    buf_ += ' ';
    buf_ += "mx1";
    buf_ += ' ';
    buf_ += prog;
    buf_ += '[';
    buf_ += std::to_string(pid);
    buf_ += "]: ";
    return true;
  }
  std::string& buf() { return buf_; }
  void End() {
    buf_ += '\n';
    ++lines_;
    if (buf_.size() >= kFlushAt) Flush();
  }
  bool Flush() {
    if (!buf_.empty()) {
      if (std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size()) return false;
      bytes_ += buf_.size();
      buf_.clear();
    }
    return true;
  }

 private:
  static constexpr size_t kFlushAt = 1 << 20;

  void Stamp(int64_t t, uint32_t usec) {
    if (t != stamp_t_) {
      stamp_t_ = t;
      const time_t tt = static_cast<time_t>(t);
      struct tm tm;
      gmtime_r(&tt, &tm);
      char b[40];
      switch (format_) {
        case Format::kRfc3164:
          std::snprintf(b, sizeof b, "%s %2d %02d:%02d:%02d", kMonthNames[tm.tm_mon], tm.tm_mday,
                        tm.tm_hour, tm.tm_min, tm.tm_sec);
          break;
        case Format::kMaillog:
          std::snprintf(b, sizeof b, "%s %02d %02d:%02d:%02d", kMonthNames[tm.tm_mon],
                        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
          break;
        case Format::kIso:
          std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
          break;
      }
      stamp_ = b;
    }
    buf_ += stamp_;
    if (format_ == Format::kIso) {
      char b[24];
      std::snprintf(b, sizeof b, ".%06u+00:00", usec % 1000000);
      buf_ += b;
    }
  }

  FILE* f_;
  Format format_;
  uint64_t max_lines_;
  uint64_t lines_ = 0, bytes_ = 0;
  std::string buf_;
  int64_t stamp_t_ = -1;
  std::string stamp_;
};

// ------------------------------------------------------------ the generator

struct Totals {
  uint64_t by_class[kClasses] = {};
  uint64_t received = 0, sent_lines = 0, deferred_lines = 0, bounced_lines = 0;
  uint64_t messages = 0, notices = 0, noise = 0;
};

struct Recipient {
  std::string address;
  const Receiver* rx = nullptr;
  std::string domain;
  int outcome = 0;  // 0 sent, 1 deferred (then retried), 2 hard, 3 other
  int tries = 0;
};

struct Message {
  std::string queue_id;
  std::string message_id;  // "<...>", as cleanup logs it and the milter records it
  int account = 0;
  int64_t arrival = 0;  // Unix s
  uint64_t size = 0;
  std::vector<Recipient> rcpts;
  std::vector<size_t> pending;  // indexes of recipients still queued
  bool bounced_any = false;
};

// A retry of a message's deferred recipients, due at log line `due`.
struct Retry {
  uint64_t due;
  uint64_t order;  // ties: first scheduled first
  size_t message;
  bool operator>(const Retry& o) const { return due != o.due ? due > o.due : order > o.order; }
};

class Generator {
 public:
  Generator(const Options& o, LogWriter* w)
      : o_(o), w_(w), rng_(o.seed), receivers_(Receivers()), per_account_(o.accounts) {
    // Zipf-like shares: a few accounts send most of the mail.
    double sum = 0;
    for (int i = 0; i < o.accounts; ++i) {
      sum += 1.0 / (i + 3);
      account_cdf_.push_back(sum);
    }
    for (double& c : account_cdf_) c /= sum;
    int total = 0;
    for (const auto& r : receivers_) total += r.weight;
    int acc = 0;
    for (size_t i = 0; i < receivers_.size(); ++i) {
      acc += receivers_[i].weight;
      receiver_cdf_.push_back(static_cast<double>(acc) / total);
    }
    // Dead addresses: a pool, so that stale lists bounce on the same ones
    // again (the tailer's suppression after repeated hard bounces).
    for (int i = 0; i < 2000; ++i) {
      Recipient r;
      r.rx = &PickReceiver();
      r.domain = rng_.Pick(r.rx->domains);
      r.address = LocalPart() + std::to_string(i % 97) + "@" + r.domain;
      r.outcome = 2;
      dead_.push_back(r);
    }
    for (int i = 0; i < 40; ++i) smtpd_pids_.push_back(static_cast<uint32_t>(rng_.Range(2000, 60000)));
    for (int i = 0; i < 60; ++i) smtp_pids_.push_back(static_cast<uint32_t>(rng_.Range(2000, 60000)));
    for (int i = 0; i < 6; ++i) cleanup_pids_.push_back(static_cast<uint32_t>(rng_.Range(2000, 60000)));
    qmgr_pid_ = 1187;
    anvil_pid_ = static_cast<uint32_t>(rng_.Range(2000, 60000));
    scache_pid_ = static_cast<uint32_t>(rng_.Range(2000, 60000));
    bounce_pid_ = static_cast<uint32_t>(rng_.Range(2000, 60000));
  }

  void Run() {
    while (!w_->full()) {
      DueRetries();
      if (w_->full()) break;
      if (rng_.PerMille(120)) Noise();
      if (w_->full()) break;
      NewMessage();
    }
  }

  const Totals& totals() const { return t_; }
  const std::vector<Message>& messages() const { return messages_; }
  const std::vector<std::array<uint64_t, kClasses>>& per_account() const { return per_account_; }
  std::string AccountName(int i) const {
    char b[16];
    std::snprintf(b, sizeof b, "acct%04d", i + 1);
    return b;
  }

 private:
  // Time of the next line: the day spread evenly over the lines.
  int64_t Now() const {
    return o_.start + static_cast<int64_t>(w_->lines() * 86400 / std::max<uint64_t>(o_.lines, 1));
  }
  uint32_t Usec() { return static_cast<uint32_t>(rng_.Below(1000000)); }

  bool Begin(std::string_view prog, uint32_t pid) { return w_->Begin(Now(), Usec(), prog, pid); }

  // Postfix's queue ids (mail_queue.h): short = 5 hex digits of
  // microseconds + the inode in hex; long = seconds (base 52, 6 digits) +
  // microseconds (base 52, 4 digits) + 'z' + the inode in base 51.
  std::string QueueId(uint64_t inode, bool long_form) {
    const uint32_t usec = Usec();
    if (!long_form) {
      char b[32];
      std::snprintf(b, sizeof b, "%05X%lX", usec, static_cast<unsigned long>(inode));
      return b;
    }
    static const char kDigits[] = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";
    auto enc = [](uint64_t v, unsigned base, size_t pad) {
      std::string s;
      do {
        s.insert(s.begin(), kDigits[v % base]);
        v /= base;
      } while (v != 0);
      while (s.size() < pad) s.insert(s.begin(), '0');
      return s;
    };
    return enc(static_cast<uint64_t>(Now()), 52, 6) + enc(usec, 52, 4) + "z" + enc(inode, 51, 0);
  }
  std::string NextQueueId() { return QueueId(0x21000 + next_inode_++, o_.long_ids); }

  std::string Hex(size_t n) {
    static const char kHex[] = "0123456789abcdef";
    std::string s(n, '0');
    for (auto& c : s) c = kHex[rng_.Below(16)];
    return s;
  }

  std::string LocalPart() {
    static const std::vector<const char*> first = {
        "anna", "ben", "clara", "david", "emma", "felix", "greta", "hugo", "ines", "jonas",
        "karl", "lea", "max", "nina", "oskar", "paula", "quentin", "rosa", "sam", "tom",
        "ulla", "vera", "willi", "yara", "zoe", "marie", "lukas", "sofia", "noah", "mia"};
    static const std::vector<const char*> last = {
        "mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker",
        "schulz", "hoffmann", "martin", "bernard", "dubois", "smith", "jones", "brown",
        "garcia", "rossi", "novak", "kowalski"};
    std::string s = rng_.Pick(first);
    switch (rng_.Below(4)) {
      case 0: s += '.'; s += rng_.Pick(last); break;
      case 1: s += rng_.Pick(last); s += std::to_string(rng_.Below(100)); break;
      case 2: s += '_'; s += rng_.Pick(last); break;
      default: s += std::to_string(rng_.Range(1960, 2010)); break;
    }
    return s;
  }

  std::string Ip(const char* prefix) { return std::string(prefix) + "." + std::to_string(rng_.Range(2, 250)); }

  // Expands a reply template.
  std::string Expand(const char* tmpl, const Recipient& r, const std::string& mx,
                     const std::string& addr) {
    std::string out;
    for (const char* p = tmpl; *p != '\0'; ++p) {
      if (*p != '%' || p[1] == '\0') {
        out += *p;
        continue;
      }
      switch (*++p) {
        case 'H': out += "host " + mx + "[" + addr + "]"; break;
        case 'M': out += mx; break;
        case 'A': out += addr; break;
        case 'R': out += r.address; break;
        case 'D': out += r.domain; break;
        case 'I': out += kOurIp; break;
        case 'T': out += Hex(rng_.Range(8, 16)); break;
        case 'Q':
          // The receiving Postfix's own queue id: long form, or short with
          // an inode far above ours (so never one of ours).
          out += QueueId(0x10000000 + rng_.Below(0x0FFFFFFF), rng_.Below(2) == 0);
          break;
        default: out += '%'; out += *p; break;
      }
    }
    return out;
  }

  void Noise() {
    ++t_.noise;
    const std::string client = Ip("185.234.219");
    char at[32];
    {
      const time_t tt = static_cast<time_t>(Now() - static_cast<int64_t>(rng_.Range(0, 600)));
      struct tm tm;
      gmtime_r(&tt, &tm);
      std::snprintf(at, sizeof at, "%s %2d %02d:%02d:%02d", kMonthNames[tm.tm_mon], tm.tm_mday,
                    tm.tm_hour, tm.tm_min, tm.tm_sec);
    }
    const uint32_t pid = rng_.Pick(smtpd_pids_);
    std::string& b = w_->buf();
    switch (rng_.Below(12)) {
      case 0:
        if (!Begin("postfix/anvil", anvil_pid_)) return;
        b += "statistics: max connection rate " + std::to_string(rng_.Range(1, 40)) +
             "/60s for (submission:" + Ip("198.51.100") + ") at " + at;
        break;
      case 1:
        if (!Begin("postfix/anvil", anvil_pid_)) return;
        b += "statistics: max connection count " + std::to_string(rng_.Range(1, 9)) +
             " for (smtp:" + client + ") at " + at;
        break;
      case 2:
        if (!Begin("postfix/anvil", anvil_pid_)) return;
        b += "statistics: max cache size " + std::to_string(rng_.Range(2, 60)) + " at " + at;
        break;
      case 3:
        if (!Begin("postfix/scache", scache_pid_)) return;
        b += "statistics: domain lookup hits=" + std::to_string(rng_.Range(0, 300)) +
             " miss=" + std::to_string(rng_.Range(1, 200)) + " success=" +
             std::to_string(rng_.Range(0, 99)) + "%";
        break;
      case 4:
        if (!Begin("postfix/smtpd", pid)) return;
        b += "warning: hostname " + client + ".static.hostingprovider.example does not resolve "
             "to address " + client + ": Name or service not known";
        break;
      case 5:
        if (!Begin("postfix/smtpd", pid)) return;
        b += "connect from unknown[" + client + "]";
        w_->End();
        if (!Begin("postfix/smtpd", pid)) return;
        b += "warning: unknown[" + client + "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6";
        w_->End();
        if (!Begin("postfix/smtpd", pid)) return;
        b += "disconnect from unknown[" + client + "] ehlo=1 auth=0/1 rset=1 quit=1 commands=3/4";
        break;
      case 6:
        if (!Begin("postfix/smtpd", pid)) return;
        b += "NOQUEUE: reject: RCPT from unknown[" + client + "]: 554 5.7.1 <" + LocalPart() +
             "@gmail.com>: Relay access denied; from=<spameri@tiscali.it> to=<" + LocalPart() +
             "@gmail.com> proto=ESMTP helo=<WIN-" + Hex(8) + ">";
        break;
      case 7:
        if (!Begin("postfix/smtpd", pid)) return;
        b += "lost connection after CONNECT from unknown[" + client + "]";
        break;
      case 8:
        if (!Begin("dovecot", 811)) return;
        b += "auth: Warning: auth client 0 disconnected with 1 pending requests: EOF";
        break;
      case 9:
        if (!Begin("CRON", static_cast<uint32_t>(rng_.Range(2000, 60000)))) return;
        b += "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)";
        break;
      case 10:
        if (!Begin("systemd", 1)) return;
        b += "Started session-" + std::to_string(rng_.Range(100, 9999)) + ".scope - Session of "
             "User root.";
        break;
      default:
        if (!Begin("postfix/smtpd", pid)) return;
        b += "warning: non-SMTP command from unknown[" + client + "]: GET / HTTP/1.1";
        break;
    }
    w_->End();
  }

  int PickAccount() {
    const double u = rng_.Unit();
    return static_cast<int>(std::lower_bound(account_cdf_.begin(), account_cdf_.end(), u) -
                            account_cdf_.begin()) %
           o_.accounts;
  }
  const Receiver& PickReceiver() {
    const double u = rng_.Unit();
    size_t i = std::lower_bound(receiver_cdf_.begin(), receiver_cdf_.end(), u) -
               receiver_cdf_.begin();
    return receivers_[std::min(i, receivers_.size() - 1)];
  }

  void NewMessage() {
    Message m;
    m.queue_id = NextQueueId();
    m.account = PickAccount();
    m.arrival = Now();
    m.message_id = "<" + std::to_string(m.arrival) + "." + Hex(12) + "@" + AccountName(m.account) +
                   ".example>";
    m.size = 1500 + static_cast<uint64_t>(std::pow(rng_.Unit(), 3) * 400000);
    const uint64_t nrcpt = rng_.PerMille(800) ? 1 : rng_.Range(2, 5);
    for (uint64_t i = 0; i < nrcpt; ++i) {
      // 85% sent, 8% deferred, 5% hard, 2% other (of first attempts).
      const uint64_t roll = rng_.Below(1000);
      const int outcome = roll < 850 ? 0 : roll < 930 ? 1 : roll < 980 ? 2 : 3;
      Recipient r;
      if (outcome == 2) {
        r = rng_.Pick(dead_);
      } else {
        r.rx = &PickReceiver();
        r.domain = rng_.Pick(r.rx->domains);
        r.address = LocalPart() + "@" + r.domain;
        r.outcome = outcome;
      }
      m.rcpts.push_back(std::move(r));
    }
    const std::string name = AccountName(m.account);
    const std::string sender = "news@" + name + ".example";
    const std::string client_host = "client" + std::to_string(m.account) + ".isp.example";
    const std::string client_ip = "198.51.100." + std::to_string(m.account % 250 + 2);
    const std::string client = client_host + "[" + client_ip + "]";
    const uint32_t spid = rng_.Pick(smtpd_pids_);
    const std::string smtpd = "postfix/submission/smtpd";
    std::string& b = w_->buf();

    const size_t index = messages_.size();
    messages_.push_back(m);  // in the queue map whether or not its lines all fit
    ++t_.messages;

    if (!Begin(smtpd, spid)) return;
    b += "connect from " + client;
    w_->End();
    if (!Begin(smtpd, spid)) return;
    b += "Anonymous TLS connection established from " + client +
         ": TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 "
         "server-signature RSA-PSS (2048 bits) server-digest SHA256";
    w_->End();
    if (!Begin(smtpd, spid)) return;
    b += m.queue_id + ": client=" + client + ", sasl_method=PLAIN, sasl_username=" + name;
    w_->End();
    ++t_.received;
    const uint32_t cpid = rng_.Pick(cleanup_pids_);
    if (!Begin("postfix/cleanup", cpid)) return;
    b += m.queue_id + ": message-id=" + messages_[index].message_id;
    w_->End();
    if (!Begin(smtpd, spid)) return;
    b += "disconnect from " + client + " ehlo=2 starttls=1 auth=1 mail=1 rcpt=" +
         std::to_string(nrcpt) + " data=1 quit=1 commands=" + std::to_string(7 + nrcpt);
    w_->End();
    for (size_t i = 0; i < m.rcpts.size(); ++i) messages_[index].pending.push_back(i);
    Attempt(index);
  }

  // One delivery attempt of the message's pending recipients (first
  // delivery, or a retry from the deferred queue).
  void Attempt(size_t index) {
    Message& m = messages_[index];
    std::string& b = w_->buf();
    if (!Begin("postfix/qmgr", qmgr_pid_)) return;
    b += m.queue_id + ": from=<news@" + AccountName(m.account) + ".example>, size=" +
         std::to_string(m.size) + ", nrcpt=" + std::to_string(m.rcpts.size()) +
         " (queue active)";
    w_->End();
    std::vector<size_t> still;
    const Receiver* last_rx = nullptr;
    for (size_t i : m.pending) {
      Recipient& r = m.rcpts[i];
      const uint32_t pid = rng_.Pick(smtp_pids_);
      const std::string mx = r.rx->mx.empty() ? "mx." + r.domain : rng_.Pick(r.rx->mx);
      const std::string addr = Ip(r.rx->ip_prefix);
      // On a retry: mostly delivered now, sometimes deferred again.
      int outcome = r.outcome;
      if (r.tries > 0) outcome = (r.tries < 4 && rng_.PerMille(200)) ? 1 : 0;
      ++r.tries;
      const Reply* reply = nullptr;
      switch (outcome) {
        case 0: reply = &rng_.Pick(r.rx->sent); break;
        case 1: reply = &rng_.Pick(r.rx->deferred); break;
        case 2: reply = &rng_.Pick(r.rx->hard); break;
        default: reply = &rng_.Pick(r.rx->other); break;
      }
      // Postfix's own texts (no "host ... said") have relay=none when no
      // connection was made.
      const bool no_conn = std::strncmp(reply->text, "connect to", 10) == 0 ||
                           std::strncmp(reply->text, "Host or domain", 14) == 0;
      const bool tls = !no_conn && r.rx != last_rx && rng_.PerMille(600);
      last_rx = r.rx;
      if (tls) {
        if (!Begin("postfix/smtp", pid)) return;
        b += "Trusted TLS connection established to " + mx + "[" + addr +
             "]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange "
             "X25519 server-signature ECDSA (P-256) server-digest SHA256";
        w_->End();
      }
      const std::string text = Expand(reply->text, r, mx, addr);
      if (!Begin("postfix/smtp", pid)) return;
      const double d1 = 0.01 + rng_.Unit() * 0.2, d2 = rng_.Unit() * 0.02,
                   d3 = 0.05 + rng_.Unit() * 0.5, d4 = rng_.Unit() * 1.5;
      const double since = static_cast<double>(Now() - m.arrival);
      char delays[96];
      std::snprintf(delays, sizeof delays, "delay=%.*f, delays=%.2g/%.2g/%.2g/%.2g", since > 100 ? 0 : 2,
                    since + d1 + d2 + d3 + d4, since + d1, d2, d3, d4);
      b += m.queue_id + ": to=<" + r.address + ">, relay=" +
           (no_conn ? std::string("none") : mx + "[" + addr + "]:25") + ", " +
           (tls || rng_.PerMille(700) ? "" : "conn_use=" + std::to_string(rng_.Range(2, 20)) + ", ") +
           delays + ", dsn=" + reply->dsn + ", status=";
      const Cls cls = reply->cls;
      switch (cls) {
        case Cls::kDelivered: b += "sent"; ++t_.sent_lines; break;
        case Cls::kDeferred: b += "deferred"; ++t_.deferred_lines; break;
        default: b += "bounced"; ++t_.bounced_lines; m.bounced_any = true; break;
      }
      b += " (" + text + ")";
      w_->End();
      ++t_.by_class[static_cast<int>(cls)];
      ++per_account_[m.account][static_cast<int>(cls)];
      if (cls == Cls::kDeferred) still.push_back(i);
    }
    m.pending = still;
    if (!still.empty()) {
      // Postfix retries after minimal_backoff_time (300 s) and up to
      // maximal_backoff_time (4000 s).
      const uint64_t delay_s = rng_.Range(300, 4000) << std::min(m.rcpts[still[0]].tries - 1, 2);
      retries_.push(Retry{w_->lines() + delay_s * o_.lines / 86400, retry_order_++, index});
      return;
    }
    if (m.bounced_any) Notice(m);
    if (!Begin("postfix/qmgr", qmgr_pid_)) return;
    b += m.queue_id + ": removed";
    w_->End();
  }

  // The bounce daemon's notice to the sender, and its own delivery (a
  // message of Postfix's: the tailer must not count it).
  void Notice(const Message& m) {
    const std::string nid = NextQueueId();
    std::string& b = w_->buf();
    if (!Begin("postfix/bounce", bounce_pid_)) return;
    b += m.queue_id + ": sender non-delivery notification: " + nid;
    w_->End();
    ++t_.notices;
    if (!Begin("postfix/cleanup", rng_.Pick(cleanup_pids_))) return;
    b += nid + ": message-id=<" + nid + ".1773224000@mx1.relay.example>";
    w_->End();
    if (!Begin("postfix/qmgr", qmgr_pid_)) return;
    b += nid + ": from=<>, size=" + std::to_string(rng_.Range(3000, 9000)) +
         ", nrcpt=1 (queue active)";
    w_->End();
    const std::string name = AccountName(m.account);
    if (!Begin("postfix/smtp", rng_.Pick(smtp_pids_))) return;
    b += nid + ": to=<news@" + name + ".example>, relay=mail." + name + ".example[192.0.2." +
         std::to_string(m.account % 250 + 2) + "]:25, delay=0.41, delays=0.01/0/0.2/0.2, "
         "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as " + Hex(10) + ")";
    w_->End();
    ++t_.sent_lines;
    if (!Begin("postfix/qmgr", qmgr_pid_)) return;
    b += nid + ": removed";
    w_->End();
  }

  void DueRetries() {
    while (!retries_.empty() && retries_.top().due <= w_->lines() && !w_->full()) {
      const size_t index = retries_.top().message;
      retries_.pop();
      Attempt(index);
    }
  }

  const Options& o_;
  LogWriter* w_;
  Rng rng_;
  std::vector<Receiver> receivers_;
  std::vector<double> account_cdf_, receiver_cdf_;
  std::vector<Recipient> dead_;
  std::vector<uint32_t> smtpd_pids_, smtp_pids_, cleanup_pids_;
  uint32_t qmgr_pid_, anvil_pid_, scache_pid_, bounce_pid_;
  uint64_t next_inode_ = 0;
  std::vector<Message> messages_;
  std::priority_queue<Retry, std::vector<Retry>, std::greater<Retry>> retries_;
  uint64_t retry_order_ = 0;
  Totals t_;
  std::vector<std::array<uint64_t, kClasses>> per_account_;
};

// ------------------------------------------------------------ the queue map

// Commits every message's QueueEntry as the milter does at end of message.
// Several threads, so that the store's group commit writes many per LMDB
// transaction.
bool FillStore(const Options& o, const Generator& g) {
  sg::Config cfg;
  cfg.store_path = o.store_path;
  cfg.map_size_mb = 1024;
  cfg.sync_interval_ms = 60000;  // setup, not measured: one fsync at the end
  auto opened = sg::OpenStore(cfg, sg::StoreUse{});
  if (!opened.ok()) {
    std::fprintf(stderr, "tail_gen: %s\n", opened.status().message().c_str());
    return false;
  }
  sg::Store* store = opened.value().get();
  const auto& msgs = g.messages();
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  const int n = std::max(1, o.threads);
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = static_cast<size_t>(t); i < msgs.size() && !failed; i += n) {
        const Message& m = msgs[i];
        sg::QueueEntry q;
        q.queue_id = m.queue_id;
        q.account = g.AccountName(m.account);
        q.time = m.arrival;
        for (const auto& r : m.rcpts) q.recipients.push_back(r.address);
        q.message_id = m.message_id;  // the milter records the header it saw; cleanup logs it
        auto res = store->Commit(q.account, {}, &q, m.arrival);
        if (!res.ok()) {
          std::fprintf(stderr, "tail_gen: commit %s: %s\n", m.queue_id.c_str(),
                       res.status().message().c_str());
          failed = true;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  store->Flush();
  return !failed;
}

bool ParseU64(const char* s, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-') return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  static const struct option kLong[] = {
      {"lines", required_argument, nullptr, 'n'},   {"log", required_argument, nullptr, 'l'},
      {"store", required_argument, nullptr, 's'},   {"truth", required_argument, nullptr, 't'},
      {"accounts", required_argument, nullptr, 'a'}, {"seed", required_argument, nullptr, 'S'},
      {"start", required_argument, nullptr, 'T'},   {"long-ids", no_argument, nullptr, 'L'},
      {"format", required_argument, nullptr, 'f'},  {"threads", required_argument, nullptr, 'j'},
      {"help", no_argument, nullptr, 'h'},          {nullptr, 0, nullptr, 0}};
  int c;
  uint64_t v = 0;
  while ((c = getopt_long(argc, argv, "h", kLong, nullptr)) != -1) {
    switch (c) {
      case 'n':
        if (!ParseU64(optarg, &o.lines) || o.lines == 0) { Usage(stderr); return 64; }
        break;
      case 'l': o.log_path = optarg; break;
      case 's': o.store_path = optarg; break;
      case 't': o.truth_path = optarg; break;
      case 'a':
        if (!ParseU64(optarg, &v) || v == 0 || v > 9999) { Usage(stderr); return 64; }
        o.accounts = static_cast<int>(v);
        break;
      case 'S':
        if (!ParseU64(optarg, &o.seed)) { Usage(stderr); return 64; }
        break;
      case 'T':
        if (!ParseU64(optarg, &v)) { Usage(stderr); return 64; }
        o.start = static_cast<int64_t>(v);
        break;
      case 'L': o.long_ids = true; break;
      case 'f':
        if (std::strcmp(optarg, "rfc3164") == 0) o.format = Format::kRfc3164;
        else if (std::strcmp(optarg, "maillog") == 0) o.format = Format::kMaillog;
        else if (std::strcmp(optarg, "iso") == 0) o.format = Format::kIso;
        else { Usage(stderr); return 64; }
        break;
      case 'j':
        if (!ParseU64(optarg, &v) || v == 0 || v > 64) { Usage(stderr); return 64; }
        o.threads = static_cast<int>(v);
        break;
      case 'h': Usage(stdout); return 0;
      default: Usage(stderr); return 64;
    }
  }
  if (optind != argc || o.log_path.empty()) {
    Usage(stderr);
    return 64;
  }
  if (o.start == 0) o.start = static_cast<int64_t>(std::time(nullptr)) - 86400 - 60;

  FILE* f = std::fopen(o.log_path.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "tail_gen: %s: %s\n", o.log_path.c_str(), std::strerror(errno));
    return 73;
  }
  const auto t0 = std::chrono::steady_clock::now();
  LogWriter w(f, o.format, o.lines);
  Generator g(o, &w);
  g.Run();
  const bool wrote = w.Flush();
  if (std::fclose(f) != 0 || !wrote) {
    std::fprintf(stderr, "tail_gen: %s: write failed\n", o.log_path.c_str());
    return 74;
  }
  const auto t1 = std::chrono::steady_clock::now();
  if (!o.store_path.empty() && !FillStore(o, g)) return 74;
  const auto t2 = std::chrono::steady_clock::now();

  if (!o.truth_path.empty()) {
    FILE* tf = std::fopen(o.truth_path.c_str(), "w");
    if (tf == nullptr) {
      std::fprintf(stderr, "tail_gen: %s: %s\n", o.truth_path.c_str(), std::strerror(errno));
      return 73;
    }
    const auto& pa = g.per_account();
    for (size_t i = 0; i < pa.size(); ++i) {
      uint64_t sum = 0;
      for (uint64_t x : pa[i]) sum += x;
      if (sum == 0) continue;
      std::fprintf(tf, "%s %llu %llu %llu %llu %llu\n", g.AccountName(static_cast<int>(i)).c_str(),
                   static_cast<unsigned long long>(pa[i][0]), static_cast<unsigned long long>(pa[i][1]),
                   static_cast<unsigned long long>(pa[i][2]), static_cast<unsigned long long>(pa[i][3]),
                   static_cast<unsigned long long>(pa[i][4]));
    }
    std::fclose(tf);
  }

  const Totals& t = g.totals();
  auto u = [](uint64_t x) { return static_cast<unsigned long long>(x); };
  std::printf(
      "lines=%llu bytes=%llu messages=%llu delivered=%llu deferred=%llu hard=%llu soft=%llu "
      "technical=%llu received=%llu sent_lines=%llu deferred_lines=%llu bounced_lines=%llu "
      "notices=%llu noise=%llu start=%lld\n",
      u(w.lines()), u(w.bytes()), u(t.messages), u(t.by_class[0]), u(t.by_class[1]),
      u(t.by_class[2]), u(t.by_class[3]), u(t.by_class[4]), u(t.received), u(t.sent_lines),
      u(t.deferred_lines), u(t.bounced_lines), u(t.notices), u(t.noise),
      static_cast<long long>(o.start));
  std::fprintf(stderr, "tail_gen: log %.2f s, store (%zu queue entries, %d threads) %.2f s\n",
               std::chrono::duration<double>(t1 - t0).count(), g.messages().size(), o.threads,
               std::chrono::duration<double>(t2 - t1).count());
  return 0;
}
