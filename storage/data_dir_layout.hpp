#pragma once
// The names bitsd keeps directly inside data_dir, in one list: the filesystem store and the
// outbox take their names from here, and the configuration refuses a destination that is, or
// lies inside, any of them (clients would write where bitsd trusts what it finds). A new name
// bitsd keeps in data_dir goes here, and nowhere else.

#include <array>
#include <string_view>

namespace bitsd::storage::data_dir_layout {

inline constexpr std::string_view sessions = "sessions";                   // the session store
inline constexpr std::string_view lock_file = "bitsd.lock";                // one daemon per data_dir
inline constexpr std::string_view cancelled_journal = "cancelled-sessions.journal";
// The journal compacts into its own name plus this suffix, then renames it over the journal.
inline constexpr std::string_view compaction_suffix = ".tmp";
inline constexpr std::string_view cancelled_journal_compacting = "cancelled-sessions.journal.tmp";
// `bitsd deliveries retry` leaves its requests here for the running daemon's outbox.
inline constexpr std::string_view delivery_retries = "delivery-retries";

static_assert(cancelled_journal_compacting.substr(0, cancelled_journal.size()) == cancelled_journal &&
              cancelled_journal_compacting.substr(cancelled_journal.size()) == compaction_suffix);

inline constexpr std::array<std::string_view, 5> reserved{
    {sessions, lock_file, cancelled_journal, cancelled_journal_compacting, delivery_retries}};

}  // namespace bitsd::storage::data_dir_layout
