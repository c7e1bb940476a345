export { readConversations, loadConversations, readConversationsOptionsSchema, toMessages, checkRoles, detectFormat, SftDataError, SFT_FORMATS } from "./read.js";
export type { Conversation, Message, Role, SftFormat, ReadConversationsOptions } from "./read.js";
export { renderChat, templateSource, BATGPT_CHAT_TEMPLATE, CHATML_CHAT_TEMPLATE, CHAT_TEMPLATES } from "./template.js";
export type { RenderChatOptions } from "./template.js";
export { formatConversation, conversationSpans, formatOptionsSchema, SampleTooLongError } from "./format.js";
export type { FormatOptions, FormattedSample } from "./format.js";
export { sftObjective, answerLoss, answerTokens, padBatch, SftDataSource } from "./objective.js";
export type { SftBatch } from "./objective.js";
