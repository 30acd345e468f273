// Package idem makes a mutation safe to repeat with an idempotency key (docs/api.md "Retrying
// after UNAVAILABLE"): the first request under a key does its work and stores what it needs to
// answer again; a repeat by the same caller with the same request gets that answer and writes
// nothing; the same key with another request is IDEMPOTENCY_KEY_REUSED. The key is claimed in
// the mutation's own transaction, so a request that fails or rolls back leaves no key behind,
// and a concurrent repeat waits for the first and then answers from it.
package idem

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
)

// Retention is how long a key and its stored answer are kept: a repeat within 30 days of the
// first request is answered from it; after that the key is forgotten (an expired key is
// treated as unused, and Store.DeleteExpiredKeys removes it). It covers any realistic retry,
// with room for a support ticket reopened weeks later.
const Retention = 30 * 24 * time.Hour

// MaxLen is the longest key accepted (the idempotency_keys CHECK).
const MaxLen = 200

// Store keeps the keys. Its methods run inside the mutation's transaction.
type Store interface {
	// ClaimKey inserts k as a pending key. When the key is held by a committed, unexpired
	// request, it returns that request's actor, hash and answer (waiting for a transaction
	// that holds it to end first). An expired key is taken over as fresh.
	ClaimKey(ctx context.Context, k Key) (Claimed, error)
	// StoreResponse records the answer of a key this transaction claimed.
	StoreResponse(ctx context.Context, k Key, response []byte) error
}

// Key is an idempotency key as one request claims it.
type Key struct {
	// Scope is the mutation the key belongs to: the same key in two scopes is two keys.
	Scope string
	// Owner partitions the scope's keys: the caller's identity gives every caller keys of
	// their own; "" shares them among all callers (the merge's support agents), and then a key
	// first used by another actor is refused.
	Owner       string
	Key         string
	Actor       string
	RequestHash []byte
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// Claimed is what claiming a key found: either the request holds it now (Fresh), or it holds
// an earlier request's actor, hash and stored answer.
type Claimed struct {
	Fresh       bool
	Actor       string
	RequestHash []byte
	Response    []byte
}

// Refusals words IDEMPOTENCY_KEY_REUSED for a scope; the zero value is a generic wording.
type Refusals struct {
	// OtherActor is the message when another actor used a shared key first.
	OtherActor string
	// OtherRequest is the message when the key was used for a different request.
	OtherRequest string
}

// Hash is the request hash of a request: SHA-256 of its scope and its parts as a JSON array
// (fixed positions, unambiguous, stable across Go versions).
func Hash(scope string, parts ...any) []byte {
	b, err := json.Marshal(append([]any{scope}, parts...))
	if err != nil {
		panic(fmt.Sprintf("idem: request of %s cannot be hashed: %v", scope, err))
	}
	sum := sha256.Sum256(b)
	return sum[:]
}

// Check validates an optional key from a client: absent is fine, present must be 1 to MaxLen
// characters and not blank. Codes: BAD_USER_INPUT.
func Check(key *string) error {
	if key == nil {
		return nil
	}
	if strings.TrimSpace(*key) == "" {
		return apperr.Invalid("idempotencyKey must not be blank: omit it, or send a new random key per request and the same key when retrying it").With("field", "idempotencyKey")
	}
	if utf8.RuneCountInString(*key) > MaxLen {
		return apperr.Invalid("idempotencyKey must be at most %d characters", MaxLen).With("field", "idempotencyKey")
	}
	return nil
}

// Own is the caller's own key in a per-caller scope, or nil when the client sent none: kept
// for keep from now, with the hash of the request's parts (normalized, the key excluded).
// Codes: BAD_USER_INPUT (see Check).
func Own(p *auth.Principal, scope string, key *string, now time.Time, keep time.Duration, request ...any) (*Key, error) {
	if err := Check(key); err != nil || key == nil {
		return nil, err
	}
	return &Key{Scope: scope, Owner: p.Identity(), Key: *key, Actor: p.Identity(),
		RequestHash: Hash(scope, request...), CreatedAt: now, ExpiresAt: now.Add(keep)}, nil
}

// Once runs create under k in the transaction of tx, unless k is nil (no key: create just
// runs). The first request under k runs create and stores its answer (R as JSON). A repeat by
// the same actor with the same request hash does not run create: it returns the stored answer
// with replayed true. The key with another request hash, or from another actor (shared
// scopes), is IDEMPOTENCY_KEY_REUSED, worded by msg. Errors of create pass through, and since
// the caller's transaction then rolls back, the key is left unclaimed.
func Once[R any](ctx context.Context, tx Store, k *Key, msg Refusals, create func() (R, error)) (res R, replayed bool, err error) {
	if k == nil {
		res, err = create()
		return res, false, err
	}
	claimed, err := tx.ClaimKey(ctx, *k)
	if err != nil {
		return res, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	if !claimed.Fresh {
		// Another actor's answer is never given to (or attributed to) someone else.
		if claimed.Actor != k.Actor {
			return res, false, apperr.E(apperr.IdempotencyKeyReused, "%s", or(msg.OtherActor,
				"this idempotency key was already used by someone else; use a new key for your request"))
		}
		if !bytes.Equal(claimed.RequestHash, k.RequestHash) {
			return res, false, apperr.E(apperr.IdempotencyKeyReused, "%s", or(msg.OtherRequest,
				"this idempotency key was already used for a different request; use a new key for a new request"))
		}
		if err := json.Unmarshal(claimed.Response, &res); err != nil {
			return res, false, fmt.Errorf("decode stored answer: %w", err)
		}
		return res, true, nil
	}
	if res, err = create(); err != nil {
		return res, false, err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return res, false, fmt.Errorf("encode answer: %w", err)
	}
	if err := tx.StoreResponse(ctx, *k, b); err != nil {
		return res, false, fmt.Errorf("store answer: %w", err)
	}
	return res, false, nil
}

func or(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
