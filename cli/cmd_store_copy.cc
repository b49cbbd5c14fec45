// senderguardctl store copy --from lmdb:PATH --to postgresql [--dry-run] [--json]
// senderguardctl store copy --from postgresql --to lmdb:PATH [--dry-run] [--json]
//
// Moves accounts (quotas, state, verified domains, dry run, reputation
// tier), suppressions, daily counts, bounce counts and the audit log
// between an LMDB store and the configuration's [store.postgresql] database
// (lib/store/postgresql/pg_copy.h says how: upserts, a second copy writes
// nothing). Prints, per kind, what was read, written and skipped; exits 74
// when a record was skipped (unreadable, or not storable where it goes).
#include <cstdio>

#include "cli.h"
#include "senderguard/store/postgresql/pg_copy.h"

namespace senderguard::cli {

namespace {

// One end of the copy: "postgresql" or "lmdb:PATH".
struct End {
  bool postgresql = false;
  std::string path;  // lmdb: the store's directory
};

End ParseEnd(const std::string& flag, const std::string& text) {
  End e;
  if (text == "postgresql") {
    e.postgresql = true;
  } else if (text.rfind("lmdb:", 0) == 0 && text.size() > 5) {
    e.path = text.substr(5);
  } else {
    throw Failure{kExitUsage, flag + " " + text + ": expected lmdb:PATH or postgresql"};
  }
  return e;
}

}  // namespace

void AddStoreCopyCommand(CLI::App& app, Env& env) {
  // `store` is made by AddStoreCommand (cmd_store.cc), which main.cc calls
  // first; copy is one more of its subcommands.
  CLI::App* store = app.get_subcommand("store");
  auto* cmd = store->add_subcommand(
      "copy", "Copy accounts, suppressions, daily counts, bounce counts and the audit log between "
              "an LMDB store and PostgreSQL");
  cmd->footer(
      "Example:\n  senderguardctl store copy --from lmdb:/var/lib/senderguard \\\n"
      "      --to postgresql --dry-run");
  static std::string from, to;
  static bool dry_run = false;
  cmd->add_option("--from", from, "lmdb:PATH or postgresql")->required();
  cmd->add_option("--to", to, "postgresql or lmdb:PATH")->required();
  cmd->add_flag("--dry-run", dry_run, "count what would be written, write nothing");
  cmd->add_flag("--json", env.json, "one JSON document");
  cmd->callback([&env] {
    const End src = ParseEnd("--from", from);
    const End dst = ParseEnd("--to", to);
    if (src.postgresql == dst.postgresql)
      throw Failure{kExitUsage, "copy from LMDB to PostgreSQL or back: --from " + from + " --to " + to};
    const Config& c = env.config();
    if (c.postgresql.conninfo.empty())
      throw Failure{kExitConfig, c.source + ": [store.postgresql] conninfo is not set"};
    StoreCopyRequest r;
    r.direction = src.postgresql ? StoreCopyRequest::Direction::kPostgresqlToLmdb
                                 : StoreCopyRequest::Direction::kLmdbToPostgresql;
    r.lmdb_path = src.postgresql ? dst.path : src.path;
    r.map_size_bytes = c.map_size_mb << 20;
    r.conninfo = c.postgresql.conninfo;
    r.dry_run = dry_run;
    const std::vector<StoreCopyCount> counts = Take(CopyStore(r));
    uint64_t skipped = 0;
    for (const auto& k : counts) skipped += k.skipped;
    if (env.json) {
      nlohmann::json kinds = nlohmann::json::array();
      for (const auto& k : counts)
        kinds.push_back({{"kind", k.kind}, {"read", k.read}, {"written", k.written},
                         {"skipped", k.skipped}});
      PrintJson({{"from", from}, {"to", to}, {"dry_run", dry_run}, {"kinds", kinds}});
    } else {
      std::printf("# %s -> %s%s\n", Printable(from, kMaxShown).c_str(),
                  Printable(to, kMaxShown).c_str(),
                  dry_run ? " (dry run: nothing written; \"written\" is what a copy would write)"
                          : "");
      std::printf("%-12s %12s %12s %12s\n", "kind", "read", "written", "skipped");
      for (const auto& k : counts) {
        std::printf("%-12s %12llu %12llu %12llu\n", k.kind.c_str(),
                    static_cast<unsigned long long>(k.read),
                    static_cast<unsigned long long>(k.written),
                    static_cast<unsigned long long>(k.skipped));
      }
    }
    if (skipped > 0)
      throw Failure{kExitStore, std::to_string(skipped) +
                                    " record(s) skipped: unreadable in the source, or not storable "
                                    "in the destination (a key PostgreSQL or LMDB cannot hold)"};
  });
}

}  // namespace senderguard::cli
