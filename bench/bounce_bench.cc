// bounce_bench: how fast the bounce rules classify (lib/feedback/bounce.h,
// BounceRules::Classify), on one core, over a rules file (by default the
// shipped conf/bounce-rules.conf).
//
// Prints figures; it never passes or fails on timing (it exits non-zero only
// when it cannot run: bad arguments, a rules file that does not load). The
// replies are those of large receivers (Gmail, Yahoo, Outlook), a plain
// Postfix one, a connection error and one that no rule names, as Postfix's
// smtp client logs them; each is classified as "bounced" (the path of the
// text rules) and as "deferred". A checksum of the categories is printed so
// that a change in what is matched shows beside a change in speed.
//
// Usage: bounce_bench [--rules FILE] [--iterations N]   (N classifications
// per status; default 300000)
//        bounce_bench [--rules FILE] --agreement [CORPUS]
//
// --agreement prints, instead of speeds, how far the rules agree with a
// labelled corpus (default tests/data/bounce-replies.tsv: reply, dsn,
// command, class, category, source per line): hard versus not hard, the
// category, the exact class, every miss with the rule that decided, and the
// speed over the whole corpus (1000 passes: every text rule gets its chance).
// Each reply is classified as Postfix logs a bounce: status "bounced", the
// server's words wrapped in "host NAME[ADDR] said: ... (in reply to CMD
// command)" unless the command is "-" (a text Postfix wrote itself).
// Exits 65 on a malformed corpus line.
//
// Reads only the rules file and the corpus it is given; writes only to
// stdout and stderr.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "senderguard/base/exit_codes.h"
#include "senderguard/base/text.h"
#include "senderguard/feedback/bounce.h"

namespace {

using senderguard::BounceRules;

// "host NAME[ADDR] said: TEXT (in reply to CMD command)", as Postfix's smtp
// client logs a remote server's reply.
std::string Said(std::string_view host, std::string_view text, std::string_view cmd = "RCPT TO") {
  return "host " + std::string(host) + "[192.0.2.25] said: " + std::string(text) +
         " (in reply to " + std::string(cmd) + " command)";
}

struct Input {
  const char* name;
  const char* dsn;
  std::string reply;
};

std::vector<Input> Inputs() {
  return {
      {"gmail_no_such_user", "5.1.1",
       Said("gmail-smtp-in.l.google.com",
            "550-5.1.1 The email account that you tried to reach does not exist. Please try "
            "550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 "
            "unnecessary spaces. For more information, go to 550 5.1.1  "
            "https://support.google.com/mail/?p=NoSuchUser x1-20020a05 - gsmtp")},
      {"yahoo_tss04", "4.7.0",
       Said("mta7.am0.yahoodns.net",
            "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected "
            "volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
            "MAIL FROM")},
      {"connection_refused", "4.4.1", "connect to mx.example[192.0.2.1]:25: Connection refused"},
      {"outlook_block_list", "5.7.1",
       Said("hotmail-com.olc.protection.outlook.com",
            "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact "
            "your Internet service provider since part of their network is on our block list "
            "(S3150). [AM4PEPF00025F9A.EURP195.PROD.OUTLOOK.COM]",
            "MAIL FROM")},
      {"postfix_user_unknown", "5.1.1",
       Said("mx.example.net",
            "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in virtual "
            "mailbox table")},
      {"unmatched", "5.0.0", Said("mx.example.net", "550 Nein, danke")},
  };
}

bool ParseCount(const char* s, long* out) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v <= 0 || v > 1'000'000'000) return false;
  *out = v;
  return true;
}

void Usage() {
  std::fprintf(stderr,
               "usage: bounce_bench [--rules FILE] [--iterations N]\n"
               "       bounce_bench [--rules FILE] --agreement [CORPUS]\n");
}

// At most the first `max` bytes of `s`, for the miss listing: when `s` is
// UTF-8, cut back to a character boundary so that a Japanese or German reply
// does not end in half a character (which a terminal shows as U+FFFD). Bytes
// that are not UTF-8 (a Latin-1 reply) are cut where they fall.
std::string_view Head(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t cut = max;
  if (senderguard::ValidUtf8(s)) {
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  }
  return s.substr(0, cut);
}

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t tab = line.find('\t', start);
    out.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) return out;
    start = tab + 1;
  }
}

