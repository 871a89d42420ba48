// Where the integration tests find the binaries they start.
#pragma once

#include "testing/build_paths.h"
