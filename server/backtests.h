// Backtests for the Fits API, computed off the RPC path and cached per fit
// version (written by the backtest service's author, issue 11).
#pragma once
