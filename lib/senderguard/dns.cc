#include "senderguard/dns.h"
