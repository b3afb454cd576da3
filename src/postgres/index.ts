export { PostgresSink, type PostgresSinkOptions, type PostgresSinkStats } from "./sink.js";
export { migratePostgres, type MigrationResult } from "./migrate.js";
export { verifyPostgres, type PostgresVerifyOptions } from "./verify.js";
export { PostgresRecordSource, type PostgresSourceOptions, type StoreSummary } from "./reader.js";
export { applyPostgresRetention, type RetentionDrop, type PostgresRetentionOptions } from "./retention.js";
export type { PgPoolLike, PostgresConnectionOptions } from "./options.js";
export { DEFAULT_SCHEMA, SCHEMA_VERSION } from "./schema.js";
