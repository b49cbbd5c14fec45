#include "senderguard/spf.h"
