/**
 * flashcl behind LangChain4j's model interfaces, in-process: {@link FlashClChatModel},
 * {@link FlashClStreamingChatModel}, and for plain completion, which suits a base model such as
 * Phi-2, {@link FlashClLanguageModel} and {@link FlashClStreamingLanguageModel}. Each is built
 * from a model path (or the embedded model) or from a {@link dev.flashcl.LanguageModel} already
 * loaded. langchain4j-core is an optional dependency of flashcl: add it to use this package; a
 * project that does not never sees it.
 */
package dev.flashcl.langchain4j;
