// The breaking-change check of schema.graphqls (CI: .ci/run; by hand: `npm run schema-check` in
// examples/web).
//
// It compares the repository's schema.graphqls with the schema of the last release,
// docs/schema/<version>.graphqls, where <version> is the newest `## [x.y.z]` heading of
// CHANGELOG.md, using graphql-inspector. It fails when a change graphql-inspector rates
// BREAKING is not listed in CHANGELOG.md, by this rule:
//
//   in the `## [Unreleased]` section, under a `### Breaking` heading, a list item names the
//   change's path in backticks, e.g. "- `PageInfo.startCursor`: removed; use ...". The path is the
//   one this check prints (`Type`, `Type.field`, `Type.field.argument`, `Enum.VALUE`,
//   `Input.field`, `@directive`); a change without a path is named by its change type (e.g.
//   `SCHEMA_QUERY_TYPE_CHANGED`). One item may name several paths.
//
// Dangerous changes (e.g. a new enum value a client's exhaustive switch does not know) are printed
// but do not fail. On release, the Unreleased entries move under the new version's heading and
// schema.graphqls is copied to docs/schema/<version>.graphqls (see CHANGELOG.md).
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { CriticalityLevel, diff } from '@graphql-inspector/core';
import { buildSchema } from 'graphql';

/** The newest released version: the first `## [x.y.z]` heading (Keep a Changelog lists newest first). */
export function lastRelease(changelog) {
  const m = changelog.match(/^## \[(\d+\.\d+\.\d+)\]/m);
  return m ? m[1] : null;
}

/** The body of one `## ` or `### ` section whose heading matches title (case-insensitive), or ''. */
function section(text, level, title) {
  const lines = text.split('\n');
  const heading = new RegExp(`^#{${level}} +\\[?${title}\\]?\\s*$`, 'i');
  const start = lines.findIndex((l) => heading.test(l));
  if (start < 0) return '';
  const end = lines.findIndex((l, i) => i > start && new RegExp(`^#{1,${level}} `).test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** The paths listed as breaking: backticked names in list items of Unreleased › Breaking. */
export function listedBreaking(changelog) {
  const breaking = section(section(changelog, 2, 'Unreleased'), 3, 'Breaking');
  const listed = new Set();
  let inItem = false; // an item goes on over indented lines, up to a blank or unindented one
  for (const line of breaking.split('\n')) {
    if (/^\s*[-*] /.test(line)) inItem = true;
    else if (!/^\s+\S/.test(line)) inItem = false;
    if (!inItem) continue;
    for (const m of line.matchAll(/`([^`\s]+)`/g)) listed.add(m[1]);
  }
  return listed;
}

/** The name a change is listed by in CHANGELOG.md. */
export function changeName(change) {
  return change.path ?? change.type;
}

/**
 * Compares two schemas (SDL) and the changelog. Returns the breaking changes with whether each is
 * listed, and the dangerous ones.
 */
export async function check({ oldSDL, newSDL, changelog }) {
  const changes = await diff(buildSchema(oldSDL), buildSchema(newSDL));
  const listed = listedBreaking(changelog);
  const breaking = changes
    .filter((c) => c.criticality.level === CriticalityLevel.Breaking)
    .map((c) => ({ name: changeName(c), message: c.message, listed: listed.has(changeName(c)) }));
  const dangerous = changes
    .filter((c) => c.criticality.level === CriticalityLevel.Dangerous)
    .map((c) => ({ name: changeName(c), message: c.message }));
  return { breaking, dangerous, total: changes.length };
}

async function main() {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const changelog = readFileSync(join(root, 'CHANGELOG.md'), 'utf8');
  const version = lastRelease(changelog);
  if (!version) throw new Error('CHANGELOG.md has no release heading such as "## [0.1.0] - 2026-01-01"');
  const released = join('docs', 'schema', `${version}.graphqls`);
  if (!existsSync(join(root, released))) throw new Error(`${released} is missing: the schema of release ${version}`);
  const result = await check({
    oldSDL: readFileSync(join(root, released), 'utf8'),
    newSDL: readFileSync(join(root, 'schema.graphqls'), 'utf8'),
    changelog,
  });
  console.log(`schema.graphqls against ${released}: ${result.total} changes, ${result.breaking.length} breaking, ${result.dangerous.length} dangerous`);
  for (const c of result.dangerous) console.log(`  dangerous  ${c.name}: ${c.message}`);
  for (const c of result.breaking) console.log(`  breaking   ${c.name}: ${c.message}${c.listed ? ' (listed in CHANGELOG.md)' : ''}`);
  const unlisted = result.breaking.filter((c) => !c.listed);
  if (unlisted.length > 0) {
    console.error(`\n${unlisted.length} breaking change(s) not listed in CHANGELOG.md. Avoid them (clients use the schema),`);
    console.error('or list each under "## [Unreleased]" › "### Breaking" as a list item naming its path in backticks:');
    for (const c of unlisted) console.error(`  - \`${c.name}\`: <what changed and what clients do instead>`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
