//===--- BenchNpz.swift - `peftlab bench npz` ------------------------------===//
import ArgumentParser
import Data
import Foundation

extension BenchCommand {
  /// Reads every member of .npz files (the zip layer a MedMNIST loader uses: stored or deflated) with
  /// peftlab's reader and, in the same run, with numpy (`np.load`, forcing every array); best of `repeats`.
  struct NpzBench: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "npz", abstract: "Read .npz members: peftlab's zip reader against numpy's np.load (same run).")
    @Argument(help: "The .npz files.") var files: [String]
    @Option(help: "Repetitions (the best is reported).") var repeats = 3

    func run() throws {
      print("peftlab bench npz — every member of each file (page cache warm), best of \(repeats)")
      print("| file | MB (uncompressed) | peftlab s | peftlab MB/s | numpy s | numpy MB/s | peftlab vs numpy |")
      print("|---|---|---|---|---|---|---|")
      for file in files {
        var bytes = 0
        var ours = Double.infinity, numpy = Double.infinity
        for _ in 0..<repeats {
          let start = Date()
          let npz = try NpzFile(path: file)
          bytes = try npz.names.reduce(0) { $0 + (try npz.member($1)).count }
          ours = min(ours, Date().timeIntervalSince(start))
          numpy = min(numpy, try timeNumpy(file))
        }
        let (mb, name) = (Double(bytes) / 1e6, (file as NSString).lastPathComponent)
        print(
          String(
            format: "| %@ | %.0f | %.3f | %.0f | %.3f | %.0f | %.2f× |", name, mb, ours, mb / ours, numpy,
            mb / numpy, numpy / ours))
      }
    }

    /// Seconds numpy needs to read every array of `file` (measured inside Python, so the interpreter's start is
    /// not counted); +inf without python3/numpy.
    func timeNumpy(_ file: String) throws -> Double {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      p.arguments = [
        "python3", "-c",
        "import sys,time,numpy as np\nt=time.perf_counter()\nz=np.load(sys.argv[1])\n"
          + "n=sum(z[k].nbytes for k in z.files)\nprint(time.perf_counter()-t)", file,
      ]
      let out = Pipe()
      p.standardOutput = out
      p.standardError = FileHandle.nullDevice
      try p.run()
      let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      p.waitUntilExit()
      return Double(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? .infinity
    }
  }
}
