// A minimal typed GraphQL client for Recert's persisted documents. It sends each operation by its
// sha256 hash only (the Apollo `persistedQuery` extension the server reads; docs/api.md
// "Persisted documents"), never the document text: a server started with
// TRUSTED_DOCUMENTS_FILE=src/gql/persisted-documents.json runs exactly these documents.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

/** One entry of a GraphQL response's `errors`, with Recert's `extensions.code`. */
export interface GraphQLErrorEntry {
  message: string;
  path?: Array<string | number>;
  extensions?: { code?: string; [key: string]: unknown };
}

/** A response that carried errors: `codes` are their `extensions.code` values, in order. */
export class GraphQLRequestError extends Error {
  readonly codes: string[];
  constructor(
    readonly status: number,
    readonly errors: GraphQLErrorEntry[],
  ) {
    super(`HTTP ${status}: ${errors.map((e) => `${e.extensions?.code ?? '?'}: ${e.message}`).join('; ')}`);
    this.codes = errors.map((e) => e.extensions?.code ?? '');
  }
}

const prefix = 'sha256:';

/** The hex sha256 of a generated document (the client preset's `replaceDocumentWithHash` mode). */
export function documentHash(doc: TypedDocumentNode<unknown, never>): string {
  const hash = (doc as { __meta__?: { hash?: unknown } }).__meta__?.hash;
  if (typeof hash !== 'string' || !hash.startsWith(prefix)) {
    throw new Error('document carries no sha256 hash: run the codegen with persistedDocuments');
  }
  return hash.slice(prefix.length);
}

export interface ClientOptions {
  /** The GraphQL endpoint, e.g. http://127.0.0.1:8080/graphql. */
  url: string;
  /** Bound on each request, milliseconds. */
  timeoutMs?: number;
}

export class Client {
  constructor(private readonly options: ClientOptions) {}

  /** Runs a generated operation by its hash, as the holder of `token` (anonymous without one). */
  async execute<TResult, TVariables>(
    doc: TypedDocumentNode<TResult, TVariables>,
    variables: TVariables,
    token?: string,
  ): Promise<TResult> {
    const hash = documentHash(doc as TypedDocumentNode<unknown, never>);
    const { status, body } = await this.post(
      { variables, extensions: { persistedQuery: { version: 1, sha256Hash: hash } } },
      token,
    );
    if (body.errors?.length || body.data == null) {
      throw new GraphQLRequestError(status, body.errors ?? [{ message: 'no data' }]);
    }
    return body.data as TResult;
  }

  /** Posts a raw GraphQL-over-HTTP request body; for requests the generated operations cannot make. */
  async post(
    request: Record<string, unknown>,
    token?: string,
  ): Promise<{ status: number; body: { data?: unknown; errors?: GraphQLErrorEntry[] } }> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      Accept: 'application/graphql-response+json, application/json',
    };
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(this.options.url, {
      method: 'POST',
      headers,
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    try {
      return { status: res.status, body: JSON.parse(text) };
    } catch {
      throw new Error(`HTTP ${res.status}: not JSON: ${text.slice(0, 200)}`);
    }
  }
}
