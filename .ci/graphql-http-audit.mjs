// Runs the graphql-http audit suite (auditServer) against a running server and prints every
// result. Exits non-zero on any MUST failure, and on any SHOULD failure that README.md does not
// list as accepted (ACCEPTED below, kept in step with the README section "GraphQL over HTTP").
//
//   node .ci/graphql-http-audit.mjs http://127.0.0.1:18080/graphql
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node graphql-http-audit.mjs URL');
  process.exit(2);
}
// SHOULD audits we knowingly do not pass, by id, with the reason (also in README.md).
const ACCEPTED = {};

const results = await auditServer({ url });
let must = 0, should = 0, may = 0, ok = 0, accepted = 0;
for (const r of results) {
  const level = r.name.split(' ')[0];
  if (r.status === 'ok') {
    ok++;
    console.log(`ok      ${r.id} ${r.name}`);
    continue;
  }
  const why = r.reason + (r.response ? ` (status ${r.response.status})` : '');
  if (level === 'MUST') {
    must++;
    console.log(`FAIL    ${r.id} ${r.name}: ${why}`);
  } else if (level === 'SHOULD') {
    if (ACCEPTED[r.id]) {
      accepted++;
      console.log(`accept  ${r.id} ${r.name}: ${ACCEPTED[r.id]}`);
    } else {
      should++;
      console.log(`FAIL    ${r.id} ${r.name}: ${why}`);
    }
  } else {
    may++;
    console.log(`notice  ${r.id} ${r.name}: ${why}`);
  }
}
console.log(`graphql-http audit: ${results.length} audits, ${ok} ok, ${must} MUST failed, ${should} SHOULD failed, ${accepted} SHOULD accepted, ${may} MAY not done`);
process.exit(must + should > 0 ? 1 : 0);
