import ArgumentParser
struct RuntimeBench: AsyncParsableCommand { static let configuration = CommandConfiguration(commandName: "bench-runtime", abstract: "todo") ; func run() async throws {} }
