#include "senderguard/reputation.h"

#include <gtest/gtest.h>
