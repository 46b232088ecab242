/**
 * GPT-2's byte-level BPE as transformers runs it for Phi models: {@link dev.flashcl.tokenizer.Tokenizer}
 * encodes and decodes, {@link dev.flashcl.tokenizer.StreamDecoder} decodes as ids arrive. Usable
 * without a device.
 */
package dev.flashcl.tokenizer;
