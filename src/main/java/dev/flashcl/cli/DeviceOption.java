package dev.flashcl.cli;

import picocli.CommandLine.Option;

/** {@code --device SPEC}: which OpenCL device a command runs on. */
final class DeviceOption {
    @Option(names = "--device", paramLabel = "SPEC",
            description = "OpenCL device: index, gpu/cpu/accelerator, or a name substring (default: -Dflashcl.device, FLASHCL_DEVICE, the first GPU, else the first device).")
    String spec;
}
