/**
 * {@code flashcl serve}: {@link dev.flashcl.server.FlashClServer} serves a
 * {@link dev.flashcl.LanguageModel} over OpenAI's completions and chat completions API. Its
 * libraries (Jetty, Micrometer) are optional dependencies of flashcl: add them to embed the server.
 */
package dev.flashcl.server;
