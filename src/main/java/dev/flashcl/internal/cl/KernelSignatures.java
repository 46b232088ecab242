package dev.flashcl.internal.cl;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Each kernel's argument names, read from its OpenCL C source, so that host code binds arguments
 * by the names the kernel declares and a kernel's signature is written in one place: the kernel.
 * Understands what flashcl's sources use: {@code KERNEL(name)} (the storage suffix), parameter
 * lists given by an object- or function-like macro ({@code PREFILL_ARGS}, {@code GEMM_ARGS(float)}),
 * and kernels declared inside a function-like macro that is invoked at top level
 * ({@code GEMM_KERNELS(gemm, 64, 4)}, names pasted with {@code ##}).
 */
final class KernelSignatures {
    private static final Pattern DEFINE = Pattern.compile("(?m)^[ \\t]*#[ \\t]*define[ \\t]+(\\w+)(\\(([^)]*)\\))?[ \\t]*(.*)$");
    private static final Pattern KERNEL_DECL = Pattern.compile("__kernel\\b[^;{}]*?\\bvoid\\s+(?:KERNEL\\s*\\(\\s*(\\w+)\\s*\\)|(\\w+))\\s*\\(");
    private static final Pattern LAST_NAME = Pattern.compile("(\\w+)\\s*(\\[[^\\]]*\\]\\s*)*$");

    private record Macro(List<String> params, String body) {}

    private KernelSignatures() {}

    /** Kernel name (as clCreateKernel takes it: with {@code _f16} and {@code _f32} for {@code KERNEL(name)}) to its argument names in order. */
    static Map<String, List<String>> parse(String source) {
        String text = source.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\\n]*", "").replace("\\\r\n", " ").replace("\\\n", " ");
        Map<String, Macro> macros = new HashMap<>();
        Matcher d = DEFINE.matcher(text);
        while (d.find()) {
            List<String> params = d.group(2) == null ? null : split(d.group(3)).stream().map(String::trim).toList();
            macros.put(d.group(1), new Macro(params, d.group(4)));
        }
        String code = expandKernelMacros(DEFINE.matcher(text).replaceAll(""), macros);
        Map<String, List<String>> out = new LinkedHashMap<>();
        Matcher k = KERNEL_DECL.matcher(code);
        while (k.find()) {
            int open = k.end() - 1, close = matching(code, open);
            List<String> names = argumentNames(code.substring(open + 1, close), macros);
            if (k.group(1) != null) {
                out.put(k.group(1) + "_f16", names);
                out.put(k.group(1) + "_f32", names);
            } else {
                out.put(k.group(2), names);
            }
        }
        return out;
    }

    /** Top-level invocations of function-like macros whose body declares kernels, expanded (with ## pasting). */
    private static String expandKernelMacros(String code, Map<String, Macro> macros) {
        for (var e : macros.entrySet()) {
            Macro m = e.getValue();
            if (m.params() == null || !m.body().contains("__kernel")) continue;
            Matcher call = Pattern.compile("(?m)^[ \\t]*" + e.getKey() + "\\s*\\(").matcher(code);
            StringBuilder sb = new StringBuilder();
            int last = 0;
            while (call.find()) {
                int open = call.end() - 1, close = matching(code, open);
                List<String> args = split(code.substring(open + 1, close));
                String body = m.body();
                for (int i = 0; i < m.params().size() && i < args.size(); i++) {
                    body = body.replaceAll("\\b" + Pattern.quote(m.params().get(i)) + "\\b", Matcher.quoteReplacement(args.get(i).trim()));
                }
                sb.append(code, last, call.start()).append(body.replaceAll("\\s*##\\s*", "")).append('\n');
                last = close + 1;
            }
            sb.append(code.substring(last));
            code = sb.toString();
        }
        return code;
    }

    private static List<String> argumentNames(String params, Map<String, Macro> macros) {
        String p = params.trim();
        Matcher call = Pattern.compile("^(\\w+)\\s*(\\((.*)\\))?$", Pattern.DOTALL).matcher(p);
        if (call.matches() && macros.containsKey(call.group(1))) {
            Macro m = macros.get(call.group(1));
            String body = m.body();
            if (m.params() != null && call.group(3) != null) {
                List<String> args = split(call.group(3));
                for (int i = 0; i < m.params().size() && i < args.size(); i++) {
                    body = body.replaceAll("\\b" + Pattern.quote(m.params().get(i)) + "\\b", Matcher.quoteReplacement(args.get(i).trim()));
                }
            }
            return argumentNames(body, macros);
        }
        List<String> names = new ArrayList<>();
        if (p.isEmpty() || p.equals("void")) return names;
        for (String param : split(p)) {
            Matcher n = LAST_NAME.matcher(param.trim());
            if (!n.find()) throw new IllegalStateException("cannot read the argument name in '" + param.trim() + "'");
            names.add(n.group(1));
        }
        return names;
    }

    /** Splits on commas outside parentheses. */
    private static List<String> split(String s) {
        List<String> out = new ArrayList<>();
        int depth = 0, start = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '(') depth++;
            else if (c == ')') depth--;
            else if (c == ',' && depth == 0) {
                out.add(s.substring(start, i));
                start = i + 1;
            }
        }
        if (start < s.length() && !s.substring(start).isBlank()) out.add(s.substring(start));
        return out;
    }

    private static int matching(String s, int open) {
        int depth = 0;
        for (int i = open; i < s.length(); i++) {
            if (s.charAt(i) == '(') depth++;
            else if (s.charAt(i) == ')' && --depth == 0) return i;
        }
        throw new IllegalStateException("unbalanced parentheses in a kernel declaration");
    }
}
