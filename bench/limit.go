package main

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/transcript"
)

// The hand-written limit: what the dashboard query needs, answered by a plain net/http handler
// with the fewest SQL round trips (one prepared statement, one round trip per request) and
// encoding/json. It does the same work a real answer needs: verifies the HS256 token (issuer,
// audience, expiry), checks the caller owns the profile (a merged MCID resolves to its
// survivor), counts the certifications, takes the first 20 with their certification and this
// cycle's attempts, computes status and renewal with the domain rules, and encodes a response
// of the same shape as Recert's.

// limitSQL is the whole dashboard in one statement: $1 issuer, $2 subject, $3 MCID.
const limitSQL = `
WITH RECURSIVE chain AS (
    SELECT p.id, p.mcid, p.account_id, p.legal_name, p.email, p.merged_into, 0 AS depth
    FROM certification_profiles p WHERE p.mcid = $3
  UNION ALL
    SELECT p.id, p.mcid, p.account_id, p.legal_name, p.email, p.merged_into, c.depth + 1
    FROM certification_profiles p JOIN chain c ON p.id = c.merged_into WHERE c.depth < 32
),
prof AS (SELECT * FROM chain ORDER BY depth DESC LIMIT 1)
SELECT p.mcid, p.legal_name, p.email,
       p.account_id = (SELECT a.id FROM accounts a WHERE a.issuer = $1 AND a.subject = $2) AS owner,
       l.learn_profile_id, l.linked_at,
       (SELECT count(*) FROM earned_certifications x WHERE x.profile_id = p.id) AS total,
       e.id, e.earned_on, e.expires_on, e.superseded_at,
       c.code, c.name, c.level, c.released_on, ra.id IS NOT NULL AS renewable,
       coalesce(t.n, 0), t.last_submitted, coalesce(t.in_progress, false)
FROM prof p
LEFT JOIN profile_links l ON l.certification_profile_id = p.id
LEFT JOIN LATERAL (SELECT * FROM earned_certifications e WHERE e.profile_id = p.id
                   ORDER BY e.earned_on DESC, e.id DESC LIMIT 20) e ON true
LEFT JOIN certifications c ON c.id = e.certification_id
LEFT JOIN renewal_assessments ra ON ra.certification_id = c.id
LEFT JOIN LATERAL (SELECT count(*) AS n, max(a.submitted_at) AS last_submitted, bool_or(a.submitted_at IS NULL) AS in_progress
                   FROM assessment_attempts a
                   WHERE a.earned_certification_id = e.id AND a.cycle_expires_on = e.expires_on) t ON true
ORDER BY e.earned_on DESC, e.id DESC`

type limitServer struct {
	now      func() time.Time
	db       *sql.DB
	stmt     *sql.Stmt
	secret   []byte
	issuer   string
	audience string
}

func serveLimit(addr string) error {
	dsn := os.Getenv("DATABASE_URL")
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(20) // Recert's pool size
	db.SetMaxIdleConns(20)
	ctx := context.Background()
	stmt, err := db.PrepareContext(ctx, limitSQL)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	s := &limitServer{now: time.Now, db: db, stmt: stmt, secret: []byte(os.Getenv("AUTH_HS256_SECRET")),
		issuer: os.Getenv("AUTH_ISSUER"), audience: os.Getenv("AUTH_AUDIENCE")}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /dashboard", s.dashboard)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	hs := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return hs.ListenAndServe()
}

type limitClaims struct {
	jwt.RegisteredClaims
}

// Response shapes: the same JSON as Recert's answer to the dashboard query.
type (
	limitResponse struct {
		Data struct {
			CertificationProfile *limitProfile `json:"certificationProfile"`
		} `json:"data"`
	}
	limitProfile struct {
		MCID           string             `json:"mcid"`
		LegalName      string             `json:"legalName"`
		Email          string             `json:"email"`
		LearnProfile   *limitLearnProfile `json:"learnProfile"`
		Certifications struct {
			TotalCount int           `json:"totalCount"`
			Nodes      []limitEarned `json:"nodes"`
		} `json:"certifications"`
	}
	limitLearnProfile struct {
		ID       string    `json:"id"`
		LinkedAt time.Time `json:"linkedAt"`
	}
	limitEarned struct {
		ID            string     `json:"id"`
		EarnedOn      date.Date  `json:"earnedOn"`
		ExpiresOn     *date.Date `json:"expiresOn"`
		Status        string     `json:"status"`
		Certification struct {
			Code  string `json:"code"`
			Name  string `json:"name"`
			Level string `json:"level"`
		} `json:"certification"`
		Renewal limitRenewal `json:"renewal"`
	}
	limitRenewal struct {
		Eligible          bool       `json:"eligible"`
		Reason            *string    `json:"reason"`
		WindowOpensOn     *date.Date `json:"windowOpensOn"`
		Deadline          *date.Date `json:"deadline"`
		AttemptsThisCycle int        `json:"attemptsThisCycle"`
		NextAttemptAt     *time.Time `json:"nextAttemptAt"`
	}
)

