/** `audit-logger/integrations`: `withAudit` and every integration it dispatches to. */
export { withAudit, type ExpressAppLike } from "./with-audit.js";
export { wrapOpenAI, type WrapOpenAIOptions, type OpenAIClientLike } from "./openai.js";
export { wrapAnthropic, type WrapAnthropicOptions, type AnthropicClientLike } from "./anthropic.js";
export { withAuditFetch, REDACTED, type AuditFetchOptions } from "./fetch.js";
export { auditMiddleware, auditErrorHandler, type AuditMiddlewareOptions, type AuditErrorHandlerOptions, type AuditIdAnswer } from "./express.js";
export { auditLanguageModelMiddleware, type AuditLanguageModelMiddlewareOptions } from "./ai-sdk.js";
