/**
 * What a model call asked for besides its prompt: sampling and length settings, the tools it
 * offered (by name) and how it let the model choose among them. Recorded as
 * `metadata.<provider>.request` (Langfuse's "model parameters", OpenTelemetry's
 * `gen_ai.request.*`): an auditor asking what the model was allowed to do needs the tools it was
 * offered, not only the ones it called. Never content: tool descriptions and schemas, stop
 * sequences and response schemas are left out (they are the app's text, and metadata is not
 * encrypted); names, numbers and choices only. Read when the call is made (the app may reuse and
 * change its params).
 */

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** An own member of the params (an inherited one is never sent). */
const ownOf = (o: Obj, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);

/** the most tool names kept (a call offering more says how many it offered in `toolCount`) */
const MAX_TOOLS = 64;
const MAX_NAME = 128;

/** A setting's value as recorded: a finite number, a boolean, or a short string; else undefined. */
function scalar(v: unknown): number | boolean | string | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v === "boolean") return v;
  if (typeof v === "string") return v.length <= 64 ? v : undefined;
  return undefined;
}

function name(v: unknown): string | undefined {
  return typeof v === "string" && v.length > 0 ? v.slice(0, MAX_NAME) : undefined;
}

/**
 * One pass over the params' own keys (usually a handful, on the call's path: probing each
 * setting by name cost more; own only, as the SDKs serialise them: an inherited setting is never
 * sent): the scalar settings named in `scalars`, copied, and whether any member named in
 * `others` (read by the caller) is there.
 */
function scan(params: Obj, scalars: ReadonlySet<string>, others: ReadonlySet<string>): { out: Obj | undefined; others: boolean } {
  let out: Obj | undefined;
  let found = false;
  for (const k of Object.keys(params)) {
    if (scalars.has(k)) {
      const v = scalar(params[k]);
      if (v !== undefined) (out ??= {})[k] = v;
    } else if (others.has(k)) found = true;
  }
  return { out, others: found };
}

/** `out` when it holds something, else undefined. */
const nonEmpty = (out: Obj): Obj | undefined => (Object.keys(out).length > 0 ? out : undefined);

/** Tool names, in order: a function's name, else a built-in tool's type (`web_search`), an MCP server's `mcp:<server_label>`. */
function toolNames(tools: unknown, out: Obj): void {
  if (!Array.isArray(tools) || tools.length === 0) return;
  const names: string[] = [];
  for (const t of tools.slice(0, MAX_TOOLS)) {
    if (!isObj(t)) continue;
    // (a function's name; a chat completions custom tool's, `{ type: "custom", custom: { name } }`)
    const fn = isObj(t.function) ? t.function : isObj(t.custom) ? t.custom : undefined;
    // (a remote MCP server, OpenAI's `{ type: "mcp", server_label }`, by its label: "mcp" alone
    // did not say which server the model could call; 2026-12-05)
    const label = t.type === "mcp" ? name(t.server_label) : undefined;
    const n = label !== undefined ? `mcp:${label}` : (name(fn?.name) ?? name(t.name) ?? name(t.type));
    if (n !== undefined) names.push(n);
  }
  out.tools = names;
  if (tools.length > MAX_TOOLS) out.toolCount = tools.length;
}

/**
 * A tool choice as one string: `auto`, `none`, `required`/`any`, or `tool:<name>` for a named
 * tool (OpenAI's `{ type: "function", function: { name } }`, the Responses API's and
 * Anthropic's `{ type, name }`).
 */
function toolChoice(v: unknown): string | undefined {
  if (typeof v === "string") return v.slice(0, 64);
  if (!isObj(v)) return undefined;
  const fn = isObj(v.function) ? v.function : isObj(v.custom) ? v.custom : undefined;
  const n = name(fn?.name) ?? name(v.name);
  if (n !== undefined) return `tool:${n}`;
  return name(v.type);
}

const OPENAI_KEYS = [
  "temperature",
  "top_p",
  "max_tokens",
  "max_completion_tokens",
  "max_output_tokens",
  "n",
  "seed",
  "presence_penalty",
  "frequency_penalty",
  "parallel_tool_calls",
  "reasoning_effort",
  "logprobs",
  "top_logprobs",
  "service_tier",
] as const;

