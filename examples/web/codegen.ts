// graphql-codegen configuration: typed documents for the operations in src/operations.ts,
// generated from the repository's schema, with a persisted-documents manifest (sha256 of each
// document's text) that the server loads as TRUSTED_DOCUMENTS_FILE.
//
// CODEGEN_OUT redirects the output (run-e2e.sh generates into a temporary folder and compares it
// with the committed src/gql/).
import type { CodegenConfig } from '@graphql-codegen/cli';

const out = process.env.CODEGEN_OUT ?? './src/gql/';

const config: CodegenConfig = {
  schema: '../../schema.graphqls',
  documents: ['src/operations.ts'],
  ignoreNoDocuments: false,
  generates: {
    [out]: {
      preset: 'client',
      presetConfig: {
        // No fragment masking: the example reads the fields it selects directly.
        fragmentMasking: false,
        // The generated documents hold only their hash: the client sends no document text.
        persistedDocuments: { mode: 'replaceDocumentWithHash', hashAlgorithm: 'sha256' },
      },
      config: {
        // RFC 3339 strings on the wire (schema.graphqls @specifiedBy).
        scalars: { Date: 'string', DateTime: 'string' },
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
