package dev.flashcl.cli;

import dev.flashcl.internal.cl.Bytes;
import dev.flashcl.internal.cl.ClContext;
import dev.flashcl.internal.cl.DeviceInfo;
import dev.flashcl.internal.cl.Devices;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Lists every OpenCL platform and device with what matters to flashcl. */
@Command(name = "devices", description = "List OpenCL platforms and devices and their capabilities.")
final class DevicesCommand implements Callable<Integer> {
    @Option(names = "--device", description = "Mark the device this spec selects (index, gpu/cpu/accelerator, or a name substring).")
    String device;

    @Option(names = "--no-probe", description = "Skip building a tiny kernel on NVIDIA devices to check inline PTX.")
    boolean noProbe;

    @Override
    public Integer call() {
        List<DeviceInfo> all = Devices.list();
        Devices.Selection chosen = Devices.select(device);
        String platform = null;
        for (DeviceInfo d : all) {
            if (!d.platformName().equals(platform)) {
                platform = d.platformName();
                System.out.printf("Platform %d: %s (%s)%n", d.platformIndex(), d.platformName(), d.platformVersion());
            }
            boolean selected = d.index() == chosen.device().index();
            System.out.printf("  %s #%d %s: %s%n", selected ? "*" : " ", d.index(), d.type(), d.name());
            System.out.printf("      vendor %s, driver %s, %s%n", d.vendor(), d.driverVersion(), d.openclCVersion());
            System.out.printf("      %d compute units at %d MHz; memory %s (largest buffer %s); local memory %s; work-groups up to %d%n",
                    d.computeUnits(), d.maxClockMHz(), Bytes.format(d.globalMemBytes()), Bytes.format(d.maxAllocBytes()),
                    Bytes.format(d.localMemBytes()), d.maxWorkGroupSize());
            System.out.printf("      fp16 arithmetic (cl_khr_fp16): %s; subgroups: %s; inline PTX: %s%n",
                    yesNo(d.hasExtension("cl_khr_fp16")), yesNo(d.subgroupsUsable()), inlinePtx(d));
        }
        System.out.println();
        System.out.println("* selected: " + chosen.device().summary() + " - " + chosen.reason());
        return 0;
    }

    private String inlinePtx(DeviceInfo d) {
        if (!d.mayHaveInlinePtx()) return "no";
        if (noProbe) return "not probed";
        try (ClContext ctx = ClContext.create(d)) {
            return ctx.probeInlinePtx() ? "yes (probe kernel built)" : "no (probe kernel failed to build)";
        }
    }

    private static String yesNo(boolean b) {
        return b ? "yes" : "no";
    }
}
