#include "pbft/pbft.hpp"
