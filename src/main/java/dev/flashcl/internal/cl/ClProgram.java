package dev.flashcl.internal.cl;

import static org.jocl.CL.*;

import java.nio.charset.StandardCharsets;
import org.jocl.Pointer;
import org.jocl.cl_device_id;
import org.jocl.cl_kernel;
import org.jocl.cl_program;

/** A built program; {@link #kernel} makes a fresh kernel object, whose arguments its user binds. */
public final class ClProgram implements AutoCloseable {
    private final cl_program program;
    private final String name;
    private final String options;
    private final java.util.Map<String, java.util.List<String>> signatures;
    private boolean released;

    ClProgram(cl_program program, String name, String options, java.util.Map<String, java.util.List<String>> signatures) {
        this.program = program;
        this.name = name;
        this.options = options;
        this.signatures = signatures;
    }

    cl_program handle() {
        return program;
    }

    /** A new kernel object of {@code kernelName}, whose arguments are set by the names its source declares. */
    public ClKernel kernel(String kernelName) {
        var argNames = signatures.get(kernelName);
        if (argNames == null) throw new ClException("no kernel '" + kernelName + "' is declared in " + name + "; it declares " + signatures.keySet());
        int[] err = new int[1];
        cl_kernel k = clCreateKernel(program, kernelName, err);
        ClException.check(err[0], "clCreateKernel '" + kernelName + "' from " + name + " [" + options + "]");
        return new ClKernel(k, kernelName, argNames);
    }

    static String buildLog(cl_program p, cl_device_id d) {
        long[] size = new long[1];
        clGetProgramBuildInfo(p, d, CL_PROGRAM_BUILD_LOG, 0, null, size);
        if (size[0] <= 1) return "(empty)";
        byte[] buf = new byte[(int) size[0]];
        clGetProgramBuildInfo(p, d, CL_PROGRAM_BUILD_LOG, buf.length, Pointer.to(buf), null);
        return new String(buf, 0, buf.length - 1, StandardCharsets.UTF_8).trim();
    }

    @Override
    public void close() {
        if (released) return;
        released = true;
        clReleaseProgram(program);
    }
}
