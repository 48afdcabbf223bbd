#include "completion.h"
