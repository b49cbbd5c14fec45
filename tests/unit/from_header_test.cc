#include "senderguard/from_header.h"

#include <gtest/gtest.h>
