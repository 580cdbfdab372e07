import CardDomain
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The gateway as one `Service`: the HTTP listener over ``GatewayRoutes``; run ``ViewFeeder`` beside it.
public enum GatewayApplication {
    /// - Parameters:
    ///   - host: listen address; `127.0.0.1` keeps it on this host (the default of `gateway` and `fleet up`).
    ///   - port: listen port; 0 picks a free one, reported through `onListening`.
    public static func make(host: String, port: Int, configuration: GatewayConfiguration, views: GatewayViews,
                            publisher: any SubmissionPublisher, logger: Logger,
                            onListening: @escaping @Sendable (Int) -> Void = { _ in }) -> some Service {
        Application(
            router: GatewayRoutes.router(configuration: configuration, views: views, publisher: publisher),
            configuration: .init(address: .hostname(host, port: port), serverName: "card-gateway"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}
