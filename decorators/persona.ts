import { z } from "zod";
import type { PersonaActivityInput } from "../src/types.js";
import { argsForRecord, failureMessageOf, withLinks, auditMethodDecorator, capturedOrNoted, decoratorOptionsShape, parseDecoratorInput, type AuditDecoratorOptions, type AuditMethodDecorator, assertNamedFactory } from "./wrap.js";

/**
 * Options of {@link AuditPersona}. Arguments and results are not recorded unless `captureArgs` /
 * `captureResult` is `true` or a function (a persona record says what was done, not with what).
 *
 * @example
 * @AuditPersona("planner", "plan", { description: "Breaks the task into steps" })
 */
export interface AuditPersonaOptions extends AuditDecoratorOptions {
  description?: string | undefined;
}

const text = z.string({ error: "must be a string" }).min(1, "must be a non-empty string").max(256, "must be at most 256 characters");
const schema = z.object({
  personaName: text,
  activityType: text,
  options: z.strictObject({ ...decoratorOptionsShape, description: z.string().max(10_000).optional() }, { error: "must be an options object" }).optional(),
});

/**
 * Records each call of the method as a PersonaActivity of `personaName` doing `activityType`,
 * with its duration and success. Records made inside the call (tools, chats) carry the persona
 * and link to this activity as their parent.
 *
 * @example
 * class Agent {
 *   @AuditPersona("planner", "plan")
 *   async plan(goal: string) { return this.llm.ask(`Plan: ${goal}`) }
 * }
 */
export function AuditPersona(personaName: string, activityType: string, options: AuditPersonaOptions = {}): AuditMethodDecorator {
  assertNamedFactory("@AuditPersona", personaName);
  const input = parseDecoratorInput("@AuditPersona", schema, { personaName, activityType, options });
  const persona = input.personaName;
  const activity = input.activityType;
  const o = (input.options ?? {}) as AuditPersonaOptions;
  return auditMethodDecorator({
    decorator: "@AuditPersona",
    options: o,
    readsArgs: o.captureArgs !== undefined && o.captureArgs !== false,
    linkChildren: true,
    contextPatch: { persona },
    record(logger, call) {
      const { outcome } = call;
      const details: Record<string, unknown> = { method: call.qualifiedName };
      // (a capture function that throws loses what it captures, not the record: noted in details)
      const notes: Record<string, string> = {};
      const args = o.captureArgs === undefined ? undefined : capturedOrNoted(logger, notes, "captureArgs", o.captureArgs, typeof o.captureArgs === "function" ? call.args : argsForRecord(call.args));
      if (args) details.arguments = args.value;
      const unobserved = outcome.status === "ok" && o.captureResult === true ? call.unobserved : undefined;
      if (unobserved !== undefined) {
        // (work the caller runs later: no result to write, see @AuditTool)
        details.resultNotRead = unobserved;
      } else if (outcome.status === "ok" && o.captureResult !== undefined) {
        const res = capturedOrNoted(logger, notes, "captureResult", o.captureResult, call.yielded ? { yielded: call.yielded.count, returned: outcome.value } : outcome.value);
        if (res) details.result = res.value;
      }
      Object.assign(details, notes);
      const failure = failureMessageOf(outcome);
      if (failure !== undefined) details.error = failure;
      const input = withLinks<PersonaActivityInput>(
        { personaName: persona, activityType: activity, durationSeconds: call.durationSeconds, success: outcome.status === "ok", details },
        call,
      );
      if (o.description !== undefined) input.description = o.description;
      logger.logPersonaActivity(input);
    },
  });
}
