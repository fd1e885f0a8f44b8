// Parse files with the JavaScript parsers compiled from spec/nem1.ksy, one per input line.
//   NODE_PATH=tools/ksy/node_modules node tools/ksy/check.js PLAIN_DIR DEBUG_DIR
// PLAIN_DIR/Nem1.js is the parser as a user compiles it; DEBUG_DIR/Nem1.js the same in the
// compiler's debug mode, which records where each field starts, so that an error can be
// named by its field. Reads one file per stdin line, in hex, and answers one JSON line each:
//   {"verdict": "accept", "decoded": {...}}        every field; floats as hex of their 8 bytes
//   {"verdict": "reject", "error": "EOFError", "field": "trees[0].nodes[4].left"}
//   {"verdict": "foreign", "error": "RangeError", "message": "..."}   not a KaitaiStream error
// plus "heapUsed" and "arrayBuffers" (bytes, after the parse; array buffers live outside the
// heap that --max-old-space-size caps). Used by tests/fmt/test_conformance_ksy_js.py, which runs
// it with node's heap capped at 64 MB.
'use strict';
const path = require('path');
const readline = require('readline');
const { KaitaiStream } = require('kaitai-struct');

const [plainDir, debugDir] = process.argv.slice(2);
const Plain = require(path.resolve(plainDir, 'Nem1.js')).Nem1;
const Debug = require(path.resolve(debugDir, 'Nem1.js')).Nem1;
// The runtime's own error classes (KaitaiStream.js): anything else is a defect.
const KAITAI_ERRORS = [
  'EOFError', 'UnexpectedDataError', 'UndecidedEndiannessError', 'ValidationNotEqualError',
  'ValidationLessThanError', 'ValidationGreaterThanError', 'ValidationNotAnyOfError',
  'ValidationNotInEnumError', 'ValidationExprError',
].filter((name) => typeof KaitaiStream[name] === 'function');

function kaitaiError(err) {
  return KAITAI_ERRORS.find((name) => err instanceof KaitaiStream[name]) || null;
}

// Array buffers above this are measured again after a full collection (with --expose-gc).
const GC_ABOVE = 8 << 20;

const snake = (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const hex = (bytes) => Buffer.from(bytes).toString('hex');

function f64(x) {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x, true);
  return hex(new Uint8Array(view.buffer));
}

// The field a debug-mode parse stopped in: the last field started, followed down through
// records and array elements (a failed element is kept in its array).
function lastField(obj, prefix) {
  const keys = Object.keys(obj._debug);
  const key = keys[keys.length - 1];
  let where = prefix + snake(key);
  let child = obj[key];
  if (obj._debug[key].arr) {
    const i = obj._debug[key].arr.length - 1;
    where += `[${i}]`;
    child = child[i];
  }
  if (child && child._debug && Object.keys(child._debug).length > 0) {
    return lastField(child, `${where}.`);
  }
  return where;
}

function decode(r) {
  const h = r.header;
  return {
    size_limit: r.sizeLimit.length,
    header: {
      magic: hex(h.magic), version_major: h.versionMajor, version_minor: h.versionMinor,
      flags: h.flags, feature_count: h.featureCount, output_count: h.outputCount,
      q_scale: h.qScale, confirm_steps: h.confirmSteps, reserved: h.reserved,
      dwell_steps: h.dwellSteps,
    },
    scaling: r.scaling.map((s) => [f64(s.lo), f64(s.hi)]),
    trees: r.trees.map((t) => ({
      num_nodes: t.numNodes,
      nodes: t.nodes.map((n) => [n.feature, n.reserved, n.threshold, n.left, n.right, n.value]),
    })),
    bounds: r.bounds.map((b) => [b.min, b.max]),
    metadata: { len_yaml: r.metadata.lenYaml, yaml: hex(r.metadata.yaml) },
    crc32: r.crc32,
    end_of_file: r.endOfFile.length,
  };
}

function check(data) {
  let parsed;
  try {
    parsed = new Plain(new KaitaiStream(data));
  } catch (err) {
    const error = kaitaiError(err);
    if (error === null) {
      return { verdict: 'foreign', error: err && err.name, message: String(err && err.message) };
    }
    const debug = new Debug(new KaitaiStream(data));
    try {
      debug._read();
    } catch (again) {
      if (kaitaiError(again) !== error) {
        return { verdict: 'foreign', error: `debug parser: ${again && again.name}`, message: '' };
      }
      return { verdict: 'reject', error, field: lastField(debug, '') };
    }
    return { verdict: 'foreign', error: 'debug parser accepted', message: error };
  }
  return { verdict: 'accept', decoded: decode(parsed) };
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  const data = Uint8Array.from(Buffer.from(line.trim(), 'hex'));
  const answer = check(data);
  let mem = process.memoryUsage();
  if (mem.arrayBuffers > GC_ABOVE && typeof global.gc === 'function') {
    global.gc(); // garbage of earlier inputs is not what a parse holds
    mem = process.memoryUsage();
  }
  answer.heapUsed = mem.heapUsed;
  answer.arrayBuffers = mem.arrayBuffers;
  process.stdout.write(`${JSON.stringify(answer)}\n`);
});
