// Compile a .ksy to Python with kaitai-struct-compiler's programmatic API.
//   node tools/ksy/compile.js spec/nem1.ksy OUTDIR
// Writes every generated file into OUTDIR and prints their names.
'use strict';
const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');
const ksc = require('kaitai-struct-compiler');

async function main() {
  const [ksyPath, outDir] = process.argv.slice(2);
  if (!ksyPath || !outDir) {
    console.error('usage: node compile.js FILE.ksy OUTDIR');
    process.exit(2);
  }
  const spec = yaml.load(fs.readFileSync(ksyPath, 'utf8'));
  const files = await ksc.compile('python', spec, null, false);
  fs.mkdirSync(outDir, { recursive: true });
  for (const [name, source] of Object.entries(files)) {
    fs.writeFileSync(path.join(outDir, name), source);
    console.log(name);
  }
}

main().catch((err) => {
  console.error(`compile.js: ${err && err.message ? err.message : err}`);
  process.exit(1);
});
