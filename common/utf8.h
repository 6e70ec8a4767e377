// Strict UTF-8, in one place: protobuf strings, PostgreSQL text and jsonb
// all refuse anything else, so every parser of untrusted text checks with
// these. Strict: no overlong forms, no surrogates, nothing past U+10FFFF.
// Header-only (the fuzz build and the trainer-only build use it too).
#pragma once

#include <cstddef>
#include <string_view>

namespace ladder::utf8 {

// Length of the valid UTF-8 sequence that starts at s[i] (1 for ASCII), or
// 0 if none does (or i is past the end).
inline size_t SequenceAt(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  const size_t len = c >= 0xC2 && c <= 0xDF   ? 2
                     : c >= 0xE0 && c <= 0xEF ? 3
                     : c >= 0xF0 && c <= 0xF4 ? 4
                                              : 0;
  if (len == 0 || i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  const auto c1 = static_cast<unsigned char>(s[i + 1]);
  if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0) || (c == 0xF0 && c1 < 0x90) ||
      (c == 0xF4 && c1 >= 0x90)) {
    return 0;  // overlong, surrogate, or past U+10FFFF
  }
  return len;
}

// Where the first invalid byte of `s` is, or npos.
inline size_t InvalidAt(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t len = SequenceAt(s, i);
    if (len == 0) return i;
    i += len;
  }
  return std::string_view::npos;
}

inline bool IsValid(std::string_view s) { return InvalidAt(s) == std::string_view::npos; }

// The longest prefix of `s` of at most `max_bytes` that does not split a
// character (for valid UTF-8 `s`, the prefix is valid too).
inline std::string_view Prefix(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut);
}

}  // namespace ladder::utf8
