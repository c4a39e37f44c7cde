// tests/cli/mcp_client.mjs — `quire mcp` driven by the official MCP TypeScript SDK client
// (@modelcontextprotocol/sdk, stdio transport). Prints PASS/FAIL lines.
// Usage: node mcp_client.mjs SDK_DIR QUIRE DB MODEL EXPECTED_HITS.jsonl QUERY NOTE.md CONVERT_MD
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const [sdk, quire, db, model, expectedFile, query, note, convertRef] = process.argv.slice(2);
const imp = (p) => import(pathToFileURL(path.join(sdk, p)).href);
const { Client } = await imp("client/index.js");
const { StdioClientTransport } = await imp("client/stdio.js");

let fails = 0;
const check = (name, ok, detail) => {
  console.log(`${ok ? "PASS" : "FAIL"} mcp: ${name}${ok || detail === undefined ? "" : ": " + JSON.stringify(detail).slice(0, 400)}`);
  if (!ok) fails++;
};
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]);
const expectError = async (name, fn, code) => {
  try {
    await fn();
    check(name, false, "no error");
  } catch (e) {
    check(`${name} (error ${e.code}: ${String(e.message).slice(0, 80)})`, e.code === code, e.message);
  }
};

// env: the SDK passes only a few variables by default; ASAN_OPTIONS must reach the server.
const transport = new StdioClientTransport({ command: quire, args: ["mcp", "--db", db, "--model", model], stderr: "inherit", env: { ...process.env } });
const client = new Client({ name: "quire-test", version: "1.0.0" });
await client.connect(transport);
check("initialize: server is quire", client.getServerVersion()?.name === "quire", client.getServerVersion());

const { tools } = await client.listTools();
const names = tools.map((t) => t.name).sort();
check("tools/list: collections convert documents ingest search", JSON.stringify(names) === JSON.stringify(["collections", "convert", "documents", "ingest", "search"]), names);
check("every tool has an object inputSchema", tools.every((t) => t.inputSchema?.type === "object"));

// search: the same hits as `quire search --json --full`
const expected = readFileSync(expectedFile, "utf8").split("\n").filter(Boolean).map(JSON.parse);
const r = await client.callTool({ name: "search", arguments: { query, collection: "docs", k: 5, mode: "hybrid" } });
const hits = r.structuredContent?.hits ?? [];
check(`search: ${hits.length} hits, not an error`, !r.isError && hits.length > 0, r);
check("search: hits equal quire search --json (document, pages, heading, snippet, score, ranks, text)", JSON.stringify(hits) === JSON.stringify(expected), { hits: hits.slice(0, 1), expected: expected.slice(0, 1) });
check("search: the text part cites document and page", r.content[0].type === "text" && r.content[0].text.includes(`${expected[0].document}, p. ${expected[0].page_start}`), r.content[0].text.slice(0, 200));
const w = await client.callTool({ name: "search", arguments: { query, collection: "docs", where: { path: "*no-such*" } } });
check("search where.path that matches nothing: 0 hits", !w.isError && w.structuredContent.hits.length === 0, w.structuredContent);
// where: metadata conditions (the filter language of quire search --where), with or without a path glob
const docsOf = (res) => (res.structuredContent?.hits ?? []).map((h) => path.basename(h.document)).sort();
const m1 = await client.callTool({ name: "search", arguments: { query: "wombat burrow", collection: "meta", where: { year: { $gte: 2020 } } } });
check("search where year >= 2020: only new.md, its metadata in the hit", !m1.isError && JSON.stringify(docsOf(m1)) === '["new.md"]' && m1.structuredContent.hits[0].metadata?.year === 2021, m1.structuredContent);
const m2 = await client.callTool({ name: "search", arguments: { query: "wombat burrow", collection: "meta", where: { $or: [{ tag: "a" }, { tag: { $in: ["b"] } }] } } });
check("search where $or/$in: both notes", !m2.isError && JSON.stringify(docsOf(m2)) === '["new.md","old.md"]', m2.structuredContent);
const m3 = await client.callTool({ name: "search", arguments: { query: "wombat burrow", collection: "meta", where: { path: "*old*", year: { $lt: 2020 } } } });
check("search where path glob + metadata: old.md", !m3.isError && JSON.stringify(docsOf(m3)) === '["old.md"]', m3.structuredContent);
const m4 = await client.callTool({ name: "search", arguments: { query: "wombat burrow", collection: "meta", where: { path: "*old*", year: { $gt: 2020 } } } });
check("search where path glob + metadata that exclude each other: 0 hits", !m4.isError && m4.structuredContent.hits.length === 0, m4.structuredContent);

