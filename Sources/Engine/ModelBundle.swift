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
            let spec = try TokenizerSpec(tokenizerJSON: json)
            var template = spec.chatTemplate
            if template == nil, let config = try? Data(contentsOf: URL(fileURLWithPath: path + "/tokenizer_config.json")),
               let object = try? JSONSerialization.jsonObject(with: config) as? [String: Any] {
                template = object["chat_template"] as? String
            }
            return ModelBundle(model: model, tokenizer: try BPETokenizer(spec: spec), chatTemplateSource: template, path: path)
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

    /// Stop tokens a chat or completion ends on by default (the model's end-of-sequence token).
    public var defaultStopTokens: Set<Int> {
        tokenizer.eosID.map { [$0] } ?? []
    }
}
