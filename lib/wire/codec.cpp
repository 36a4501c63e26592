#include "wire/codec.hpp"