const OPENAI_SCALARS: ReadonlySet<string> = new Set(OPENAI_KEYS);
const OPENAI_OTHERS: ReadonlySet<string> = new Set(["reasoning", "response_format", "text", "tools", "tool_choice", "previous_response_id", "conversation", "prompt"]);

/** The settings of an OpenAI Chat Completions or Responses call; undefined when it has none. */
export function openaiRequestSettings(params: unknown): Obj | undefined {
  if (!isObj(params)) return undefined;
  const scanned = scan(params, OPENAI_SCALARS, OPENAI_OTHERS);
  if (!scanned.others) return scanned.out;
  const out = scanned.out ?? {};
  const own = (k: string): unknown => ownOf(params, k);
  const reasoningParam = own("reasoning");
  const reasoning = isObj(reasoningParam) ? scalar(reasoningParam.effort) : undefined;
  if (reasoning !== undefined) out.reasoning_effort = reasoning;
  const rf = own("response_format");
  const text = own("text");
  const format = isObj(rf) ? rf : isObj(text) && isObj(text.format) ? text.format : undefined;
  const formatType = format ? name(format.type) : undefined;
  if (formatType !== undefined) out.response_format = formatType;
  toolNames(own("tools"), out);
  const choice = toolChoice(own("tool_choice"));
  if (choice !== undefined) out.tool_choice = choice;
  // What the model saw besides the `input` sent: the Responses API prepends a stored response's
  // conversation (`previous_response_id`), a Conversation's items (`conversation`, an id or
  // `{ id }`) or a stored prompt (`prompt: { id, version }`, its variables are content). The
  // recorded prompt is only the input; these ids are what links it to the rest (a Response's
  // id is the earlier record's `metadata.openai.responseId`).
  const previous = name(own("previous_response_id"));
  if (previous !== undefined) out.previous_response_id = previous;
  const conversation = own("conversation");
  const conversationId = name(conversation) ?? (isObj(conversation) ? name(conversation.id) : undefined);
  if (conversationId !== undefined) out.conversation = conversationId;
  const prompt = own("prompt");
  if (isObj(prompt)) {
    const promptId = name(prompt.id);
    if (promptId !== undefined) out.prompt_id = promptId;
    const version = name(prompt.version);
    if (version !== undefined) out.prompt_version = version;
  }
  return nonEmpty(out);
}

const ANTHROPIC_SCALARS: ReadonlySet<string> = new Set(["max_tokens", "temperature", "top_p", "top_k"]);
const ANTHROPIC_OTHERS: ReadonlySet<string> = new Set(["thinking", "tools", "tool_choice", "thread", "mcp_servers", "output_config", "output_format"]);

