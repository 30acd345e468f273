package renewal_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/credential"
)

// Issue 17: credentials are checked here with libraries other than the signer's (go-jose):
// keyfunc fetches the JWKS the server publishes over HTTP and golang-jwt verifies the ES256
// signature; the status list is decoded by hand from its encodedList.

// served is a test server on a real listener whose PUBLIC_URL is its own address, so the URLs
// inside credentials can be fetched.
func served(t *testing.T, env map[string]string) (*apitest.Env, string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	vars := map[string]string{"PUBLIC_URL": base}
	for k, v := range env {
		vars[k] = v
	}
	e := apitest.New(t, apitest.WithEnv(vars))
	ts.Config.Handler = e.Server.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	return e, base
}

// verifier checks compact JWS against the JWKS published at base.
func verifier(t *testing.T, base string) func(jws string) (jwt.MapClaims, *jwt.Token) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	k, err := keyfunc.NewDefaultCtx(ctx, []string{base + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatalf("keyfunc: %v", err)
	}
	return func(jws string) (jwt.MapClaims, *jwt.Token) {
		t.Helper()
		claims := jwt.MapClaims{}
		tok, err := jwt.ParseWithClaims(jws, claims, k.Keyfunc, jwt.WithValidMethods([]string{"ES256"}))
		if err != nil {
			t.Fatalf("verify against the published JWKS: %v", err)
		}
		if tok.Header["typ"] != "vc+jwt" || tok.Header["cty"] != "vc" || tok.Header["kid"] == "" {
			t.Fatalf("header: got %v, want typ vc+jwt, cty vc and a kid", tok.Header)
		}
		return claims, tok
	}
}

const credentialQuery = `query($mcid: String!) { certificationProfile(mcid: $mcid) { certifications(first: 10) { nodes {
  id earnedOn expiresOn status certification { code name level } openBadgeCredential linkedInAddToProfileUrl } } } }`

type credentialOut struct {
	ID, EarnedOn, Status    string
	ExpiresOn               *string
	Certification           struct{ Code, Name, Level string }
	OpenBadgeCredential     *string
	LinkedInAddToProfileURL *string `json:"linkedInAddToProfileUrl"`
}

func credentials(t *testing.T, env *apitest.Env, who apitest.Identity, mcid string) map[string]credentialOut {
	t.Helper()
	var out struct {
		CertificationProfile struct {
			Certifications struct{ Nodes []credentialOut }
		}
	}
	env.MustDo(who, credentialQuery, map[string]any{"mcid": mcid}, &out)
	by := map[string]credentialOut{}
	for _, n := range out.CertificationProfile.Certifications.Nodes {
		by[n.ID] = n
	}
	return by
}

