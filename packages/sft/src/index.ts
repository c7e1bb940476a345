export { readConversations, loadConversations, readConversationsOptionsSchema, toMessages, checkRoles, detectFormat, SftDataError, SFT_FORMATS } from "./read.js";
export type { Conversation, Message, Role, SftFormat, ReadConversationsOptions } from "./read.js";
