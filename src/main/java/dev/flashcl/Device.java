package dev.flashcl;

/**
 * An OpenCL device flashcl can run on, as {@link FlashCl#devices()} lists it.
 *
 * @param index              its position in {@link FlashCl#devices()}; {@link FlashCl#open(String)} takes it
 * @param name               the device's name
 * @param platform           the OpenCL platform (driver) it belongs to
 * @param vendor             the device vendor
 * @param driverVersion      the driver's version
 * @param type               GPU, CPU, ACCELERATOR or OTHER
 * @param globalMemoryBytes  device memory
 * @param localMemoryBytes   local (shared) memory per work-group
 * @param computeUnits       compute units
 * @param fp16               whether it has the {@code cl_khr_fp16} extension (flashcl does not need it)
 */
public record Device(int index, String name, String platform, String vendor, String driverVersion, Type type,
                     long globalMemoryBytes, long localMemoryBytes, int computeUnits, boolean fp16) {
    /** The kind of device. */
    public enum Type {
        /** A graphics processor. */
        GPU,
        /** A CPU (for example through PoCL). */
        CPU,
        /** Another OpenCL accelerator. */
        ACCELERATOR,
        /** Anything else. */
        OTHER
    }

    @Override
    public String toString() {
        return "#" + index + " " + type + " " + name + " (platform " + platform + ")";
    }
}
