// The end-to-end run of the example client against a running Recert server in development mode
// (so that `recert token` can mint tokens with its secret), ideally started with
// TRUSTED_DOCUMENTS_FILE=src/gql/persisted-documents.json; run-e2e.sh does all of it.
//
//   RECERT_URL      the GraphQL endpoint (default http://127.0.0.1:8080/graphql)
//   RECERT_COMMAND  how to run the server's CLI for `token` (default `go run .`, from the
//                   repository root), with the server's DATA_DIR or AUTH_HS256_SECRET in the
//                   environment
//   RECERT_TRUSTED  `1` also checks that the server refuses documents outside the manifest
//
// It publishes a renewal assessment version of azure-administrator-associate whose answers it
// knows: point it at a throwaway server, not at a database you care about.
//
// Exits 0 when every check passes; prints the failing check and exits 1 otherwise.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';

import { Client, GraphQLRequestError } from './client';
import type { DashboardQuery } from './gql/graphql';
import * as ops from './operations';

const url = process.env.RECERT_URL ?? 'http://127.0.0.1:8080/graphql';
const command = (process.env.RECERT_COMMAND ?? 'go run .').split(' ').filter(Boolean);
const repoRoot = path.resolve(__dirname, '..', '..', '..');
const client = new Client({ url });

const certification = 'azure-administrator-associate';
const exam = 'AZ-104';

