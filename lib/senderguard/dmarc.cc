#include "senderguard/dmarc.h"
