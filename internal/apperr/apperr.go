// Package apperr defines the error codes of the API contract (docs/api.md "Errors") and the one
// error type that carries them from the domain to the client.
package apperr

import (
	"errors"
	"fmt"
)

// Code is a machine-readable error code, sent to clients as extensions.code.
type Code string

// The codes of docs/api.md, spelled exactly as the contract fixes them.
const (
	Unauthenticated                   Code = "UNAUTHENTICATED"
	Forbidden                         Code = "FORBIDDEN"
	NotFound                          Code = "NOT_FOUND"
	BadUserInput                      Code = "BAD_USER_INPUT"
	PersonalAccountRequired           Code = "PERSONAL_ACCOUNT_REQUIRED"
	AccountMismatch                   Code = "ACCOUNT_MISMATCH"
	LearnProfileAlreadyLinked         Code = "LEARN_PROFILE_ALREADY_LINKED"
	CertificationProfileAlreadyLinked Code = "CERTIFICATION_PROFILE_ALREADY_LINKED"
	MultipleCertificationProfiles     Code = "MULTIPLE_CERTIFICATION_PROFILES"
	ProfileNotLinked                  Code = "PROFILE_NOT_LINKED"
	NotRenewable                      Code = "NOT_RENEWABLE"
	RenewalNotAvailableYet            Code = "RENEWAL_NOT_AVAILABLE_YET"
	RenewalWindowNotOpen              Code = "RENEWAL_WINDOW_NOT_OPEN"
	CertificationExpired              Code = "CERTIFICATION_EXPIRED"
	RetakeWait                        Code = "RETAKE_WAIT"
	AttemptInProgress                 Code = "ATTEMPT_IN_PROGRESS"
	AttemptAlreadySubmitted           Code = "ATTEMPT_ALREADY_SUBMITTED"
	LanguageNotAvailable              Code = "LANGUAGE_NOT_AVAILABLE"
	MergeSameProfile                  Code = "MERGE_SAME_PROFILE"
	ProfileAlreadyMerged              Code = "PROFILE_ALREADY_MERGED"
	MergeLinkConflict                 Code = "MERGE_LINK_CONFLICT"
	IdempotencyKeyReused              Code = "IDEMPOTENCY_KEY_REUSED"
	QueryTooComplex                   Code = "QUERY_TOO_COMPLEX"
	QueryTooDeep                      Code = "QUERY_TOO_DEEP"
	PersistedQueryNotFound            Code = "PERSISTED_QUERY_NOT_FOUND"
	RateLimited                       Code = "RATE_LIMITED"
	LimitExceeded                     Code = "LIMIT_EXCEEDED"
	Unavailable                       Code = "UNAVAILABLE"
	Internal                          Code = "INTERNAL"
)

// Error is a failure a client may see: a code, a message a person can read and optional
// extension fields (retryAt, windowOpensOn, attemptId, availableLanguages ...).
type Error struct {
	Code       Code
	Message    string
	Extensions map[string]any
}

// Error returns the human-readable message prefixed with the code.
func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Is reports whether target is an *Error with the same code, so errors.Is(err, apperr.E(code, ""))
// and errors.Is(err, apperr.Sentinel(code)) work.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

// With returns a copy of e with the extension key set to value.
func (e *Error) With(key string, value any) *Error {
	c := *e
	c.Extensions = make(map[string]any, len(e.Extensions)+1)
	for k, v := range e.Extensions {
		c.Extensions[k] = v
	}
	c.Extensions[key] = value
	return &c
}

// E builds an Error with a formatted message.
func E(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinel returns a bare error of the given code, for errors.Is comparisons.
func Sentinel(code Code) error { return &Error{Code: code} }

// CodeOf returns the code of the first *Error in err's chain, or Internal if there is none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Convenience constructors for the most frequent codes.

// Unauth reports a missing or invalid credential.
func Unauth(msg string) *Error { return &Error{Code: Unauthenticated, Message: msg} }

// Deny reports an authenticated caller that is not allowed to do something.
func Deny(msg string) *Error { return &Error{Code: Forbidden, Message: msg} }

// Missing reports an object that does not exist or is not visible to the caller.
func Missing(what string) *Error { return &Error{Code: NotFound, Message: what + " not found"} }

// Invalid reports malformed input.
func Invalid(format string, args ...any) *Error { return E(BadUserInput, format, args...) }

// Limit reports that creating one more resource would pass a configured cap; the extensions
// name the list (resource) and the cap (limit), so a client can say which and how many.
func Limit(resource string, limit int, format string, args ...any) *Error {
	return E(LimitExceeded, format, args...).With("resource", resource).With("limit", limit)
}
