/**
 * withAuditFetch as an app uses it (the fetch new-user pass, 2026-12-05): real requests to local
 * servers, the records read back from disk.
 */
import { describe, expect, it } from "vitest";
import { withAuditFetch } from "../../integrations/fetch.js";
import { loggerFactory } from "../helpers/index.js";
import { recordsOf } from "./_records.js";

const newLogger = loggerFactory("fetch_newuser");
describe("withAuditFetch, as an app uses it", () => {
  it("a data: URL's content is not recorded, only its media type and length (a base64 image was recorded whole, in url and in operation); a blob: URL's operation keeps its scheme", async () => {
    const logger = newLogger();
    const auditedFetch = withAuditFetch(fetch, { logger });
    // a model's image, turned into bytes with fetch, as apps do
    const image = Buffer.from("PRIVATE-IMAGE-BYTES ".repeat(500));
    const dataUrl = `data:image/png;base64,${image.toString("base64")}`;
    const bytes = Buffer.from(await (await auditedFetch(dataUrl)).arrayBuffer());
    expect(bytes.equals(image)).toBe(true); // the app gets the content
    const blobUrl = URL.createObjectURL(new Blob(["blob content"]));
    try {
      expect(await (await auditedFetch(blobUrl)).text()).toBe("blob content");
    } finally {
      URL.revokeObjectURL(blobUrl);
    }
    const recs = await recordsOf(logger, "tool_usage", 2);
    expect(recs.map((r) => [r.operation, (r.parameters as { url: string }).url, r.success])).toEqual([
      ["GET data:image/png;base64", `data:image/png;base64,[${dataUrl.length - "data:image/png;base64,".length} characters not recorded]`, true],
      [`GET ${blobUrl}`, blobUrl, true],
    ]);
    const text = JSON.stringify(recs);
    expect(text).not.toContain(image.toString("base64").slice(0, 40));
  });

});
