// Follow: the tailer's main loop. Reads the source through a ChunkReader,
// attributes each chunk (FeedbackEngine::Apply, on the calling thread) and
// hands its batch, with the source's position after it, to the Committer;
// once (--once) until the end of the source, else until `stop` is set.
//
// Logs "action=summary" each [monitoring] interval and once more at the end
// (monitor.h), "action=store-read-error" for each failed read of the store
// (the chunk is attributed again), and "action=stop" with the totals at the
// end.
//
// Returns the exit code: 0; 74 after a read error of the source with --once;
// 75 when a batch could not be committed before stopping (the stored
// position did not move); 78 when load_rules() returns false.
#pragma once

#include <atomic>
#include <functional>

#include "file_source.h"
#include "journal_source.h"
#include "senderguard/base/kvlog.h"
#include "senderguard/config/config.h"
#include "senderguard/feedback/feedback.h"
#include "senderguard/store/store.h"

namespace senderguard::tail {

// `src` is restored (at the stored position) and stays the caller's.
// `rules` is filled by load_rules(), which Follow calls once reading has
// begun (so that the rules compile while the first chunk is read); false
// from it stops before anything is classified or committed. `cfg`, *rules,
// *store, *logger and `stop` (set by a signal) must outlive the call.
// Runs on the calling thread and starts its own (ChunkReader, Committer),
// all joined before it returns. Source is FileSource or JournalSource.
template <typename Source>
int Follow(Source& src, bool once, const Config& cfg, BounceRules* rules,
           const std::function<bool()>& load_rules, Store* store, Logger* logger,
           const std::atomic<bool>& stop);

extern template int Follow<FileSource>(FileSource&, bool, const Config&, BounceRules*,
                                       const std::function<bool()>&, Store*, Logger*,
                                       const std::atomic<bool>&);
extern template int Follow<JournalSource>(JournalSource&, bool, const Config&, BounceRules*,
                                          const std::function<bool()>&, Store*, Logger*,
                                          const std::atomic<bool>&);

}  // namespace senderguard::tail
