// Placeholder: filled in by the enums work (issue 10).
#include <gtest/gtest.h>
