export { AuditConfig } from "./config.js";
export { PresetConfigs, type Preset } from "./presets.js";
export type { AuditOptionsInput as AuditOptions } from "./schema.js";
