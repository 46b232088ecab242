package dev.flashcl.internal.checkpoint;

/** A model directory, checkpoint file, config or tokenizer file that cannot be used; the message names the file (and tensor or field). */
public class CheckpointException extends dev.flashcl.FlashClException {
    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
