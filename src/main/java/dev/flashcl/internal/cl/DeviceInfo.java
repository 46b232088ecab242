package dev.flashcl.internal.cl;

import java.util.Locale;
import java.util.Set;
import org.jocl.cl_device_id;
import org.jocl.cl_platform_id;

/**
 * What the runtime and the kernel chooser need to know about one device. {@code index} is the
 * device's position in {@link Devices#list()} (platforms in order, then their devices).
 */
public record DeviceInfo(
        int index,
        int platformIndex,
        String platformName,
        String platformVersion,
        String name,
        String vendor,
        String driverVersion,
        String openclCVersion,
        DeviceType type,
        int computeUnits,
        int maxClockMHz,
        long globalMemBytes,
        long maxAllocBytes,
        long localMemBytes,
        int maxWorkGroupSize,
        Set<String> extensions,
        cl_platform_id platform,
        cl_device_id device) {

    public enum DeviceType { GPU, CPU, ACCELERATOR, OTHER }

    /**
     * This device as if it had {@code bytes} of local memory (no more than it has): what a smaller
     * GPU would be given (tests force the 32 and 64 KiB choices on a CPU device with it).
     */
    public DeviceInfo withLocalMemBytes(long bytes) {
        return new DeviceInfo(index, platformIndex, platformName, platformVersion, name, vendor, driverVersion, openclCVersion, type, computeUnits,
                maxClockMHz, globalMemBytes, maxAllocBytes, Math.min(bytes, localMemBytes), maxWorkGroupSize, extensions, platform, device);
    }

    public boolean hasExtension(String name) {
        return extensions.contains(name);
    }

    /** Subgroup operations exist as an extension (the portable kernels never need them). */
    public boolean subgroupsUsable() {
        return hasExtension("cl_khr_subgroups") || hasExtension("cl_intel_subgroups");
    }

    public boolean isNvidia() {
        return vendor.toUpperCase(Locale.ROOT).contains("NVIDIA") || platformName.toUpperCase(Locale.ROOT).contains("NVIDIA");
    }

    /**
     * Inline PTX is NVIDIA's: its OpenCL compiler accepts {@code asm()} blocks. Only whether the
     * device could have it; {@link ClContext#probeInlinePtx()} proves it by building a kernel.
     */
    public boolean mayHaveInlinePtx() {
        return isNvidia();
    }

    /** One line: index, type, name, platform. */
    public String summary() {
        return String.format(Locale.ROOT, "#%d %s %s (platform %s)", index, type, name, platformName);
    }
}