// Prints the agreement of `rules` with the corpus at `path`; returns the
// exit code.
int Agreement(const BounceRules& rules, const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "bounce_bench: cannot open %s\n", path.c_str());
    return senderguard::kExitNoInput;
  }
  size_t n = 0, hard_ok = 0, cat_ok = 0, cls_ok = 0, lineno = 0;
  std::vector<std::pair<std::string, std::string>> timed;  // (dsn, reply as logged)
  std::ostringstream misses, class_only;
  std::string line;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line[0] == '#') continue;
    const std::vector<std::string> f = SplitTabs(line);
    if (f.size() != 6) {
      std::fprintf(stderr, "bounce_bench: %s:%zu: expected 6 tab-separated fields, got %zu\n",
                   path.c_str(), lineno, f.size());
      return senderguard::kExitDataError;
    }
    const std::string reply = f[2] == "-" ? f[0] : Said("mx.example.net", f[0], f[2]);
    timed.emplace_back(f[1], reply);
    const senderguard::BounceRules::Explanation e = rules.Explain("bounced", f[1], reply);
    const std::string cls(senderguard::OutcomeClassName(e.result.cls));
    const std::string cat(senderguard::BounceCategoryName(e.result.category));
    ++n;
    const bool hard_agrees = (cls == "hard") == (f[3] == "hard");
    hard_ok += hard_agrees;
    cat_ok += cat == f[4];
    cls_ok += cls == f[3];
    if (!hard_agrees || cat != f[4] || cls != f[3]) {
      std::ostringstream& to = !hard_agrees || cat != f[4] ? misses : class_only;
      to << "  " << path << ":" << lineno << ": want " << f[3] << "/" << f[4] << ", got " << cls
         << "/" << cat << " (" << senderguard::ClassifiedByName(e.result.by);
      if (e.line > 0) to << " at rules line " << e.line;
      to << "): " << Head(f[0], 110) << "\n";
    }
  }
  if (n == 0) {
    std::fprintf(stderr, "bounce_bench: %s: no replies\n", path.c_str());
    return senderguard::kExitDataError;
  }
  auto pct = [n](size_t k) { return 100.0 * static_cast<double>(k) / static_cast<double>(n); };
  std::printf("corpus: %s (%zu replies)\n", path.c_str(), n);
  std::printf("hard/soft agreement: %zu/%zu = %.1f%%\n", hard_ok, n, pct(hard_ok));
  std::printf("category agreement:  %zu/%zu = %.1f%%\n", cat_ok, n, pct(cat_ok));
  std::printf("exact class (hard/soft/technical): %zu/%zu = %.1f%%\n", cls_ok, n, pct(cls_ok));
  // The speed over the whole corpus: every text rule gets a chance to match.
  using Clock = std::chrono::steady_clock;
  uint64_t sum = 0;
  constexpr int kPasses = 1000;
  const Clock::time_point start = Clock::now();
  for (int pass = 0; pass < kPasses; ++pass) {
    for (const auto& [dsn, reply] : timed) {
      sum += static_cast<uint64_t>(rules.Classify("bounced", dsn, reply).category);
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  const double count = static_cast<double>(timed.size()) * kPasses;
  std::printf("speed over the corpus: %.0f classifications in %.3f s: %.0f/s, %.2f us each "
              "(checksum %llu)\n",
              count, secs, count / secs, secs * 1e6 / count, static_cast<unsigned long long>(sum));
  std::printf("misses (hard/soft or category):\n%s", misses.str().c_str());
  std::printf("soft versus technical only:\n%s", class_only.str().c_str());
  return senderguard::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  std::string rules_path = SG_SOURCE_DIR "/conf/bounce-rules.conf";
  long iterations = 300000;
  std::string corpus;
  bool agreement = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--agreement") == 0) {
      agreement = true;
      corpus = SG_SOURCE_DIR "/tests/data/bounce-replies.tsv";
      if (i + 1 < argc && argv[i + 1][0] != '-') corpus = argv[++i];
    } else if (std::strcmp(argv[i], "--rules") == 0 && i + 1 < argc) {
      rules_path = argv[++i];
    } else if (std::strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
      if (!ParseCount(argv[++i], &iterations)) {
        Usage();
        return senderguard::kExitUsageError;
      }
    } else {
      Usage();
      return senderguard::kExitUsageError;
    }
  }
  auto loaded = BounceRules::Load(rules_path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "bounce_bench: %s\n", loaded.status().message().c_str());
    return senderguard::kExitConfig;
  }
  const BounceRules& rules = loaded.value();
  if (agreement) {
    std::printf("rules: %s (%zu text rules, %zu code entries)\n", rules_path.c_str(), rules.size(),
                rules.code_count());
    return Agreement(rules, corpus);
  }
  const std::vector<Input> inputs = Inputs();
  std::printf("rules: %s (%zu text rules, %zu code entries)\n", rules_path.c_str(), rules.size(),
              rules.code_count());

  using Clock = std::chrono::steady_clock;
  for (const char* status : {"bounced", "deferred"}) {
    // Warm up (first matches build the regex sets' DFA states) and checksum.
    uint64_t sum = 0;
    for (const Input& in : inputs) {
      sum += static_cast<uint64_t>(rules.Classify(status, in.dsn, in.reply).category);
    }
    const Clock::time_point start = Clock::now();
    for (long i = 0; i < iterations; ++i) {
      const Input& in = inputs[static_cast<size_t>(i) % inputs.size()];
      sum += static_cast<uint64_t>(rules.Classify(status, in.dsn, in.reply).category);
    }
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("%-8s all %zu replies: %ld classifications in %.3f s: %.0f/s (checksum %llu)\n",
                status, inputs.size(), iterations, secs, static_cast<double>(iterations) / secs,
                static_cast<unsigned long long>(sum));
    // Each reply alone: which texts cost the most.
    const long each = std::max(1L, iterations / static_cast<long>(inputs.size()));
    for (const Input& in : inputs) {
      const Clock::time_point t0 = Clock::now();
      uint64_t s = 0;
      for (long i = 0; i < each; ++i) {
        s += static_cast<uint64_t>(rules.Classify(status, in.dsn, in.reply).category);
      }
      const double t = std::chrono::duration<double>(Clock::now() - t0).count();
      const senderguard::Classification c = rules.Classify(status, in.dsn, in.reply);
      std::printf("%-8s   %-22s %9.0f/s  %6.2f us each  (%s %s, checksum %llu)\n", status,
                  in.name, static_cast<double>(each) / t, t * 1e6 / static_cast<double>(each),
                  std::string(senderguard::OutcomeClassName(c.cls)).c_str(),
                  std::string(senderguard::BounceCategoryName(c.category)).c_str(),
                  static_cast<unsigned long long>(s));
    }
  }
  return senderguard::kExitOk;
}
