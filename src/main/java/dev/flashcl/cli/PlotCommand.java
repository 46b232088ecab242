package dev.flashcl.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code flashcl plot attention}: prefill time against N from {@code bench attention --json} (and PyTorch's JSON). */
@Command(name = "plot", description = "Plots from benchmark JSON files.", subcommands = {PlotCommand.Attention.class, PlotCommand.Generate.class, PlotCommand.Serve.class})
final class PlotCommand {

    @Command(name = "attention", mixinStandardHelpOptions = true,
            description = "Prefill time against sequence length: each flash tile, naive, and PyTorch if given.")
    static final class Attention implements Callable<Integer> {
        @Option(names = "--json", required = true, description = "Output of 'flashcl bench attention --json'.")
        File json;
        @Option(names = "--torch", description = "Output of scripts/torch_attention.py from the same device call.")
        File torch;
        @Option(names = "--out", required = true, description = "PNG file to write.")
        File out;

        @Override
        public Integer call() throws Exception {
            System.setProperty("java.awt.headless", "true");
            ObjectMapper mapper = new ObjectMapper();
            JsonNode report = mapper.readTree(json);
            Map<String, TreeMap<Integer, Double>> series = new LinkedHashMap<>();
            for (JsonNode row : report.get("prefill")) {
                if (row.get("ms").isNumber()) {
                    series.computeIfAbsent(row.get("kernel").asText(), k -> new TreeMap<>()).put(row.get("n").asInt(), row.get("ms").asDouble());
                }
            }
            if (torch != null) {
                for (JsonNode row : mapper.readTree(torch).get("prefill")) {
                    series.computeIfAbsent("PyTorch SDPA flash (tensor cores)", k -> new TreeMap<>()).put(row.get("n").asInt(), row.get("ms").asDouble());
                }
            }
            JsonNode o = report.get("options");
            XYChart chart = new XYChartBuilder().width(900).height(560)
                    .title(String.format("Attention prefill on %s, %s (%d heads, head_dim %d, %s, %s)", report.get("device").asText(),
                            report.get("date").asText(), o.get("heads").asInt(), o.get("headDim").asInt(),
                            o.get("causal").asBoolean() ? "causal" : "no mask", o.get("storage").asText().toLowerCase()))
                    .xAxisTitle("sequence length N").yAxisTitle("device time, ms (log)").build();
            chart.getStyler().setYAxisLogarithmic(true);
            chart.getStyler().setXAxisLogarithmic(true);
            chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideNW);
            return save(chart, series, out);
        }
    }

    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = "Decode tokens/s against context length: flashcl, and transformers (sdpa, eager) if given.")
    static final class Generate implements Callable<Integer> {
        @Option(names = "--json", required = true, description = "Output of 'flashcl bench generate --json'.")
        File json;
        @Option(names = "--transformers", description = "transformers_speed.json of scripts/phi2_reference.py --speed, same device call.")
        File transformers;
        @Option(names = "--out", required = true, description = "PNG file to write.")
        File out;

        @Override
        public Integer call() throws Exception {
            System.setProperty("java.awt.headless", "true");
            ObjectMapper mapper = new ObjectMapper();
            JsonNode report = mapper.readTree(json);
            Map<String, TreeMap<Integer, Double>> series = new LinkedHashMap<>();
            for (JsonNode row : report.get("results")) {
                if (row.get("phase").asText().equals("decode")) {
                    series.computeIfAbsent("flashcl (" + report.get("storage").asText() + ")", k -> new TreeMap<>())
                            .put(row.get("context").asInt(), row.get("tokens_per_s").asDouble());
                }
            }
            if (transformers != null) {
                JsonNode t = mapper.readTree(transformers);
                for (String impl : new String[] {"sdpa", "eager"}) {
                    if (!t.has(impl)) continue;
                    for (var it = t.get(impl).fields(); it.hasNext(); ) {
                        var e = it.next();
                        var m = java.util.regex.Pattern.compile("generate_64_after_(\\d+)_tokens_per_s").matcher(e.getKey());
                        if (m.matches()) series.computeIfAbsent("transformers " + impl + " (generate)", k -> new TreeMap<>())
                                .put(Integer.parseInt(m.group(1)), e.getValue().asDouble());
                    }
                }
            }
            XYChart chart = new XYChartBuilder().width(900).height(560)
                    .title(String.format("Phi-2 decode, batch 1, on %s, %s", report.get("device").asText(), report.get("date").asText()))
                    .xAxisTitle("context length (tokens)").yAxisTitle("tokens/s (log)").build();
            chart.getStyler().setYAxisLogarithmic(true);
            chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideS);
            return save(chart, series, out);
        }
    }

    @Command(name = "serve", mixinStandardHelpOptions = true, description = "Aggregate tokens/s and p99 inter-token latency against concurrent clients.")
    static final class Serve implements Callable<Integer> {
        @Option(names = "--json", required = true, description = "Output of 'flashcl bench serve --json'.")
        File json;
        @Option(names = "--out", required = true, description = "PNG file to write.")
        File out;

        @Override
        public Integer call() throws Exception {
            System.setProperty("java.awt.headless", "true");
            JsonNode report = new ObjectMapper().readTree(json);
            Map<String, TreeMap<Integer, Double>> series = new LinkedHashMap<>();
            for (JsonNode p : report.get("points")) {
                series.computeIfAbsent("aggregate new tokens/s", k -> new TreeMap<>()).put(p.get("clients").asInt(), p.get("tokensPerSecond").asDouble());
                series.computeIfAbsent("inter-token latency p99 (ms)", k -> new TreeMap<>()).put(p.get("clients").asInt(), p.get("itlP99Ms").asDouble());
            }
            XYChart chart = new XYChartBuilder().width(900).height(560)
                    .title(String.format("flashcl serve on %s, %s: %d-token prompts, %d new tokens", report.path("device").asText(report.path("url").asText()),
                            report.get("date").asText(), report.get("prompt_tokens").asInt(), report.get("new_tokens").asInt()))
                    .xAxisTitle("concurrent streaming clients").yAxisTitle("tokens/s; ms (log)").build();
            chart.getStyler().setYAxisLogarithmic(true);
            chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideS);
            return save(chart, series, out);
        }
    }

    /** Adds each series (x -> y, in x order) with markers and writes the chart as PNG. */
    static int save(XYChart chart, Map<String, TreeMap<Integer, Double>> series, File out) throws java.io.IOException {
        for (var e : series.entrySet()) {
            List<Double> x = new ArrayList<>();
            List<Double> y = new ArrayList<>();
            e.getValue().forEach((n, v) -> {
                x.add((double) n);
                y.add(v);
            });
            XYSeries s = chart.addSeries(e.getKey(), x, y);
            s.setMarker(SeriesMarkers.CIRCLE);
        }
        BitmapEncoder.saveBitmap(chart, out.getPath().replaceAll("\\.png$", ""), BitmapEncoder.BitmapFormat.PNG);
        System.err.println("wrote " + out);
        return 0;
    }
}
