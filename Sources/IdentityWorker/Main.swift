import ArgumentParser
import CardWorkers
import Foundation
import WorkerCLI

@main
struct Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identity-worker",
        abstract: "The identity worker of the card pipeline (consumer group card-identity).")

    @OptionGroup var options: WorkerOptions

    @Option(help: "Seconds to keep retrying a person missing from registry.persons before PERSON_NOT_FOUND. Env: CARD_REGISTRY_GRACE_SECONDS.")
    var registryGraceSeconds: Double?

    func run() async throws {
        let grace = registryGraceSeconds ?? ProcessInfo.processInfo.environment["CARD_REGISTRY_GRACE_SECONDS"].flatMap(Double.init) ?? 600
        try await WorkerMain.run(worker: "identity", handler: IdentityHandler(registryGracePeriod: .milliseconds(Int64(grace * 1000))),
                                 options: options)
    }
}
