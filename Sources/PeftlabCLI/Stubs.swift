import ArgumentParser
struct TrainCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "train") }
struct ModelCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "model") }
struct BenchCommand: ParsableCommand { static let configuration = CommandConfiguration(commandName: "bench") }
