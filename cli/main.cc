// senderguardctl: the postmaster's command line over senderguard's store.
//
// SECURITY: arguments are validated (account names, addresses, limits)
// before they reach the store. Runs as the invoking user, who needs write
// access to [store] path; every change is written to the audit log with
// that user's name (and SUDO_USER). Usable while the milter runs: LMDB
// serializes writers across processes.
//
// Exit status: 0 ok, 1 not found, 64 usage, 74 store failure, 78 configuration.
#include <cstdio>

#include "cli.h"
#include "senderguard/base/command_line.h"

int main(int argc, char** argv) {
  using namespace senderguard::cli;
  Env env;
  CLI::App app{"senderguardctl: inspect and change senderguard's accounts, quotas, suppressions "
               "and domains"};
  senderguard::PrepareCommandLine(app, "senderguardctl");
  senderguard::AddConfigOption(app, &env.config_flag);
  senderguard::AddVersionFlag(app);
  app.require_subcommand(1);
  app.fallthrough();  // -c works after the subcommand too
  AddListCommand(app, env);
  AddShowCommand(app, env);
  AddQuotaCommand(app, env);
  AddStateCommands(app, env);
  AddSuppressCommand(app, env);
  AddAuditCommand(app, env);
  AddReportCommand(app, env);
  AddTopCommand(app, env);
  AddStatsCommand(app, env);
  AddConfigCommand(app, env);
  AddExplainCommand(app, env);
  AddBulkCommands(app, env);
  AddDomainsCommand(app, env);
  AddStoreCommand(app, env);
  AddStoreCopyCommand(app, env);  // after AddStoreCommand, which makes `store`
  AddAccountCommand(app, env);
  RewordNumberChecks(app);  // after every command: all their number options
  try {
    if (auto rc = CheckCommandWords(app, argc, argv)) return *rc;
    if (auto rc = senderguard::ParseCommandLine(app, argc, argv)) return *rc;
  } catch (const Failure& f) {
    // Messages quote arguments and store errors: escaped like all output.
    if (!f.message.empty()) {
      std::fprintf(stderr, "senderguardctl: %s\n", senderguard::Printable(f.message, kMaxShown).c_str());
    }
    for (const auto& line : f.more) {
      std::fprintf(stderr, "senderguardctl: %s\n", senderguard::Printable(line, kMaxShown).c_str());
    }
    return f.status;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "senderguardctl: %s\n", senderguard::Printable(e.what(), kMaxShown).c_str());
    return kExitStore;
  }
  return 0;
}
