//===- AttrKeyword.h - Enum attributes as their keywords ---------*- C++
//-*-===//
//
// The plan and the exec globals spell enum attributes as their keyword
// ("sum", "tanh", "grad"). Graph enum attributes print as
// `#graph.<name><keyword>` (e.g. `#graph.reduce_kind<sum>`), so the keyword is
// read from that printout; this covers every graph enum, including ones added
// after this file, without a table per enum.
//
//===----------------------------------------------------------------------===//

#ifndef STRATA_LOWERING_LIB_ATTRKEYWORD_H
#define STRATA_LOWERING_LIB_ATTRKEYWORD_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinDialect.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>

namespace strata::lowering::detail {

/// The keyword of a string or dialect enum attribute, or nullopt for any
/// other attribute.
inline std::optional<std::string> getKeyword(mlir::Attribute attr) {
  if (auto text = llvm::dyn_cast<mlir::StringAttr>(attr))
    return text.getValue().str();
  if (llvm::isa<mlir::BuiltinDialect>(attr.getDialect()))
    return std::nullopt;
  std::string printed;
  llvm::raw_string_ostream os(printed);
  attr.print(os);
  size_t open = printed.find('<');
  if (printed.empty() || printed.front() != '#' || open == std::string::npos ||
      printed.back() != '>')
    return std::nullopt;
  std::string keyword = printed.substr(open + 1, printed.size() - open - 2);
  if (keyword.empty() || keyword.find_first_of("<>, =\"") != std::string::npos)
    return std::nullopt;
  return keyword;
}

} // namespace strata::lowering::detail

#endif // STRATA_LOWERING_LIB_ATTRKEYWORD_H
