import { compileConfig, Sink, DEFAULT_REDACT_HEADERS, DEFAULT_REDACT_QUERY_PARAMS, DEFAULT_MAX_VALUE_BYTES } from "./config";
import { b } from "../common/spec-helpers";

function errors(json: string): string {
  const r = compileConfig(b(json));
  expect(r.config).toBeNull();
  return r.errors.join("\n");
}

describe("access-log configuration", () => {
  it("uses the documented defaults when there is no configuration", () => {
    const r = compileConfig(new ArrayBuffer(0));
    const c = r.config!;
    expect(c.sink).toBe(Sink.Log);
    expect(c.requestHeaders.length).toBe(0);
    expect(c.redactHeaders.length).toBe(DEFAULT_REDACT_HEADERS.length);
    expect(c.redactQueryParams.length).toBe(DEFAULT_REDACT_QUERY_PARAMS.length);
    expect(c.maxValueBytes).toBe(DEFAULT_MAX_VALUE_BYTES);
  });

  it("compiles the issue's example", () => {
    const r = compileConfig(b('{"requestHeaders":["user-agent","X-User-Id","Authorization"],"responseHeaders":["content-type"],' +
      '"redactHeaders":["authorization","cookie","set-cookie","x-api-key"],"redactQueryParams":["token","Access_Token"],' +
      '"tags":{"team":"payments"},"sink":"both"}'));
    const c = r.config!;
    expect(c.sink).toBe(Sink.Both);
    expect(c.toLog && c.toFilterState).toBe(true);
    expect(c.requestHeaders[1].name).toBe("x-user-id");
    expect(c.requestHeaders[1].redacted).toBe(false);
    expect(c.requestHeaders[2].redacted).toBe(true);
    expect(String.UTF8.decode(c.redactQueryParams[1])).toBe("access_token");
    expect(c.tags[0].key).toBe("team");
    expect(c.tags[0].value).toBe("payments");
  });

  it("replaces the default redaction lists when they are given, empty included", () => {
    const c = compileConfig(b('{"redactHeaders":[],"redactQueryParams":[]}')).config!;
    expect(c.redactHeaders.length).toBe(0);
    expect(c.redactQueryParams.length).toBe(0);
  });

  it("reports every problem with its field path", () => {
    const e = errors('{"requestHeaders":["ok","bad header",3],"sink":"stdout","maxValueBytes":1,' +
      '"redactQueryParams":["a","A","x&y"],"tags":{"t":1},"extra":true}');
    expect(e.includes("unknown key \"extra\"")).toBe(true, "unknown key \"extra\"");
    expect(e.includes("requestHeaders[1]: \"bad header\" is not a valid HTTP header name")).toBe(true, "requestHeaders[1]: \"bad header\" is not a valid HTTP header name");
    expect(e.includes("requestHeaders[2]: must be a string, got number")).toBe(true, "requestHeaders[2]: must be a string, got number");
    expect(e.includes("sink: must be one of")).toBe(true, "sink: must be one of");
    expect(e.includes("maxValueBytes: must be an integer between 64 and 65536")).toBe(true, "maxValueBytes: must be an integer between 64 and 65536");
    expect(e.includes("redactQueryParams[1]: \"A\" is listed twice")).toBe(true, "redactQueryParams[1]: \"A\" is listed twice");
    expect(e.includes("redactQueryParams[2]")).toBe(true, "redactQueryParams[2]");
    expect(e.includes("tags.t: must be a string, got number")).toBe(true, "tags.t: must be a string, got number");
  });

  it("stores listed query parameter names in the normalized form requests are compared in", () => {
    const c = compileConfig(b('{"redactQueryParams":[" Access.Token ","user[password]","a b","x\\u0000y"]}')).config!;
    expect(String.UTF8.decode(c.redactQueryParams[0])).toBe("access_token");
    expect(String.UTF8.decode(c.redactQueryParams[1])).toBe("user[password]");
    expect(String.UTF8.decode(c.redactQueryParams[2])).toBe("a_b");
    expect(String.UTF8.decode(c.redactQueryParams[3])).toBe("x");
  });

  it("rejects a listed query parameter name that is blank after trimming", () => {
    expect(errors('{"redactQueryParams":["token","  \\t"]}').includes("redactQueryParams[1]: \"  \\t\" is blank")).toBe(true, "blank name");
  });

  it("rejects duplicate header names that differ only in case", () => {
    expect(errors('{"responseHeaders":["Content-Type","content-type"]}').includes("responseHeaders[1]")).toBe(true, "responseHeaders[1]");
  });

  it("rejects malformed JSON and non-objects", () => {
    expect(errors("{").includes("invalid JSON")).toBe(true, "invalid JSON");
    expect(errors("[]").includes("must be an object")).toBe(true, "must be an object");
  });
});