func get(t *testing.T, u string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// statusBit fetches the status list a credentialStatus entry names, verifies it, and reads
// the entry's bit (index 0 is the first byte's most significant bit).
func statusBit(t *testing.T, verify func(string) (jwt.MapClaims, *jwt.Token), entry map[string]any) (bool, string) {
	t.Helper()
	resp := get(t, entry["statusListCredential"].(string), nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/vc+jwt" {
		t.Fatalf("status list: got %d %s, want 200 application/vc+jwt", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	list, _ := verify(string(body))
	subject := list["credentialSubject"].(map[string]any)
	if subject["type"] != "BitstringStatusList" || subject["statusPurpose"] != "revocation" ||
		!strings.Contains(strings.Join(types(list["type"]), " "), "BitstringStatusListCredential") {
		t.Fatalf("status list: got %v", list)
	}
	enc := subject["encodedList"].(string)
	if !strings.HasPrefix(enc, "u") {
		t.Fatalf("encodedList %q lacks the multibase base64url prefix u", enc[:10])
	}
	gz, err := base64.RawURLEncoding.DecodeString(enc[1:])
	if err != nil {
		t.Fatalf("encodedList: %v", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatalf("encodedList gzip: %v", err)
	}
	bits, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if len(bits) < 16*1024 {
		t.Fatalf("bitstring: got %d bytes, want at least 16 KiB (131,072 entries)", len(bits))
	}
	i, err := strconv.Atoi(entry["statusListIndex"].(string))
	if err != nil {
		t.Fatalf("statusListIndex %v: %v", entry["statusListIndex"], err)
	}
	return bits[i/8]&(0x80>>(i%8)) != 0, resp.Header.Get("ETag")
}

// expiringCode is the code of a certification that expires.
func expiringCode(t *testing.T, env *apitest.Env) string {
	t.Helper()
	var code string
	if err := env.DB.Get(&code, `SELECT code FROM certifications WHERE level <> 'FUNDAMENTALS' ORDER BY code LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	return code
}

func types(v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		out = append(out, x)
	case []any:
		for _, s := range x {
			out = append(out, s.(string))
		}
	}
	return out
}

// TestCredentialVerifiesIndependently: the owner's credential verifies against the published
// keys, states the certification with validFrom = earnedOn and validUntil = expiresOn (none for
// fundamentals), follows a renewal, and is revoked in the status list once a merge supersedes
// its record.
func TestCredentialVerifiesIndependently(t *testing.T) {
	env, base := served(t, nil) // 2021-03-01T09:00Z
	verify := verifier(t, base)
	ada := newHolder(t, env, "ada")
	ada.link(t, env)
	rec := recordPass(t, env, ada.mcid, "AZ-103", "2020-06-15T10:00:00Z")
	earnedID := rec.EarnedCertifications[0].ID
	var fundCode string
	if err := env.DB.Get(&fundCode, `SELECT code FROM certifications WHERE level = 'FUNDAMENTALS' ORDER BY code LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	fund := opaque("EarnedCertification", ada.earn(t, env, fundCode, "2020-01-10", ""))

	certs := credentials(t, env, ada.who, ada.mcid)
	c := certs[earnedID]
	if c.OpenBadgeCredential == nil {
		t.Fatalf("owner: got no credential for %s", asJSON(c))
	}
	vc, _ := verify(*c.OpenBadgeCredential)
	if got := strings.Join(types(vc["@context"]), " "); got != credential.ContextVC+" "+credential.ContextOB {
		t.Fatalf("@context: got %s", got)
	}
	if got := strings.Join(types(vc["type"]), " "); got != "VerifiableCredential OpenBadgeCredential" {
		t.Fatalf("type: got %s", got)
	}
	issuer := vc["issuer"].(map[string]any)
	if issuer["id"] != base+"/credentials/issuer" || strings.Join(types(issuer["type"]), "") != "Profile" {
		t.Fatalf("issuer: got %v, want a Profile under PUBLIC_URL", issuer)
	}
	var profile map[string]any
	if err := json.NewDecoder(get(t, issuer["id"].(string), nil).Body).Decode(&profile); err != nil || profile["id"] != issuer["id"] {
		t.Fatalf("issuer profile at its id: got %v, %v", profile, err)
	}
	if vc["validFrom"] != "2020-06-15T00:00:00Z" || vc["validUntil"] != *c.ExpiresOn+"T00:00:00Z" {
		t.Fatalf("validity: got %v .. %v, want 2020-06-15 .. expiresOn %s", vc["validFrom"], vc["validUntil"], *c.ExpiresOn)
	}
	subject := vc["credentialSubject"].(map[string]any)
	ach := subject["achievement"].(map[string]any)
	ident := subject["identifier"].([]any)[0].(map[string]any)
	if strings.Join(types(subject["type"]), "") != "AchievementSubject" || ident["identityHash"] != ada.mcid ||
		strings.Join(types(ach["type"]), "") != "Achievement" || ach["name"] != c.Certification.Name ||
		ach["humanCode"] != c.Certification.Code || ach["achievementType"] != "Certification" ||
		!strings.Contains(ach["criteria"].(map[string]any)["narrative"].(string), "AZ-10") {
		t.Fatalf("credentialSubject: got %v, want the MCID %s and the achievement %s", subject, ada.mcid, c.Certification.Code)
	}
	entry := vc["credentialStatus"].(map[string]any)
	if entry["type"] != "BitstringStatusListEntry" || entry["statusPurpose"] != "revocation" {
		t.Fatalf("credentialStatus: got %v", entry)
	}
	if revoked, _ := statusBit(t, verify, entry); revoked {
		t.Fatal("a current credential reads revoked")
	}

	// LinkedIn's add-to-profile link.
	li, err := url.Parse(*c.LinkedInAddToProfileURL)
	if err != nil {
		t.Fatal(err)
	}
	q := li.Query()
	if li.Host != "www.linkedin.com" || li.Path != "/profile/add" || q.Get("startTask") != "CERTIFICATION_NAME" ||
		q.Get("name") != c.Certification.Name || q.Get("organizationName") == "" || q.Get("issueYear") != "2020" ||
		q.Get("issueMonth") != "6" || q.Get("expirationYear") != "2021" || q.Get("expirationMonth") != "6" ||
		q.Get("certId") != vc["id"] || q.Get("certUrl") == "" {
		t.Fatalf("LinkedIn link: got %s", li)
	}

	// Fundamentals never expire: no validUntil, no expiration month.
	fc, _ := verify(*certs[fund].OpenBadgeCredential)
	if _, ok := fc["validUntil"]; ok || fc["validFrom"] != "2020-01-10T00:00:00Z" {
		t.Fatalf("fundamentals: got validFrom %v validUntil %v, want 2020-01-10 and none", fc["validFrom"], fc["validUntil"])
	}
	if q, _ := url.Parse(*certs[fund].LinkedInAddToProfileURL); q.Query().Has("expirationYear") {
		t.Fatalf("fundamentals LinkedIn link: got %s, want no expiration", q)
	}

	// A renewal: the next credential carries the new expiry, with the same status entry.
	a := start(t, env, ada.who, unopaque(t, earnedID), "en")
	if r := submit(t, env, ada.who, a.ID, answers(t, env, a, 8)); !*r.Attempt.Passed {
		t.Fatalf("renewal: got %s, want a pass", asJSON(r))
	}
	renewed := credentials(t, env, ada.who, ada.mcid)[earnedID]
	rvc, _ := verify(*renewed.OpenBadgeCredential)
	if *renewed.ExpiresOn != "2022-06-15" || rvc["validUntil"] != "2022-06-15T00:00:00Z" {
		t.Fatalf("after renewal: got expiresOn %s, validUntil %v, want both 2022-06-15", *renewed.ExpiresOn, rvc["validUntil"])
	}
	if got := rvc["credentialStatus"].(map[string]any)["statusListIndex"]; got != entry["statusListIndex"] {
		t.Fatalf("after renewal: status index %v, want %v kept", got, entry["statusListIndex"])
	}

	// A duplicate profile holding the same certification with an earlier expiry: its owner
	// takes the credential, then support merges it into Ada's, which supersedes that record.
	dup := newHolder(t, env, "ada-old")
	dupEarned := opaque("EarnedCertification", dup.earn(t, env, c.Certification.Code, "2020-04-01", ""))
	dc := credentials(t, env, dup.who, dup.mcid)[dupEarned]
	dvc, _ := verify(*dc.OpenBadgeCredential)
	dupEntry := dvc["credentialStatus"].(map[string]any)
	before, etag := statusBit(t, verify, dupEntry)
	if before {
		t.Fatal("the duplicate's credential reads revoked before the merge")
	}
	if resp := get(t, dupEntry["statusListCredential"].(string), map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("unchanged list with If-None-Match: got %d, want 304", resp.StatusCode)
	}
	env.MustDo(apitest.Support("agent"), `mutation($in: MergeCertificationProfilesInput!) { mergeCertificationProfiles(input: $in) {
  survivor { id } } }`, map[string]any{"in": map[string]any{"survivorId": opaque("CertificationProfile", ada.profileID),
		"duplicateId": opaque("CertificationProfile", dup.profileID), "reason": "same person", "idempotencyKey": "cred-merge-1"}}, nil)
	after, etag2 := statusBit(t, verify, dupEntry)
	if !after || etag2 == etag {
		t.Fatalf("after the merge: revoked %v, ETag %s (was %s); want revoked under a new ETag", after, etag2, etag)
	}
	if revoked, _ := statusBit(t, verify, entry); revoked {
		t.Fatal("the surviving record's credential reads revoked")
	}
	merged := credentials(t, env, ada.who, ada.mcid)
	if m := merged[dupEarned]; m.Status != "SUPERSEDED" || m.OpenBadgeCredential != nil || m.LinkedInAddToProfileURL != nil {
		t.Fatalf("superseded record: got %s, want SUPERSEDED with no credential and no link", asJSON(m))
	}
	if merged[earnedID].OpenBadgeCredential == nil {
		t.Fatal("the surviving record lost its credential")
	}
}

// TestCredentialIsTheOwnersOnly: support, who may read the record, and a shared transcript get
// no credential and no LinkedIn link.
func TestCredentialIsTheOwnersOnly(t *testing.T) {
	env := apitest.New(t)
	ada := newHolder(t, env, "ada")
	id := opaque("EarnedCertification", ada.earn(t, env, expiringCode(t, env), "2020-06-15", ""))
	if c := credentials(t, env, ada.who, ada.mcid)[id]; c.OpenBadgeCredential == nil || c.LinkedInAddToProfileURL == nil {
		t.Fatalf("owner: got %s, want a credential and a link", asJSON(c))
	}
	for _, f := range []string{"openBadgeCredential", "linkedInAddToProfileUrl"} {
		r := env.Do(apitest.Support("agent"), `query($id: ID!) { node(id: $id) { ... on EarnedCertification { id `+f+` } } }`, map[string]any{"id": id})
		if len(r.Errors) != 1 || r.Errors[0].Code() != "FORBIDDEN" || strings.Contains(string(r.Data), "ey") {
			t.Fatalf("support reading %s: got %s, want FORBIDDEN and no value", f, r.Raw)
		}
	}
	var share struct {
		CreateTranscriptShare struct{ Share struct{ Code string } }
	}
	env.MustDo(ada.who, `mutation($in: CreateTranscriptShareInput!) { createTranscriptShare(input: $in) { share { code } } }`,
		map[string]any{"in": map[string]any{"certificationProfileId": opaque("CertificationProfile", ada.profileID)}}, &share)
	r := env.Do(apitest.Anonymous, `query($c: String!) { transcript(shareCode: $c) { certifications { openBadgeCredential } } }`,
		map[string]any{"c": share.CreateTranscriptShare.Share.Code})
	if len(r.Errors) == 0 || r.Errors[0].Code() != "FORBIDDEN" || strings.Contains(string(r.Data), "ey") {
		t.Fatalf("shared transcript: got %s, want FORBIDDEN", r.Raw)
	}
}

// TestKeyRotationKeepsOldKeysPublished: a server started on a new key with the old one in
// CREDENTIAL_PREVIOUS_KEYS publishes both (kid = RFC 7638 thumbprint), signs with the new one,
// and a credential the old key signed still verifies against its JWKS.
func TestKeyRotationKeepsOldKeysPublished(t *testing.T) {
	oldKey, newKey := credential.MustGenerateKeyPEM(), credential.MustGenerateKeyPEM()
	before, beforeBase := served(t, map[string]string{"CREDENTIAL_SIGNING_KEY": oldKey})
	ada := newHolder(t, before, "ada")
	id := opaque("EarnedCertification", ada.earn(t, before, expiringCode(t, before), "2020-06-15", ""))
	oldCred := *credentials(t, before, ada.who, ada.mcid)[id].OpenBadgeCredential
	_, oldTok := verifier(t, beforeBase)(oldCred)

	after, afterBase := served(t, map[string]string{"CREDENTIAL_SIGNING_KEY": newKey, "CREDENTIAL_PREVIOUS_KEYS": oldKey})
	var set struct {
		Keys []struct{ Kty, Crv, X, Y, Kid, Alg, Use string }
	}
	if err := json.NewDecoder(get(t, afterBase+"/.well-known/jwks.json", nil).Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		sum := sha256.Sum256([]byte(`{"crv":"` + k.Crv + `","kty":"` + k.Kty + `","x":"` + k.X + `","y":"` + k.Y + `"}`))
		if want := base64.RawURLEncoding.EncodeToString(sum[:]); k.Kid != want || k.Alg != "ES256" || k.Use != "sig" {
			t.Fatalf("key %+v: want kid %s (RFC 7638), alg ES256, use sig", k, want)
		}
		kids = append(kids, k.Kid)
	}
	verifyAfter := verifier(t, afterBase)
	verifyAfter(oldCred) // the old signature still checks out
	bob := newHolder(t, after, "bob")
	bid := opaque("EarnedCertification", bob.earn(t, after, expiringCode(t, after), "2020-06-15", ""))
	_, newTok := verifyAfter(*credentials(t, after, bob.who, bob.mcid)[bid].OpenBadgeCredential)
	if len(kids) != 2 || kids[0] != newTok.Header["kid"] || kids[1] != oldTok.Header["kid"] || kids[0] == kids[1] {
		t.Fatalf("published kids %v; want the new key's %v first, then the old key's %v", kids, newTok.Header["kid"], oldTok.Header["kid"])
	}
}

// TestCredentialFieldsAreBatched: the credentials and LinkedIn links of a page cost the same
// number of SQL statements for 1 certification as for 6 (status indexes are allocated in one
// batch).
func TestCredentialFieldsAreBatched(t *testing.T) {
	env := apitest.New(t, apitest.WithStatementCounting())
	var codes []string
	if err := env.DB.Select(&codes, `SELECT code FROM certifications ORDER BY code LIMIT 6`); err != nil || len(codes) != 6 {
		t.Fatalf("got %d certifications (%v), want 6", len(codes), err)
	}
	count := func(sub string, n int) int64 {
		t.Helper()
		h := newHolder(t, env, sub)
		for _, code := range codes[:n] {
			h.earn(t, env, code, "2020-06-15", "")
		}
		var runs []int64
		for range 2 { // the first read allocates the status indexes, the second finds them
			before := env.Statements()
			got := credentials(t, env, h.who, h.mcid)
			runs = append(runs, env.Statements()-before)
			for _, c := range got {
				if c.OpenBadgeCredential == nil || c.LinkedInAddToProfileURL == nil || len(got) != n {
					t.Fatalf("got %s, want %d credentials and links", asJSON(got), n)
				}
			}
		}
		if runs[0] != runs[1] {
			t.Fatalf("%d certifications: %d statements on the first read, %d on the second", n, runs[0], runs[1])
		}
		return runs[0]
	}
	if one, six := count("one", 1), count("six", 6); one != six {
		t.Fatalf("statements: got %d for 1 certification and %d for 6, want the same", one, six)
	}
}
