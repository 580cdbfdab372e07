import ArgumentParser
import DemoWorld
import FleetControl
import OperatorViews
import ProvingTools

/// The root command: it only lists the subcommands. Each one lives in the library of its concern:
/// running the fleet in FleetControl, the operator's views in OperatorViews, the demo world in
/// DemoWorld, benchmarks and fault drills in ProvingTools.
@main
struct Fleet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Run and operate the social security card pipeline.",
        subcommands: [Up.self, Broker.self, Produce.self, RuntimeBench.self, BenchRelay.self, BenchJSON.self, ProbeAcksCommand.self,
                      SeedCommand.self, SubmitCommand.self, BankSimulatorCommand.self, StatusCommand.self,
                      TopicsCommand.self, LagCommand.self, OpsCommand.self, MembersCommand.self, DeadLetterCommand.self,
                      BenchCommand.self, ChaosCommand.self, HostileCommand.self, BenchRestore.self])
}
