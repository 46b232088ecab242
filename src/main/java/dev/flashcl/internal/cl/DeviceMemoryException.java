package dev.flashcl.internal.cl;

/** A buffer does not fit the device: larger than one allocation may be, or more than the memory left. */
public class DeviceMemoryException extends ClException {
    public DeviceMemoryException(String message) {
        super(message);
    }

    DeviceMemoryException(String message, int code) {
        super(message, code);
    }
}
