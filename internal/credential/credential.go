// Package credential issues Open Badges 3.0 credentials (1EdTech OpenBadgeCredential over the
// W3C Verifiable Credentials Data Model 2.0) for earned certifications, secured as VC-JWT
// (compact JWS, ES256), and the Bitstring Status List that revokes them (docs/api.md
// "Verifiable credentials"). A credential is computed from the current record each time it
// is asked for: a renewal's new expiry is in the next one, and a superseded record (a merge
// kept the other one current) has none and its status bit reads revoked.
package credential

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/transcript"
)

// The JSON-LD contexts of an OpenBadgeCredential: VC 2.0 first, then Open Badges 3.0.
const (
	ContextVC = "https://www.w3.org/ns/credentials/v2"
	ContextOB = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
)

// Store allocates and reads status list indexes.
type Store interface {
	// StatusIndexes returns the status list index of each earned certification in key order,
	// allocating one (never reused) to those that have none yet.
	StatusIndexes(ctx context.Context, earnedIDs []uuid.UUID, at time.Time) ([]int64, error)
	// RevokedIndexes lists the allocated indexes in [from, to) whose record is superseded.
	RevokedIndexes(ctx context.Context, from, to int64) ([]int64, error)
}

// Service issues credentials and serves the issuer profile, the keys and the status lists.
type Service struct {
	store Store
	keys  *Keys
	clock clock.Clock
	base  string // PUBLIC_URL without a trailing slash
	// IssuerName is the issuer profile's name, and the organisation of LinkedIn links.
	IssuerName string

	mu    sync.Mutex
	lists map[int64]StatusList // the last list served, by list number
}

// NewService builds the service on store, signing with keys; publicURL is the base of the
// issuer profile and status list URLs.
func NewService(store Store, keys *Keys, clk clock.Clock, publicURL string) *Service {
	return &Service{store: store, keys: keys, clock: clk, base: strings.TrimRight(publicURL, "/"),
		IssuerName: "Recert", lists: map[int64]StatusList{}}
}

// Keys are the keys the service signs with and publishes.
func (s *Service) Keys() *Keys { return s.keys }

// Held names an earned certification with the account holding it, for the read rule.
type Held struct {
	EarnedID uuid.UUID
	Owner    uuid.UUID
}

// MayHold is the read rule of credentials: the holder only. Support sees the record but
// cannot take a credential in the learner's name (FORBIDDEN), and nor can anyone else.
func MayHold(p *auth.Principal, owner uuid.UUID) error {
	if p == nil {
		return apperr.Unauth("sign in to get a credential")
	}
	if p.AccountID == uuid.Nil || p.AccountID != owner {
		return apperr.Deny("only the holder gets the credential of a certification")
	}
	return nil
}

// StatusIndexes returns, in key order, the status list index of each earned certification p
// holds (MayHold; FORBIDDEN or UNAUTHENTICATED for that key otherwise), allocating missing
// ones: one statement for the batch.
func (s *Service) StatusIndexes(ctx context.Context, p *auth.Principal, held []Held) ([]int64, []error) {
	out, errs := make([]int64, len(held)), make([]error, len(held))
	ids, at := make([]uuid.UUID, 0, len(held)), make([]int, 0, len(held))
	for i, h := range held {
		if errs[i] = MayHold(p, h.Owner); errs[i] == nil {
			ids, at = append(ids, h.EarnedID), append(at, i)
		}
	}
	if len(ids) == 0 {
		return out, errs
	}
	idx, err := s.store.StatusIndexes(ctx, ids, s.clock.Now())
	for j, i := range at {
		if err != nil {
			errs[i] = err
		} else {
			out[i] = idx[j]
		}
	}
	return out, errs
}

// Subject is what a credential states: the record, its certification and requirement paths
// (exam codes), the MCID of the profile holding it, and its status list index.
type Subject struct {
	Earned        transcript.Earned
	Owner         uuid.UUID
	MCID          int64
	Certification catalog.Certification
	Paths         [][]string
	StatusIndex   int64
}

// Issue is the signed OpenBadgeCredential (compact JWS) of s for p, or nil when the record is
// superseded (its credential is revoked). Codes: UNAUTHENTICATED, FORBIDDEN (MayHold).
func (s *Service) Issue(p *auth.Principal, sub Subject) (*string, error) {
	if err := MayHold(p, sub.Owner); err != nil {
		return nil, err
	}
	if sub.Earned.SupersededAt != nil {
		return nil, nil
	}
	b, err := json.Marshal(s.document(sub))
	if err != nil {
		return nil, err
	}
	jws, err := s.keys.sign(b)
	if err != nil {
		return nil, err
	}
	return &jws, nil
}

