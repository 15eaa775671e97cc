import Foundation

/// One message of a chat conversation.
public struct ChatMessage: Sendable, Equatable, Codable {
    /// Who speaks: "system", "user", "assistant" (written into the prompt as given).
    public var role: String
    /// What was said.
    public var content: String

    /// Creates a message.
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// The chat prompt formats we render natively, recognized from a model's Jinja chat template.
/// Rendering reproduces what the template produces, without a Jinja engine.
public enum ChatTemplate: Sendable, Equatable {
    /// `<|im_start|>{role}\n{content}<|im_end|>\n` per message (SmolLM2, Qwen). When the template
    /// inserts a system message if the conversation has none, `defaultSystem` holds its text.
    case chatML(defaultSystem: String?)
    /// `<|begin_of_text|>` then `<|start_header_id|>{role}<|end_header_id|>\n\n{content, trimmed}<|eot_id|>`
    /// per message (Llama 3 / 3.0 Instruct). The rendered text already holds the BOS token: encode it
    /// with `addBOS: false`.
    case llama3

    /// Recognizes the format of a Jinja chat template by its markers.
    public static func detect(from templateSource: String?) throws -> ChatTemplate {
        guard let source = templateSource, source.contains(where: { !$0.isWhitespace }) else {
            throw TokenizerError.missingChatTemplate
        }
        if source.contains("<|im_start|>") {
            return .chatML(defaultSystem: defaultSystemMessage(inChatML: source))
        }
        if source.contains("<|start_header_id|>") {
            if source.contains("Cutting Knowledge Date") {
                throw TokenizerError.unsupportedChatTemplate(
                    "Llama 3.1+ template (it writes a dated system header and tool instructions)")
            }
            return .llama3
        }
        let excerpt = source.count > 120 ? String(source.prefix(120)) + "…" : source
        throw TokenizerError.unsupportedChatTemplate("no known markers in \"\(excerpt)\"")
    }

    /// Whether rendered prompts already start with the BOS text, so encoding must not add another:
    /// `tokenizer.encode(prompt, addBOS: tokenizer.addsBOS && !template.rendersBOS)`.
    public var rendersBOS: Bool { self == .llama3 }

    /// The prompt for `messages`, ending with the assistant's header when `addGenerationPrompt`.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var prompt = ""
        switch self {
        case .chatML(let defaultSystem):
            if let defaultSystem, let first = messages.first, first.role != "system" {
                prompt += "<|im_start|>system\n\(defaultSystem)<|im_end|>\n"
            }
            for message in messages {
                prompt += "<|im_start|>\(message.role)\n\(message.content)<|im_end|>\n"
            }
            if addGenerationPrompt { prompt += "<|im_start|>assistant\n" }
        case .llama3:
            // The template prefixes bos_token to the first message (so no BOS without messages).
            if !messages.isEmpty { prompt += "<|begin_of_text|>" }
            for message in messages {
                prompt += "<|start_header_id|>\(message.role)<|end_header_id|>\n\n"
                prompt += jinjaTrim(message.content) + "<|eot_id|>"
            }
            if addGenerationPrompt { prompt += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        }
        return prompt
    }
}

/// The default system text a ChatML template writes as a literal
/// (`'<|im_start|>system\n…<|im_end|>'`), or nil when its system message comes only from the messages.
private func defaultSystemMessage(inChatML source: String) -> String? {
    var searchStart = source.startIndex
    while let header = source.range(of: "<|im_start|>system", range: searchStart..<source.endIndex) {
        searchStart = header.upperBound
        var bodyStart = header.upperBound
        if source[bodyStart...].hasPrefix("\n") {
            bodyStart = source.index(after: bodyStart)
        } else if source[bodyStart...].hasPrefix("\\n") {
            bodyStart = source.index(bodyStart, offsetBy: 2)
        } else {
            continue
        }
        guard let end = source.range(of: "<|im_end|>", range: bodyStart..<source.endIndex) else { continue }
        if let text = jinjaLiteralText(source[bodyStart..<end.lowerBound]) { return text }
    }
    return nil
}

/// The text of a stretch of a Jinja string literal with its escapes resolved, or nil when the stretch
/// leaves the literal (an unescaped quote or a `{{`/`{%` means it is template code, not text).
private func jinjaLiteralText(_ raw: Substring) -> String? {
    if raw.isEmpty || raw.contains("{{") || raw.contains("{%") { return nil }
    var text = ""
    var escaped = false
    for character in raw {
        if escaped {
            switch character {
            case "n": text.append("\n")
            case "t": text.append("\t")
            case "r": text.append("\r")
            default: text.append(character)
            }
            escaped = false
        } else if character == "\\" {
            escaped = true
        } else if character == "'" || character == "\"" {
            return nil
        } else {
            text.append(character)
        }
    }
    return escaped ? nil : text
}

/// Jinja's `trim` filter: Python's `str.strip()`, which removes Unicode whitespace and the
/// separators U+001C…U+001F from both ends.
func jinjaTrim(_ text: String) -> String {
    func isPythonSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value)
    }
    let scalars = text.unicodeScalars
    guard let first = scalars.firstIndex(where: { !isPythonSpace($0) }),
          let last = scalars.lastIndex(where: { !isPythonSpace($0) }) else { return "" }
    return String(scalars[first...last])
}
