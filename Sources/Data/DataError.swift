//===--- DataError.swift - errors that name the file and what is wrong ----===//
import Foundation

public enum DataError: Error, CustomStringConvertible, Equatable {
  /// Something wrong with one file: its path and what is wrong.
  case file(String, String)

  public var description: String {
    switch self {
    case .file(let p, let m): return "\(p): \(m)"
    }
  }
}
