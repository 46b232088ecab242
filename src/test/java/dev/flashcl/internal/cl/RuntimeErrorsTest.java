package dev.flashcl.internal.cl;

import static org.junit.jupiter.api.Assertions.*;

import dev.flashcl.TestJvm;
import dev.flashcl.cli.Main;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What a user sees when the OpenCL side goes wrong: each error names the thing at fault and what to do. */
class RuntimeErrorsTest {
    static ClContext ctx;

    @BeforeAll
    static void open() {
        ctx = ClContext.open(null);
    }

    @AfterAll
    static void close() {
        ctx.close();
    }

    @Test
    void kernelThatFailsToBuildShowsTheBuildLog() {
        ClException e = assertThrows(ClException.class,
                () -> ctx.build("broken.cl", "__kernel void broken(__global float* x) { x[0] = undeclared_name; }", "-DX=1"));
        assertTrue(e.getMessage().contains("broken.cl failed to build"), e.getMessage());
        assertTrue(e.getMessage().contains("-DX=1"), "the options are shown: " + e.getMessage());
        assertTrue(e.getMessage().contains("--- build log ---") && e.getMessage().contains("undeclared_name"),
                "the compiler's log names the bad identifier: " + e.getMessage());
    }

    @Test
    void bufferLargerThanOneAllocationIsRefusedByName() {
        long tooBig = ctx.device().maxAllocBytes() + 1;
        DeviceMemoryException e = assertThrows(DeviceMemoryException.class, () -> ctx.allocate("huge weights", tooBig));
        assertTrue(e.getMessage().contains("huge weights") && e.getMessage().contains("CL_DEVICE_MAX_MEM_ALLOC_SIZE"), e.getMessage());
    }

    @Test
    void outOfDeviceMemorySaysWhatIsHeldAndLosesNothing() {
        long chunk = ctx.device().maxAllocBytes();
        long before = ctx.bytesInUse();
        List<ClBuffer> held = new java.util.ArrayList<>();
        try {
            DeviceMemoryException e = assertThrows(DeviceMemoryException.class, () -> {
                for (int i = 0; ; i++) held.add(ctx.allocate("block " + i, chunk));
            });
            // Refused by flashcl's own count, or by the driver when other users hold memory: either way
            // the message names the buffer and what flashcl holds.
            assertTrue(e.getMessage().contains("'block ") && (e.getMessage().contains("held by flashcl")
                    || e.getMessage().contains("flashcl holds")), e.getMessage());
            assertFalse(held.isEmpty(), "some blocks fit before memory ran out");
        } finally {
            held.forEach(ClBuffer::close);
        }
        assertEquals(before, ctx.bytesInUse(), "every block is released");
        try (ClBuffer small = ctx.allocate("after", 1024)) {
            small.write(new int[256]);   // the context still works
        }
    }

    @Test
    void deviceSpecsThatMatchNothingListTheDevices() {
        List<DeviceInfo> all = Devices.list();
        ClException byIndex = assertThrows(ClException.class, () -> Devices.match(all, "99", "--device"));
        assertTrue(byIndex.getMessage().contains("device 99") && byIndex.getMessage().contains("flashcl devices"), byIndex.getMessage());
        ClException byName = assertThrows(ClException.class, () -> Devices.match(all, "no-such-gpu-name", "--device"));
        assertTrue(byName.getMessage().contains("matches no device") && byName.getMessage().contains(all.get(0).name()), byName.getMessage());
        assertEquals(all.get(0), Devices.match(all, "0", "--device"));
        String word = all.get(0).name().split("\\s+")[0].toLowerCase();
        assertEquals(all.get(0).name(), Devices.match(all, word, "--device").name());
    }

    /** With no driver registered, the CLI says so, says how to install PoCL, and exits non-zero. */
    @Test
    void noOpenClPlatformExplainsHowToInstallOne() throws Exception {
        Path empty = Files.createTempDirectory("no-icd");
        ProcessBuilder pb = TestJvm.java(Main.class, "devices");
        pb.environment().put("OCL_ICD_VENDORS", empty.toString());
        pb.environment().put("OCL_ICD_FILENAMES", "");
        var r = TestJvm.run(pb, 60, false).noStackTrace();
        assertEquals(1, r.exit(), r.output());
        assertTrue(r.output().contains("No OpenCL platform found") && r.output().contains("pocl-opencl-icd"), r.output());
        Files.delete(empty);
    }

    /**
     * Mesa's OpenCL (Debian's mesa-opencl-icd: rusticl, which answers CL_INVALID_DEVICE_TYPE to
     * CL_DEVICE_TYPE_ALL unless RUSTICL_ENABLE names a driver, and Clover, which lists nothing)
     * beside PoCL: the platforms that cannot list a device are skipped and PoCL's device is used.
     */
    @Test
    void platformsThatCannotListDevicesAreSkipped() throws Exception {
        Path vendors = Path.of("/etc/OpenCL/vendors");
        boolean haveMesa = Files.exists(vendors.resolve("rusticl.icd")) && Files.exists(vendors.resolve("pocl.icd"));
        if (System.getenv("CI") != null) assertTrue(haveMesa, "CI installs mesa-opencl-icd and PoCL (./flashcl test)");
        org.junit.jupiter.api.Assumptions.assumeTrue(haveMesa, "needs PoCL and Mesa's rusticl registered");
        Path icds = Files.createTempDirectory("mesa-icd");
        for (String f : new String[] {"rusticl.icd", "mesa.icd", "pocl.icd"}) {
            if (Files.exists(vendors.resolve(f))) Files.copy(vendors.resolve(f), icds.resolve(f));
        }
        ProcessBuilder pb = TestJvm.java(Main.class, "devices", "--no-probe");
        pb.environment().put("OCL_ICD_VENDORS", icds.toString());
        pb.environment().remove("RUSTICL_ENABLE");
        var r = TestJvm.run(pb, 60, false).noStackTrace();
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("Portable Computing Language") && r.output().contains("* selected"), r.output());
        try (var files = Files.list(icds)) {
            for (Path f : files.toList()) Files.delete(f);
        }
        Files.delete(icds);
    }
}
