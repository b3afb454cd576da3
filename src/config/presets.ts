import { AuditConfig } from "./config.js";
import type { AuditOptionsInput } from "./schema.js";

type Overrides = Omit<AuditOptionsInput, "sessionId" | "projectPath">;

/** A preset is callable as `(sessionId, projectPath, overrides?)` or `({ sessionId, projectPath, ...overrides })`. */
export interface Preset {
  (sessionId?: string, projectPath?: string, overrides?: Overrides): AuditConfig;
  (options: AuditOptionsInput): AuditConfig;
  /** the options the preset sets */
  readonly defaults: Readonly<AuditOptionsInput>;
}

function preset(defaults: AuditOptionsInput): Preset {
  const fn = (a?: string | AuditOptionsInput, projectPath?: string, overrides?: Overrides): AuditConfig => {
    const given: AuditOptionsInput =
      typeof a === "object" && a !== null
        ? a
        : { ...overrides, ...(a !== undefined ? { sessionId: a } : {}), ...(projectPath !== undefined ? { projectPath } : {}) };
    return new AuditConfig({ ...defaults, ...given });
  };
  return Object.assign(fn, { defaults: Object.freeze({ ...defaults }) }) as Preset;
}

/**
 * Ready-made configurations.
 *
 * | preset | content | encryption | retention | durability |
 * | --- | --- | --- | --- | --- |
 * | development | full | off | 30 days, auto-cleanup | async |
 * | production | full | on | 365 days | sync |
 * | compliance | full | on | 2555 days, never auto-deleted | fsync |
 * | minimal | none (counts and lengths) | off | 30 days | async |
 *
 * @example
 * const config = PresetConfigs.production("checkout_bot", "/srv/app");
 */
export const PresetConfigs = Object.freeze({
  development: preset({
    fullContentLogging: true,
    encryptSensitiveContent: false,
    maxLogAgeDays: 30,
    autoCleanup: true,
    storeContentHashes: true,
    durability: "async",
  }),
  production: preset({
    fullContentLogging: true,
    encryptSensitiveContent: true,
    maxLogAgeDays: 365,
    autoCleanup: false,
    storeContentHashes: true,
    redact: {},
    durability: "sync",
  }),
  compliance: preset({
    fullContentLogging: true,
    encryptSensitiveContent: true,
    maxLogAgeDays: 2555,
    minRetentionDays: 2555,
    requireSigning: true,
    autoCleanup: false,
    storeContentHashes: true,
    redact: {},
    durability: "fsync",
  }),
  minimal: preset({
    fullContentLogging: false,
    encryptSensitiveContent: false,
    maxLogAgeDays: 30,
    autoCleanup: false,
    storeContentHashes: false,
    contentPreviewChars: 0,
    storeToolPayloads: false,
    durability: "async",
  }),
});
