#include "senderguard/arf.h"
