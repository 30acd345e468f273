package credential

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// Keys are the credential signing key and every public key a verifier may meet: the signing
// key's own and the previous keys still published after a rotation (docs/operations.md
// "Credential signing keys"). Each key's kid is its RFC 7638 JWK thumbprint (SHA-256,
// base64url), so a kid never depends on configuration order.
type Keys struct {
	signing *ecdsa.PrivateKey
	kid     string
	public  []jose.JSONWebKey
}

// NewKeys builds Keys from the signing key (PEM, a P-256 EC private key in SEC 1 or PKCS #8)
// and the previous keys (PEM blocks, public or private, possibly none).
func NewKeys(signingPEM, previousPEM string) (*Keys, error) {
	key, err := ParseSigningKey(signingPEM)
	if err != nil {
		return nil, err
	}
	k := &Keys{signing: key}
	jwk, err := publicJWK(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	k.kid, k.public = jwk.KeyID, []jose.JSONWebKey{jwk}
	prev, err := parsePublicKeys(previousPEM)
	if err != nil {
		return nil, fmt.Errorf("previous keys: %w", err)
	}
	for _, pub := range prev {
		jwk, err := publicJWK(pub)
		if err != nil {
			return nil, err
		}
		if !k.published(jwk.KeyID) {
			k.public = append(k.public, jwk)
		}
	}
	return k, nil
}

// GeneratedKeys is NewKeys on a fresh key, kept in memory only (API tests).
func GeneratedKeys() *Keys {
	k, err := NewKeys(MustGenerateKeyPEM(), "")
	if err != nil {
		panic(err)
	}
	return k
}

// KeyID is the kid of the signing key.
func (k *Keys) KeyID() string { return k.kid }

// JWKS is the JSON Web Key Set of every published key, the signing key first.
func (k *Keys) JWKS() []byte {
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: k.public})
	if err != nil {
		panic(err) // public EC keys always marshal
	}
	return b
}

func (k *Keys) published(kid string) bool {
	for _, j := range k.public {
		if j.KeyID == kid {
			return true
		}
	}
	return false
}

// sign is the compact JWS (ES256) of payload with the VC-JOSE-COSE headers: typ vc+jwt, cty vc,
// and the signing key's kid.
func (k *Keys) sign(payload []byte) (string, error) {
	opts := (&jose.SignerOptions{}).WithType(MediaType).WithContentType("vc").WithHeader(jose.HeaderKey("kid"), k.kid)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.signing}, opts)
	if err != nil {
		return "", fmt.Errorf("signer: %w", err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return jws.CompactSerialize()
}

// MediaType is the JOSE typ of a credential (VC-JOSE-COSE); its HTTP media type is
// application/vc+jwt.
const MediaType = "vc+jwt"

func publicJWK(pub *ecdsa.PublicKey) (jose.JSONWebKey, error) {
	jwk := jose.JSONWebKey{Key: pub, Algorithm: string(jose.ES256), Use: "sig"}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return jwk, fmt.Errorf("thumbprint: %w", err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	return jwk, nil
}

// ParseSigningKey reads a P-256 EC private key from PEM (SEC 1 "EC PRIVATE KEY" or PKCS #8
// "PRIVATE KEY"); ES256 needs exactly that curve.
func ParseSigningKey(s string) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(s)))
	if block == nil {
		return nil, errors.New("want a PEM-encoded EC private key")
	}
	var key any
	var err error
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("want an EC PRIVATE KEY or PRIVATE KEY PEM block, got %q", block.Type)
	}
	if err != nil {
		return nil, err
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("want an EC key on the P-256 curve (ES256)")
	}
	return ec, nil
}

// parsePublicKeys reads every PEM block of s as a P-256 public key: PUBLIC KEY blocks as they
// are, private key blocks by their public half (an operator may keep the old key file).
func parsePublicKeys(s string) ([]*ecdsa.PublicKey, error) {
	var out []*ecdsa.PublicKey
	rest := []byte(strings.TrimSpace(s))
	for len(rest) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("want PEM blocks")
		}
		if block.Type != "PUBLIC KEY" {
			priv, err := ParseSigningKey(string(pem.EncodeToMemory(block)))
			if err != nil {
				return nil, err
			}
			out = append(out, &priv.PublicKey)
			continue
		}
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		ec, ok := key.(*ecdsa.PublicKey)
		if !ok || ec.Curve != elliptic.P256() {
			return nil, errors.New("want EC public keys on the P-256 curve")
		}
		out = append(out, ec)
	}
	return out, nil
}

// GenerateKeyPEM makes a new P-256 signing key, PEM-encoded (PKCS #8).
func GenerateKeyPEM() (string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// MustGenerateKeyPEM is GenerateKeyPEM for tests and in-memory keys; it panics only when the
// system's random source fails.
func MustGenerateKeyPEM() string {
	k, err := GenerateKeyPEM()
	if err != nil {
		panic(err)
	}
	return k
}

// DevKeyFile is the development signing key inside DATA_DIR.
const DevKeyFile = "credential-signing-key.pem"

// EnsureDevKey returns the development signing key kept in dir, generating it (file mode
// 0600) the first time, so credentials issued in development keep verifying across restarts.
// It reports whether it generated the key.
func EnsureDevKey(dir string) (string, bool, error) {
	path := filepath.Join(dir, DevKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		if _, err := ParseSigningKey(string(b)); err != nil {
			return "", false, fmt.Errorf("%s: %w", path, err)
		}
		return string(b), false, nil
	}
	key, err := GenerateKeyPEM()
	if err != nil {
		return "", false, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, fmt.Errorf("create DATA_DIR: %w", err)
	}
	if err := os.WriteFile(path, []byte(key), 0o600); err != nil {
		return "", false, fmt.Errorf("store development credential key: %w", err)
	}
	return key, true, nil
}
