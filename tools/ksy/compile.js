// Compile a .ksy with the kaitai-struct-compiler pinned in package-lock.json.
//   node tools/ksy/compile.js [--target LANG] [--java-package PKG] [--go-package PKG]
//                             [--debug] FILE.ksy OUTDIR
// LANG is one of the compiler's targets (python, javascript, java, go, cpp_stl, ...; default
// python). --java-package and --go-package are the options of the same name of the JVM
// compiler; --debug is the compiler's debug mode (`_debug` offsets, explicit `_read()`).
// Writes every generated file under OUTDIR, prints their names, and exits 1 on any compiler
// warning or error (each printed to stderr as the JVM compiler prints it), 2 on bad usage.
//
// The compiler's JavaScript build computes its warnings (e.g. the style check's "use
// `num_nodes` instead of `node_count`") and then drops them, and its API has no package
// options. So this script loads the pinned build with two hooks, each inserted at an anchor
// that must occur exactly once (else it stops): one records every problem, one sets the
// Java and Go packages.
'use strict';
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const yaml = require('js-yaml');

const KSC = require.resolve('kaitai-struct-compiler');
const HOOKS = [
  {
    what: 'the list of compilation problems',
    anchor: 'var problems = $as_sc_Iterable(problems$2);',
    insert:
      ' for (var __it = $n(problems).iterator__sc_Iterator(); $n(__it).hasNext__Z();)' +
      ' { __hooks.problems.push($n($n(__it).next__O()).message__T()); }',
  },
  {
    what: 'the Go and Java packages of the JavaScript API',
    anchor: 'new $c_Lio_kaitai_struct_RuntimeConfig((!debug), debug, false, true, false, ' +
      'new $c_Lio_kaitai_struct_CppRuntimeConfig($m_sci_Nil$(), false, false, false, ' +
      '$m_Lio_kaitai_struct_CppRuntimeConfig$RawPointers$()), "", ' +
      'new $c_Lio_kaitai_struct_JavaRuntimeConfig("", ',
    replace: 'new $c_Lio_kaitai_struct_RuntimeConfig((!debug), debug, false, true, false, ' +
      'new $c_Lio_kaitai_struct_CppRuntimeConfig($m_sci_Nil$(), false, false, false, ' +
      '$m_Lio_kaitai_struct_CppRuntimeConfig$RawPointers$()), __hooks.goPackage, ' +
      'new $c_Lio_kaitai_struct_JavaRuntimeConfig(__hooks.javaPackage, ',
  },
];

function loadCompiler(hooks) {
  let source = fs.readFileSync(KSC, 'utf8');
  for (const hook of HOOKS) {
    const count = source.split(hook.anchor).length - 1;
    if (count !== 1) {
      throw new Error(`cannot hook ${hook.what} into ${KSC} (anchor found ${count} times); ` +
        'is this the kaitai-struct-compiler of tools/ksy/package-lock.json?');
    }
    const text = hook.replace !== undefined ? hook.replace : hook.anchor + hook.insert;
    source = source.replace(hook.anchor, () => text);
  }
  const mod = { exports: {} };
  const wrapper = vm.compileFunction(source, ['module', 'exports', 'require', '__hooks'], {
    filename: KSC,
  });
  wrapper(mod, mod.exports, require, hooks);
  return mod.exports;
}

function parseArgs(argv) {
  const opts = { target: 'python', javaPackage: '', goPackage: '', debug: false, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--target' || arg === '-t') opts.target = value();
    else if (arg === '--java-package') opts.javaPackage = value();
    else if (arg === '--go-package') opts.goPackage = value();
    else if (arg === '--debug') opts.debug = true;
    else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}`);
    else opts.files.push(arg);
  }
  if (opts.files.length !== 2) throw new Error('expected FILE.ksy and OUTDIR');
  return opts;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`compile.js: ${err.message}`);
    console.error('usage: node compile.js [--target LANG] [--java-package PKG] ' +
      '[--go-package PKG] [--debug] FILE.ksy OUTDIR');
    process.exit(2);
  }
  const [ksyPath, outDir] = opts.files;
  const hooks = { problems: [], javaPackage: opts.javaPackage, goPackage: opts.goPackage };
  const ksc = loadCompiler(hooks);
  if (!ksc.languages.includes(opts.target)) {
    console.error(`compile.js: unknown target ${opts.target}; one of ${ksc.languages.join(', ')}`);
    process.exit(2);
  }
  const spec = yaml.load(fs.readFileSync(ksyPath, 'utf8'));
  let files;
  try {
    files = await ksc.compile(opts.target, spec, null, opts.debug);
  } finally {
    for (const problem of hooks.problems) {
      console.error(`${ksyPath}: ${problem.trimEnd()}`);
    }
  }
  if (hooks.problems.length > 0) {
    console.error(`compile.js: ${hooks.problems.length} compiler warning(s); fix ${ksyPath}`);
    process.exit(1);
  }
  for (const [name, source] of Object.entries(files)) {
    const out = path.join(outDir, name);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, source);
    console.log(name);
  }
}

main().catch((err) => {
  const text = err && typeof err.getMessage === 'function' ? err.getMessage() : String(err);
  console.error(`compile.js: ${text}`);
  process.exit(1);
});
