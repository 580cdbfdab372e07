import ArgumentParser

@main
struct Fleet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Run and operate the social security card pipeline.",
        subcommands: [Up.self, Broker.self, Produce.self, RuntimeBench.self, BenchRelay.self, BenchJSON.self, ProbeAcksCommand.self,
                      SeedCommand.self, SubmitCommand.self, BankSimulatorCommand.self, StatusCommand.self,
                      TopicsCommand.self, LagCommand.self, OpsCommand.self, DeadLetterCommand.self,
                      BenchCommand.self, ChaosCommand.self, HostileCommand.self])
}
