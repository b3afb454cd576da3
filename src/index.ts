export { AuditLogger, type AuditLoggerEvents } from "./logger.js";
export { AuditConfig, PresetConfigs, type Preset, type AuditOptions } from "./config/index.js";
export { auditContext, setDefaultAuditLogger, getDefaultAuditLogger } from "./context.js";
export { verifyAuditLog, type VerifyOptions } from "./reader/verify.js";
export { computeRecordHash, GENESIS_HASH } from "./pipeline/chain.js";
export { cleanupSessions, type CleanupOptions, type CleanupResult, type CleanupEntry } from "./retention.js";
export * from "./errors.js";
export * from "./types.js";
export { resolveAuditLogger, safeRecord, secondsSince } from "./instrument.js";
