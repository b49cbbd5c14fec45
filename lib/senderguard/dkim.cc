#include "senderguard/dkim.h"
