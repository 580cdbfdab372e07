/// A `fleet` run that cannot go on (no Topics/ folder, a worker that would not start, a build product
/// missing): the message is the whole story, printed as is.
public struct FleetRunError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
