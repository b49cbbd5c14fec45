#include "senderguard/bounce.h"

#include <gtest/gtest.h>
