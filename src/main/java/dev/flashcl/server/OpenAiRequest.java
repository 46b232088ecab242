package dev.flashcl.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flashcl.ChatMessage;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A {@code /v1/completions} or {@code /v1/chat/completions} body, read and checked field by field:
 * every field of the wrong type, out of range or unknown is refused (400) naming it. Fields OpenAI
 * defines that flashcl does not implement are accepted at their neutral values only.
 *
 * @param chat          whether it came to the chat endpoint
 * @param model         the model asked for, or null
 * @param prompt        the prompt text, or null when given as ids or as chat messages
 * @param messages      the chat's messages (the server renders them as its model does), or null
 * @param promptIds     the prompt as token ids, or null
 * @param maxTokens     the most new tokens, or null for as many as the context leaves
 * @param temperature   0 for greedy
 * @param topP          nucleus cut
 * @param topK          top-k cut (flashcl's extension; 0 for none)
 * @param seed          the sampling seed, or null
 * @param stop          the request's stop strings
 * @param stream        server-sent events
 * @param includeUsage  a usage chunk at the end of a stream
 * @param echo          completions: the prompt before the text
 * @param logprobs      log-probabilities of the chosen tokens
 * @param ignoreEos     completions: keep going past the end-of-text token (vLLM's extension; benchmarks use it)
 */
record OpenAiRequest(boolean chat, String model, String prompt, List<ChatMessage> messages, int[] promptIds, Integer maxTokens, double temperature, double topP,
                     int topK, Long seed, List<String> stop, boolean stream, boolean includeUsage, boolean echo, boolean logprobs, boolean ignoreEos) {
    static final ObjectMapper JSON = new ObjectMapper();
    static {
        // A hostile body cannot make the parser build a 10 MB number or nest a million arrays.
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNumberLength(100).maxNestingDepth(64).build());
    }

    private static final Set<String> COMMON = Set.of("model", "max_tokens", "temperature", "top_p", "top_k", "seed", "stop", "stream",
            "stream_options", "n", "user", "presence_penalty", "frequency_penalty", "logit_bias");
    private static final Set<String> COMPLETION = Set.of("prompt", "echo", "logprobs", "best_of", "suffix", "ignore_eos");
    private static final Set<String> CHAT = Set.of("messages", "max_completion_tokens", "logprobs", "top_logprobs", "response_format", "tools",
            "tool_choice", "parallel_tool_calls");

    static OpenAiRequest parse(byte[] body, boolean chat) {
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (JsonProcessingException e) {
            throw ApiException.invalid(null, "the body is not valid JSON: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            throw ApiException.invalid(null, "the body could not be read: " + e.getMessage());
        }
        if (!(root instanceof ObjectNode o)) throw ApiException.invalid(null, "the body must be a JSON object");
        for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!COMMON.contains(f) && !(chat ? CHAT : COMPLETION).contains(f)) throw ApiException.invalid(f, "unrecognized request argument: " + f);
        }
        neutral(o, "n", 1);
        neutral(o, "best_of", 1);
        neutral(o, "presence_penalty", 0);
        neutral(o, "frequency_penalty", 0);
        if (o.hasNonNull("logit_bias") && !(o.get("logit_bias").isObject() && o.get("logit_bias").isEmpty())) {
            throw ApiException.invalid("logit_bias", "logit_bias is not supported");
        }
        if (o.hasNonNull("suffix")) throw ApiException.invalid("suffix", "suffix is not supported");
        for (String f : new String[] {"tools", "tool_choice", "parallel_tool_calls"}) if (o.hasNonNull(f)) throw ApiException.invalid(f, f + " is not supported");
        if (o.hasNonNull("response_format") && !o.get("response_format").path("type").asText("").equals("text")) {
            throw ApiException.invalid("response_format", "only response_format {\"type\": \"text\"} is supported");
        }
        if (o.hasNonNull("user") && !o.get("user").isTextual()) throw ApiException.invalid("user", "user must be a string");

        String model = null;
        if (o.hasNonNull("model")) {
            if (!o.get("model").isTextual()) throw ApiException.invalid("model", "model must be a string");
            model = o.get("model").asText();
        }
        String prompt = null;
        int[] ids = null;
        List<ChatMessage> messages = null;
        if (chat) {
            messages = messages(o.get("messages"));
        } else {
            JsonNode p = o.get("prompt");
            if (p == null || p.isNull()) throw ApiException.invalid("prompt", "prompt is required");
            if (p.isTextual()) {
                prompt = p.asText();
            } else if (p.isArray() && p.size() == 1 && p.get(0).isTextual()) {
                prompt = p.get(0).asText();
            } else if (p.isArray() && p.size() > 0 && p.get(0).isIntegralNumber()) {
                ids = new int[p.size()];
                for (int i = 0; i < ids.length; i++) {
                    JsonNode t = p.get(i);
                    if (!t.isIntegralNumber() || !t.canConvertToInt() || t.asInt() < 0) throw ApiException.invalid("prompt", "prompt token " + i + " is not a token id: " + t);
                    ids[i] = t.asInt();
                }
            } else if (p.isArray() && p.size() == 1 && p.get(0).isArray()) {
                throw ApiException.invalid("prompt", "a batch of prompts is not supported: send one prompt a request");
            } else if (p.isArray() && p.size() > 1) {
                throw ApiException.invalid("prompt", "a batch of prompts is not supported: send one prompt a request");
            } else {
                throw ApiException.invalid("prompt", "prompt must be a string or an array of token ids");
            }
            if (prompt != null && prompt.isEmpty()) throw ApiException.invalid("prompt", "prompt is empty");
        }
        String maxField = chat && o.hasNonNull("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        Integer maxTokens = o.hasNonNull(maxField) ? integer(o, maxField, 1, Integer.MAX_VALUE) : null;
        double temperature = o.hasNonNull("temperature") ? number(o, "temperature", 0, 2) : 1.0;
        double topP = o.hasNonNull("top_p") ? number(o, "top_p", 0, 1) : 1.0;
        if (topP == 0) throw ApiException.invalid("top_p", "top_p must be above 0 and at most 1, got 0");
        int topK = o.hasNonNull("top_k") ? integer(o, "top_k", 0, Integer.MAX_VALUE) : 0;
        Long seed = null;
        if (o.hasNonNull("seed")) {
            JsonNode s = o.get("seed");
            if (!s.isIntegralNumber() || !s.canConvertToLong()) throw ApiException.invalid("seed", "seed must be an integer, got " + s);
            seed = s.asLong();
        }
        List<String> stop = new ArrayList<>();
        if (o.hasNonNull("stop")) {
            JsonNode s = o.get("stop");
            if (s.isTextual()) stop.add(s.asText());
            else if (s.isArray() && s.size() <= 4) for (JsonNode e : s) {
                if (!e.isTextual()) throw ApiException.invalid("stop", "stop must be a string or up to 4 strings");
                stop.add(e.asText());
            }
            else throw ApiException.invalid("stop", "stop must be a string or up to 4 strings");
            for (String x : stop) if (x.isEmpty()) throw ApiException.invalid("stop", "a stop string is empty");
        }
        boolean stream = bool(o, "stream");
        boolean includeUsage = false;
        if (o.hasNonNull("stream_options")) {
            JsonNode so = o.get("stream_options");
            if (!so.isObject()) throw ApiException.invalid("stream_options", "stream_options must be an object");
            if (!stream) throw ApiException.invalid("stream_options", "stream_options is only allowed with stream: true");
            includeUsage = so.hasNonNull("include_usage") && boolOf(so.get("include_usage"), "stream_options.include_usage");
        }
        boolean echo = !chat && bool(o, "echo");
        boolean logprobs;
        if (chat) {
            logprobs = bool(o, "logprobs");
            if (o.hasNonNull("top_logprobs") && integer(o, "top_logprobs", 0, 20) > 0) {
                throw ApiException.invalid("top_logprobs", "top_logprobs above 0 is not supported: flashcl returns the chosen tokens' log-probabilities");
            }
        } else {
            logprobs = o.hasNonNull("logprobs") && integer(o, "logprobs", 0, 5) >= 0;
            if (o.hasNonNull("logprobs") && o.get("logprobs").asInt() > 0) {
                throw ApiException.invalid("logprobs", "logprobs above 0 is not supported: flashcl returns the chosen tokens' log-probabilities (logprobs: 0)");
            }
        }
        if (echo && stream) throw ApiException.invalid("echo", "echo is not supported with stream: true yet");
        boolean ignoreEos = !chat && bool(o, "ignore_eos");
        return new OpenAiRequest(chat, model, prompt, messages, ids, maxTokens, temperature, topP, topK, seed, List.copyOf(stop), stream, includeUsage, echo, logprobs,
                ignoreEos);
    }

    private static List<ChatMessage> messages(JsonNode m) {
        if (m == null || m.isNull()) throw ApiException.invalid("messages", "messages is required");
        if (!m.isArray() || m.isEmpty()) throw ApiException.invalid("messages", "messages must be a non-empty array");
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < m.size(); i++) {
            JsonNode e = m.get(i);
            String where = "messages[" + i + "]";
            if (!e.isObject()) throw ApiException.invalid(where, where + " must be an object");
            String role = e.path("role").asText("");
            if (!Set.of("system", "developer", "user", "assistant").contains(role) || !e.get("role").isTextual()) {
                throw ApiException.invalid(where + ".role", where + ".role must be system, user or assistant");
            }
            JsonNode c = e.get("content");
            String text;
            if (c != null && c.isTextual()) {
                text = c.asText();
            } else if (c != null && c.isArray()) {
                StringBuilder sb = new StringBuilder();
                for (JsonNode part : c) {
                    if (!part.path("type").asText("").equals("text") || !part.path("text").isTextual()) {
                        throw ApiException.invalid(where + ".content", where + ".content parts must be {\"type\": \"text\", \"text\": ...}");
                    }
                    sb.append(part.get("text").asText());
                }
                text = sb.toString();
            } else {
                throw ApiException.invalid(where + ".content", where + ".content must be a string or text parts");
            }
            out.add(new ChatMessage(role.equals("developer") ? "system" : role, text));
        }
        if (!out.get(out.size() - 1).role().equals("user")) throw ApiException.invalid("messages", "the last message must be the user's");
        return out;
    }

    private static void neutral(ObjectNode o, String field, double neutral) {
        if (!o.hasNonNull(field)) return;
        JsonNode n = o.get(field);
        if (!n.isNumber() || n.asDouble() != neutral) throw ApiException.invalid(field, field + " other than " + (neutral == (int) neutral ? String.valueOf((int) neutral) : neutral) + " is not supported");
    }

    private static int integer(ObjectNode o, String field, int min, int max) {
        JsonNode n = o.get(field);
        if (!n.isIntegralNumber()) throw ApiException.invalid(field, field + " must be an integer, got " + abbreviate(n));
        if (!n.canConvertToLong() || n.asLong() < min || n.asLong() > max) {
            throw ApiException.invalid(field, field + " must be at least " + min + (max < Integer.MAX_VALUE ? " and at most " + max : "") + ", got " + abbreviate(n));
        }
        return n.asInt();
    }

    private static double number(ObjectNode o, String field, double min, double max) {
        JsonNode n = o.get(field);
        if (!n.isNumber()) throw ApiException.invalid(field, field + " must be a number, got " + abbreviate(n));
        double v = n.asDouble();
        if (!(v >= min && v <= max)) throw ApiException.invalid(field, field + " must be from " + min + " to " + max + ", got " + abbreviate(n));
        return v;
    }

    private static boolean bool(ObjectNode o, String field) {
        return o.hasNonNull(field) && boolOf(o.get(field), field);
    }

    private static boolean boolOf(JsonNode n, String field) {
        if (!n.isBoolean()) throw ApiException.invalid(field, field + " must be true or false, got " + abbreviate(n));
        return n.booleanValue();
    }

    private static String abbreviate(JsonNode n) {
        String s = n.toString();
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }

    /** OpenAI's error body. */
    static byte[] error(ApiException e) {
        Map<String, Object> err = new java.util.LinkedHashMap<>();
        err.put("message", e.getMessage());
        err.put("type", e.type);
        err.put("param", e.param);
        err.put("code", e.code);
        try {
            return JSON.writeValueAsBytes(Map.of("error", err));
        } catch (JsonProcessingException x) {
            throw new IllegalStateException(x);
        }
    }
}
