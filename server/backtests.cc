#include "server/backtests.h"
