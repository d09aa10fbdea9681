// The echo upstream as a process, for the compose mesh:  node --import tsx local/echo-server.ts [port] [host]
import { startEcho } from "./echo.ts";

const port = Number(process.argv[2] ?? 8080);
const host = process.argv[3] ?? "0.0.0.0";
const server = await startEcho(port, host);
console.log(`echo upstream listening on ${host}:${port}`);
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => server.close(() => process.exit(0)));
