import Foundation

/// One line of a chart.
public struct ChartSeries: Sendable {
    /// Legend text.
    public var name: String
    /// CSS color.
    public var color: String
    /// Points in data coordinates; drawn in the given order.
    public var points: [(x: Double, y: Double)]
    /// Whether to draw the line dashed (to tell p50 from p99, say).
    public var dashed: Bool

    /// A series; see the properties.
    public init(name: String, color: String, points: [(x: Double, y: Double)], dashed: Bool = false) {
        self.name = name
        self.color = color
        self.points = points
        self.dashed = dashed
    }
}

/// A vertical line at an x value, e.g. a swap event on a latency-over-time chart.
public struct ChartMarker: Sendable {
    /// Where, in data coordinates.
    public var x: Double
    /// CSS color.
    public var color: String
    /// Tooltip text.
    public var label: String

    /// A marker; see the properties.
    public init(x: Double, color: String, label: String) {
        self.x = x
        self.color = color
        self.label = label
    }
}

/// Draws line charts as inline SVG strings, so the HTML report needs no script or network.
public enum SVGChart {
    /// A categorical palette that stays readable when printed.
    public static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    private static let width = 720.0, height = 300.0
    private static let left = 64.0, right = 16.0, top = 34.0, bottom = 44.0

    /// A line chart with axes, ticks, legend and optional vertical markers.
    public static func lineChart(title: String, xLabel: String, yLabel: String, series: [ChartSeries],
                                 markers: [ChartMarker] = []) -> String {
        let points = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\">"
        svg += "<title>\(HTMLText.escape(title))</title>"
        svg += text(title, x: width / 2, y: 18, anchor: "middle", extra: "font-weight=\"bold\"")
        guard !points.isEmpty else {
            return svg + text("no data", x: width / 2, y: height / 2, anchor: "middle") + "</svg>"
        }
        let xs = points.map(\.x) + markers.map(\.x).filter(\.isFinite)
        let xTicks = niceTicks(min: xs.min()!, max: xs.max()!)
        let yTicks = niceTicks(min: 0, max: points.map(\.y).max()!)
        let plotW = width - left - right, plotH = height - top - bottom
        let x0 = xTicks.first!, x1 = xTicks.last!, y1 = yTicks.last!
        func px(_ x: Double) -> Double { left + (x1 == x0 ? plotW / 2 : (x - x0) / (x1 - x0) * plotW) }
        func py(_ y: Double) -> Double { top + plotH - (y1 == 0 ? 0 : y / y1 * plotH) }

        for tick in yTicks {
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(py(tick)))\" x2=\"\(f(width - right))\" y2=\"\(f(py(tick)))\" stroke=\"#e5e5e5\"/>"
            svg += text(label(tick), x: left - 6, y: py(tick) + 4, anchor: "end")
        }
        for tick in xTicks {
            svg += "<line x1=\"\(f(px(tick)))\" y1=\"\(f(top + plotH))\" x2=\"\(f(px(tick)))\" y2=\"\(f(top + plotH + 4))\" stroke=\"#555\"/>"
            svg += text(label(tick), x: px(tick), y: top + plotH + 18, anchor: "middle")
        }
        svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#555\"/>"
        svg += text(xLabel, x: left + plotW / 2, y: height - 6, anchor: "middle")
        svg += "<text x=\"14\" y=\"\(f(top + plotH / 2))\" text-anchor=\"middle\" font-size=\"12\" "
        svg += "transform=\"rotate(-90 14 \(f(top + plotH / 2)))\">\(HTMLText.escape(yLabel))</text>"

        for marker in markers where marker.x.isFinite {
            svg += "<line x1=\"\(f(px(marker.x)))\" y1=\"\(f(top))\" x2=\"\(f(px(marker.x)))\" y2=\"\(f(top + plotH))\" "
            svg += "stroke=\"\(marker.color)\" stroke-width=\"1\" opacity=\"0.7\"><title>\(HTMLText.escape(marker.label))</title></line>"
        }
        for line in series {
            let visible = line.points.filter { $0.x.isFinite && $0.y.isFinite }
            guard !visible.isEmpty else { continue }
            let path = visible.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\""
            svg += line.dashed ? " stroke-dasharray=\"6 4\"/>" : "/>"
            if visible.count <= 40 {
                for point in visible {
                    svg += "<circle cx=\"\(f(px(point.x)))\" cy=\"\(f(py(point.y)))\" r=\"3\" fill=\"\(line.color)\">"
                    svg += "<title>\(HTMLText.escape(line.name)): \(label(point.x)), \(label(point.y))</title></circle>"
                }
            }
        }
        for (i, line) in series.enumerated() {
            let y = top + 12 + Double(i) * 15
            let dash = line.dashed ? " stroke-dasharray=\"6 4\"" : ""
            svg += "<line x1=\"\(f(left + 10))\" y1=\"\(f(y - 4))\" x2=\"\(f(left + 34))\" y2=\"\(f(y - 4))\" stroke=\"\(line.color)\" stroke-width=\"2\"\(dash)/>"
            svg += text(line.name, x: left + 40, y: y, anchor: "start")
        }
        return svg + "</svg>"
    }

    /// Round tick values covering [min, max]: steps of 1, 2 or 5 times a power of ten, about 5 of them.
    public static func niceTicks(min lo: Double, max hi: Double, count: Int = 5) -> [Double] {
        let low = Swift.min(lo, hi), high = Swift.max(lo, hi)
        let span = high - low
        guard span > 0 else { return low == 0 ? [0, 1] : [low - abs(low) * 0.5, low, low + abs(low) * 0.5] }
        let rough = span / Double(count)
        let magnitude = pow(10, (log10(rough)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
        let first = (low / step).rounded(.down) * step
        var ticks: [Double] = []
        var value = first
        while value < high + step * 0.999 && ticks.count < 50 {
            ticks.append(value)
            value += step
        }
        return ticks
    }

    private static func text(_ content: String, x: Double, y: Double, anchor: String, extra: String = "") -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\" font-size=\"12\" \(extra)>\(HTMLText.escape(content))</text>"
    }

    private static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    private static func label(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e9 { return String(Int(value)) }
        return abs(value) >= 10 ? String(format: "%.1f", value) : String(format: "%.2f", value)
    }
}

/// Escaping for text placed in HTML or SVG.
public enum HTMLText {
    /// Replaces the five characters with special meaning in markup, and writes the slashes of
    /// "://" as entities so that no text (an error message quoting a URL, say) can look like a
    /// link to an outside resource; browsers display it unchanged.
    public static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.count)
        var previous: [Character] = []
        for character in text {
            defer { previous = Array((previous + [character]).suffix(2)) }
            if character == "/", previous == [":", "/"] || previous.last == ":" {
                result += "&#47;"
                continue
            }
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}