let passed = 0;
function check(what: string, ok: boolean, detail?: unknown): void {
  if (!ok) {
    throw new Error(`check failed: ${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
  }
  passed++;
  console.log(`ok   ${what}`);
}

/** Mints a development token the way a developer does: `go run . token ...`. */
function token(...args: string[]): string {
  const [bin, ...pre] = command;
  if (!bin) throw new Error('RECERT_COMMAND is empty');
  return execFileSync(bin, [...pre, 'token', ...args], { cwd: repoRoot, encoding: 'utf8' }).trim();
}

/** The code of the first error a call fails with, or '' when it succeeds. */
async function errorCode(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return '';
  } catch (err) {
    if (err instanceof GraphQLRequestError) return err.codes[0] ?? '';
    throw err;
  }
}

/** The UTC calendar date `months` months before today, as an RFC 3339 date-time at midnight. */
function monthsAgo(months: number): string {
  const d = new Date();
  d.setUTCDate(1); // the 1st exists in every month
  d.setUTCMonth(d.getUTCMonth() - months);
  return `${d.toISOString().slice(0, 10)}T00:00:00Z`;
}

/** date + 1 year, clamped to the month's end (29 Feb → 28 Feb), as the server renews. */
function plusOneYear(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const last = new Date(Date.UTC(y + 1, m, 0)).getUTCDate();
  return `${String(y + 1).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(Math.min(d, last)).padStart(2, '0')}`;
}

type Earned = NonNullable<DashboardQuery['certificationProfile']>['certifications']['nodes'][number];

async function dashboard(learner: string, mcid: string): Promise<{ linked: boolean; earned: Earned }> {
  const { certificationProfile: p } = await client.execute(ops.Dashboard, { mcid }, learner);
  if (!p) throw new Error(`dashboard: no profile ${mcid}`);
  const earned = p.certifications.nodes.find((n) => n.certification.code === certification);
  check(`dashboard lists ${certification} (${p.certifications.totalCount} earned)`, earned !== undefined, p);
  return { linked: p.learnProfile?.linkedAt != null, earned: earned! };
}

async function main(): Promise<void> {
  const run = randomBytes(4).toString('hex');
  const learner = token('--sub', `web-e2e-${run}`, '--personal', '--email', `web-e2e-${run}@example.com`, '--name', 'Web Example');
  const delivery = token('--sub', `web-e2e-delivery-${run}`, '--roles', 'exam-delivery');
  const admin = token('--sub', `web-e2e-admin-${run}`, '--work', '--roles', 'admin');

  if (process.env.RECERT_TRUSTED === '1') {
    const untrusted = await client.post({ query: '{ __typename }' }, learner);
    check('the server refuses a document outside the manifest (FORBIDDEN)', untrusted.body.errors?.[0]?.extensions?.code === 'FORBIDDEN', untrusted.body);
    const unknown = await client.post({ extensions: { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } } }, learner);
    check('the server does not know an unlisted hash (PERSISTED_QUERY_NOT_FOUND)', unknown.body.errors?.[0]?.extensions?.code === 'PERSISTED_QUERY_NOT_FOUND', unknown.body);
  }

  // Set-up: an assessment whose right answers this run knows (choices are shuffled and their
  // correctness never reaches learners, so the client answers by the texts it published).
  const published = await client.execute(
    ops.PublishRenewalAssessment,
    {
      input: {
        certificationCode: certification,
        passingScore: 100,
        questionsPerAttempt: 2,
        questions: [
          { prompt: `Example question one (${run})`, choices: [{ text: 'Right', correct: true }, { text: 'Wrong', correct: false }] },
          {
            prompt: `Example question two (${run})`,
            choices: [
              { text: 'Right A', correct: true },
              { text: 'Right B', correct: true },
              { text: 'Wrong C', correct: false },
            ],
          },
        ],
      },
    },
    admin,
  );
  const version = published.publishRenewalAssessment.renewalAssessment;
  check(`admin published assessment version ${version.version}`, version.questionCount === 2 && version.passingScore === 100 && version.languages.includes('en'), version);

  const created = await client.execute(ops.CreateCertificationProfile, { legalName: 'Web Example', email: `web-e2e-${run}@example.com` }, learner);
  const profile = created.createCertificationProfile.certificationProfile;
  check(`learner created profile ${profile.mcid}`, /^\d+$/.test(profile.mcid), profile);

  // Passed 8 months ago: it expires in about 4 months, inside the 6-month renewal window.
  const recorded = await client.execute(
    ops.RecordExamResult,
    { input: { mcid: profile.mcid, examCode: exam, passed: true, score: 800, takenAt: monthsAgo(8), externalId: `web-e2e-${run}` } },
    delivery,
  );
  check(`exam delivery recorded ${exam}, earning ${certification}`, recorded.recordExamResult.earnedCertifications.some((e) => e.certification.code === certification), recorded);

  // The dashboard before and after linking.
  const before = await dashboard(learner, profile.mcid);
  check('before linking: no Learn profile connected', !before.linked);
  check('before linking: renewal refused with PROFILE_NOT_LINKED', !before.earned.renewal.eligible && before.earned.renewal.reason === 'PROFILE_NOT_LINKED', before.earned.renewal);
  check('a learner cannot start renewing before linking', (await errorCode(client.execute(ops.StartRenewalAssessment, { earnedCertificationId: before.earned.id, language: 'en' }, learner))) === 'PROFILE_NOT_LINKED');

  const linked = await client.execute(ops.LinkCertificationProfile, { id: profile.id }, learner);
  check('linkCertificationProfile connects the profiles', linked.linkCertificationProfile.learnProfile.linkedAt != null && linked.linkCertificationProfile.certificationProfile.id === profile.id, linked);
  const after = await dashboard(learner, profile.mcid);
  check('after linking: the dashboard shows the Learn profile', after.linked);
  check('after linking: renewal eligible now', after.earned.renewal.eligible && after.earned.renewal.reason === null && after.earned.renewal.attemptsThisCycle === 0, after.earned.renewal);
  const expiresOn = after.earned.expiresOn;
  if (expiresOn == null) throw new Error('role-based certification without expiresOn');

  // The renewal attempt: start, answer, submit.
  const started = await client.execute(ops.StartRenewalAssessment, { earnedCertificationId: after.earned.id, language: 'en' }, learner);
  const attempt = started.startRenewalAssessment.attempt;
  check(`attempt started on version ${attempt.assessmentVersion} with ${attempt.questions.length} questions`, attempt.assessmentVersion === version.version && attempt.questions.length === 2 && attempt.language === 'en', attempt);
  const answers = attempt.questions.map((q) => ({
    questionId: q.id,
    choiceIds: q.choices.filter((c) => c.text.startsWith('Right')).map((c) => c.id),
  }));
  check('each served question has its right choices among the choices', answers.every((a, i) => a.choiceIds.length === (attempt.questions[i]!.multipleAnswers ? 2 : 1)), attempt.questions);

  const submitted = await client.execute(ops.SubmitRenewalAssessment, { attemptId: attempt.id, answers }, learner);
  const result = submitted.submitRenewalAssessment;
  check('the attempt passed with 100', result.attempt.passed === true && result.attempt.score === 100 && result.attempt.submittedAt != null, result.attempt);
  const renewed = result.earnedCertification;
  check(
    `expiresOn moved one year on from ${expiresOn}`,
    renewed.expiresOn === plusOneYear(expiresOn) && renewed.renewals.length === 1 && renewed.renewals[0]!.previousExpiresOn === expiresOn && renewed.renewals[0]!.newExpiresOn === renewed.expiresOn,
    renewed,
  );
  check('right after renewing: RENEWAL_WINDOW_NOT_OPEN', !renewed.renewal.eligible && renewed.renewal.reason === 'RENEWAL_WINDOW_NOT_OPEN', renewed.renewal);
  check('submitting again is ATTEMPT_ALREADY_SUBMITTED', (await errorCode(client.execute(ops.SubmitRenewalAssessment, { attemptId: attempt.id, answers }, learner))) === 'ATTEMPT_ALREADY_SUBMITTED');

  const last = await dashboard(learner, profile.mcid);
  check(`the dashboard shows the new expiry ${renewed.expiresOn}`, last.earned.expiresOn === renewed.expiresOn && last.earned.status === renewed.status, last.earned);
}

main().then(
  () => {
    console.log(`web example: ${passed} passed, 0 failed`);
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    console.error(`web example: ${passed} passed, 1 failed`);
    process.exit(1);
  },
);
