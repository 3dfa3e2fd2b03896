//===--- ReportCommand.swift - `peftlab report`: every figure in one document --===//
//
// Reads Reports/report.yaml (order, captions), finds each figure stage's
// output through the pipeline's lock file, and writes Reports/out/:
//   report.pdf     vector, multi-page: a title page with provenance, then each
//                  figure redrawn from its figure.json with caption and stage key
//   pages/NN.png   the same pages at 150 dpi
//   figures/       each figure's PDF, PNG and table files, named by stage
//   index.md       links to everything, tables inline
//===----------------------------------------------------------------------===//
import ArgumentParser
import Foundation
import Outputs
import Kernels
import Pipeline
import Plot
import Yams
import Storage

struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report", abstract: "Gather the figure stages' outputs into Reports/out (PDF, PNG pages, Markdown).")
  @Option(help: "Report definition.") var definition = "Reports/report.yaml"
  @Option(help: "Profile the figures were run with.") var profile = "quick"
  @Option(help: "Cache folder.") var cacheDir = ".peftlab"
  @Option(help: "Output folder.") var out = "Reports/out"
  @Option(help: "pdf, png, md or all.") var format = "all"

  func run() throws {
    try reportingErrors {
      try Report.write(definition: definition, profile: profile, cacheDir: cacheDir, out: out, format: format)
    }
  }
}

enum Report {
  struct Entry { let stage: String, caption: String, dir: String, key: String, figure: Figure }

