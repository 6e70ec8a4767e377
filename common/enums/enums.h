// The enums that travel as text (stored in the database, sent on the wire,
// printed by the CLI), each with ONE name table. Name(e) and Parse<E>(text)
// both read that table, so a value and its text cannot drift apart.
//
// The names are part of the stored format (CHECK constraints in migrations/,
// rows already written): do not rename them. enums_test.cc checks each table
// against the SQL.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ladder::enums {

// One entry of a name table.
template <typename E>
using NameEntry = std::pair<E, std::string_view>;

// Specialised once per enum below: `static constexpr std::array<NameEntry<E>, N> kNames`,
// every value exactly once, in declaration order.
template <typename E>
struct NameTable;

// The text of a value ("unknown" only for a value outside the enum, e.g. a cast).
template <typename E>
constexpr std::string_view Name(E value) {
  for (const auto& [v, name] : NameTable<E>::kNames) {
    if (v == value) return name;
  }
  return "unknown";
}

// The value named `text` (exact, case-sensitive), nullopt for any other text.
template <typename E>
constexpr std::optional<E> Parse(std::string_view text) {
  for (const auto& [v, name] : NameTable<E>::kNames) {
    if (name == text) return v;
  }
  return std::nullopt;
}

// Every value of E, in declaration order.
template <typename E>
constexpr auto Values() {
  std::array<E, NameTable<E>::kNames.size()> out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = NameTable<E>::kNames[i].first;
  return out;
}

// sweeps.kind. kImported is made by ImportRuns, never by a sweep file.
enum class SweepKind { kLadder, kIsoflop, kGrid, kDataConstrained, kImported };
template <>
struct NameTable<SweepKind> {
  static constexpr std::array<NameEntry<SweepKind>, 5> kNames = {{
      {SweepKind::kLadder, "ladder"},
      {SweepKind::kIsoflop, "isoflop"},
      {SweepKind::kGrid, "grid"},
      {SweepKind::kDataConstrained, "data_constrained"},
      {SweepKind::kImported, "imported"},
  }};
};

// sweeps.state.
enum class SweepState { kActive, kSucceeded, kFailed, kCancelled };
template <>
struct NameTable<SweepState> {
  static constexpr std::array<NameEntry<SweepState>, 4> kNames = {{
      {SweepState::kActive, "active"},
      {SweepState::kSucceeded, "succeeded"},
      {SweepState::kFailed, "failed"},
      {SweepState::kCancelled, "cancelled"},
  }};
};

// runs.state.
enum class RunState { kQueued, kLeased, kRunning, kSucceeded, kFailed, kCancelled };
template <>
struct NameTable<RunState> {
  static constexpr std::array<NameEntry<RunState>, 6> kNames = {{
      {RunState::kQueued, "queued"},
      {RunState::kLeased, "leased"},
      {RunState::kRunning, "running"},
      {RunState::kSucceeded, "succeeded"},
      {RunState::kFailed, "failed"},
      {RunState::kCancelled, "cancelled"},
  }};
};

// A run that a worker holds or may still report on.
constexpr bool IsLive(RunState s) { return s == RunState::kLeased || s == RunState::kRunning; }

// attempts.outcome (NULL while the attempt is open), and the `outcome` label
// of the attempts-ended metrics.
enum class AttemptOutcome { kSucceeded, kFailed, kExpired, kReleased, kCancelled };
template <>
struct NameTable<AttemptOutcome> {
  static constexpr std::array<NameEntry<AttemptOutcome>, 5> kNames = {{
      {AttemptOutcome::kSucceeded, "succeeded"},
      {AttemptOutcome::kFailed, "failed"},
      {AttemptOutcome::kExpired, "expired"},
      {AttemptOutcome::kReleased, "released"},
      {AttemptOutcome::kCancelled, "cancelled"},
  }};
};

// fits.form, and the `form` field of the fit RPCs. The numeric values are
// those of fit::FitForm before it moved here.
enum class FitForm {
  kPowerLawCompute = 0,  // L(C) = E + A C^-alpha on the compute frontier
  kChinchilla = 1,       // Approach 3, L(N,D) = E + A/N^alpha + B/D^beta
  kIsoflop = 2,          // Approach 2, N_opt ~ C^a, D_opt ~ C^b
  kDataConstrained = 3,  // Muennighoff et al. 2023, D -> D'
  kPowerLawSharedE = 4,  // power_law_compute fitted jointly over families: one E, own A, alpha
};
template <>
struct NameTable<FitForm> {
  static constexpr std::array<NameEntry<FitForm>, 5> kNames = {{
      {FitForm::kPowerLawCompute, "power_law_compute"},
      {FitForm::kChinchilla, "chinchilla"},
      {FitForm::kIsoflop, "isoflop"},
      {FitForm::kDataConstrained, "data_constrained"},
      {FitForm::kPowerLawSharedE, "power_law_shared_e"},
  }};
};

// "a, b or c": the names of E, for an error message.
template <typename E>
std::string NameList() {
  std::string out;
  const auto& names = NameTable<E>::kNames;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i].second;
  }
  return out;
}

}  // namespace ladder::enums
