/**
 * The options of `verifyAuditLog` and `verifyExport`, checked as every other options object of
 * the kit is: a misspelt name (`publickey`) or a value of the wrong kind is an `AuditConfigError`
 * naming the field. Until 2026-12-05 they were taken as given, and `{ publickey: pem }` verified
 * with no trusted key at all, `ok: true`, every signature check skipped.
 */
import { KeyObject } from "node:crypto";
import { z } from "zod";
import { AuditConfigError, type FieldIssue } from "../errors.js";
import { toFieldIssues } from "../record/issues.js";

export const publicKeySchema = z.union([z.string().min(1, "must be a PEM public key"), z.custom<KeyObject>((v) => v instanceof KeyObject, "must be a PEM string or a crypto KeyObject")]);

const verifyOptionsSchema = z
  .strictObject({
    sessionId: z.string().min(1, "must be a sessionId").optional(),
    publicKey: z.union([publicKeySchema, z.array(publicKeySchema)]).optional(),
    trustedCheckpoints: z.array(z.custom<object>((v) => typeof v === "object" && v !== null && !Array.isArray(v), "must be checkpoints as read from a checkpoints file")).optional(),
    requireSigned: z.boolean().optional(),
  })
  .superRefine((o, ctx) => {
    if (o.requireSigned === true && (o.publicKey === undefined || (Array.isArray(o.publicKey) && o.publicKey.length === 0))) {
      ctx.addIssue({ code: "custom", path: ["requireSigned"], message: "needs publicKey: a checkpoint counts as signed only against a trusted key" });
    }
  });

/**
 * Throws `AuditConfigError` naming each bad field of `options` (`<method>.<field>`).
 *
 * @example
 * checkVerifyOptions({ publickey: pem }, "verifyAuditLog"); // AuditConfigError: verifyAuditLog.publickey
 */
export function checkVerifyOptions(options: unknown, method: string, dir?: readonly [name: string, value: unknown]): void {
  const r = verifyOptionsSchema.safeParse(options ?? {});
  // The directory is checked too, in the same error: a number was a bare TypeError from
  // path.resolve, and "" verified the working directory (found by the API.md audit, 2026-12-05).
  const issues: FieldIssue[] = [];
  if (dir !== undefined && (typeof dir[1] !== "string" || dir[1] === "")) {
    issues.push({ field: `${method}.${dir[0]}`, message: `must be the directory's path, a non-empty string (got ${dir[1] === "" ? "an empty string" : dir[1] === null ? "null" : typeof dir[1]})` });
  }
  if (!r.success) issues.push(...toFieldIssues(r.error, method, verifyOptionsSchema));
  if (issues.length > 0) throw new AuditConfigError(issues);
}
