// senderguardctl list [--state S] [--over PCT] [--sort name|usage|score]
// [--limit N] [--wide] [--json|--jsonl]: the accounts with a record, their
// state, tier, reputation score and each window's used/limit.
//
// Memory stays flat in the number of accounts: the store is read in pages
// (Store::ListAccountsAfter) and each account is printed as soon as it is
// read. Two cases keep something per account: --sort usage|score keeps one
// name and one number for each account that passes the filters (then reads
// the ones it prints again), and --wide keeps the rows it prints, to align
// them.
//
// Human output fits 80 columns: names cut with "...", counts written short
// (12k, 1.2M, rounded down); --wide writes both whole.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli.h"
#include "senderguard/decide/account_state.h"

namespace senderguard::cli {
namespace {

constexpr size_t kPage = 1000;

struct Row {
  std::string name, state, tier, score, windows[4];
};

Row MakeRow(const nlohmann::json& j, bool wide) {
  Row r;
  // 17 + 11 + 4 + 5 + 4 x 9 columns and 7 spaces: 80.
  r.name = Cell(j["account"].get<std::string>(), 17, wide);
  // "~": suspended until a time (show gives it), then active by itself.
  r.state = j["state"].get<std::string>() + (j["suspended_until"].is_null() ? "" : "~") +
            (j["dry_run"].get<bool>() ? "*" : "");
  r.tier = std::to_string(j["reputation"]["tier"].get<int>());
  r.score = std::to_string(j["reputation"]["score"].get<int>());
  for (size_t i = 0; i < 4; ++i) {
    const auto& w = j["windows"][i];
    r.windows[i] = Count(w["used"].get<uint64_t>(), wide) + "/" +
                   (w["limit"].is_null() ? std::string("-") : Count(w["limit"].get<uint64_t>(), wide));
  }
  return r;
}

void PrintRow(const Row& r, size_t name_w, size_t win_w) {
  const int nw = static_cast<int>(name_w), ww = static_cast<int>(win_w);
  std::printf("%-*s %-11s %4s %5s %*s %*s %*s %*s\n", nw, r.name.c_str(), r.state.c_str(), r.tier.c_str(),
              r.score.c_str(), ww, r.windows[0].c_str(), ww, r.windows[1].c_str(), ww, r.windows[2].c_str(), ww,
              r.windows[3].c_str());
}

void PrintHeader(size_t name_w, size_t win_w) {
  PrintRow(Row{"ACCOUNT", "STATE", "TIER", "SCORE", {"MINUTE", "HOUR", "DAY", "MONTH"}}, name_w, win_w);
}

// The highest share of a window's limit used now, in percent; 0 when no
// window has a limit.
double UsagePct(const nlohmann::json& j) {
  double best = 0;
  for (const auto& w : j["windows"]) {
    if (w["limit"].is_null()) continue;
    const double limit = static_cast<double>(w["limit"].get<uint64_t>());
    const double used = static_cast<double>(w["used"].get<uint64_t>());
    best = std::max(best, limit == 0 ? (used > 0 ? 100.0 : 0.0) : used * 100.0 / limit);
  }
  return best;
}

}  // namespace

void AddListCommand(CLI::App& app, Env& env) {
  auto* cmd = app.add_subcommand("list", "List accounts with their state and usage");
  static bool wide = false, jsonl = false;
  static std::string state, sort = "name";
  static double over = -1;
  static size_t limit = 0;
  cmd->add_option("--state", state, "only accounts in this state: active, suspended or reinstated")
      ->check(CLI::IsMember({"active", "suspended", "reinstated"}));
  cmd->add_option("--over", over, "only accounts using at least PCT% of a window's limit now (0 to 1000)")
      ->type_name("PCT")
      ->check(CLI::Range(0.0, 1000.0));
  cmd->add_option("--sort", sort, "name (default), usage (fullest window first) or score (lowest first)")
      ->check(CLI::IsMember({"name", "usage", "score"}));
  cmd->add_option("--limit", limit, "at most N accounts (0 to 10000000; 0, the default, for all)")
      ->check(CLI::Range(size_t{0}, size_t{10000000}));
  cmd->add_flag("--wide", wide, "whole names and counts (wider than 80 columns)");
  auto* json_flag = cmd->add_flag("--json", env.json, "one JSON document");
  cmd->add_flag("--jsonl", jsonl, "one JSON object per line, per account, as it is read")->excludes(json_flag);
  cmd->footer("Example:\n  senderguardctl list --state suspended\n  senderguardctl list --over 80 --sort usage --limit 20");
  cmd->callback([&env] {
    Store& store = env.existing_store();
    const size_t name_w = 17, win_w = 9;
    std::vector<Row> kept;  // --wide: the rows, to align them at the end
    size_t shown = 0;
    bool more = false;  // an account past --limit passed the filters
    bool first_json = true;
    bool timed = false;  // a row is marked "~"

    // --state is judged on the record alone (as AccountJson judges it), so
    // the accounts it leaves out are not read further (their windows, days).
    const int64_t now = env.Now();
    auto state_passes = [&](const AccountRecord& a) {
      return state.empty() || AccountStatusName(EffectiveAt(a, now).status) == state;
    };
    auto passes = [&](const nlohmann::json& j) {
      if (!state.empty() && j["state"].get<std::string>() != state) return false;
      if (over >= 0 && UsagePct(j) < over) return false;
      return true;
    };
    auto emit = [&](const nlohmann::json& j) {
      ++shown;
      if (jsonl) {
        std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      } else if (env.json) {
        // As PrintJson lays it out, one level in.
        std::string text = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
        std::string indented = "    ";
        for (char c : text) {
          indented.push_back(c);
          if (c == '\n') indented += "    ";
        }
        std::printf("%s\n%s", first_json ? "" : ",", indented.c_str());
        first_json = false;
      } else if (wide) {
        timed = timed || !j["suspended_until"].is_null();
        kept.push_back(MakeRow(j, true));
      } else {
        if (shown == 1) PrintHeader(name_w, win_w);
        timed = timed || !j["suspended_until"].is_null();
        PrintRow(MakeRow(j, false), name_w, win_w);
      }
      std::fflush(stdout);
    };
    // Every account, page by page, through `each` (which returns false to stop).
    auto walk = [&](const auto& each) {
      std::string after;
      while (true) {
        const auto page = Take(store.ListAccountsAfter(after, kPage));
        for (const auto& a : page)
          if (!each(a)) return;
        if (page.size() < kPage) return;
        after = page.back().name;
      }
    };

    if (env.json) std::printf("{\n  \"accounts\": [");
    if (sort == "name") {
      walk([&](const AccountRecord& a) {
        if (!state_passes(a)) return true;
        const nlohmann::json j = AccountJson(env, a);
        if (!passes(j)) return true;
        if (limit > 0 && shown == limit) {
          more = true;
          return false;
        }
        emit(j);
        return true;
      });
    } else {
      // Highest usage first, or lowest score first; ties by name.
      std::vector<std::pair<double, std::string>> keys;
      walk([&](const AccountRecord& a) {
        if (!state_passes(a)) return true;
        const nlohmann::json j = AccountJson(env, a);
        if (passes(j)) {
          keys.emplace_back(sort == "usage" ? -UsagePct(j) : j["reputation"]["score"].get<double>(), a.name);
        }
        return true;
      });
      std::sort(keys.begin(), keys.end());
      for (const auto& [key, name] : keys) {
        if (limit > 0 && shown == limit) {
          more = true;
          break;
        }
        const auto rec = Take(store.GetAccount(name));
        if (rec) emit(AccountJson(env, *rec));  // gone meanwhile: not shown
      }
    }
    if (env.json) {
      std::printf("%s],\n  \"count\": %zu,\n  \"truncated\": %s\n}\n", shown > 0 ? "\n  " : "", shown,
                  more ? "true" : "false");
      return;
    }
    if (jsonl) {
      // One object per line stays so: the truncation goes to standard error.
      if (more) std::fprintf(stderr, "senderguardctl: %zu account(s) shown, more not shown (--limit)\n", shown);
      return;
    }
    if (wide) {
      size_t nw = 7, ww = 9;
      for (const auto& r : kept) {
        nw = std::max(nw, r.name.size());
        for (const auto& w : r.windows) ww = std::max(ww, w.size());
      }
      if (!kept.empty()) PrintHeader(nw, ww);
      for (const auto& r : kept) PrintRow(r, nw, ww);
    }
    // Within 80 columns: with more left out, the legend goes on a line of its own.
    std::printf("%zu account(s)%s", shown, more ? " shown, more not shown (--limit)\n" : "; ");
    std::printf("used/limit, - unlimited, * dry run%s\n", wide ? "" : ", k/M/G/T = 10^3/6/9/12");
    if (timed) std::printf("~ suspended until a time (show ACCOUNT), then active by itself\n");
  });
}

}  // namespace senderguard::cli
