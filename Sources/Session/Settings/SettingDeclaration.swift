import Foundation
import Interface

/// The values a setting takes: how the user's word is read, which values are
/// allowed, and how a value is written back.
public struct SettingDomain<Value: Sendable>: Sendable {
    /// What a refused word is told to be: "a number in [0, 10]".
    public let expected: String
    let read: @Sendable (String) -> Value?
    let allows: @Sendable (Value) -> Bool
    let write: @Sendable (Value) -> String
}

extension SettingDomain where Value == Float {
    /// A number in `range`; an upper bound just below 1 (as a Float holds [0, 1)) is written "1)".
    static func number(_ range: ClosedRange<Double>) -> Self {
        let upper = range.upperBound == Double(Float(1).nextDown) ? "1)" : String(format: "%g]", range.upperBound)
        return Self(expected: "a number in [\(String(format: "%g", range.lowerBound)), \(upper)",
                    read: { parseNumber($0).map(Float.init) }, allows: { range.contains(Double($0)) }, write: { String(format: "%g", $0) })
    }
}

extension SettingDomain where Value == Int {
    static func whole(_ range: ClosedRange<Int>) -> Self {
        Self(expected: "a whole number in \(describe(range))", read: parseWhole, allows: range.contains, write: { "\($0)" })
    }
}

extension SettingDomain where Value == UInt64 {
    static var seed: Self {
        Self(expected: "a whole number in 0…", read: { parseWhole($0).flatMap { $0 >= 0 ? UInt64($0) : nil } }, allows: { _ in true }, write: { "\($0)" })
    }
}

extension SettingDomain where Value == Bool {
    /// `yes` or `no`, `on` or `off`.
    static func choice(_ yes: String, _ no: String) -> Self {
        Self(expected: "\(yes) or \(no)", read: { $0 == yes ? true : $0 == no ? false : nil }, allows: { _ in true }, write: { $0 ? yes : no })
    }
}

extension SettingDomain where Value: RawRepresentable & CaseIterable, Value.RawValue == String {
    /// One of an enumeration's words.
    static var words: Self {
        Self(expected: Value.allCases.map(\.rawValue).joined(separator: " or "), read: Value.init(rawValue:), allows: { _ in true }, write: \.rawValue)
    }
}

/// One setting, declared once in `Settings.table`: its name and help, its
/// field in `Settings` (what a session saves), its values, and how a new
/// value takes effect. `set`, the typed `SettingValue`s, the listing, the
/// notebook's help and the check of a saved session all read it.
public struct SettingDeclaration<Value: Sendable>: AnySetting {
    public let name: String
    /// After the name in the help: "(0.1)  weight learning rate (a schedule overrides it)".
    public let help: String
    let field: WritableKeyPath<Settings, Value> & Sendable
    /// The field's name in a saved session ("learningRate").
    let fieldName: String
    public let domain: SettingDomain<Value>
    /// How a checked value takes effect, when storing it is not all; returns the message
    /// said instead of "name = word", if any.
    let apply: (@Sendable (Session, Value) throws -> String?)?
    /// How `set` alone lists it: nil puts "name word" on the first line; otherwise its own line, when it gives one.
    let listing: (@Sendable (Value) -> String?)?

    init(_ name: String, _ field: WritableKeyPath<Settings, Value> & Sendable, _ fieldName: String, _ domain: SettingDomain<Value>, help: String,
         listing: (@Sendable (Value) -> String?)? = nil, apply: (@Sendable (Session, Value) throws -> String?)? = nil) {
        (self.name, self.field, self.fieldName, self.domain, self.help, self.listing, self.apply) = (name, field, fieldName, domain, help, listing, apply)
    }

    /// The error for a word or value outside the domain: "lr: expected a number in [0, 10], got '11'".
    func refusal(_ word: String) -> SessionError { SessionError("\(name): expected \(domain.expected), got '\(word)'") }

    /// The value a word stands for, within the domain.
    public func value(_ word: String) throws -> Value {
        guard let v = domain.read(word), domain.allows(v) else { throw refusal(word) }
        return v
    }

    /// The value, if the domain allows it.
    public func checked(_ value: Value) throws -> Value {
        guard domain.allows(value) else { throw refusal(domain.write(value)) }
        return value
    }

    /// The typed value, for `Session.set`.
    public func callAsFunction(_ value: Value) -> SettingValue {
        SettingValue(name: name, word: domain.write(value)) { session, written in try self.set(value, written: written, in: session) }
    }

    func set(_ value: Value, written: String, in session: Session) throws -> Message {
        guard domain.allows(value) else { throw refusal(written) }
        let said: String?
        if let apply { said = try apply(session, value) } else { session.settings[keyPath: field] = value; said = nil }
        session.applySettings()
        return Message(said ?? "\(name) = \(written)")
    }

    public func set(_ word: String, in session: Session) throws -> Message { try set(try value(word), written: word, in: session) }

    public func word(in settings: Settings) -> String { domain.write(settings[keyPath: field]) }

    public func listed(in settings: Settings) -> (inline: String?, line: String?) {
        guard let listing else { return ("\(name) \(word(in: settings))", nil) }
        return (nil, listing(settings[keyPath: field]))
    }

    public func checkSaved(_ settings: Settings, file: String) throws {
        let v = settings[keyPath: field]
        guard domain.allows(v) else {
            throw SessionError("\(file): settings.\(fieldName) = \(domain.write(v)) is out of bounds (\(domain.expected)); the file was edited or damaged")
        }
    }
}

/// A setting of any value type, as the table lists it.
public protocol AnySetting: Sendable {
    var name: String { get }
    var help: String { get }
    /// Reads the user's word, checks it and applies it ("lr = 0.05").
    func set(_ word: String, in session: Session) throws -> Message
    /// The value in `settings`, as the user writes it.
    func word(in settings: Settings) -> String
    /// Its part of `set`'s listing: on the first line, or a line of its own.
    func listed(in settings: Settings) -> (inline: String?, line: String?)
    /// Refuses a saved session whose value is outside the domain.
    func checkSaved(_ settings: Settings, file: String) throws
}

/// A setting with its value, typed: what `Session.set` takes
/// (`.batch(32)`, `.learningRate(0.05)`; the factories are in `Settings.table`'s file).
public struct SettingValue: Sendable {
    public let name: String
    /// The value as the user writes it.
    public let word: String
    let apply: @Sendable (Session, String) throws -> Message
}
