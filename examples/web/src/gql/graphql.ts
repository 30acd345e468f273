/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** The choices picked for one served question. */
export type AnswerInput = {
  /** The `AssessmentChoice.id`s picked; empty counts as a wrong answer. */
  choiceIds: Array<string | number>;
  /** An `AssessmentQuestion.id` served in this attempt; each at most once. */
  questionId: string | number;
};

/** How advanced a certification is; decides whether it expires. */
export type CertificationLevel =
  /** Role-based, associate. Valid one year from the day earned; renewable. */
  | 'ASSOCIATE'
  /** Role-based, expert; may need a prerequisite certification. Valid one year; renewable. */
  | 'EXPERT'
  /** Entry level. Never expires, never renewed. */
  | 'FUNDAMENTALS'
  /** Specialty. Valid one year; renewable. */
  | 'SPECIALTY';

/** The status of an earned certification today (UTC date). */
export type EarnedCertificationStatus =
  /** Held, before its renewal window. Fundamentals are always ACTIVE. */
  | 'ACTIVE'
  /** `expiresOn` has passed. It can only be earned again through its exams, which makes a new record. */
  | 'EXPIRED'
  /** Held, inside the renewal window (the 6 calendar months before `expiresOn`): renew now. */
  | 'RENEWABLE'
  /** A merge found the same certification on both profiles and this record had the earlier expiry. Kept as history; not shown on shared transcripts and not renewable. */
  | 'SUPERSEDED';

/** A learning module to link from the assessment. */
export type LearningModuleInput = {
  /** Display title. */
  title: string;
  /** Absolute http(s) URL. */
  url: string;
};

/** A new renewal assessment version. */
export type PublishRenewalAssessmentInput = {
  /** The certification's code (renewable levels only). */
  certificationCode: string;
  /**
   * Optional: a key unique to this request (e.g. a UUID, at most 200 characters). Sending the same
   * request with the same key again (after `UNAVAILABLE` or a lost answer) returns the first result
   * and writes nothing; the same key with a different request is `IDEMPOTENCY_KEY_REUSED`. Keys are
   * the caller's own and kept 30 days.
   */
  idempotencyKey?: string | null | undefined;
  /** Up to 20 learning modules, in display order; none when omitted. */
  learningModules?: Array<LearningModuleInput> | null | undefined;
  /** The passing percentage, 1..100; 60 when omitted. */
  passingScore?: number | null | undefined;
  /** The question bank, 1 to 500 questions. */
  questions: Array<QuestionInput>;
  /** Questions served per attempt, 1 to the bank size and at most 50; 10 (or the bank size if smaller) when omitted. */
  questionsPerAttempt?: number | null | undefined;
};

/** One choice of a new question. */
export type QuestionChoiceInput = {
  /** Whether choosing it is part of the right answer. Never sent to learners. */
  correct: boolean;
  /** The choice text. */
  text: string;
};

/** One question of a new question bank. */
export type QuestionInput = {
  /** 2 to 12 choices with distinct texts, at least one correct and one incorrect. */
  choices: Array<QuestionChoiceInput>;
  /** The question text. */
  prompt: string;
  /** The question's text in other languages of the certification's exams, at most one per language; none when omitted. The version is offered in English and each language every question is translated into. */
  translations?: Array<QuestionTranslationInput> | null | undefined;
};

/** A question's text in one more language; the choices keep their correctness. */
export type QuestionTranslationInput = {
  /** The choice texts in that language, as many as the question's choices and in their order. */
  choices: Array<string>;
  /** A BCP 47 tag of a language the certification's exams are offered in, other than `en` (the prompt and choice texts are English). */
  language: string;
  /** The question text in that language. */
  prompt: string;
};

/** An exam result from exam delivery. */
export type RecordExamResultInput = {
  /** The exam code, e.g. `AZ-104`; must be in the catalog. */
  examCode: string;
  /** The provider's unique id for this result (at most 200 characters): the idempotency key. */
  externalId: string;
  /** The BCP 47 language it was taken in, if known: one of the exam's languages. */
  language?: string | null | undefined;
  /** The candidate's MCID (a merged one records on its survivor). */
  mcid: string;
  /** Whether the candidate passed. */
  passed: boolean;
  /** The score, 0..1000, if the provider gives one. */
  score?: number | null | undefined;
  /** When the exam was taken: may be in the past (results arrive late), never in the future. */
  takenAt: string;
};

export type DashboardQueryVariables = Exact<{
  mcid: string;
}>;


