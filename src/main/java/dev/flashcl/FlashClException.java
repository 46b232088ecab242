package dev.flashcl;

/**
 * A failure flashcl can explain in one line: a model file, config field, tokenizer, device or
 * option that cannot be used. The message names what is at fault and, where there is one, what
 * to do; it is meant to be shown to a person as it is.
 */
public class FlashClException extends RuntimeException {
    /** @param message what is at fault, naming the file, field, option or device */
    public FlashClException(String message) {
        super(message);
    }

    /**
     * @param message what is at fault, naming the file, field, option or device
     * @param cause   the underlying failure
     */
    public FlashClException(String message, Throwable cause) {
        super(message, cause);
    }
}
