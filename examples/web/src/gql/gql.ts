/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query Dashboard($mcid: String!) {\n    certificationProfile(mcid: $mcid) {\n      mcid\n      legalName\n      email\n      learnProfile {\n        id\n        linkedAt\n      }\n      certifications(first: 20) {\n        totalCount\n        nodes {\n          id\n          earnedOn\n          expiresOn\n          status\n          certification {\n            code\n            name\n            level\n          }\n          renewal {\n            eligible\n            reason\n            windowOpensOn\n            deadline\n            attemptsThisCycle\n            nextAttemptAt\n          }\n        }\n      }\n    }\n  }\n": typeof types.DashboardDocument,
    "\n  mutation LinkCertificationProfile($id: ID!) {\n    linkCertificationProfile(input: { certificationProfileId: $id }) {\n      learnProfile {\n        id\n        linkedAt\n      }\n      certificationProfile {\n        id\n        mcid\n      }\n    }\n  }\n": typeof types.LinkCertificationProfileDocument,
    "\n  mutation StartRenewalAssessment($earnedCertificationId: ID!, $language: String!) {\n    startRenewalAssessment(input: { earnedCertificationId: $earnedCertificationId, language: $language }) {\n      attempt {\n        id\n        assessmentVersion\n        language\n        questions {\n          id\n          prompt\n          multipleAnswers\n          choices {\n            id\n            text\n          }\n        }\n      }\n    }\n  }\n": typeof types.StartRenewalAssessmentDocument,
    "\n  mutation SubmitRenewalAssessment($attemptId: ID!, $answers: [AnswerInput!]!) {\n    submitRenewalAssessment(input: { attemptId: $attemptId, answers: $answers }) {\n      attempt {\n        id\n        score\n        passed\n        submittedAt\n      }\n      earnedCertification {\n        id\n        expiresOn\n        status\n        renewal {\n          eligible\n          reason\n          windowOpensOn\n          attemptsThisCycle\n        }\n        renewals {\n          previousExpiresOn\n          newExpiresOn\n        }\n      }\n    }\n  }\n": typeof types.SubmitRenewalAssessmentDocument,
    "\n  mutation CreateCertificationProfile($legalName: String!, $email: String!) {\n    createCertificationProfile(input: { legalName: $legalName, email: $email }) {\n      certificationProfile {\n        id\n        mcid\n      }\n    }\n  }\n": typeof types.CreateCertificationProfileDocument,
    "\n  mutation RecordExamResult($input: RecordExamResultInput!) {\n    recordExamResult(input: $input) {\n      examResult {\n        id\n      }\n      earnedCertifications {\n        id\n        expiresOn\n        certification {\n          code\n        }\n      }\n    }\n  }\n": typeof types.RecordExamResultDocument,
    "\n  mutation PublishRenewalAssessment($input: PublishRenewalAssessmentInput!) {\n    publishRenewalAssessment(input: $input) {\n      renewalAssessment {\n        version\n        languages\n        passingScore\n        questionCount\n      }\n    }\n  }\n": typeof types.PublishRenewalAssessmentDocument,
};
const documents: Documents = {
    "\n  query Dashboard($mcid: String!) {\n    certificationProfile(mcid: $mcid) {\n      mcid\n      legalName\n      email\n      learnProfile {\n        id\n        linkedAt\n      }\n      certifications(first: 20) {\n        totalCount\n        nodes {\n          id\n          earnedOn\n          expiresOn\n          status\n          certification {\n            code\n            name\n            level\n          }\n          renewal {\n            eligible\n            reason\n            windowOpensOn\n            deadline\n            attemptsThisCycle\n            nextAttemptAt\n          }\n        }\n      }\n    }\n  }\n": types.DashboardDocument,
    "\n  mutation LinkCertificationProfile($id: ID!) {\n    linkCertificationProfile(input: { certificationProfileId: $id }) {\n      learnProfile {\n        id\n        linkedAt\n      }\n      certificationProfile {\n        id\n        mcid\n      }\n    }\n  }\n": types.LinkCertificationProfileDocument,
    "\n  mutation StartRenewalAssessment($earnedCertificationId: ID!, $language: String!) {\n    startRenewalAssessment(input: { earnedCertificationId: $earnedCertificationId, language: $language }) {\n      attempt {\n        id\n        assessmentVersion\n        language\n        questions {\n          id\n          prompt\n          multipleAnswers\n          choices {\n            id\n            text\n          }\n        }\n      }\n    }\n  }\n": types.StartRenewalAssessmentDocument,
    "\n  mutation SubmitRenewalAssessment($attemptId: ID!, $answers: [AnswerInput!]!) {\n    submitRenewalAssessment(input: { attemptId: $attemptId, answers: $answers }) {\n      attempt {\n        id\n        score\n        passed\n        submittedAt\n      }\n      earnedCertification {\n        id\n        expiresOn\n        status\n        renewal {\n          eligible\n          reason\n          windowOpensOn\n          attemptsThisCycle\n        }\n        renewals {\n          previousExpiresOn\n          newExpiresOn\n        }\n      }\n    }\n  }\n": types.SubmitRenewalAssessmentDocument,
    "\n  mutation CreateCertificationProfile($legalName: String!, $email: String!) {\n    createCertificationProfile(input: { legalName: $legalName, email: $email }) {\n      certificationProfile {\n        id\n        mcid\n      }\n    }\n  }\n": types.CreateCertificationProfileDocument,
    "\n  mutation RecordExamResult($input: RecordExamResultInput!) {\n    recordExamResult(input: $input) {\n      examResult {\n        id\n      }\n      earnedCertifications {\n        id\n        expiresOn\n        certification {\n          code\n        }\n      }\n    }\n  }\n": types.RecordExamResultDocument,
    "\n  mutation PublishRenewalAssessment($input: PublishRenewalAssessmentInput!) {\n    publishRenewalAssessment(input: $input) {\n      renewalAssessment {\n        version\n        languages\n        passingScore\n        questionCount\n      }\n    }\n  }\n": types.PublishRenewalAssessmentDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Dashboard($mcid: String!) {\n    certificationProfile(mcid: $mcid) {\n      mcid\n      legalName\n      email\n      learnProfile {\n        id\n        linkedAt\n      }\n      certifications(first: 20) {\n        totalCount\n        nodes {\n          id\n          earnedOn\n          expiresOn\n          status\n          certification {\n            code\n            name\n            level\n          }\n          renewal {\n            eligible\n            reason\n            windowOpensOn\n            deadline\n            attemptsThisCycle\n            nextAttemptAt\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query Dashboard($mcid: String!) {\n    certificationProfile(mcid: $mcid) {\n      mcid\n      legalName\n      email\n      learnProfile {\n        id\n        linkedAt\n      }\n      certifications(first: 20) {\n        totalCount\n        nodes {\n          id\n          earnedOn\n          expiresOn\n          status\n          certification {\n            code\n            name\n            level\n          }\n          renewal {\n            eligible\n            reason\n            windowOpensOn\n            deadline\n            attemptsThisCycle\n            nextAttemptAt\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation LinkCertificationProfile($id: ID!) {\n    linkCertificationProfile(input: { certificationProfileId: $id }) {\n      learnProfile {\n        id\n        linkedAt\n      }\n      certificationProfile {\n        id\n        mcid\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation LinkCertificationProfile($id: ID!) {\n    linkCertificationProfile(input: { certificationProfileId: $id }) {\n      learnProfile {\n        id\n        linkedAt\n      }\n      certificationProfile {\n        id\n        mcid\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation StartRenewalAssessment($earnedCertificationId: ID!, $language: String!) {\n    startRenewalAssessment(input: { earnedCertificationId: $earnedCertificationId, language: $language }) {\n      attempt {\n        id\n        assessmentVersion\n        language\n        questions {\n          id\n          prompt\n          multipleAnswers\n          choices {\n            id\n            text\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation StartRenewalAssessment($earnedCertificationId: ID!, $language: String!) {\n    startRenewalAssessment(input: { earnedCertificationId: $earnedCertificationId, language: $language }) {\n      attempt {\n        id\n        assessmentVersion\n        language\n        questions {\n          id\n          prompt\n          multipleAnswers\n          choices {\n            id\n            text\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SubmitRenewalAssessment($attemptId: ID!, $answers: [AnswerInput!]!) {\n    submitRenewalAssessment(input: { attemptId: $attemptId, answers: $answers }) {\n      attempt {\n        id\n        score\n        passed\n        submittedAt\n      }\n      earnedCertification {\n        id\n        expiresOn\n        status\n        renewal {\n          eligible\n          reason\n          windowOpensOn\n          attemptsThisCycle\n        }\n        renewals {\n          previousExpiresOn\n          newExpiresOn\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation SubmitRenewalAssessment($attemptId: ID!, $answers: [AnswerInput!]!) {\n    submitRenewalAssessment(input: { attemptId: $attemptId, answers: $answers }) {\n      attempt {\n        id\n        score\n        passed\n        submittedAt\n      }\n      earnedCertification {\n        id\n        expiresOn\n        status\n        renewal {\n          eligible\n          reason\n          windowOpensOn\n          attemptsThisCycle\n        }\n        renewals {\n          previousExpiresOn\n          newExpiresOn\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateCertificationProfile($legalName: String!, $email: String!) {\n    createCertificationProfile(input: { legalName: $legalName, email: $email }) {\n      certificationProfile {\n        id\n        mcid\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation CreateCertificationProfile($legalName: String!, $email: String!) {\n    createCertificationProfile(input: { legalName: $legalName, email: $email }) {\n      certificationProfile {\n        id\n        mcid\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RecordExamResult($input: RecordExamResultInput!) {\n    recordExamResult(input: $input) {\n      examResult {\n        id\n      }\n      earnedCertifications {\n        id\n        expiresOn\n        certification {\n          code\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation RecordExamResult($input: RecordExamResultInput!) {\n    recordExamResult(input: $input) {\n      examResult {\n        id\n      }\n      earnedCertifications {\n        id\n        expiresOn\n        certification {\n          code\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation PublishRenewalAssessment($input: PublishRenewalAssessmentInput!) {\n    publishRenewalAssessment(input: $input) {\n      renewalAssessment {\n        version\n        languages\n        passingScore\n        questionCount\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation PublishRenewalAssessment($input: PublishRenewalAssessmentInput!) {\n    publishRenewalAssessment(input: $input) {\n      renewalAssessment {\n        version\n        languages\n        passingScore\n        questionCount\n      }\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;