  static func write(definition: String, profile: String, cacheDir: String, out: String, format: String) throws {
    guard ["pdf", "png", "md", "all"].contains(format) else {
      throw CLIError(message: "--format must be pdf, png, md or all")
    }
    guard let text = try? String(contentsOfFile: definition, encoding: .utf8),
      let def = try loadYAML(text, path: definition) as? [String: Any]
    else {
      throw CLIError(message: "\(definition): cannot read the report definition")
    }
    let pipeline = def["pipeline"] as? String ?? "Pipelines/figures.yaml"
    let lockPath = String(pipeline.dropLast(5)) + ".\(profile).lock"
    guard let lockData = FileManager.default.contents(atPath: lockPath),
      let lock = try JSONSerialization.jsonObject(with: lockData) as? [String: Any],
      let stages = lock["stages"] as? [String: [String: Any]]
    else {
      throw CLIError(
        message: "\(lockPath): no lock file; run `peftlab run --pipeline \(pipeline) --profile \(profile)` first")
    }
    var entries: [Entry] = []
    for item in def["figures"] as? [[String: Any]] ?? [] {
      let name = item["stage"] as? String ?? ""
      guard let st = stages[name], let o = st["output"] as? String else {
        throw CLIError(message: "\(definition): stage '\(name)' has no result in \(lockPath)")
      }
      let dir = cacheDir + "/objects/" + o
      guard let d = FileManager.default.contents(atPath: dir + "/figure.json") else {
        throw CLIError(message: "\(dir)/figure.json missing (stage \(name)); rerun the pipeline")
      }
      entries.append(
        Entry(
          stage: name, caption: item["caption"] as? String ?? "", dir: dir, key: st["key"] as? String ?? "",
          figure: try JSONDecoder.figures.decode(Figure.self, from: d)))
    }
    let fm = FileManager.default
    let tmp = out + ".tmp-\(getpid())"
    try? fm.removeItem(atPath: tmp)
    try fm.createDirectory(atPath: tmp + "/figures", withIntermediateDirectories: true)
    try fm.createDirectory(atPath: tmp + "/pages", withIntermediateDirectories: true)
    for e in entries {
      for ext in ["pdf", "png", "json", "md", "csv", "tex"] {
        let src = e.dir + "/" + (["md", "csv", "tex"].contains(ext) ? "table." : "figure.") + ext
        if fm.fileExists(atPath: src) { try fm.copyItem(atPath: src, toPath: tmp + "/figures/\(e.stage).\(ext)") }
      }
    }
    var sha = SHA256Hasher()
    sha.update(Data(lockData))
    let prov: [(String, String)] = [
      ("git commit", shell("git", "rev-parse", "--short=12", "HEAD") ?? "unknown"),
      ("pipeline", "\(pipeline), profile \(profile)"),
      ("lock file", "\(lockPath), sha256 \(sha.finalize().prefix(16))…"),
      (
        "machine",
        "\(shell("uname", "-srm") ?? "?"), \(ProcessInfo.processInfo.activeProcessorCount) cores, "
          + "\(ProcessInfo.processInfo.physicalMemory >> 30) GiB"
      ),
      ("threads", "\(Parallel.threads)"), ("date", ISO8601DateFormatter().string(from: Date())),
      ("pretrained model", pretrainedProvenance(stages, cacheDir: cacheDir)),
    ]
    let title = def["title"] as? String ?? "peftlab report"
    if format == "pdf" || format == "all" || format == "png" {
      try pages(
        entries, title: title, provenance: prov, pdf: format != "png" ? tmp + "/report.pdf" : nil,
        pngDir: format != "pdf" ? tmp + "/pages" : nil)
    }
    var md = "# \(title)\n\n"
    for (k, v) in prov { md += "- **\(k)**: \(v)\n" }
    md += "\n[report.pdf](report.pdf) · pages in [pages/](pages/)\n\n"
    for (n, e) in entries.enumerated() {
      md += "## \(n + 1). \(e.figure.title.isEmpty ? e.stage : e.figure.title)\n\n\(e.caption)\n\n"
      md += "![\(e.stage)](figures/\(e.stage).png)\n\n[PDF](figures/\(e.stage).pdf)"
      if fm.fileExists(atPath: tmp + "/figures/\(e.stage).md") {
        md += " · [CSV](figures/\(e.stage).csv) · [LaTeX](figures/\(e.stage).tex)\n\n"
        let t = (try? String(contentsOfFile: tmp + "/figures/\(e.stage).md", encoding: .utf8)) ?? ""
        md +=
          t.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("# ") }.joined(
            separator: "\n") + "\n"
      } else {
        md += "\n\n"
      }
      md += "Stage `\(e.stage)`, key `\(e.key.prefix(16))…`\n\n"
    }
    try md.write(toFile: tmp + "/index.md", atomically: true, encoding: .utf8)
    try? fm.removeItem(atPath: out)
    try fm.createDirectory(
      atPath: URL(fileURLWithPath: out).deletingLastPathComponent().path, withIntermediateDirectories: true)
    try fm.moveItem(atPath: tmp, toPath: out)
    print("wrote \(out)/report.pdf, \(out)/pages/, \(out)/figures/, \(out)/index.md: \(entries.count) figures")
  }

  static func shell(_ args: String...) -> String? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return nil }
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { return nil }
    return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(
      in: .whitespacesAndNewlines)
  }

  static let pageW = 842.0, pageH = 595.0  // A4 landscape, points

  /// Draws every page into one multi-page PDF and/or one PNG per page.
  static func pages(
    _ entries: [Entry], title: String, provenance: [(String, String)], pdf: String?, pngDir: String?
  ) throws {
    let pdfCanvas = try pdf.map { try Canvas(path: $0, format: .pdf, width: pageW, height: pageH) }
    func each(_ draw: (Canvas) -> Void, index: Int) throws {
      if let c = pdfCanvas { draw(c); c.newPage() }
      if let dir = pngDir {
        let c = try Canvas(
          path: dir + String(format: "/page-%02d.png", index), format: .png, width: pageW, height: pageH, dpi: 150)
        draw(c)
        try c.finish()
      }
    }
    try each(
      { c in
        c.setColor((0, 0, 0)); c.font(size: 22, bold: true)
        c.text(title, x: pageW / 2, y: 90, anchor: (0.5, 0))
        c.font(size: 11)
        var y = 160.0
        for (k, v) in provenance {
          c.font(size: 11, bold: true); c.text(k, x: 120, y: y)
          c.font(size: 11)
          for line in wrap(c, v, width: pageW - 360) { c.text(line, x: 250, y: y); y += 16 }
          y += 6
        }
        c.font(size: 10)
        c.text(
          "Figures: \(entries.count). Each is redrawn from its stage's figure.json; stage keys identify the cached "
            + "results.",
          x: 120, y: y + 20)
      }, index: 0)
    for (n, e) in entries.enumerated() {
      try each(
        { c in
          c.setColor((0, 0, 0)); c.font(size: 9)
          c.text("\(n + 1) / \(entries.count)   stage \(e.stage)   key \(e.key.prefix(16))…", x: 30, y: 16)
          c.font(size: 9.5)
          let lines = wrap(c, e.caption, width: pageW - 60)
          let capH = Double(lines.count) * 13 + 8
          let area = Rect(x: 30, y: 34, w: pageW - 60, h: pageH - 34 - capH - 16)
          let s = min(area.w / e.figure.width, area.h / e.figure.height)
          cairo_save(c)
          let ox = area.x + (area.w - e.figure.width * s) / 2
          c.translate(ox, area.y, scale: s)
          FigureRenderer.draw(e.figure, on: c, in: Rect(x: 0, y: 0, w: e.figure.width, h: e.figure.height))
          cairo_restore(c)
          c.setColor((0, 0, 0)); c.font(size: 9.5)
          var y = pageH - capH - 10
          for l in lines { c.text(l, x: 30, y: y); y += 13 }
        }, index: n + 1)
    }
    try pdfCanvas?.finish()
  }

  static func wrap(_ c: Canvas, _ text: String, width: Double) -> [String] {
    var lines: [String] = [], cur = ""
    for w in text.split(separator: " ") {
      let t = cur.isEmpty ? String(w) : cur + " " + w
      if c.measure(t).width > width && !cur.isEmpty { lines.append(cur); cur = String(w) } else { cur = t }
    }
    if !cur.isEmpty { lines.append(cur) }
    return lines
  }
}

func cairo_save(_ c: Canvas) { c.save() }
func cairo_restore(_ c: Canvas) { c.restore() }

/// Where the pipeline's pretrained model came from: an imported checkpoint (file, layout, size) or the
/// embedded default, read from the `pretrain` (or `original`) stage's outputs.
func pretrainedProvenance(_ stages: [String: [String: Any]], cacheDir: String) -> String {
  for name in ["pretrain", "original"] {
    guard let o = stages[name]?["output"] as? String else { continue }
    let dir = cacheDir + "/objects/" + o
    if ImportOutput.exists(in: dir), let j = try? ImportOutput.read(in: dir) {
      let n = String(format: "%.2f M parameters", Double(j.totalParameters) / 1e6)
      return "imported checkpoint \(j.from) (\(j.flavor) layout, \(n))"
    }
    return "embedded: a small ViT pretrained in the pipeline on procedurally generated medical-like images"
  }
  return "unknown (no pretrain stage in the lock file)"
}
