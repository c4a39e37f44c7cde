// tests/cli/compat_client.mjs — the real npm clients of other embedding servers against
// `quire serve`: Ollama's `ollama` package (POST /api/embed) and Hugging Face's
// `@huggingface/inference` (featureExtraction on a TEI endpoint, POST /embed), plus TEI's
// GET /info. Vectors must equal `quire embed`'s. Prints PASS/FAIL lines.
// Usage: node compat_client.mjs NPM_DIR BASE_URL TEXTS_FILE EXPECTED_JSONL MODEL_NAME
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const [npm, base, textsFile, expectedFile, modelName] = process.argv.slice(2);
const imp = (p) => import(pathToFileURL(path.join(npm, "node_modules", p)).href);
const { Ollama } = await imp("ollama/dist/index.mjs");
const hf = await imp("@huggingface/inference/dist/esm/index.js");

let fails = 0;
const check = (name, ok, detail) => {
  console.log(`${ok ? "PASS" : "FAIL"} ${name}${ok || detail === undefined ? "" : ": " + JSON.stringify(detail).slice(0, 300)}`);
  if (!ok) fails++;
};
const texts = readFileSync(textsFile, "utf8").split("\n").filter(Boolean);
const expected = readFileSync(expectedFile, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l).embedding);
const close = (a, b) => a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= 1e-6);
const allClose = (got, want) => got.length === want.length && got.every((v, i) => close(v, want[i]));

// Ollama
const ollama = new Ollama({ host: base });
const r = await ollama.embed({ model: modelName, input: texts });
check(`ollama.embed: ${r.embeddings.length} vectors equal to quire embed`, allClose(r.embeddings, expected), r.embeddings[0]?.slice(0, 3));
check("ollama.embed: model echoed, prompt_eval_count > 0", r.model === modelName && r.prompt_eval_count > 0, r);
const one = await ollama.embed({ model: `${modelName}:latest`, input: texts[0] });
check("ollama.embed with ':latest' tag and one string", one.embeddings.length === 1 && close(one.embeddings[0], expected[0]));
try {
  await ollama.embed({ model: "no-such-model", input: "x" });
  check("ollama.embed of an unknown model throws", false);
} catch (e) {
  check(`ollama.embed of an unknown model throws (${String(e.message).slice(0, 60)})`, /no-such-model/.test(e.message), e.message);
}

// Hugging Face inference client on a TEI endpoint
const client = new hf.InferenceClient();
const v = await client.endpoint(`${base}/embed`).featureExtraction({ inputs: texts });
check(`@huggingface/inference featureExtraction on /embed: ${v.length} vectors equal to quire embed`, allClose(v, expected), v[0]?.slice?.(0, 3));
const info = await (await fetch(`${base}/info`)).json();
check("TEI GET /info: model_id, max_input_length, pooling", info.model_id === modelName && info.max_input_length > 0 && info.model_type?.embedding?.pooling, info);
console.log(`compat client: ${fails} failed`);
process.exit(fails ? 1 : 0);
