#include "server/fit/shared_e_fit.h"

#include <gtest/gtest.h>
