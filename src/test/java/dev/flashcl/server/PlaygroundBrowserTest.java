package dev.flashcl.server;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flashcl.FlashCl;
import dev.flashcl.GenerationRequest;
import dev.flashcl.LanguageModel;
import dev.flashcl.LoadOptions;
import dev.flashcl.internal.kernels.TestDevice;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The playground page at {@code /} in a real browser: headless Chromium from Debian's packages,
 * driven by Selenium through Debian's chromedriver, against a server on the embedded model with an
 * API key. The page asks for the key and sends it; a completion streams (the text grows while it
 * runs) and equals the library's greedy text; Stop cancels mid-stream and the server's running
 * count returns to zero; chat mode renders the turns; a prompt over the context shows the server's
 * 400 message on the page. The screenshot lands in target/playground.png (docs/playground.png is one).
 *
 * <p>Where chromium or chromedriver is missing the test is skipped, unless
 * {@code FLASHCL_BROWSER=required} (or {@code -Dflashcl.browser=required}): {@code ./flashcl test}
 * installs both and sets it, so there the test fails instead.
 */
class PlaygroundBrowserTest {
    static final String KEY = "playground-key";
    static final String PROMPT = "def fibonacci(n):\n";
    static FlashCl engine;
    static LanguageModel model;
    static FlashClServer server;
    static ChromeDriver browser;
    static WebDriverWait wait;
    static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @BeforeAll
    static void start() throws Exception {
        File chromium = new File("/usr/bin/chromium"), driver = new File("/usr/bin/chromedriver");
        if (!chromium.canExecute() || !driver.canExecute()) {
            String why = "no " + (chromium.canExecute() ? driver : chromium) + " (Debian: apt-get install chromium chromium-driver; ./flashcl test installs them)";
            if ("required".equals(System.getProperty("flashcl.browser", System.getenv("FLASHCL_BROWSER")))) fail(why);
            Assumptions.abort(why);
        }
        engine = FlashCl.open(TestDevice.context().device().index() + "");
        model = engine.load(Path.of("testdata/embedded"), LoadOptions.builder().contextLength(2048).build());
        server = new FlashClServer(model, new FlashClServer.Options("127.0.0.1", 0, "flashcl-embedded", KEY, 4, 8, 1_000_000, 64));
        ChromeOptions o = new ChromeOptions();
        o.setBinary(chromium);
        o.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,860",
                "--user-data-dir=" + Files.createTempDirectory("flashcl-chromium"));
        LoggingPreferences logs = new LoggingPreferences();
        logs.enable(LogType.BROWSER, java.util.logging.Level.ALL);
        o.setCapability("goog:loggingPrefs", logs);
        browser = new ChromeDriver(new ChromeDriverService.Builder().usingDriverExecutable(driver).build(), o);
        wait = new WebDriverWait(browser, Duration.ofSeconds(60));
    }

    @AfterAll
    static void stop() throws Exception {
        if (browser != null) browser.quit();
        if (server != null) server.close();
        if (engine != null) engine.close();
    }

    /** A fresh page with the key entered (the page asks for it: the server has one). */
    @BeforeEach
    void open() {
        browser.get("http://127.0.0.1:" + server.port() + "/");
        wait.until(d -> d.findElement(By.id("key-row")).isDisplayed());
        assertTrue(browser.findElement(By.id("key-note")).getText().contains("needs an API key"));
        type("api-key", KEY + Keys.TAB);
        wait.until(d -> d.findElement(By.id("model")).getText().equals("model flashcl-embedded"));
        browser.manage().logs().get(LogType.BROWSER);   // drops the 401 the page met before the key (Chromium logs every failed fetch)
    }

    static void type(String id, CharSequence text) {
        WebElement e = browser.findElement(By.id(id));
        e.clear();
        e.sendKeys(text);
    }

    static String text(String id) {
        return browser.findElement(By.id(id)).getText();
    }

    /** The completion's text as the page holds it (getText would trim it). */
    static String completion() {
        Object t = browser.executeScript("const c = document.querySelector('#output .completion'); return c ? c.textContent : '';");
        return (String) t;
    }

    static double metric(String name) throws Exception {
        return Servers.metric("http://127.0.0.1:" + server.port(), name);
    }

    @Test
    void aCompletionStreamsTheLibrarysGreedyTextAndItsFigures() throws Exception {
        type("prompt", PROMPT);
        type("max-tokens", "40");
        browser.findElement(By.id("generate")).click();
        wait.until(d -> text("stats").contains("stopped:"));
        String want = model.generate(GenerationRequest.builder().prompt(PROMPT).maxNewTokens(40).build()).text();
        assertEquals(want, completion(), "the page shows the server's stream, which is the library's greedy text");
        String stats = text("stats");
        assertTrue(stats.startsWith("40 tokens"), stats);
        assertTrue(stats.contains("first token after ") && stats.contains("tokens/s"), stats);
        assertTrue(stats.endsWith("stopped: length (max tokens reached)"), stats);
        assertTrue(browser.findElement(By.id("error")).getAttribute("hidden") != null, "no error shown");
        Path shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE).toPath();
        Files.copy(shot, Path.of("target/playground.png"), StandardCopyOption.REPLACE_EXISTING);
        assertNoConsoleErrors();
    }

    @Test
    void stopCancelsMidStreamAndFreesTheSequence() throws Exception {
        type("prompt", PROMPT);
        type("max-tokens", "1800");   // about 30 s on a 2-core CPU: far longer than this test waits before Stop
        double before = metric("flashcl_generation_tokens_total");
        browser.findElement(By.id("generate")).click();
        wait.until(d -> completion().length() > 20);
        int seen = completion().length();
        wait.until(d -> completion().length() > seen);   // it grows as tokens stream
        assertEquals(1, metric("flashcl_num_requests_running"), "running while it streams");
        assertFalse(browser.findElement(By.id("stop-button")).getAttribute("disabled") != null, "Stop is enabled while it runs");
        browser.findElement(By.id("stop-button")).click();
        wait.until(d -> text("stats").contains("stopped: cancelled"));
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (metric("flashcl_num_requests_running") > 0 && System.nanoTime() < deadline) Thread.sleep(50);
        assertEquals(0, metric("flashcl_num_requests_running"), "the server's sequence ended when Stop was pressed");
        double made = metric("flashcl_generation_tokens_total") - before;
        assertTrue(made < 1800, "cancelled: " + made + " tokens made of 1800");
        String shown = completion();
        String greedy = model.generate(GenerationRequest.builder().prompt(PROMPT).maxNewTokens((int) made + 2).build()).text();
        assertTrue(greedy.startsWith(shown), "what the page shows is the start of the greedy text");
        assertNotNull(browser.findElement(By.id("stop-button")).getAttribute("disabled"), "Stop is disabled again");
        assertNull(browser.findElement(By.id("generate")).getAttribute("disabled"), "Generate is enabled again");
        assertNoConsoleErrors();
    }

    @Test
    void chatModeRendersTheTurnsAsTheApiAnswers() throws Exception {
        browser.findElement(By.xpath("//input[@id='mode-chat']/..")).click();
        assertEquals("Message", text("prompt-label"));
        type("prompt", "What is a prime number?");
        type("max-tokens", "24");
        browser.findElement(By.id("generate")).click();
        wait.until(d -> text("stats").contains("stopped:"));
        String body = "{\"messages\": [{\"role\": \"user\", \"content\": \"What is a prime number?\"}], \"max_tokens\": 24, \"temperature\": 0}";
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions"))
                .header("Authorization", "Bearer " + KEY).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        JsonNode j = new ObjectMapper().readTree(r.body());
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(j.get("choices").get(0).get("message").get("content").asText(), completion());
        List<String> turns = browser.findElements(By.cssSelector("#output .turn")).stream().map(WebElement::getText).toList();
        assertEquals(List.of("You", "Assistant"), turns);
        assertNoConsoleErrors();
    }

    @Test
    void aServerErrorIsShownAsItsMessage() throws Exception {
        type("prompt", PROMPT);
        type("max-tokens", "999999");
        browser.findElement(By.id("generate")).click();
        wait.until(d -> d.findElement(By.id("error")).isDisplayed());
        String error = text("error");
        assertTrue(error.startsWith("The server answered 400: This model's maximum context length is 2048 tokens. However, you requested "), error);
        assertNull(browser.findElement(By.id("generate")).getAttribute("disabled"), "Generate is enabled again");
        type("max-tokens", "3");
        browser.findElement(By.id("generate")).click();   // and the next request runs
        wait.until(d -> text("stats").contains("stopped:"));
        assertFalse(browser.findElement(By.id("error")).isDisplayed(), "the error is cleared by the next request");
    }

    @Test
    void aWrongKeyIsSaidSo() {
        type("api-key", "not-the-key" + Keys.TAB);
        wait.until(d -> text("key-note").equals("The server refused this API key."));
        type("prompt", PROMPT);
        browser.findElement(By.id("generate")).click();
        wait.until(d -> d.findElement(By.id("error")).isDisplayed());
        assertEquals("The server answered 401: Incorrect API key provided", text("error"));
        browser.manage().logs().get(LogType.BROWSER);   // the two 401s, logged by Chromium as failed fetches
    }

    /** A page that fetches nothing but this server and throws nothing: the browser's console stays clean of errors. */
    static void assertNoConsoleErrors() {
        List<LogEntry> errors = browser.manage().logs().get(LogType.BROWSER).getAll().stream()
                .filter(e -> e.getLevel().intValue() >= java.util.logging.Level.SEVERE.intValue()).toList();
        assertEquals(List.of(), errors.stream().map(LogEntry::getMessage).toList(), "browser console errors");
    }
}
