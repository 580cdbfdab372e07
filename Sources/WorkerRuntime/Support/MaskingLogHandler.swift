import CardDomain
import Logging

/// Wraps a log handler so every message and metadata value is scrubbed of ID numbers and
/// mobiles before it is written: the last line of defence for text we did not compose.
public struct MaskingLogHandler: LogHandler {
    private var inner: any LogHandler

    public init(_ inner: any LogHandler) { self.inner = inner }

    public var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    public var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
        var event = event
        event.message = "\(Masking.redact(event.message.description))"
        event.metadata = event.metadata.map { $0.mapValues(Self.mask) }
        event.error = event.error.map { MaskedError(description: Masking.redact("\($0)")) }
        inner.log(event: event)
    }

    private struct MaskedError: Error, CustomStringConvertible { var description: String }

    private static func mask(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let s): .string(Masking.redact(s))
        case .stringConvertible(let c): .string(Masking.redact(c.description))
        case .array(let a): .array(a.map(mask))
        case .dictionary(let d): .dictionary(d.mapValues(mask))
        }
    }
}
