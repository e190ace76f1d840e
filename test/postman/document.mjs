// Documents the collection for people: every request gets a description
// (its route's summary from the server's /openapi.json, and what the step
// checks, as newman ran it) and a saved example answer (what the server
// answered in that run). Descriptions and examples are made here, not
// written by hand: run it again after changing a request or the spec.
//
//   node document.mjs BASE_URL      (run.sh --document starts a server)
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import newman from 'newman';

const here = path.dirname(fileURLToPath(import.meta.url));
const file = path.join(here, 'tiktok.postman_collection.json');
const base = process.argv[2];
if (!base) throw new Error('usage: node document.mjs BASE_URL');

const spec = await (await fetch(`${base}/openapi.json`)).json();
const collection = JSON.parse(await readFile(file, 'utf8'));

// run executes the collection once and returns, by request name, the
// answer and the names of the assertions the step made.
function run() {
  const steps = new Map();
  const step = (item) => {
    if (!steps.has(item.name)) steps.set(item.name, { checks: [], response: null });
    return steps.get(item.name);
  };
  return new Promise((resolve, reject) => {
    newman.run({
      collection,
      environment: path.join(here, 'local.postman_environment.json'),
      envVar: [{ key: 'baseUrl', value: base }],
      workingDir: here,
      timeoutRequest: 60_000,
      reporters: [],
    }, (err, summary) => {
      if (err) return reject(err);
      if (summary.run.failures.length) return reject(new Error(`${summary.run.failures.length} assertions failed: run the collection first`));
      return resolve(steps);
    })
      .on('request', (err, args) => {
        if (!err && args.item) step(args.item).response = args.response;
      })
      .on('assertion', (err, args) => {
        step(args.item).checks.push(args.assertion);
      });
  });
}

function route(request) {
  const p = '/' + (request.url.path || []).join('/');
  return { method: request.method, path: p, documented: spec.paths[p.replace(/\/?$/, '/')]?.[request.method.toLowerCase()] };
}

function describe(item, ran) {
  const r = route(item.request);
  const lines = [];
  if (r.documented) {
    const op = r.documented;
    lines.push(`\`${r.method} ${r.path}\`: ${op.summary}.`, '',
      `Reference: operation \`${op.operationId}\` in \`api/openapi.yaml\`, or \`/web/api.html#/${op.tags[0]}/${op.operationId}\` on a running server.`);
  } else {
    lines.push(`\`${r.method} ${item.request.url.raw}\`: a stored media file, outside the API (it is served with HTTP Range).`);
  }
  lines.push('', 'This step checks:', ...[...new Set(ran.checks)].map((c) => `- ${c}`));
  return lines.join('\n');
}

function example(item, ran) {
  const res = ran.response;
  const type = res.headers.get('Content-Type') || '';
  const saved = {
    name: 'The answer of a run against a fresh server',
    originalRequest: structuredClone(item.request),
    status: res.status,
    code: res.code,
    header: ['Content-Type', 'Content-Length', 'Content-Range', 'Accept-Ranges']
      .filter((k) => res.headers.get(k)).map((k) => ({ key: k, value: res.headers.get(k) })),
  };
  delete saved.originalRequest.description;
  if (type.startsWith('application/json')) {
    saved._postman_previewlanguage = 'json';
    saved.body = JSON.stringify(JSON.parse(res.stream.toString()), null, 2).replaceAll(base, '{{baseUrl}}');
  } else {
    saved.body = `(${res.stream.length} bytes of ${type || 'data'}, left out)`;
  }
  return [saved];
}

const steps = await run();
let n = 0;
(function walk(items) {
  for (const item of items) {
    if (item.item) {
      walk(item.item);
      continue;
    }
    const ran = steps.get(item.name);
    if (!ran || !ran.response) throw new Error(`${item.name}: did not run`);
    item.request.description = describe(item, ran);
    item.response = example(item, ran);
    n++;
  }
})(collection.item);
await writeFile(file, JSON.stringify(collection, null, '\t') + '\n');
console.log(`document.mjs: ${n} requests described, each with its example answer`);
