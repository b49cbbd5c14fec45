#include "senderguard/from_header.h"
