#include "senderguard/dns.h"

#include <gtest/gtest.h>
