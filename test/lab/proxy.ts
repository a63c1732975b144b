/**
 * The lab's apt proxy: a small HTTP forward proxy that lab hosts use to reach
 * the Debian mirror (their network namespaces have no route out; nothing in
 * the root namespace is routed or NATed for them). Package files are cached
 * on disk by URL so a test that installs frr on three hosts downloads it once,
 * and the cache survives between runs. Index files are cached briefly.
 *
 * Run as a detached process by `lab up`: `tsx proxy.ts ADDRESS PORT CACHEDIR`.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { join } from "node:path";

/** Index files (Release, Packages...) are revalidated after this long. */
const INDEX_TTL_MS = 60 * 60 * 1000;

function cachePath(dir: string, url: string): string {
  return join(dir, createHash("sha256").update(url).digest("hex"));
}

function fresh(path: string, url: string): boolean {
  if (!existsSync(path)) return false;
  // Pool files (.deb) and by-hash files never change under the same URL.
  if (/\.deb$|\/by-hash\//.test(url)) return true;
  return Date.now() - statSync(path).mtimeMs < INDEX_TTL_MS;
}

export function startProxy(address: string, port: number, cacheDir: string): http.Server {
  mkdirSync(cacheDir, { recursive: true });
  const server = http.createServer((req, res) => {
    const url = req.url ?? "";
    if (!/^http:\/\//.test(url)) {
      res.writeHead(400).end("absolute http:// URL required\n");
      return;
    }
    const file = cachePath(cacheDir, url);
    if (req.method === "GET" && fresh(file, url)) {
      res.writeHead(200, { "content-length": statSync(file).size, "x-cache": "hit" });
      createReadStream(file).pipe(res);
      return;
    }
    const upstream = http.request(url, { method: req.method, headers: { ...req.headers, host: new URL(url).host } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      if (req.method !== "GET" || up.statusCode !== 200) {
        up.pipe(res);
        return;
      }
      // Tee into a temp file; renamed into the cache only when complete.
      const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
      const out = createWriteStream(tmp);
      up.on("data", (chunk: Buffer) => out.write(chunk));
      up.on("end", () =>
        out.end(() => {
          try {
            renameSync(tmp, file);
          } catch {
            rmSync(tmp, { force: true });
          }
        }),
      );
      up.on("error", () => out.destroy());
      up.pipe(res);
    });
    upstream.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(`proxy: ${err.message}\n`);
    });
    req.pipe(upstream);
  });
  // HTTPS sources tunnel through CONNECT.
  server.on("connect", (req, socket, head) => {
    const [host, portText] = (req.url ?? "").split(":");
    const upstream = net.connect(Number(portText ?? 443), host ?? "", () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
  });
  server.listen(port, address);
  return server;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [address, port, dir] = process.argv.slice(2);
  if (!address || !port || !dir) {
    console.error("usage: proxy.ts ADDRESS PORT CACHEDIR");
    process.exit(1);
  }
  startProxy(address, Number(port), dir);
}
