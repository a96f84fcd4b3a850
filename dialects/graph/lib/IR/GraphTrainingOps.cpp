//===- GraphTrainingOps.cpp - strata.graph training ops -------------------===//

#include "strata/Dialect/Graph/IR/GraphOps.h"
