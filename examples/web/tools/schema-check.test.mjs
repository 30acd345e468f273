// Tests of the breaking-change rule (node --test tools/).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { check, lastRelease, listedBreaking } from './schema-check.mjs';

const released = `
type Query { profile(mcid: String!): Profile }
type Profile { mcid: String! legalName: String! }
enum Status { ACTIVE MERGED }
`;

function changelog(unreleased, older = '') {
  return `# Changelog\n\nPreamble with \`Profile.legalName\` in backticks.\n\n## [Unreleased]\n${unreleased}\n## [0.2.0] - 2026-12-01\n${older}\n## [0.1.0] - 2026-11-01\n`;
}

test('the last release is the newest version heading', () => {
  assert.equal(lastRelease(changelog('')), '0.2.0');
  assert.equal(lastRelease('# Changelog\n\n## [Unreleased]\n'), null);
});

test('only list items under Unreleased › Breaking count', () => {
  const text = changelog(
    '\n### Added\n- `Profile.email`\n\n### Breaking\n- `Profile.legalName`: renamed to `Profile.name`.\n* `Status.MERGED` and\n  `Query.profile.mcid`\n\nA paragraph naming `Query.other`.\n',
    '\n### Breaking\n- `Profile.old`: removed.\n',
  );
  assert.deepEqual([...listedBreaking(text)].sort(), ['Profile.legalName', 'Profile.name', 'Query.profile.mcid', 'Status.MERGED']);
});

test('an addition passes; a removal or rename fails until it is listed', async () => {
  const added = released.replace('legalName: String!', 'legalName: String! email: String');
  assert.deepEqual((await check({ oldSDL: released, newSDL: added, changelog: changelog('') })).breaking, []);

  const renamed = released.replace('legalName', 'name');
  const unlisted = await check({ oldSDL: released, newSDL: renamed, changelog: changelog('') });
  assert.deepEqual(unlisted.breaking.map((c) => [c.name, c.listed]), [['Profile.legalName', false]]);

  const elsewhere = await check({ oldSDL: released, newSDL: renamed, changelog: changelog('', '\n### Breaking\n- `Profile.legalName`\n') });
  assert.equal(elsewhere.breaking[0].listed, false, 'an entry of a released version does not cover an unreleased change');

  const listed = await check({ oldSDL: released, newSDL: renamed, changelog: changelog('\n### Breaking\n- `Profile.legalName`: now `name`.\n') });
  assert.deepEqual(listed.breaking.map((c) => [c.name, c.listed]), [['Profile.legalName', true]]);
});

test('a field made nullable and a removed enum value are breaking; a new enum value is dangerous', async () => {
  const changed = released.replace('mcid: String! legalName', 'mcid: String legalName').replace('ACTIVE MERGED', 'ACTIVE CLOSED');
  const r = await check({ oldSDL: released, newSDL: changed, changelog: changelog('') });
  assert.deepEqual(r.breaking.map((c) => c.name).sort(), ['Profile.mcid', 'Status.MERGED']);
  assert.deepEqual(r.dangerous.map((c) => c.name), ['Status.CLOSED']);
});
