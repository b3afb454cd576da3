/**
 * `audit-logger/decorators`: method decorators that record calls. Each works as a TC39 standard
 * decorator and as a legacy `experimentalDecorators` one (NestJS).
 *
 * @example
 * import { AuditTool, AuditChat } from "audit-logger/decorators";
 */
export { AuditTool, type AuditToolOptions } from "./tool.js";
export { AuditChat, type AuditChatOptions } from "./chat.js";
export { AuditPersona, type AuditPersonaOptions } from "./persona.js";
export { AuditPerformance, type AuditPerformanceOptions } from "./performance.js";
export { AuditErrors, type AuditErrorsOptions } from "./errors.js";
export { ABANDONED_MESSAGE, ABORTED_MESSAGE, type AuditDecoratorOptions, type AuditMethodDecorator } from "./wrap.js";
export type { ChatContent, ChatUsage } from "./chat-extract.js";
