// tests/cli/serve_client.cjs — node side of tests/cli/serve.sh (not a test by itself).
//   node serve_client.cjs openai     BASE KEY TEXTS EXPECTED   official openai client
//   node serve_client.cjs concurrent BASE TEXTS EXPECTED N R   N clients x R requests
//   node serve_client.cjs sigterm    BASE TEXTS EXPECTED N PID SIGTERM during load
// TEXTS: one text per line; EXPECTED: `quire embed` JSON lines for the same texts.
// Prints "ok ..." and exits 0, or prints what went wrong and exits 1.
'use strict';
const fs = require('fs');

const [mode, base, ...rest] = process.argv.slice(2);
const TOL = 1e-6;

function load(textsFile, expFile) {
    const texts = fs.readFileSync(textsFile, 'utf8').split('\n').filter((l) => l.length);
    const exp = fs.readFileSync(expFile, 'utf8').split('\n').filter((l) => l.length)
        .map((l) => JSON.parse(l).embedding);
    if (texts.length !== exp.length) throw new Error('texts and expected differ in length');
    return { texts, exp };
}

function maxDiff(a, b) {
    if (!a || a.length !== b.length) return Infinity;
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
}

// Check one /v1/embeddings response for the texts at indices idx.
function checkResponse(body, idx, exp) {
    if (body.object !== 'list' || !Array.isArray(body.data) || body.data.length !== idx.length)
        return 'bad shape: ' + JSON.stringify(body).slice(0, 200);
    for (let i = 0; i < idx.length; i++) {
        const d = body.data[i];
        if (d.index !== i) return `data[${i}].index is ${d.index}`;
        const diff = maxDiff(d.embedding, exp[idx[i]]);
        if (!(diff <= TOL)) return `data[${i}] (text ${idx[i]}) differs by ${diff}`;
    }
    if (!body.usage || !(body.usage.prompt_tokens > 0)) return 'no usage.prompt_tokens';
    return null;
}

async function openaiMode(key, textsFile, expFile) {
    const { default: OpenAI } = require('openai');
    const { texts, exp } = load(textsFile, expFile);
    const client = new OpenAI({ apiKey: key, baseURL: base + '/v1', maxRetries: 0 });
    const idx = texts.map((_, i) => i);
    for (const enc of ['float', 'base64']) {
        const r = await client.embeddings.create({ model: 'tiny', input: texts, encoding_format: enc });
        let body = r;
        if (enc === 'base64') {
            // the client returns the base64 text as it is when asked for base64 explicitly
            body = { ...r, data: r.data.map((d) => ({ ...d, embedding: typeof d.embedding === 'string'
                ? Array.from(new Float32Array(Uint8Array.from(Buffer.from(d.embedding, 'base64')).buffer))
                : d.embedding })) };
        }
        const err = checkResponse(body, idx, exp);
        if (err) throw new Error(enc + ': ' + err);
    }
    // the client's default (no encoding_format: it asks for base64 and decodes it itself)
    const r = await client.embeddings.create({ model: 'tiny', input: texts[0] });
    const err = checkResponse(r, [0], exp);
    if (err) throw new Error('default encoding: ' + err);
    const models = await client.models.list();
    if (!models.data.some((m) => m.id === 'tiny')) throw new Error('models.list lacks tiny');
    let status = 0;
    try {
        await client.embeddings.create({ model: 'no-such-model', input: 'x' });
    } catch (e) {
        status = e.status;
    }
    if (status !== 404) throw new Error('unknown model: status ' + status);
    console.log('ok openai float+base64+default identical, models.list, unknown model 404');
}

function pick(n, seed) {
    const k = 1 + (seed % 3);
    const out = [];
    for (let j = 0; j < k; j++) out.push((seed * 7 + j * 13) % n);
    return out;
}

async function post(idx, texts) {
    const res = await fetch(base + '/v1/embeddings', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json',
                   ...(process.env.QUIRE_KEY ? { Authorization: 'Bearer ' + process.env.QUIRE_KEY } : {}) },
        body: JSON.stringify({ model: 'tiny', input: idx.map((i) => texts[i]) }),
    });
    return { status: res.status, body: await res.json() };
}

async function concurrentMode(textsFile, expFile, nClients, nReq) {
    const { texts, exp } = load(textsFile, expFile);
    let done = 0;
    const problems = [];
    async function client(c) {
        for (let r = 0; r < nReq; r++) {
            const idx = pick(texts.length, c * 1000 + r);
            const { status, body } = await post(idx, texts);
            const err = status === 200 ? checkResponse(body, idx, exp) : 'status ' + status;
            if (err) problems.push(`client ${c} request ${r}: ${err}`);
            done++;
        }
    }
    await Promise.all(Array.from({ length: nClients }, (_, c) => client(c)));
    if (problems.length) throw new Error(problems.slice(0, 5).join('; '));
    console.log(`ok ${done} responses from ${nClients} concurrent clients, all correct and in order`);
}

async function sigtermMode(textsFile, expFile, nClients, pid) {
    const { texts, exp } = load(textsFile, expFile);
    let sent = false, okBefore = 0, okAfter = 0, refused = 0;
    const lost = [];
    async function client(c) {
        for (let r = 0; ; r++) {
            const idx = pick(texts.length, c * 1000 + r);
            const wasSent = sent;
            try {
                const { status, body } = await post(idx, texts);
                const err = status === 200 ? checkResponse(body, idx, exp) : 'status ' + status;
                if (err) lost.push(`client ${c}: ${err}`);
                else if (wasSent) okAfter++;
                else okBefore++;
            } catch (e) {
                const code = (e.cause && e.cause.code) || e.code || String(e);
                if (sent && code === 'ECONNREFUSED') { refused++; return; }
                lost.push(`client ${c}: ${code}`);
                return;
            }
            if (sent && r > 10000) return;
        }
    }
    const all = Promise.all(Array.from({ length: nClients }, (_, c) => client(c)));
    setTimeout(() => { sent = true; process.kill(pid, 'SIGTERM'); }, 1500);
    await all;
    if (lost.length) throw new Error(`${lost.length} requests without a complete response: ` +
                                     lost.slice(0, 5).join('; '));
    if (okBefore === 0) throw new Error('no request succeeded before SIGTERM');
    console.log(`ok ${okBefore} before SIGTERM, ${okAfter} completed during the drain, ` +
                `${refused} clients refused afterwards, none lost`);
}

(async () => {
    try {
        if (mode === 'openai') await openaiMode(rest[0], rest[1], rest[2]);
        else if (mode === 'concurrent') await concurrentMode(rest[0], rest[1], +rest[2], +rest[3]);
        else if (mode === 'sigterm') await sigtermMode(rest[0], rest[1], +rest[2], +rest[3]);
        else throw new Error('unknown mode ' + mode);
    } catch (e) {
        console.log('error: ' + (e && e.stack ? e.stack : e));
        process.exit(1);
    }
})();
