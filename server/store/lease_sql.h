// SQL pieces shared by the lease store's source files (lease_store.cc,
// lease_reports.cc). Internal to server/store.
#pragma once

// The time a lease statement stamps or compares with: parameter `n`, the
// store's clock in microseconds since the epoch, or the database's now()
// when it is NULL (no clock given: one clock for every coordinator).
#define LADDER_NOW(n) \
  "COALESCE('epoch'::timestamptz + " n "::bigint * interval '1 microsecond', now())"
