import { AuditConfig, checkOptionsArgument, plainOptions } from "./config.js";
import type { AuditOptionsInput } from "./schema.js";

type Overrides = Omit<AuditOptionsInput, "sessionId" | "projectPath">;

/** A preset is callable as `(sessionId, projectPath, overrides?)` or `({ sessionId, projectPath, ...overrides })`. */
export interface Preset {
  (sessionId?: string, projectPath?: string, overrides?: Overrides): AuditConfig;
  (options: AuditOptionsInput): AuditConfig;
  /** the options the preset sets */
  readonly defaults: Readonly<AuditOptionsInput>;
}

/**
 * The options given, read as `new AuditConfig()` reads them (a class instance by its properties;
 * anything that is not an options object refused, naming it), without the members given as
 * `undefined`: such a member is the same as one left out, and keeps the preset's value. (Spread
 * over the preset, `encryptSensitiveContent: undefined` gave the kit's default instead:
 * `production` wrote plaintext, `compliance` with `requireSigning` or `minRetentionDays`
 * undefined ran unsigned with no retention floor; and overrides of 5 or a Map, or a Map or a
 * class instance as the one argument, were read as {} without a word. Found by the API.md
 * conformance pass, 2026-12-06.)
 */
function givenOptions(name: string, a: string | AuditOptionsInput | undefined, projectPath: string | undefined, overrides: Overrides | null | undefined): AuditOptionsInput {
  let given: Record<string, unknown>;
  if (typeof a === "object" && a !== null) {
    checkOptionsArgument(a, `PresetConfigs.${name}(options)`);
    given = { ...(a instanceof AuditConfig ? a.toOptions() : plainOptions(a)) };
  } else {
    if (overrides !== null) checkOptionsArgument(overrides, `PresetConfigs.${name}(sessionId, projectPath, overrides)`, "overrides");
    given = { ...(overrides != null ? plainOptions(overrides) : {}), ...(a !== undefined ? { sessionId: a } : {}), ...(projectPath !== undefined ? { projectPath } : {}) };
  }
  for (const k of Object.keys(given)) if (given[k] === undefined) delete given[k];
  return given as AuditOptionsInput;
}

function preset(name: string, defaults: AuditOptionsInput): Preset {
  const fn = (a?: string | AuditOptionsInput, projectPath?: string, overrides?: Overrides | null): AuditConfig => new AuditConfig({ ...defaults, ...givenOptions(name, a, projectPath, overrides) });
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
  development: preset("development", {
    fullContentLogging: true,
    encryptSensitiveContent: false,
    maxLogAgeDays: 30,
    autoCleanup: true,
    storeContentHashes: true,
    durability: "async",
  }),
  production: preset("production", {
    fullContentLogging: true,
    encryptSensitiveContent: true,
    maxLogAgeDays: 365,
    autoCleanup: false,
    storeContentHashes: true,
    redact: {},
    durability: "sync",
  }),
  compliance: preset("compliance", {
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
  minimal: preset("minimal", {
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
