import Foundation

/// The JSON coders of every session file (manifest, metrics, cells,
/// architectures). A metric can be infinite or NaN (an evaluation of
/// weights that overflow): such values are written as the strings "inf",
/// "-inf" and "nan" and read back as the same numbers, so encoding can never fail.
public enum SessionJSON {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }
}
