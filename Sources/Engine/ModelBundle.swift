import Adapters
import Foundation
import Llama
import ModelFormats
import Tokenizer

/// A model together with the tokenizer and chat template that came with it.
public final class ModelBundle: @unchecked Sendable {
    public let model: LlamaModel
    public let tokenizer: BPETokenizer
    /// The model's Jinja chat template source, if it has one; parsed when chat is first used.
    public let chatTemplateSource: String?
    /// Where the model was loaded from.
    public let path: String

    init(model: LlamaModel, tokenizer: BPETokenizer, chatTemplateSource: String?, path: String) {
        self.model = model
        self.tokenizer = tokenizer
        self.chatTemplateSource = chatTemplateSource
        self.path = path
    }

    /// Loads a .gguf file (tokenizer from its metadata) or a Hugging Face directory
    /// (tokenizer.json and tokenizer_config.json's chat_template).
    public static func load(path: String) throws -> ModelBundle {
        let model = try LlamaModel.load(path: path)
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if isDirectory.boolValue {
            let json = try Data(contentsOf: URL(fileURLWithPath: path + "/tokenizer.json"))
            // tokenizer_config.json names BOS/EOS and carries the chat template.
            let config = try? Data(contentsOf: URL(fileURLWithPath: path + "/tokenizer_config.json"))
            let spec = try TokenizerSpec(tokenizerJSON: json, tokenizerConfigJSON: config)
            return ModelBundle(model: model, tokenizer: try BPETokenizer(spec: spec), chatTemplateSource: spec.chatTemplate, path: path)
        }
        let gguf = try GGUFFile(path: path)
        let spec = try TokenizerSpec(gguf: gguf.metadata)
        return ModelBundle(model: model, tokenizer: try BPETokenizer(spec: spec),
                           chatTemplateSource: gguf.metadata["tokenizer.chat_template"]?.string, path: path)
    }

    /// The chat template, or a clear error when the model has none we support.
    public func chatTemplate() throws -> ChatTemplate {
        try ChatTemplate.detect(from: chatTemplateSource)
    }

    /// Prompt tokens of a conversation rendered with the model's chat template, ready for the
    /// assistant's reply. A template that writes BOS itself gets no second one.
    public func chatPromptTokens(_ messages: [ChatMessage]) throws -> [Int] {
        let template = try chatTemplate()
        let text = template.render(messages, addGenerationPrompt: true)
        return tokenizer.encode(text, addBOS: tokenizer.addsBOS && !template.rendersBOS)
    }

    /// Stop tokens a chat or completion ends on by default (the model's end-of-sequence token).
    public var defaultStopTokens: Set<Int> {
        tokenizer.eosID.map { [$0] } ?? []
    }

    /// The base's shape and the names it is known by (the model's own name and its file or
    /// folder name without extensions), for checking adapters against it.
    public var adapterShape: BaseModelShape {
        var shape = model.adapterShape
        let file = URL(fileURLWithPath: path).lastPathComponent
        let stem = String(file.split(separator: ".").first ?? Substring(file))
        if !stem.isEmpty, !shape.names.contains(stem) { shape.names.append(stem) }
        return shape
    }

    /// Loads and checks the PEFT adapter in `directory` against this model.
    public func loadAdapter(directory: String, name: String, version: Int = 1,
                            limits: AdapterLimits = AdapterLimits()) throws -> Adapter {
        try AdapterLoader.load(directory: directory, name: name, version: version, base: adapterShape, weights: model,
                               limits: limits)
    }
}