// bad arguments and unknown things: MCP errors, and the server goes on
await expectError("search without query -> -32602", () => client.callTool({ name: "search", arguments: { k: 3 } }), -32602);
await expectError("search k: 'x' -> -32602", () => client.callTool({ name: "search", arguments: { query: "a", k: "x" } }), -32602);
await expectError("search with an unknown argument -> -32602", () => client.callTool({ name: "search", arguments: { query: "a", colection: "docs" } }), -32602);
await expectError("search where with an unknown operator -> -32602", () => client.callTool({ name: "search", arguments: { query: "a", collection: "meta", where: { year: { $like: 1 } } } }), -32602);
await expectError("search where not an object -> -32602", () => client.callTool({ name: "search", arguments: { query: "a", where: "year=2021" } }), -32602);
await expectError("unknown tool -> -32602", () => client.callTool({ name: "nope", arguments: {} }), -32602);
await expectError("ingest paths: 'x' (not an array) -> -32602", () => client.callTool({ name: "ingest", arguments: { paths: "x" } }), -32602);
const nc = await client.callTool({ name: "search", arguments: { query: "a", collection: "no-such" } });
check("search of an unknown collection: isError result naming it", nc.isError === true && nc.content[0].text.includes("no-such"), nc);
const bad = await client.callTool({ name: "convert", arguments: { path: "/nonexistent/x.pdf" } });
check("convert of a missing file: isError result naming it", bad.isError === true && bad.content[0].text.includes("/nonexistent/x.pdf"), bad);
check("ping after the errors", JSON.stringify(await client.ping()) === "{}");

// ingest, then find it; documents, collections; convert = quire convert
const ing = await client.callTool({ name: "ingest", arguments: { paths: [note], collection: "notes" } });
check("ingest a note: added", !ing.isError && ing.structuredContent.files[0].outcome === "added", ing.structuredContent);
const again = await client.callTool({ name: "ingest", arguments: { paths: [note], collection: "notes" } });
check("ingest it again: unchanged", again.structuredContent.files[0].outcome === "unchanged", again.structuredContent);
const f = await client.callTool({ name: "search", arguments: { query: "zebra crossing", collection: "notes", k: 1 } });
check("the ingested note is found", f.structuredContent.hits[0]?.document === note, f.structuredContent);
const docs = await client.callTool({ name: "documents", arguments: { collection: "notes" } });
check("documents lists the note", docs.structuredContent.documents.length === 1 && docs.structuredContent.documents[0].path === note, docs.structuredContent);
const cols = await client.callTool({ name: "collections", arguments: {} });
check("collections lists docs, meta and notes", JSON.stringify(cols.structuredContent.collections.map((c) => c.name)) === JSON.stringify(["docs", "meta", "notes"]), cols.structuredContent);
const conv = await client.callTool({ name: "convert", arguments: { path: "examples/sample.pdf" } });
check("convert = quire convert", conv.content[0].text === readFileSync(convertRef, "utf8"), conv.content[0].text.slice(0, 100));

// 1,000 calls in one session, RSS flat
const pid = transport.pid;
for (let i = 0; i < 100; i++) await client.callTool({ name: "search", arguments: { query, collection: "docs", k: 5 } });
const before = rss(pid);
let ok = 0;
for (let i = 0; i < 1000; i++) {
  const x = await client.callTool({ name: "search", arguments: { query: i % 2 ? query : "lighthouse keeper", collection: "docs", k: 5 } });
  if (!x.isError && x.structuredContent.hits.length > 0) ok++;
}
const after = rss(pid);
check(`1,000 search calls in one session all answered (${ok})`, ok === 1000);
check(`server RSS flat over 1,000 calls (${before} -> ${after} kB, within 10%)`, after <= before * 1.1, { before, after });
await client.close();
console.log(`mcp client: ${fails} failed`);
process.exit(fails ? 1 : 0);
