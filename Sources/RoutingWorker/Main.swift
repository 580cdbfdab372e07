import ArgumentParser
import CardWorkers
import WorkerCLI

@main
struct Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routing-worker",
        abstract: "The routing worker of the card pipeline (consumer group card-routing).")

    @OptionGroup var options: WorkerOptions

    func run() async throws {
        try await WorkerMain.run(worker: "routing", handler: RoutingHandler(), options: options)
    }
}
