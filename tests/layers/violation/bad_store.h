// A store header that breaks the layering rule, for the check's own test
// (store_layers_check_catches_a_violation must fail on it).
#pragma once

#include <string>

#include "common/logging.h"
#include "server/store/pg_pool.h"
#include "server/sweep_planner.h"
