import ArgumentParser
import CardWorkers
import WorkerCLI

@main
struct Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "intake-worker",
        abstract: "The intake worker of the card pipeline (consumer group card-intake).")

    @OptionGroup var options: WorkerOptions

    func run() async throws {
        try await WorkerMain.run(worker: "intake", handler: IntakeHandler(), options: options)
    }
}
