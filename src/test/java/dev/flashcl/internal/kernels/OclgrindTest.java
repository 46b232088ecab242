package dev.flashcl.internal.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flashcl.TestJvm;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Every attention kernel under Oclgrind with data-race, uninitialized-value and API checks: a
 * separate JVM whose OpenCL loader sees only Oclgrind's simulator runs {@link OclgrindDriver};
 * the test passes when the driver's results are right and Oclgrind's log is empty. Needs the
 * oclgrind package (the test command installs it).
 */
class OclgrindTest {
    static final List<String> RUNTIME_DIRS = List.of("/usr/lib/oclgrind", "/usr/local/lib/oclgrind", "/usr/lib/x86_64-linux-gnu/oclgrind");

    @Test
    void kernelsAreCleanUnderOclgrind() throws Exception {
        Path runtime = RUNTIME_DIRS.stream().map(d -> Path.of(d, "liboclgrind-rt-icd.so")).filter(Files::exists).findFirst()
                .orElseThrow(() -> new AssertionError("Oclgrind's ICD runtime (liboclgrind-rt-icd.so) is not installed in "
                        + RUNTIME_DIRS + "; install the oclgrind package"));
        Path dir = Files.createTempDirectory("flashcl-oclgrind");
        Path icd = dir.resolve("oclgrind.icd");
        Files.writeString(icd, runtime + "\n");
        Path log = dir.resolve("oclgrind.log");
        Path out = dir.resolve("driver.out");
        ProcessBuilder pb = TestJvm.java(OclgrindDriver.class);
        // Oclgrind reports a GPU, so attention would build with #pragma unroll hints; they change no
        // memory access, and the simulator's compiler takes several times longer with them.
        pb.command().add(1, "-Dflashcl.unrollHints=0");
        pb.environment().put("OCL_ICD_VENDORS", icd.toString());   // the loader sees Oclgrind alone
        pb.environment().put("OCLGRIND_DATA_RACES", "1");
        pb.environment().put("OCLGRIND_UNINITIALIZED", "1");
        pb.environment().put("OCLGRIND_CHECK_API", "1");
        pb.environment().put("OCLGRIND_LOG", log.toString());
        // Unoptimized builds: LLVM's optimizer emits `freeze`, which Oclgrind 21.10's uninitialized-value checker aborts on.
        pb.environment().put("OCLGRIND_BUILD_OPTIONS", "-cl-opt-disable");
        pb.environment().remove("FLASHCL_DEVICE");
        pb.environment().put("FLASHCL_KERNEL_CACHE", "off");   // every kernel compiled under the checker's options
        pb.redirectErrorStream(true).redirectOutput(out.toFile());
        Process p = pb.start();
        boolean done = p.waitFor(15, TimeUnit.MINUTES);
        if (!done) p.destroyForcibly();
        String output = Files.readString(out);
        String diagnostics = Files.exists(log) ? Files.readString(log) : "";
        System.out.println(output);
        assertTrue(done, "the Oclgrind run did not finish in 15 minutes:\n" + output);
        assertTrue(output.contains("Oclgrind"), "the driver did not run on Oclgrind's device:\n" + output);
        assertEquals(0, p.exitValue(), "the driver failed under Oclgrind:\n" + output + "\n" + diagnostics);
        assertEquals("", diagnostics.trim(), "Oclgrind reported problems:\n" + diagnostics);
        deleteQuietly(dir.toFile());
    }

    private static void deleteQuietly(File f) throws IOException {
        File[] children = f.listFiles();
        if (children != null) for (File c : children) deleteQuietly(c);
        Files.deleteIfExists(f.toPath());
    }
}
