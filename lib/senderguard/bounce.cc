#include "senderguard/bounce.h"
