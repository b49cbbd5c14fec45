#include "senderguard/dmarc.h"

#include <gtest/gtest.h>
