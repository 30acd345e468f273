// The operations of the example client. graphql-codegen reads the graphql() calls below and
// generates their result and variable types (src/gql/graphql.ts) and the persisted-documents
// manifest (src/gql/persisted-documents.json); at run time each graphql() call returns a
// document that carries only its sha256 hash.
import { graphql } from './gql';

// The learner dashboard: the query issue 8 benchmarks, for the profile's owner.
export const Dashboard = graphql(`
  query Dashboard($mcid: String!) {
    certificationProfile(mcid: $mcid) {
      mcid
      legalName
      email
      learnProfile {
        id
        linkedAt
      }
      certifications(first: 20) {
        totalCount
        nodes {
          id
          earnedOn
          expiresOn
          status
          certification {
            code
            name
            level
          }
          renewal {
            eligible
            reason
            windowOpensOn
            deadline
            attemptsThisCycle
            nextAttemptAt
          }
        }
      }
    }
  }
`);

// Linking: connect the caller's Learn profile to their certification profile (renewal needs it).
export const LinkCertificationProfile = graphql(`
  mutation LinkCertificationProfile($id: ID!) {
    linkCertificationProfile(input: { certificationProfileId: $id }) {
      learnProfile {
        id
        linkedAt
      }
      certificationProfile {
        id
        mcid
      }
    }
  }
`);

// A renewal attempt: start it (the served questions and shuffled choices), then submit the answers.
export const StartRenewalAssessment = graphql(`
  mutation StartRenewalAssessment($earnedCertificationId: ID!, $language: String!) {
    startRenewalAssessment(input: { earnedCertificationId: $earnedCertificationId, language: $language }) {
      attempt {
        id
        assessmentVersion
        language
        questions {
          id
          prompt
          multipleAnswers
          choices {
            id
            text
          }
        }
      }
    }
  }
`);

export const SubmitRenewalAssessment = graphql(`
  mutation SubmitRenewalAssessment($attemptId: ID!, $answers: [AnswerInput!]!) {
    submitRenewalAssessment(input: { attemptId: $attemptId, answers: $answers }) {
      attempt {
        id
        score
        passed
        submittedAt
      }
      earnedCertification {
        id
        expiresOn
        status
        renewal {
          eligible
          reason
          windowOpensOn
          attemptsThisCycle
        }
        renewals {
          previousExpiresOn
          newExpiresOn
        }
      }
    }
  }
`);

// Set-up the end-to-end run needs besides the learner's operations: a profile (learner), an exam
// pass that earns a certification (exam delivery), and an assessment whose right answers the run
// knows (catalog admin). They are persisted documents like the others: the server runs nothing else.
export const CreateCertificationProfile = graphql(`
  mutation CreateCertificationProfile($legalName: String!, $email: String!) {
    createCertificationProfile(input: { legalName: $legalName, email: $email }) {
      certificationProfile {
        id
        mcid
      }
    }
  }
`);

export const RecordExamResult = graphql(`
  mutation RecordExamResult($input: RecordExamResultInput!) {
    recordExamResult(input: $input) {
      examResult {
        id
      }
      earnedCertifications {
        id
        expiresOn
        certification {
          code
        }
      }
    }
  }
`);

export const PublishRenewalAssessment = graphql(`
  mutation PublishRenewalAssessment($input: PublishRenewalAssessmentInput!) {
    publishRenewalAssessment(input: $input) {
      renewalAssessment {
        version
        languages
        passingScore
        questionCount
      }
    }
  }
`);
