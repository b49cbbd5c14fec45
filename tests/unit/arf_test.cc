#include "senderguard/arf.h"

#include <gtest/gtest.h>
