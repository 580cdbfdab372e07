import ArgumentParser
import CardWorkers
import WorkerCLI

@main
struct Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "production-worker",
        abstract: "The production worker of the card pipeline (consumer group card-production).")

    @OptionGroup var options: WorkerOptions

    func run() async throws {
        try await WorkerMain.run(worker: "production", handler: ProductionHandler(), options: options)
    }
}
