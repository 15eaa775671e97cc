import Foundation

/// Writes a report's three forms — JSON, HTML and the text table — into one directory.
public enum ReportWriter {
    /// The paths written by `write(_:to:)`.
    public struct Paths: Sendable {
        /// All runs' statistics and raw time series.
        public var json: String
        /// The self-contained page with charts.
        public var html: String
        /// The same table as printed on stdout.
        public var text: String
    }

    /// Encodes a report as pretty, key-sorted JSON (stable diffs between runs).
    public static func encodeJSON(_ report: Report) throws(ConfigError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do { return try encoder.encode(report) } catch { throw .file(path: "report.json", reason: "cannot encode: \(error)") }
    }

    /// Decodes a report written by `encodeJSON`.
    public static func decodeJSON(_ data: Data) throws(ConfigError) -> Report {
        do { return try JSONDecoder().decode(Report.self, from: data) } catch {
            throw .file(path: "report.json", reason: "not a load report: \(error)")
        }
    }

    /// Creates `directory` if needed and writes `report.json`, `report.html` and `summary.txt` into it.
    @discardableResult
    public static func write(_ report: Report, to directory: String) throws(ConfigError) -> Paths {
        let paths = Paths(json: directory + "/report.json", html: directory + "/report.html", text: directory + "/summary.txt")
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .file(path: directory, reason: "cannot create directory: \(error.localizedDescription)")
        }
        try save(try encodeJSON(report), to: paths.json)
        try save(Data(HTMLReport.render(report).utf8), to: paths.html)
        try save(Data(TableReport.render(report).utf8), to: paths.text)
        return paths
    }

    private static func save(_ data: Data, to path: String) throws(ConfigError) {
        do { try data.write(to: URL(fileURLWithPath: path)) } catch {
            throw .file(path: path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}
