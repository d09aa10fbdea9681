// The callee's application in the local mesh: answers every request with what it received, as JSON
// ({ method, path, headers, rawHeaders, body }), so a client sees what the filters and the sidecars sent
// on. `headers` has lower-case names, repeated lines joined with ", "; `rawHeaders` keeps every line.
// The compose mesh runs the same server (local/echo-server.ts), so both backends echo alike.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

export interface Echoed {
  method: string;
  path: string;
  headers: Record<string, string>;
  rawHeaders: [string, string][];
  body: string;
}

export function echo(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const raw: [string, string][] = [];
    const headers: Record<string, string> = {};
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const k = req.rawHeaders[i].toLowerCase(), v = req.rawHeaders[i + 1];
      raw.push([k, v]);
      headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
    }
    const body: Echoed = { method: req.method ?? "", path: req.url ?? "", headers, rawHeaders: raw, body: Buffer.concat(chunks).toString("utf8") };
    const out = Buffer.from(JSON.stringify(body) + "\n");
    res.writeHead(200, { "content-type": "application/json", "content-length": out.length });
    res.end(out);
  });
}

/** Starts the echo server; resolves once it listens (port 0: any free port). */
export function startEcho(port: number, host = "127.0.0.1"): Promise<Server> {
  const server = createServer(echo);
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => { server.off("error", reject); resolve(server); });
  });
}