func (s *limitServer) dashboard(w http.ResponseWriter, r *http.Request) {
	raw, ok := bearer(r)
	if !ok {
		http.Error(w, `{"errors":[{"message":"sign in","extensions":{"code":"UNAUTHENTICATED"}}]}`, http.StatusUnauthorized)
		return
	}
	var c limitClaims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return s.secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(s.issuer), jwt.WithAudience(s.audience),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(s.now))
	if err != nil {
		http.Error(w, `{"errors":[{"message":"bad token","extensions":{"code":"UNAUTHENTICATED"}}]}`, http.StatusUnauthorized)
		return
	}
	var req struct {
		Variables struct {
			MCID string `json:"mcid"`
		} `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, `{"errors":[{"message":"bad request","extensions":{"code":"BAD_USER_INPUT"}}]}`, http.StatusBadRequest)
		return
	}
	now := s.now().UTC()
	p, err := s.load(r.Context(), c.Issuer, c.Subject, req.Variables.MCID, now)
	if err != nil {
		http.Error(w, `{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`, http.StatusInternalServerError)
		return
	}
	var out limitResponse
	out.Data.CertificationProfile = p
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 8 || h[:7] != "Bearer " {
		return "", false
	}
	return h[7:], true
}

func (s *limitServer) load(ctx context.Context, issuer, subject, mcid string, now time.Time) (*limitProfile, error) {
	rows, err := s.stmt.QueryContext(ctx, issuer, subject, mcid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	today := date.Of(now)
	var p *limitProfile
	for rows.Next() {
		var (
			mcidN               int64
			legal, email        string
			isOwner             sql.NullBool
			lpID                *uuid.UUID
			linkedAt            sql.NullTime
			total               int
			eID                 *uuid.UUID
			earnedOn, expiresOn *date.Date
			supersededAt        sql.NullTime
			code, name, level   sql.NullString
			released            *date.Date
			renewable           bool
			attempts            int
			lastSubmitted       sql.NullTime
			inProgress          bool
		)
		if err := rows.Scan(&mcidN, &legal, &email, &isOwner, &lpID, &linkedAt, &total, &eID, &earnedOn, &expiresOn,
			&supersededAt, &code, &name, &level, &released, &renewable, &attempts, &lastSubmitted, &inProgress); err != nil {
			return nil, err
		}
		if !isOwner.Bool {
			return nil, nil // someone else's profile: null, as Recert answers NOT_FOUND with null
		}
		if p == nil {
			p = &limitProfile{MCID: fmt.Sprint(mcidN), LegalName: legal, Email: email}
			if lpID != nil {
				p.LearnProfile = &limitLearnProfile{ID: opaque("LearnProfile", *lpID), LinkedAt: linkedAt.Time.UTC()}
			}
			p.Certifications.TotalCount = total
			p.Certifications.Nodes = make([]limitEarned, 0, 20)
		}
		if eID == nil {
			continue
		}
		e := transcript.Earned{EarnedOn: *earnedOn, ExpiresOn: expiresOn}
		if supersededAt.Valid {
			t := supersededAt.Time
			e.SupersededAt = &t
		}
		n := limitEarned{ID: opaque("EarnedCertification", *eID), EarnedOn: *earnedOn, ExpiresOn: expiresOn,
			Status: string(transcript.StatusAt(e, today))}
		n.Certification.Code, n.Certification.Name, n.Certification.Level = code.String, name.String, level.String
		n.Renewal = renewalOf(e, today, now, lpID != nil, level.String == string(catalog.LevelFundamentals) || !renewable,
			released, attempts, lastSubmitted, inProgress)
		p.Certifications.Nodes = append(p.Certifications.Nodes, n)
	}
	return p, rows.Err()
}

// renewalOf applies docs/domain.md "Renewal" to one certification (the same checks, in the same
// order, as a real renewal status).
func renewalOf(e transcript.Earned, today date.Date, now time.Time, linked, notRenewable bool, released *date.Date,
	attempts int, lastSubmitted sql.NullTime, inProgress bool) limitRenewal {
	r := limitRenewal{AttemptsThisCycle: attempts}
	reason := func(code string) limitRenewal { r.Reason = &code; return r }
	if e.ExpiresOn != nil {
		open, deadline := transcript.WindowOpensOn(*e.ExpiresOn), *e.ExpiresOn
		r.WindowOpensOn, r.Deadline = &open, &deadline
	}
	switch {
	case notRenewable || e.ExpiresOn == nil:
		return reason("NOT_RENEWABLE")
	case released != nil && today.Before(released.AddMonths(catalog.RenewalLeadMonths)):
		return reason("RENEWAL_NOT_AVAILABLE_YET")
	case !today.Before(*e.ExpiresOn):
		return reason("CERTIFICATION_EXPIRED")
	case today.Before(*r.WindowOpensOn):
		return reason("RENEWAL_WINDOW_NOT_OPEN")
	case !linked:
		return reason("PROFILE_NOT_LINKED")
	case inProgress:
		return reason("ATTEMPT_IN_PROGRESS")
	case attempts >= 2 && lastSubmitted.Valid && now.Before(lastSubmitted.Time.Add(24*time.Hour)):
		t := lastSubmitted.Time.Add(24 * time.Hour).UTC()
		r.NextAttemptAt = &t
		return reason("RETAKE_WAIT")
	}
	r.Eligible = true
	return r
}

func opaque(kind string, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + id.String()))
}