// LinkedInURL is LinkedIn's add-to-profile link for the certification of sub (name,
// organisation, issue and expiry month, credential URL and id), or nil when the record is
// superseded. Codes: UNAUTHENTICATED, FORBIDDEN (MayHold).
func (s *Service) LinkedInURL(p *auth.Principal, sub Subject) (*string, error) {
	if err := MayHold(p, sub.Owner); err != nil {
		return nil, err
	}
	if sub.Earned.SupersededAt != nil {
		return nil, nil
	}
	q := url.Values{}
	q.Set("startTask", "CERTIFICATION_NAME")
	q.Set("name", sub.Certification.Name)
	q.Set("organizationName", s.IssuerName)
	q.Set("issueYear", strconv.Itoa(sub.Earned.EarnedOn.Year))
	q.Set("issueMonth", strconv.Itoa(int(sub.Earned.EarnedOn.Month)))
	if e := sub.Earned.ExpiresOn; e != nil {
		q.Set("expirationYear", strconv.Itoa(e.Year))
		q.Set("expirationMonth", strconv.Itoa(int(e.Month)))
	}
	q.Set("certUrl", s.IssuerURL())
	q.Set("certId", credentialID(sub.Earned.ID))
	u := "https://www.linkedin.com/profile/add?" + q.Encode()
	return &u, nil
}

// IssuerURL is the id of the issuer profile, served as JSON at that URL.
func (s *Service) IssuerURL() string { return s.base + "/credentials/issuer" }

// StatusListURL is the URL of status list n (list n holds indexes n*ListSize up to the next).
func (s *Service) StatusListURL(n int64) string {
	return s.base + "/credentials/status/" + strconv.FormatInt(n, 10)
}

func credentialID(earned uuid.UUID) string { return "urn:uuid:" + earned.String() }

// IssuerProfile is the issuer's Open Badges Profile as JSON.
func (s *Service) IssuerProfile() []byte {
	b, _ := json.Marshal(s.issuer(true))
	return b
}

func (s *Service) issuer(withContext bool) map[string]any {
	p := map[string]any{"id": s.IssuerURL(), "type": []string{"Profile"}, "name": s.IssuerName, "url": s.base}
	if withContext {
		p["@context"] = []string{ContextVC, ContextOB}
	}
	return p
}

// document is the unsigned OpenBadgeCredential of sub.
func (s *Service) document(sub Subject) map[string]any {
	c, e := sub.Certification, sub.Earned
	mcid := strconv.FormatInt(sub.MCID, 10)
	achievement := map[string]any{
		"id":              "urn:recert:certification:" + url.PathEscape(c.Code),
		"type":            []string{"Achievement"},
		"name":            c.Name,
		"description":     fmt.Sprintf("%s (%s), level %s.", c.Name, c.Code, strings.ToLower(string(c.Level))),
		"criteria":        map[string]any{"narrative": Narrative(sub.Paths)},
		"achievementType": "Certification",
		"humanCode":       c.Code,
		"tag":             []string{string(c.Level)},
	}
	doc := map[string]any{
		"@context":  []string{ContextVC, ContextOB},
		"id":        credentialID(e.ID),
		"type":      []string{"VerifiableCredential", "OpenBadgeCredential"},
		"name":      c.Name,
		"issuer":    s.issuer(false),
		"validFrom": e.EarnedOn.Time().Format(time.RFC3339),
		"credentialSubject": map[string]any{
			"id":   "urn:recert:mcid:" + mcid,
			"type": []string{"AchievementSubject"},
			"identifier": []map[string]any{{
				"type": "IdentityObject", "identityType": "identifier", "hashed": false, "identityHash": mcid,
			}},
			"achievement": achievement,
		},
		"credentialStatus": s.statusEntry(sub.StatusIndex),
	}
	if e.ExpiresOn != nil {
		doc["validUntil"] = e.ExpiresOn.Time().Format(time.RFC3339)
	}
	return doc
}

// Narrative states the requirement paths: every exam of any one path.
func Narrative(paths [][]string) string {
	if len(paths) == 0 {
		return "Awarded by Recert."
	}
	alts := make([]string, len(paths))
	for i, p := range paths {
		alts[i] = strings.Join(p, " and ")
	}
	if len(alts) == 1 {
		return "Pass " + alts[0] + "."
	}
	return "Pass every exam of any one of these paths: " + strings.Join(alts, "; or ") + "."
}
