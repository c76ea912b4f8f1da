// Node half of toolchain/provider_import.py, preloaded into jsii's kernel with NODE_OPTIONS.
// @cdktf/provider-aws's lib/index.js requires all ~2,200 resource modules when the kernel
// loads the assembly. This rewrites each `exports.x = require("./x");` line of that one file
// into a getter that requires the module on first use, so only the modules a stack uses load.
// Any other line that requires something means the layout changed: fail loudly.
"use strict";
const fs = require("fs");
const path = require("path");
const Module = require("module");

const TARGET = path.join("@cdktf", "provider-aws", "lib", "index.js");
const EAGER_LINE = /^exports\.(\w+) = require\("(\.\/[\w-]+)"\);$/;
const MIN_MODULES = 1000;
const compileJs = Module._extensions[".js"];

function lazyIndex(source, filename) {
  let rewritten = 0;
  const lines = source.split("\n").map((line) => {
    const match = EAGER_LINE.exec(line);
    if (!match) return line;
    rewritten += 1;
    const [, name, request] = match;
    const key = JSON.stringify(name);
    return (
      `Object.defineProperty(exports, ${key}, { enumerable: true, configurable: true, get() {` +
      ` const value = require(${JSON.stringify(request)});` +
      ` Object.defineProperty(exports, ${key}, { value, enumerable: true }); return value; } });`
    );
  });
  const requires = (source.match(/require\(/g) || []).length;
  if (rewritten !== requires || rewritten < MIN_MODULES) {
    throw new Error(
      `toolchain/provider_import.js: ${filename} changed (${rewritten} of ${requires} requires match ` +
        `the expected 'exports.x = require("./x");' form). Set STORE2018_PROVIDER_IMPORT=eager ` +
        "to load it whole, and update the hook."
    );
  }
  return lines.join("\n");
}

Module._extensions[".js"] = function (module, filename) {
  if (!filename.endsWith(TARGET)) return compileJs(module, filename);
  module._compile(lazyIndex(fs.readFileSync(filename, "utf8"), filename), filename);
};

module.exports = { lazyIndex };
