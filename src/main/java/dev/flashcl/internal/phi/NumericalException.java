package dev.flashcl.internal.phi;

/** A NaN or infinity reached the logits; the message names the first node whose output had one. */
public class NumericalException extends dev.flashcl.FlashClException {
    public NumericalException(String message) {
        super(message);
    }
}
