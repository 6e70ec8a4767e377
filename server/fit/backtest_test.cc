#include "server/fit/backtest.h"

#include <gtest/gtest.h>
