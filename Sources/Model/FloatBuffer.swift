//===--- FloatBuffer.swift - an owned, zero-initialised Float allocation ---===//

/// One contiguous allocation of Floats, freed with the object. Kernels take
/// its raw pointer; the object itself is never indexed in hot loops.
public final class FloatBuffer: @unchecked Sendable {
  public let pointer: UnsafeMutablePointer<Float>
  public let count: Int

  public init(count: Int) {
    self.count = count
    pointer = .allocate(capacity: max(count, 1))
    pointer.initialize(repeating: 0, count: max(count, 1))
  }

  public convenience init(_ values: [Float]) {
    self.init(count: values.count)
    values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
  }

  deinit { pointer.deallocate() }

  public var bytes: Int { count * MemoryLayout<Float>.stride }
  public var buffer: UnsafeMutableBufferPointer<Float> { .init(start: pointer, count: count) }
  public func zero() { pointer.update(repeating: 0, count: count) }
  public func array(_ range: Range<Int>? = nil) -> [Float] {
    let r = range ?? 0..<count
    return Array(UnsafeBufferPointer(start: pointer + r.lowerBound, count: r.count))
  }
  public func copy() -> FloatBuffer {
    let b = FloatBuffer(count: count)
    b.pointer.update(from: pointer, count: count)
    return b
  }
}
