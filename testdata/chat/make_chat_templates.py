"""Chat templates rendered by transformers itself: the oracle of flashcl's Jinja rendering
(ChatTemplateTest) and of the server's chat endpoint on a model whose tokenizer_config.json has a
chat_template (ServerChatTemplateTest).

Each case is a template (written here in the shapes the hub's models use: ChatML, Llama-2's
[INST] with a system block and the alternation check, Zephyr's tags on their own lines, Phi-3's,
Gemma's role renaming and trim filter), a list of messages, and either transformers' rendering
(add_generation_prompt on, bos "<s>", eos "</s>") or the message of the exception it raised.
Deterministic: nothing is sampled.

    python3 testdata/chat/make_chat_templates.py      (GPU machine: transformers 5.17; no GPU needed)
"""
import json
import os

import transformers

TEMPLATES = {
    "chatml": (
        "{% for message in messages %}"
        "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    ),
    "llama2": (
        "{% if messages[0]['role'] == 'system' %}"
        "{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}"
        "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
        "{% for message in loop_messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
        "{% endif %}"
        "{% if loop.index0 == 0 and system_message != false %}"
        "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
        "{% else %}{% set content = message['content'] %}{% endif %}"
        "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
        "{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}"
        "{% endfor %}"
    ),
    "zephyr": (
        "{% for message in messages %}\n"
        "{% if message['role'] == 'user' %}\n"
        "{{ '<|user|>\\n' + message['content'] + eos_token }}\n"
        "{% elif message['role'] == 'system' %}\n"
        "{{ '<|system|>\\n' + message['content'] + eos_token }}\n"
        "{% elif message['role'] == 'assistant' %}\n"
        "{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n"
        "{% endif %}\n"
        "{% if loop.last and add_generation_prompt %}\n"
        "{{ '<|assistant|>' }}\n"
        "{% endif %}\n"
        "{% endfor %}"
    ),
    "phi3": (
        "{{ bos_token }}{% for message in messages %}"
        "{{'<|' + message['role'] + '|>' + '\\n' + message['content'] + '<|end|>\\n'}}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}"
    ),
    "gemma": (
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "{% for message in messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
        "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
        "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"
    ),
    "whitespace-control": (
        "{%- for message in messages -%}\n"
        "    {%- if loop.first -%}{{ bos_token }}{%- endif -%}\n"
        "    {{- message.role | upper }}: {{ message.content }}\n"
        "    {%- if not loop.last %}\n\n{% endif -%}\n"
        "{%- endfor -%}\n"
        "{%- if add_generation_prompt %}\n\nASSISTANT:{% endif -%}"
    ),
}

MESSAGES = {
    "one question": [{"role": "user", "content": "What is 2 + 2?"}],
    "system and question": [
        {"role": "system", "content": "You answer in one word."},
        {"role": "user", "content": "  Name a prime.  "},
    ],
    "three turns": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Write a haiku about\nOpenCL."},
    ],
    "assistant first": [
        {"role": "assistant", "content": "I speak first."},
        {"role": "user", "content": "ok"},
    ],
    "unicode": [{"role": "user", "content": "Übersetze: «ça va?» — 日本語"}],
}


def render(template, messages):
    from transformers.utils.chat_template_utils import _compile_jinja_template
    compiled = _compile_jinja_template(template)
    return compiled.render(messages=messages, bos_token="<s>", eos_token="</s>", add_generation_prompt=True)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    cases = []
    for tname, template in TEMPLATES.items():
        for mname, messages in MESSAGES.items():
            case = {"template_name": tname, "messages_name": mname, "template": template, "messages": messages}
            try:
                case["rendered"] = render(template, messages)
            except Exception as e:   # raise_exception: the template refuses these messages
                case["error"] = str(e)
            cases.append(case)
    out = {"transformers": transformers.__version__, "bos_token": "<s>", "eos_token": "</s>", "add_generation_prompt": True, "cases": cases}
    with open(os.path.join(here, "templates.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{len(cases)} cases, {sum('error' in c for c in cases)} refused")


if __name__ == "__main__":
    main()
