package dev.flashcl.internal.generate;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import dev.flashcl.ChatMessage;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A chat template rendered by Jinjava, set as transformers sets Jinja2 for apply_chat_template:
 * blocks trimmed and left-stripped, Python's operator precedence, {@code raise_exception} ending the
 * render with the template's message, {@code add_generation_prompt} true. Jinjava is an optional
 * dependency (the command-line jar has it): without it a model with a template cannot render chat.
 */
final class JinjaTemplate {
    /** What a template's raise_exception throws: the template refused the messages. */
    static final class Refused extends RuntimeException {
        Refused(String message) {
            super(message);
        }
    }

    private final String template, origin;
    private final Jinjava jinjava;

    JinjaTemplate(String template, String origin) {
        this.template = template;
        this.origin = origin;
        try {
            JinjavaConfig config = JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true).withMaxOutputSize(16 << 20)
                    .withLegacyOverrides(LegacyOverrides.newBuilder().withUseNaturalOperatorPrecedence(true).withParseWhitespaceControlStrictly(true)
                            .withUseTrimmingForNotesAndExpressions(true).withAllowAdjacentTextNodes(true).withKeepNullableLoopValues(true)
                            .withEvaluateMapKeys(true).withUsePyishObjectMapper(true).build())
                    .build();
            jinjava = new Jinjava(config);
        } catch (NoClassDefFoundError e) {
            throw new IllegalStateException(origin + ": rendering a chat template needs com.hubspot.jinjava:jinjava on the class path (the flashcl command-line jar has it)");
        }
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception", JinjaTemplate.class, "raiseException", String.class));
    }

    /** The template's raise_exception(message). */
    public static String raiseException(String message) {
        throw new Refused(message);
    }

    String render(List<ChatMessage> messages, String bos, String eos) {
        List<Map<String, Object>> list = new ArrayList<>();
        for (ChatMessage m : messages) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("role", m.role());
            o.put("content", m.content());
            list.add(o);
        }
        Map<String, Object> bindings = new HashMap<>();
        bindings.put("messages", list);
        bindings.put("bos_token", bos);
        bindings.put("eos_token", eos);
        bindings.put("add_generation_prompt", true);
        RenderResult r;
        try {
            r = jinjava.renderForResult(template, bindings);
        } catch (RuntimeException e) {
            throw failure(e, e.getMessage());
        }
        for (TemplateError e : r.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) throw failure(e.getException(), e.getMessage());
        }
        return r.getOutput();
    }

    private RuntimeException failure(Throwable cause, String message) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof Refused refused) return new IllegalArgumentException("the chat template refused the messages: " + refused.getMessage());
        }
        return new IllegalArgumentException(origin + " failed to render: " + message);
    }
}
