// Chat prompts from a GGUF's tokenizer.chat_template without a Jinja engine: the template text is
// recognised as one of the families below and rendered the way Jinja renders it.
//   ChatML: <|im_start|>{role}\n{content}<|im_end|>\n per message, "<|im_start|>assistant\n" as the
//           generation prompt.
//   ChatML with a default system message (SmolLM2): the same, preceded by
//           <|im_start|>system\n{default}<|im_end|>\n when the first message is not a system one.
#ifndef PORTA_TOOLS_RUN_CHAT_TEMPLATE_H_
#define PORTA_TOOLS_RUN_CHAT_TEMPLATE_H_

#include <string>
#include <vector>

namespace porta::run {

struct ChatMessage {
  std::string role;
  std::string content;
};

// Renders |messages| with |tmpl|; with |add_generation_prompt| the text ends with the opening of
// the assistant's turn. ModelError quoting the template's first 80 characters when it is not a
// template this function knows.
std::string ApplyChatTemplate(const std::string& tmpl, const std::vector<ChatMessage>& messages,
                              bool add_generation_prompt);

}  // namespace porta::run

#endif  // PORTA_TOOLS_RUN_CHAT_TEMPLATE_H_