export type DashboardQuery = { certificationProfile: { mcid: string, legalName: string, email: string, learnProfile: { id: string, linkedAt: string | null } | null, certifications: { totalCount: number, nodes: Array<{ id: string, earnedOn: string, expiresOn: string | null, status: EarnedCertificationStatus, certification: { code: string, name: string, level: CertificationLevel }, renewal: { eligible: boolean, reason: string | null, windowOpensOn: string | null, deadline: string | null, attemptsThisCycle: number, nextAttemptAt: string | null } }> } } | null };

export type LinkCertificationProfileMutationVariables = Exact<{
  id: string | number;
}>;


export type LinkCertificationProfileMutation = { linkCertificationProfile: { learnProfile: { id: string, linkedAt: string | null }, certificationProfile: { id: string, mcid: string } } };

export type StartRenewalAssessmentMutationVariables = Exact<{
  earnedCertificationId: string | number;
  language: string;
}>;


export type StartRenewalAssessmentMutation = { startRenewalAssessment: { attempt: { id: string, assessmentVersion: number, language: string, questions: Array<{ id: string, prompt: string, multipleAnswers: boolean, choices: Array<{ id: string, text: string }> }> } } };

export type SubmitRenewalAssessmentMutationVariables = Exact<{
  attemptId: string | number;
  answers: Array<AnswerInput> | AnswerInput;
}>;


export type SubmitRenewalAssessmentMutation = { submitRenewalAssessment: { attempt: { id: string, score: number | null, passed: boolean | null, submittedAt: string | null }, earnedCertification: { id: string, expiresOn: string | null, status: EarnedCertificationStatus, renewal: { eligible: boolean, reason: string | null, windowOpensOn: string | null, attemptsThisCycle: number }, renewals: Array<{ previousExpiresOn: string, newExpiresOn: string }> } } };

export type CreateCertificationProfileMutationVariables = Exact<{
  legalName: string;
  email: string;
}>;


export type CreateCertificationProfileMutation = { createCertificationProfile: { certificationProfile: { id: string, mcid: string } } };

export type RecordExamResultMutationVariables = Exact<{
  input: RecordExamResultInput;
}>;


export type RecordExamResultMutation = { recordExamResult: { examResult: { id: string }, earnedCertifications: Array<{ id: string, expiresOn: string | null, certification: { code: string } }> } };

export type PublishRenewalAssessmentMutationVariables = Exact<{
  input: PublishRenewalAssessmentInput;
}>;


export type PublishRenewalAssessmentMutation = { publishRenewalAssessment: { renewalAssessment: { version: number, languages: Array<string>, passingScore: number, questionCount: number } } };


export const DashboardDocument = {"__meta__":{"hash":"sha256:eb43c9606bfd424df6fb2017cc01e89ac18bcf5f3dfa117fb9f66eb731bede79"}} as unknown as DocumentNode<DashboardQuery, DashboardQueryVariables>;
export const LinkCertificationProfileDocument = {"__meta__":{"hash":"sha256:cd6c02a43b123ce7e2a7669584f5403a291935c2688854858dc10f78bf277880"}} as unknown as DocumentNode<LinkCertificationProfileMutation, LinkCertificationProfileMutationVariables>;
export const StartRenewalAssessmentDocument = {"__meta__":{"hash":"sha256:71ccd04e806e5000a9122feecb61d3851d5cc2074a182f30a7a2f18ef23a54e6"}} as unknown as DocumentNode<StartRenewalAssessmentMutation, StartRenewalAssessmentMutationVariables>;
export const SubmitRenewalAssessmentDocument = {"__meta__":{"hash":"sha256:edb001d52d88748817ac2f0c7fc2a5d431e98374fb103fae913d4f1895f8856a"}} as unknown as DocumentNode<SubmitRenewalAssessmentMutation, SubmitRenewalAssessmentMutationVariables>;
export const CreateCertificationProfileDocument = {"__meta__":{"hash":"sha256:2dda4db9c57c636ca4a5277f79b574c6a38afedcaceda4ae2940431447c5224b"}} as unknown as DocumentNode<CreateCertificationProfileMutation, CreateCertificationProfileMutationVariables>;
export const RecordExamResultDocument = {"__meta__":{"hash":"sha256:caf23a0e2059cc8c660b69b39fdaca9770826bf88876223d71376567f11767c9"}} as unknown as DocumentNode<RecordExamResultMutation, RecordExamResultMutationVariables>;
export const PublishRenewalAssessmentDocument = {"__meta__":{"hash":"sha256:2380697a2e006bf67088b594a43b00e34244a599204e6e12e7dd517c66d7cad0"}} as unknown as DocumentNode<PublishRenewalAssessmentMutation, PublishRenewalAssessmentMutationVariables>;