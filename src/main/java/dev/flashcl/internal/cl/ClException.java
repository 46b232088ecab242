package dev.flashcl.internal.cl;

import org.jocl.CL;

/** An OpenCL call failed, or the runtime cannot do what was asked; the message says which and what to do. */
public class ClException extends dev.flashcl.FlashClException {
    private final int code;

    public ClException(String message) {
        this(message, 0);
    }

    public ClException(String message, int code) {
        super(message);
        this.code = code;
    }

    /** The OpenCL error code (CL_SUCCESS = 0 when the failure was found before calling OpenCL). */
    public int code() {
        return code;
    }

    /** Throws unless {@code code} is CL_SUCCESS; the message names the call and the code. */
    static void check(int code, String call) {
        if (code == CL.CL_SUCCESS) return;
        if (code == CL.CL_MEM_OBJECT_ALLOCATION_FAILURE || code == CL.CL_OUT_OF_RESOURCES
                || code == CL.CL_OUT_OF_HOST_MEMORY) {
            throw new DeviceMemoryException(call + " failed with " + name(code)
                    + ": the device ran out of memory or resources; free buffers, lower the sizes or pick a larger device",
                    code);
        }
        throw new ClException(call + " failed with " + name(code), code);
    }

    static String name(int code) {
        String name = CL.stringFor_errorCode(code);
        return name + " (" + code + ")";
    }
}
