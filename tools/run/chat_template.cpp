// Chat template recognition by exact text: a template is accepted only when it is, character for
// character, one of the known Jinja sources (the default system message of the second form being
// the one free part), so the rendering below is what Jinja would produce.
#include "tools/run/chat_template.h"

#include <optional>
#include <string_view>

#include "tools/run/model_error.h"

namespace porta::run {
namespace {

// The per-message loop body and generation prompt both ChatML forms end with.
constexpr std::string_view kChatMlBody =
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
constexpr std::string_view kLoopStart = "{% for message in messages %}";
constexpr std::string_view kDefaultSystemStart =
    "{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n";
constexpr std::string_view kDefaultSystemEnd = "<|im_end|>\n' }}{% endif %}";

struct ChatMl {
  std::optional<std::string> default_system;
};

// Matches the two ChatML forms. The default system message is taken only when it has no quote or
// backslash, so it needs no Jinja string-literal unescaping.
std::optional<ChatMl> MatchChatMl(std::string_view tmpl) {
  // trim_blocks drops one newline after the last tag, so a file ending in one renders the same.
  if (!tmpl.empty() && tmpl.back() == '\n') tmpl.remove_suffix(1);
  if (!tmpl.starts_with(kLoopStart)) return std::nullopt;
  tmpl.remove_prefix(kLoopStart.size());
  ChatMl result;
  if (tmpl.starts_with(kDefaultSystemStart)) {
    tmpl.remove_prefix(kDefaultSystemStart.size());
    const size_t end = tmpl.find(kDefaultSystemEnd);
    if (end == std::string_view::npos) return std::nullopt;
    const std::string_view system = tmpl.substr(0, end);
    if (system.find_first_of("'\\") != std::string_view::npos) return std::nullopt;
    result.default_system = std::string(system);
    tmpl.remove_prefix(end + kDefaultSystemEnd.size());
  }
  if (tmpl != kChatMlBody) return std::nullopt;
  return result;
}

void AppendTurn(std::string_view role, std::string_view content, std::string* out) {
  *out += "<|im_start|>";
  *out += role;
  *out += '\n';
  *out += content;
  *out += "<|im_end|>\n";
}

}  // namespace

std::string ApplyChatTemplate(const std::string& tmpl, const std::vector<ChatMessage>& messages,
                              bool add_generation_prompt) {
  const std::optional<ChatMl> chat_ml = MatchChatMl(tmpl);
  if (!chat_ml) {
    std::string head = tmpl.substr(0, 80);
    throw ModelError(
        "tokenizer.chat_template: unsupported chat template (supported: ChatML, "
        "with or without a default system message); it starts with: " +
        head);
  }
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (i == 0 && chat_ml->default_system && messages[0].role != "system") {
      AppendTurn("system", *chat_ml->default_system, &out);
    }
    AppendTurn(messages[i].role, messages[i].content, &out);
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace porta::run
