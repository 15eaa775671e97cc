import Testing
import Tokenizer

/// SmolLM2-135M-Instruct's Jinja chat template, as its GGUF stores it.
let smolLM2Template = """
{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system
You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
' }}{% endif %}{{'<|im_start|>' + message['role'] + '
' + message['content'] + '<|im_end|>' + '
'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant
' }}{% endif %}
"""

/// A ChatML template that writes its default system message with Jinja escapes, as Qwen2.5's does.
let escapedDefaultTemplate = #"""
{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}{%- else %}{{- '<|im_start|>system\nYou\'re Qwen, a helpful assistant.<|im_end|>\n' }}{%- endif %}{%- for message in messages %}{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}
"""#

/// A plain ChatML template with no default system message.
let plainChatMLTemplate = #"""
{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}
"""#

/// Meta-Llama-3-8B-Instruct's template.
let llama3Template = #"""
{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}
"""#

@Suite("Chat templates")
struct ChatTemplateTests {
    @Test("SmolLM2's template is ChatML with its default system message")
    func detectsSmolLM2() throws {
        let template = try ChatTemplate.detect(from: smolLM2Template)
        #expect(template == .chatML(defaultSystem: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"))
    }

    @Test("a default system message written with Jinja escapes is unescaped")
    func detectsEscapedDefault() throws {
        #expect(try ChatTemplate.detect(from: escapedDefaultTemplate) == .chatML(defaultSystem: "You're Qwen, a helpful assistant."))
    }

    @Test("a ChatML template whose system text comes only from the messages has no default")
    func detectsPlainChatML() throws {
        #expect(try ChatTemplate.detect(from: plainChatMLTemplate) == .chatML(defaultSystem: nil))
        let rendered = ChatTemplate.chatML(defaultSystem: nil)
            .render([ChatMessage(role: "user", content: "hi")], addGenerationPrompt: false)
        #expect(rendered == "<|im_start|>user\nhi<|im_end|>\n")
    }

    @Test("Llama 3's template is recognized by its header markers")
    func detectsLlama3() throws {
        #expect(try ChatTemplate.detect(from: llama3Template) == .llama3)
        #expect(ChatTemplate.llama3.rendersBOS)
        #expect(!ChatTemplate.chatML(defaultSystem: nil).rendersBOS)
    }

    @Test("ChatML renders every chat.json conversation exactly as the Jinja template does")
    func rendersChatML() throws {
        let fixtures: [ChatFixture] = try TokenizerFixtures.json("chat.json")
        let template = try ChatTemplate.detect(from: smolLM2Template)
        #expect(fixtures.count >= 8)
        for fixture in fixtures {
            let rendered = template.render(fixture.messages, addGenerationPrompt: true)
            #expect(Array(rendered.utf8) == Array(fixture.rendered.utf8), "\(visible(fixture.rendered))")
        }
    }

    @Test("Llama 3 renders every llama3-chat.json conversation exactly, contents trimmed")
    func rendersLlama3() throws {
        let fixtures: [ChatFixture] = try TokenizerFixtures.json("llama3-chat.json")
        #expect(fixtures.count >= 8)
        for fixture in fixtures {
            let rendered = ChatTemplate.llama3.render(fixture.messages, addGenerationPrompt: true)
            #expect(Array(rendered.utf8) == Array(fixture.rendered.utf8), "\(visible(fixture.rendered))")
        }
    }

    @Test("without a generation prompt the render ends after the last message")
    func noGenerationPrompt() {
        let messages = [ChatMessage(role: "system", content: "S"), ChatMessage(role: "user", content: " U ")]
        #expect(ChatTemplate.chatML(defaultSystem: "D").render(messages, addGenerationPrompt: false)
            == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n U <|im_end|>\n")
        #expect(ChatTemplate.llama3.render(messages, addGenerationPrompt: false)
            == "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|>")
    }

    @Test("an unsupported template is a typed error that says what is supported")
    func unsupportedTemplate() {
        let mistral = "{{ bos_token }}{% for message in messages %}[INST] {{ message['content'] }} [/INST]{% endfor %}"
        #expect {
            try ChatTemplate.detect(from: mistral)
        } throws: { error in
            guard case TokenizerError.unsupportedChatTemplate = error else { return false }
            return "\(error)".contains("ChatML")
        }
    }

    @Test("Llama 3.1's dated system header is refused rather than rendered wrongly")
    func llama31Refused() {
        let template = "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
        #expect(throws: TokenizerError.self) { try ChatTemplate.detect(from: template) }
    }

    @Test("a model without a template is a typed error")
    func missingTemplate() {
        #expect(throws: TokenizerError.missingChatTemplate) { try ChatTemplate.detect(from: nil) }
        #expect(throws: TokenizerError.missingChatTemplate) { try ChatTemplate.detect(from: "  \n") }
    }
}

@Suite("Chat prompts with the SmolLM2 tokenizer", .enabled(if: TokenizerFixtures.hasModel, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf"))
struct SmolLM2ChatTests {
    @Test("the GGUF's own template is detected as ChatML with SmolLM's default system message")
    func templateFromGGUF() throws {
        let tokenizer = try TokenizerFixtures.smolLM2.get()
        #expect(tokenizer.chatTemplate != nil)
        #expect(try ChatTemplate.detect(from: tokenizer.chatTemplate) == ChatTemplate.detect(from: smolLM2Template))
    }

    @Test("rendered chat prompts encode to HF's ids")
    func encodesChats() throws {
        let tokenizer = try TokenizerFixtures.smolLM2.get()
        let template = try ChatTemplate.detect(from: tokenizer.chatTemplate)
        let fixtures: [ChatFixture] = try TokenizerFixtures.json("chat.json")
        for fixture in fixtures {
            let ids = tokenizer.encode(template.render(fixture.messages, addGenerationPrompt: true))
            #expect(ids == fixture.ids, "\(visible(fixture.rendered))")
        }
    }
}
