// The fresh root's way out: a small HTTP proxy (CONNECT for https, absolute URLs for apt's http) on the host end of its veth.
// Usage: jiti scripts/fresh-root-proxy.ts ADDRESS PORT. Prints "listening" once it is, logs each new destination.
import http from "node:http";
import net from "node:net";

const [address, port] = process.argv.slice(2);
if (!address || !port) {
  console.error("usage: fresh-root-proxy.ts ADDRESS PORT");
  process.exit(2);
}

const seen = new Set<string>();
function logDestination(kind: string, destination: string): void {
  if (seen.has(destination)) return;
  seen.add(destination);
  console.error(`fresh-root proxy: ${kind} ${destination}`);
}

const server = http.createServer((request, response) => {
  // apt speaks plain http through a proxy: the request line carries the whole URL.
  let url: URL;
  try {
    url = new URL(request.url ?? "");
  } catch {
    response.writeHead(400).end("absolute URL expected\n");
    return;
  }
  if (url.protocol !== "http:") {
    response.writeHead(400).end("only http:// URLs; use CONNECT for https\n");
    return;
  }
  logDestination("GET", url.host);
  const upstream = http.request(url, { method: request.method, headers: { ...request.headers, host: url.host } }, (answer) => {
    response.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(response);
  });
  upstream.on("error", (error) => {
    if (!response.headersSent) response.writeHead(502);
    response.end(`${error.message}\n`);
  });
  request.pipe(upstream);
});

server.on("connect", (request, client, head) => {
  const [host, portText] = (request.url ?? "").split(":");
  const targetPort = Number(portText);
  if (!host || !Number.isInteger(targetPort)) {
    client.end("HTTP/1.1 400 Bad Request\r\n\r\n");
    return;
  }
  logDestination("CONNECT", `${host}:${targetPort}`);
  const upstream = net.connect(targetPort, host, () => {
    client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  const close = () => {
    upstream.destroy();
    client.destroy();
  };
  upstream.on("error", () => {
    if (client.writable) client.end("HTTP/1.1 502 Bad Gateway\r\n\r\n");
    close();
  });
  client.on("error", close);
});

server.listen(Number(port), address, () => console.error(`fresh-root proxy: listening on ${address}:${port}`));
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => process.exit(0));
