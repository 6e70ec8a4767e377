// CLI11 options for the flag types every binary shares, so that ladder,
// ladder-coordinator and ladder-worker spell them alike:
//   durations   --lease-ttl 30s, --rpc-timeout 500ms, --drain-grace 5m
//               (common/duration.h; a bare number is seconds)
//   log levels  --log-level debug|info|warning|error (common/logging.h)
// A bad value fails the parse with a CLI::ValidationError that names the flag
// ("--kill-grace: 'soon' is not a duration (e.g. 500ms, 30s, 5m)").
//
// Header-only: ladder_common does not link CLI11; the binaries that include
// this do.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <string>

#include "common/duration.h"
#include "common/logging.h"

namespace ladder {

// Adds `name` reading a duration into *value; the help shows *value (as it
// is when this is called) as the default.
inline CLI::Option* AddDurationOption(CLI::App& app, const std::string& name,
                                      std::chrono::milliseconds* value, const std::string& help) {
  return app
      .add_option_function<std::string>(
          name,
          [name, value](const std::string& text) {
            auto parsed = ParseDuration(text);
            if (!parsed.ok())
              throw CLI::ValidationError(name, std::string(parsed.status().message()));
            *value = *parsed;
          },
          help)
      ->type_name("DURATION")
      ->default_str(FormatDuration(*value));
}

// Adds --log-level reading into *level; the help shows *level as the default.
inline CLI::Option* AddLogLevelOption(CLI::App& app, LogLevel* level) {
  return app
      .add_option_function<std::string>(
          "--log-level",
          [level](const std::string& text) {
            auto parsed = ParseLogLevel(text);
            if (!parsed.ok()) {
              throw CLI::ValidationError("--log-level", std::string(parsed.status().message()));
            }
            *level = *parsed;
          },
          "debug | info | warning | error")
      ->type_name("LEVEL")
      ->default_str(std::string(LogLevelName(*level)));
}

}  // namespace ladder