/** The settings of an Anthropic Messages call; undefined when it has none. */
export function anthropicRequestSettings(params: unknown): Obj | undefined {
  if (!isObj(params)) return undefined;
  const scanned = scan(params, ANTHROPIC_SCALARS, ANTHROPIC_OTHERS);
  if (!scanned.others) return scanned.out;
  const out = scanned.out ?? {};
  const thinking = ownOf(params, "thinking");
  if (isObj(thinking)) {
    const type = name(thinking.type);
    const budget = scalar(thinking.budget_tokens);
    if (type !== undefined) out.thinking = type;
    if (typeof budget === "number") out.thinking_budget_tokens = budget;
  }
  toolNames(ownOf(params, "tools"), out);
  const choice = toolChoice(ownOf(params, "tool_choice"));
  if (choice !== undefined) out.tool_choice = choice;
  // Structured outputs: `output_config.format` (what `messages.parse()` takes, `zodOutputFormat()`
  // or a `{ type: "json_schema", schema }`), or the beta's deprecated `output_format`, which the
  // SDK prefers: the format's type as `output_format`, never its schema, as OpenAI's records give
  // their `response_format`'s type. Left out until 2026-12-06: a structured-output call read as a
  // plain one.
  const config = ownOf(params, "output_config");
  const format = ownOf(params, "output_format") ?? (isObj(config) ? config.format : undefined);
  const formatType = isObj(format) ? name(format.type) : undefined;
  if (formatType !== undefined) out.output_format = formatType;
  // What else `output_config` asks for: the effort (`low` … `max`, as OpenAI's records give their
  // `reasoning_effort`) and the beta's task budget (`{ type: "tokens", total, remaining? }`), the
  // token budget the model paces itself to. Left out until 2026-12-06.
  if (isObj(config)) {
    const effort = scalar(config.effort);
    if (typeof effort === "string") out.effort = effort;
    const budget = config.task_budget;
    if (isObj(budget)) {
      const total = scalar(budget.total);
      const remaining = scalar(budget.remaining);
      if (typeof total === "number") out.task_budget_total = total;
      if (typeof remaining === "number") out.task_budget_remaining = remaining;
    }
  }
  // The MCP connector's servers (`client.beta.messages`): what else the model could call, by name
  // (never the URL or the authorization token). Left out until 2026-12-05: a record's `toolCalls`
  // named a server the record did not say was offered.
  const servers = ownOf(params, "mcp_servers");
  if (Array.isArray(servers) && servers.length > 0) {
    out.mcp_servers = servers.slice(0, MAX_TOOLS).flatMap((v) => (isObj(v) && name(v.name) !== undefined ? [name(v.name)!] : []));
    if (servers.length > MAX_TOOLS) out.mcpServerCount = servers.length;
  }
  // A message thread's turn (`client.beta.messages.thread()`, the tool runner on one) sends only
  // the new messages: the server holds the rest, and the system prompt and tools after the first
  // turn. Without `thread` (its type, and the reply it continues) such a record's prompt was a
  // lone "second question", tied to no conversation (found on a "new user" pass, 2026-12-05).
  const thread = ownOf(params, "thread");
  if (isObj(thread)) {
    const type = name(thread.type);
    const previous = name(thread.previous_message_id);
    if (type !== undefined) out.thread = type;
    if (previous !== undefined) out.previous_message_id = previous;
  }
  return nonEmpty(out);
}

// (`reasoning`, the effort asked for, is a call option of LanguageModelV4, ai 7, only)
const AI_SDK_SCALARS: ReadonlySet<string> = new Set(["maxOutputTokens", "temperature", "topP", "topK", "presencePenalty", "frequencyPenalty", "seed", "reasoning"]);
const AI_SDK_OTHERS: ReadonlySet<string> = new Set(["responseFormat", "tools", "toolChoice"]);

/**
 * The settings of an AI SDK language model call (its call options, in the SDK's own names); the
 * tool choice as `auto`, `none`, `required` or `tool:<name>`. Undefined when it has none. A call
 * offering no tools has no `auto` choice: ai 7 passes `{ type: "auto" }` with every call, its
 * default, which says nothing without tools (ai 6 passed none; "none" it passes to both, for the
 * tools a provider may configure itself).
 */
export function aiSdkRequestSettings(params: unknown): Obj | undefined {
  if (!isObj(params)) return undefined;
  const scanned = scan(params, AI_SDK_SCALARS, AI_SDK_OTHERS);
  if (!scanned.others) return scanned.out;
  const out = scanned.out ?? {};
  const responseFormat = ownOf(params, "responseFormat");
  const formatType = isObj(responseFormat) ? name(responseFormat.type) : undefined;
  if (formatType !== undefined) out.responseFormat = formatType;
  const tools = ownOf(params, "tools");
  toolNames(tools, out);
  const toolChoiceParam = ownOf(params, "toolChoice");
  if (isObj(toolChoiceParam)) {
    const type = name(toolChoiceParam.type);
    const tool = name(toolChoiceParam.toolName);
    const choice = type === "tool" && tool !== undefined ? `tool:${tool}` : type;
    if (choice !== undefined && (choice !== "auto" || (Array.isArray(tools) && tools.length > 0))) out.toolChoice = choice;
  }
  return nonEmpty(out);
}
