// Checks that the spec imports into a working Postman collection: the
// server's /openapi.json goes through Postman's own converter
// (openapi-to-postmanv2, what the app's Import uses), and the collection it
// makes is run with newman against the same server, with a fresh user's
// token as its API key. Every request must reach its route and get the
// envelope; every one but two must answer 0 with the document's example
// values (publish sends no file, and the friend list's example user_id is
// not the token's own user, which is 40301).
//
//   node import.mjs BASE_URL      (run.sh runs it after the collection)
import { randomBytes } from 'node:crypto';
import converter from 'openapi-to-postmanv2';
import newman from 'newman';

const base = process.argv[2];
if (!base) throw new Error('usage: node import.mjs BASE_URL');
const refusedByExample = new Set(['POST /douyin/publish/action/', 'GET /douyin/relation/friend/list/']);

const spec = await (await fetch(`${base}/openapi.json`)).json();
const collection = await new Promise((resolve, reject) => {
  converter.convert({ type: 'json', data: spec },
    { folderStrategy: 'Tags', requestParametersResolution: 'Example', exampleParametersResolution: 'Example' },
    (err, res) => {
      if (err) return reject(err);
      if (!res.result) return reject(new Error(`the converter refused the document: ${res.reason}`));
      return resolve(res.output[0].data);
    });
});

const name = `import_${randomBytes(4).toString('hex')}`;
const reg = await (await fetch(`${base}/douyin/user/register/`, {
  method: 'POST', body: new URLSearchParams({ username: name, password: 'secret1' }),
})).json();
if (reg.status_code !== 0) throw new Error(`register ${name}: ${JSON.stringify(reg)}`);

const problems = [];
let answered = 0;
await new Promise((resolve, reject) => {
  newman.run({
    collection,
    envVar: [{ key: 'apiKey', value: reg.token }],
    timeoutRequest: 30_000,
    reporters: [],
  }, (err) => (err ? reject(err) : resolve()))
    .on('request', (err, args) => {
      const route = `${args.request.method} ${args.request.url.getPath()}`;
      if (err) {
        problems.push(`${route}: ${err.message}`);
        return;
      }
      answered++;
      const res = args.response;
      if (!route.includes(' /douyin/')) {
        if (res.code !== 200) problems.push(`${route}: HTTP ${res.code}`);
        return;
      }
      let body;
      try {
        body = JSON.parse(res.stream.toString());
      } catch {
        problems.push(`${route}: HTTP ${res.code}, not JSON`);
        return;
      }
      const wantZero = !refusedByExample.has(route);
      if (res.code !== 200 || !Number.isInteger(body.status_code)) {
        problems.push(`${route}: HTTP ${res.code}, ${JSON.stringify(body).slice(0, 200)}`);
      } else if (wantZero && body.status_code !== 0 && !(route.endsWith('/register/') && body.status_code === 40901)) {
        problems.push(`${route}: status_code ${body.status_code} (${body.status_msg}) with the document's examples`);
      } else if (!wantZero && body.status_code === 0) {
        problems.push(`${route}: answered 0, but its example should be refused`);
      }
    });
});

const operations = Object.values(spec.paths).reduce((n, item) => n + Object.keys(item).length, 0);
if (answered !== operations) problems.push(`${answered} requests answered, the document has ${operations} operations`);
if (problems.length) {
  console.error(`import.mjs: the collection imported from /openapi.json does not work:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`import.mjs: /openapi.json imported by openapi-to-postmanv2 into ${operations} requests; each reached its route and answered as expected`);
