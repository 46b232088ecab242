/**
 * flashcl's public API: open a device with {@link dev.flashcl.FlashCl}, load a model as a
 * {@link dev.flashcl.LanguageModel}, and generate with a {@link dev.flashcl.GenerationRequest}.
 * {@link dev.flashcl.tokenizer} is public too. Everything under {@code dev.flashcl.internal} is the
 * engine (OpenCL runtime, kernels, graph executor, model) and may change in any release.
 */
package dev.flashcl;
