#include "senderguard/reputation.h"
