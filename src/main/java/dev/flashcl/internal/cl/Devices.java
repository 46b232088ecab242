package dev.flashcl.internal.cl;

import static org.jocl.CL.*;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.jocl.CL;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_device_id;
import org.jocl.cl_platform_id;

/**
 * Finds OpenCL devices and picks one. A device is named by a spec: its index in {@link #list()},
 * a type ({@code gpu}, {@code cpu}, {@code accelerator}) or a case-insensitive substring of its
 * platform or device name. The spec comes from, in order: the caller (the CLI's {@code --device}),
 * the system property {@value #PROPERTY}, the environment variable {@value #ENV}; without one the
 * first GPU is chosen, else the first device.
 */
public final class Devices {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Devices.class);
    public static final String PROPERTY = "flashcl.device";
    public static final String ENV = "FLASHCL_DEVICE";

    /** The device chosen and, in words, why. */
    public record Selection(DeviceInfo device, String reason) {}

    private Devices() {}

    /**
     * Every device of every platform, in platform order. A platform that fails to list its
     * devices is skipped with a warning (Mesa 22's rusticl answers CL_INVALID_DEVICE_TYPE to
     * CL_DEVICE_TYPE_ALL; such a platform is asked per device type first), never fatal.
     */
    public static List<DeviceInfo> list() {
        cl_platform_id[] platforms = platforms();
        List<DeviceInfo> out = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        for (int p = 0; p < platforms.length; p++) {
            try {
                for (cl_device_id id : deviceIds(platforms[p])) out.add(describe(out.size(), p, platforms[p], id));
            } catch (ClException e) {
                String name = safePlatformName(platforms[p]);
                log.warn("skipping OpenCL platform {} ({}): {}", p, name, e.getMessage());
                skipped.add(name + ": " + e.getMessage());
            }
        }
        if (out.isEmpty()) {
            throw new ClException("OpenCL platforms were found but they list no device" + (skipped.isEmpty() ? "" : " (" + String.join("; ", skipped) + ")")
                    + ". " + INSTALL_HINT);
        }
        return out;
    }

    /** The platform's devices: all at once, or where the driver refuses that, type by type. */
    private static List<cl_device_id> deviceIds(cl_platform_id platform) {
        List<cl_device_id> ids = deviceIds(platform, CL_DEVICE_TYPE_ALL);
        if (ids != null) return ids;
        List<cl_device_id> out = new ArrayList<>();
        for (long type : new long[] {CL_DEVICE_TYPE_GPU, CL_DEVICE_TYPE_CPU, CL_DEVICE_TYPE_ACCELERATOR, CL_DEVICE_TYPE_CUSTOM}) {
            List<cl_device_id> some = deviceIds(platform, type);
            if (some != null) out.addAll(some);
        }
        return out;
    }

    /** Devices of one type; null when the driver answers CL_INVALID_DEVICE_TYPE. */
    private static List<cl_device_id> deviceIds(cl_platform_id platform, long type) {
        int[] count = new int[1];
        int rc = clGetDeviceIDs(platform, type, 0, null, count);
        if (rc == CL_INVALID_DEVICE_TYPE) return null;
        if (rc == CL_DEVICE_NOT_FOUND || (rc == CL_SUCCESS && count[0] == 0)) return List.of();
        ClException.check(rc, "clGetDeviceIDs");
        cl_device_id[] ids = new cl_device_id[count[0]];
        ClException.check(clGetDeviceIDs(platform, type, ids.length, ids, null), "clGetDeviceIDs");
        return Arrays.asList(ids);
    }

    private static String safePlatformName(cl_platform_id p) {
        try {
            return platformString(p, CL_PLATFORM_NAME);
        } catch (ClException e) {
            return "unnamed";
        }
    }

    /** Chooses by {@code spec} when given (not null or blank), else by the property, the environment, the default. */
    public static Selection select(String spec) {
        List<DeviceInfo> all = list();
        if (spec != null && !spec.isBlank()) return new Selection(match(all, spec, "--device"), "chosen by --device '" + spec + "'");
        String prop = System.getProperty(PROPERTY);
        if (prop != null && !prop.isBlank()) return new Selection(match(all, prop, "-D" + PROPERTY), "chosen by -D" + PROPERTY + "=" + prop);
        String env = System.getenv(ENV);
        if (env != null && !env.isBlank()) return new Selection(match(all, env, ENV), "chosen by " + ENV + "=" + env);
        for (DeviceInfo d : all) {
            if (d.type() == DeviceInfo.DeviceType.GPU) return new Selection(d, "the first GPU (choose another with --device, -D" + PROPERTY + " or " + ENV + ")");
        }
        return new Selection(all.get(0), "no GPU found, so the first device (choose another with --device, -D" + PROPERTY + " or " + ENV + ")");
    }

    static DeviceInfo match(List<DeviceInfo> all, String spec, String source) {
        String s = spec.trim().toLowerCase(Locale.ROOT);
        if (s.matches("\\d+")) {
            int i = Integer.parseInt(s);
            if (i < all.size()) return all.get(i);
            throw new ClException(source + " asks for device " + i + " but there are " + all.size() + " (0.." + (all.size() - 1) + "); run 'flashcl devices' to see them");
        }
        for (DeviceInfo.DeviceType t : DeviceInfo.DeviceType.values()) {
            if (t.name().toLowerCase(Locale.ROOT).equals(s)) {
                return all.stream().filter(d -> d.type() == t).findFirst().orElseThrow(() -> new ClException(
                        source + " asks for a " + s + " device but none is present; devices: " + names(all)));
            }
        }
        return all.stream()
                .filter(d -> (d.name() + " " + d.platformName() + " " + d.vendor()).toLowerCase(Locale.ROOT).contains(s))
                .findFirst()
                .orElseThrow(() -> new ClException(source + " '" + spec + "' matches no device name; devices: " + names(all)));
    }

    private static String names(List<DeviceInfo> all) {
        return String.join("; ", all.stream().map(DeviceInfo::summary).toList());
    }

    static final String INSTALL_HINT = "Install an OpenCL driver: your GPU vendor's, or for any CPU PoCL "
            + "(Debian/Ubuntu: apt-get install pocl-opencl-icd ocl-icd-libopencl1; check with clinfo).";

    private static cl_platform_id[] platforms() {
        int[] count = new int[1];
        int rc;
        try {
            CL.setExceptionsEnabled(false);
            rc = clGetPlatformIDs(0, null, count);
        } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
            throw new ClException("No OpenCL library could be loaded (" + e.getMessage() + "). " + INSTALL_HINT);
        }
        // The ICD loader answers CL_PLATFORM_NOT_FOUND_KHR (-1001) when no driver is registered.
        if (rc == -1001 || (rc == CL_SUCCESS && count[0] == 0)) {
            throw new ClException("No OpenCL platform found: the OpenCL loader is present but no driver is registered in /etc/OpenCL/vendors. " + INSTALL_HINT, rc);
        }
        ClException.check(rc, "clGetPlatformIDs");
        cl_platform_id[] ids = new cl_platform_id[count[0]];
        ClException.check(clGetPlatformIDs(ids.length, ids, null), "clGetPlatformIDs");
        return ids;
    }

    private static DeviceInfo describe(int index, int platformIndex, cl_platform_id platform, cl_device_id d) {
        long type = deviceLong(d, CL_DEVICE_TYPE);
        DeviceInfo.DeviceType t = (type & CL_DEVICE_TYPE_GPU) != 0 ? DeviceInfo.DeviceType.GPU
                : (type & CL_DEVICE_TYPE_CPU) != 0 ? DeviceInfo.DeviceType.CPU
                : (type & CL_DEVICE_TYPE_ACCELERATOR) != 0 ? DeviceInfo.DeviceType.ACCELERATOR
                : DeviceInfo.DeviceType.OTHER;
        Set<String> ext = new LinkedHashSet<>(Arrays.asList(deviceString(d, CL_DEVICE_EXTENSIONS).trim().split("\\s+")));
        return new DeviceInfo(index, platformIndex,
                platformString(platform, CL_PLATFORM_NAME), platformString(platform, CL_PLATFORM_VERSION),
                deviceString(d, CL_DEVICE_NAME), deviceString(d, CL_DEVICE_VENDOR), deviceString(d, CL_DRIVER_VERSION),
                deviceString(d, CL_DEVICE_OPENCL_C_VERSION), t,
                deviceInt(d, CL_DEVICE_MAX_COMPUTE_UNITS), deviceInt(d, CL_DEVICE_MAX_CLOCK_FREQUENCY),
                deviceLong(d, CL_DEVICE_GLOBAL_MEM_SIZE), deviceLong(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE),
                deviceLong(d, CL_DEVICE_LOCAL_MEM_SIZE), (int) deviceSize(d, CL_DEVICE_MAX_WORK_GROUP_SIZE),
                ext, platform, d);
    }

    private static String platformString(cl_platform_id p, int param) {
        long[] size = new long[1];
        ClException.check(clGetPlatformInfo(p, param, 0, null, size), "clGetPlatformInfo");
        byte[] buf = new byte[(int) size[0]];
        ClException.check(clGetPlatformInfo(p, param, buf.length, Pointer.to(buf), null), "clGetPlatformInfo");
        return cString(buf);
    }

    static String deviceString(cl_device_id d, int param) {
        long[] size = new long[1];
        ClException.check(clGetDeviceInfo(d, param, 0, null, size), "clGetDeviceInfo");
        byte[] buf = new byte[(int) size[0]];
        ClException.check(clGetDeviceInfo(d, param, buf.length, Pointer.to(buf), null), "clGetDeviceInfo");
        return cString(buf);
    }

    private static int deviceInt(cl_device_id d, int param) {
        int[] v = new int[1];
        ClException.check(clGetDeviceInfo(d, param, Sizeof.cl_uint, Pointer.to(v), null), "clGetDeviceInfo");
        return v[0];
    }

    private static long deviceLong(cl_device_id d, int param) {
        long[] v = new long[1];
        ClException.check(clGetDeviceInfo(d, param, Sizeof.cl_ulong, Pointer.to(v), null), "clGetDeviceInfo");
        return v[0];
    }

    private static long deviceSize(cl_device_id d, int param) {
        long[] v = new long[1];
        ClException.check(clGetDeviceInfo(d, param, Sizeof.size_t, Pointer.to(v), null), "clGetDeviceInfo");
        return v[0];
    }

    private static String cString(byte[] buf) {
        int n = 0;
        while (n < buf.length && buf[n] != 0) n++;
        return new String(buf, 0, n, StandardCharsets.UTF_8).trim();
    }
}
