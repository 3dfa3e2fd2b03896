//===--- ShapeCheck.swift - sizes read from files, checked before allocation ===//
/// The number of elements of `shape`, nil if a dimension is negative or the product overflows
/// (checked before anything of that size is allocated).
public func checkedCount(_ shape: [Int]) -> Int? {
  var n = 1
  for v in shape {
    guard v >= 0 else { return nil }
    let (m, o) = n.multipliedReportingOverflow(by: v)
    guard !o, m <= 1 << 40 else { return nil }
    n = m
  }
  return n
}
