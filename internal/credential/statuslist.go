package credential

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
)

// ListSize is the number of entries of one status list: the Bitstring Status List minimum
// (16 KiB of bits), so that a list says nothing about how many credentials exist. Index i lives
// in list i/ListSize at position i%ListSize.
const ListSize = 131072

// maxCachedLists bounds the lists kept for their ETag (a few hundred bytes each).
const maxCachedLists = 1024

// StatusList is a served status list: the signed BitstringStatusListCredential (compact JWS)
// and its entity tag.
type StatusList struct {
	Body []byte
	ETag string
}

// statusEntry is the credentialStatus of the credential holding status list index i.
func (s *Service) statusEntry(i int64) map[string]any {
	list := s.StatusListURL(i / ListSize)
	pos := strconv.FormatInt(i%ListSize, 10)
	return map[string]any{
		"id":                   list + "#" + pos,
		"type":                 "BitstringStatusListEntry",
		"statusPurpose":        "revocation",
		"statusListIndex":      pos,
		"statusListCredential": list,
	}
}

// StatusList is status list n as of now: a bit set for every allocated index whose record is
// superseded (a merge kept the other record current, docs/domain.md). The bits are computed
// from the records when the list is asked for, so a supersede needs no second write and the
// list cannot drift from the records; a list whose bits have not changed is served as it was
// (same body, same ETag), so caches and If-None-Match work.
func (s *Service) StatusList(ctx context.Context, n int64) (StatusList, error) {
	revoked, err := s.store.RevokedIndexes(ctx, n*ListSize, (n+1)*ListSize)
	if err != nil {
		return StatusList{}, err
	}
	bits := make([]byte, ListSize/8)
	for _, i := range revoked {
		i -= n * ListSize
		bits[i/8] |= 0x80 >> (i % 8) // index 0 is the most significant bit of the first byte
	}
	sum := sha256.Sum256(append(bits, s.keys.kid...))
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	s.mu.Lock()
	last, ok := s.lists[n]
	s.mu.Unlock()
	if ok && last.ETag == etag {
		return last, nil
	}
	encoded, err := EncodeList(bits)
	if err != nil {
		return StatusList{}, err
	}
	url := s.StatusListURL(n)
	doc := map[string]any{
		"@context":  []string{ContextVC},
		"id":        url,
		"type":      []string{"VerifiableCredential", "BitstringStatusListCredential"},
		"issuer":    s.IssuerURL(),
		"validFrom": s.clock.Now().UTC().Format(time.RFC3339),
		"credentialSubject": map[string]any{
			"id":            url + "#list",
			"type":          "BitstringStatusList",
			"statusPurpose": "revocation",
			"encodedList":   encoded,
		},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return StatusList{}, err
	}
	jws, err := s.keys.sign(b)
	if err != nil {
		return StatusList{}, err
	}
	list := StatusList{Body: []byte(jws), ETag: etag}
	s.mu.Lock()
	if len(s.lists) >= maxCachedLists {
		clear(s.lists) // anyone may ask for any list number: the cache stays bounded
	}
	s.lists[n] = list
	s.mu.Unlock()
	return list, nil
}

// EncodeList is the encodedList of a bitstring: GZIP, then base64url without padding, with
// the multibase prefix u.
func EncodeList(bits []byte) (string, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(bits); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return "u" + base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}
